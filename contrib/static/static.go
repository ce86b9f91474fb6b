// Package static is the static rendezvous backend, the Go counterpart of
// PyTorch's static TCP rendezvous: a fixed number of nodes, each told its
// rank, meet at a store hosted by the node of rank 0.
//
// The node of rank 0 listens on the endpoint (host:port) and serves a small
// key-value store over TCP; the other nodes connect to it, trying again
// until it is up or the join timeout expires. A round of the rendezvous
// completes when every node of the world has joined it; every node then
// gets the same world size, its own rank, a store shared by the round's
// participants and the endpoint as the bootstrap address.
//
// The backend registers itself under the name "static" through its
// entry_points.txt, so discovery.Discover finds it; NewCreator is the entry
// point. Parameters:
//
//   - Endpoint: host:port where rank 0 hosts the store. Required.
//   - MinNodes, MaxNodes: the world size; they must be equal.
//   - Config "rank": this node's rank, in [0, world size). Required.
//   - Config "join_timeout": seconds a round, or connecting to rank 0, may
//     take (default 600).
//
// The store lives in the process of rank 0: it goes away when rank 0 shuts
// down, and the other nodes then get errors wrapping registry.ErrConnection.
// Like PyTorch's TCPStore it has no authentication: use it on a trusted
// network.
package static

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Backend is the name the static backend is registered under.
const Backend = "static"

// DefaultJoinTimeout is how long a round may take when the config key
// join_timeout is not set, as in PyTorch.
const DefaultJoinTimeout = 600 * time.Second

// NewCreator returns the creator of static handlers. It is the value of the
// backend's entry point in group torchrun.handlers.
func NewCreator() registry.Creator { return New }

// New creates a static rendezvous handler from params. It checks the
// parameters but does not connect: the node of rank 0 starts its store, and
// the others connect to it, on the first call that needs the store.
func New(params registry.Parameters) (registry.Handler, error) {
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	if params.MinNodes != params.MaxNodes {
		return nil, fmt.Errorf("static: the static rendezvous needs a fixed number of nodes, got between %d and %d; give one number (--nnodes %d) or use a dynamic backend such as etcd",
			params.MinNodes, params.MaxNodes, params.MaxNodes)
	}
	world := params.MaxNodes
	host, port, err := parseEndpoint(params.Endpoint)
	if err != nil {
		return nil, err
	}
	if _, ok := params.Config["rank"]; !ok {
		return nil, fmt.Errorf("static: config key \"rank\" is not set; give every node its rank in [0, %d), e.g. --rdzv-conf rank=0 or --node-rank 0", world)
	}
	rank, err := params.GetInt("rank", 0)
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	if rank < 0 || rank >= world {
		return nil, fmt.Errorf("static: rank %d is out of range; it must be in [0, %d) for %d nodes", rank, world, world)
	}
	secs, err := params.GetInt("join_timeout", int(DefaultJoinTimeout/time.Second))
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	if secs <= 0 || int64(secs) > math.MaxInt64/int64(time.Second) {
		return nil, fmt.Errorf("static: config key \"join_timeout\" is %d; it must be a positive number of seconds (default %d)", secs, int(DefaultJoinTimeout/time.Second))
	}
	life, stop := context.WithCancelCause(context.Background())
	return &handler{
		endpoint:    net.JoinHostPort(host, strconv.Itoa(port)),
		bootstrap:   registry.BootstrapInfo{Addr: host, Port: port},
		rank:        rank,
		world:       world,
		runID:       params.RunID,
		prefix:      "static/" + params.RunID + "/",
		joinTimeout: time.Duration(secs) * time.Second,
		life:        life,
		stop:        stop,
		roundSem:    make(chan struct{}, 1),
		connSem:     make(chan struct{}, 1),
	}, nil
}

// parseEndpoint splits host:port and checks both parts.
func parseEndpoint(endpoint string) (string, int, error) {
	if endpoint == "" {
		return "", 0, errors.New("static: the endpoint is empty; give the host:port where rank 0 hosts the store, e.g. --rdzv-endpoint 127.0.0.1:29500")
	}
	host, portStr, err := net.SplitHostPort(endpoint)
	if err != nil {
		return "", 0, fmt.Errorf("static: endpoint %q is not host:port (%v); e.g. --rdzv-endpoint 127.0.0.1:29500", endpoint, err)
	}
	if host == "" {
		return "", 0, fmt.Errorf("static: endpoint %q has no host; give the address of the node with rank 0, e.g. 127.0.0.1%s", endpoint, endpoint)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("static: endpoint %q has port %q; it must be a number in [1, 65535]", endpoint, portStr)
	}
	return host, port, nil
}

// errShutDown is the cause of operations abandoned by Shutdown and the
// error of calls made after it.
var errShutDown = fmt.Errorf("static: handler is shut down; create a new one: %w", registry.ErrRendezvous)

// The stages of a node in the current round. Each store update moves the
// node one stage on, so that a call abandoned half way (its context done)
// can be retried without counting the node twice.
const (
	stageNew      = iota // not counted yet
	stageRanked          // its rank is taken
	stageLastJoin        // the last to join: must mark the round complete
	stageJoined          // counted in the round
	stageLastAck         // the last to see the round complete: must tell rank 0
	stageAcked           // saw the round complete and said so (ranks > 0)
)

// handler is a static rendezvous handler: one node of the world.
type handler struct {
	endpoint    string
	bootstrap   registry.BootstrapInfo
	rank, world int
	runID       string
	prefix      string // of every store key of the run
	joinTimeout time.Duration

	life context.Context         // cancelled by Shutdown
	stop context.CancelCauseFunc // cancels life

	roundSem chan struct{} // serialises NextRendezvous
	round    int           // guarded by roundSem
	stage    int           // guarded by roundSem

	connSem chan struct{} // serialises connecting

	mu     sync.Mutex
	store  registry.Store // nil until connected
	server *server        // rank 0
	client *client        // other ranks
	shut   bool
}

func (h *handler) Backend() string { return Backend }

func (h *handler) RunID() string { return h.runID }

// NumNodesWaiting is always 0: the world of a static rendezvous is fixed,
// no node ever waits for a later round.
func (h *handler) NumNodesWaiting(context.Context) (int, error) { return 0, nil }

// bound limits ctx by the join timeout and by the handler's life.
func (h *handler) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancelCause := context.WithCancelCause(ctx)
	stopAfter := context.AfterFunc(h.life, func() { cancelCause(errShutDown) })
	ctx, cancel := context.WithTimeoutCause(ctx, h.joinTimeout,
		fmt.Errorf("join timeout of %v expired (config key join_timeout)", h.joinTimeout))
	return ctx, func() {
		cancel()
		stopAfter()
		cancelCause(nil)
	}
}

// connect returns the store: rank 0 starts it, the others connect to it.
func (h *handler) connect(ctx context.Context) (registry.Store, error) {
	select {
	case h.connSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxError(ctx, "connecting to the store")
	}
	defer func() { <-h.connSem }()
	h.mu.Lock()
	st, shut := h.store, h.shut
	h.mu.Unlock()
	switch {
	case shut:
		return nil, errShutDown
	case st != nil:
		return st, nil
	}
	if h.rank == 0 {
		srv, err := listen(h.endpoint)
		if err != nil {
			return nil, fmt.Errorf("static: rank 0 cannot host the store at %s: %w: %v; the endpoint must be a free port of an address of this machine",
				h.endpoint, registry.ErrConnection, err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.shut {
			srv.Close(ctx)
			return nil, errShutDown
		}
		h.server, h.store = srv, srv.local()
		return h.store, nil
	}
	c, err := dialRetry(ctx, h.endpoint)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shut {
		c.Close()
		return nil, errShutDown
	}
	h.client, h.store = c, c
	return h.store, nil
}

// NextRendezvous joins the next round and returns when every node of the
// world has joined it. Rank 0 returns once every other node has seen the
// round complete, so that it may shut its store down right away.
func (h *handler) NextRendezvous(ctx context.Context) (registry.Info, error) {
	ctx, cancel := h.bound(ctx)
	defer cancel()
	select {
	case h.roundSem <- struct{}{}:
	case <-ctx.Done():
		return registry.Info{}, ctxError(ctx, "waiting for another NextRendezvous call of this handler")
	}
	defer func() { <-h.roundSem }()

	st, err := h.connect(ctx)
	if err != nil {
		return registry.Info{}, err
	}
	if closed, err := h.isClosed(ctx, st); err != nil {
		return registry.Info{}, err
	} else if closed {
		return registry.Info{}, fmt.Errorf("static: run %q: %w", h.runID, registry.ErrClosed)
	}
	round := fmt.Sprintf("%sround/%d/", h.prefix, h.round)
	if err := h.join(ctx, st, round); err != nil {
		return registry.Info{}, err
	}
	if err := h.await(ctx, st, round+"complete", "the other nodes to join"); err != nil {
		return registry.Info{}, h.explain(st, round, err)
	}
	// The round is complete. The store lives in rank 0's process: rank 0
	// waits until every other node has seen the round complete, so that
	// shutting down right after this call takes the answer from no one.
	if err := h.ack(ctx, st, round); err != nil {
		return registry.Info{}, err
	}
	h.round++
	h.stage = stageNew
	return registry.Info{
		Store:     prefixStore{st, round + "store/"},
		Rank:      h.rank,
		WorldSize: h.world,
		Bootstrap: h.bootstrap,
	}, nil
}

// join counts this node in the round and, if it is the last to join, marks
// the round complete.
func (h *handler) join(ctx context.Context, st registry.Store, round string) error {
	if h.stage == stageNew {
		n, err := st.Add(ctx, round+"rank/"+strconv.Itoa(h.rank), 1)
		if err != nil {
			return err
		}
		if n > 1 {
			return fmt.Errorf("static: run %q: two nodes joined with rank %d: %w; give every node its own rank in [0, %d)", h.runID, h.rank, registry.ErrState, h.world)
		}
		h.stage = stageRanked
	}
	if h.stage == stageRanked {
		n, err := st.Add(ctx, round+"joined", 1)
		if err != nil {
			return err
		}
		if n > int64(h.world) {
			return fmt.Errorf("static: run %q: %d nodes joined a world of %d: %w; start every node with the same --nnodes", h.runID, n, h.world, registry.ErrState)
		}
		h.stage = stageJoined
		if n == int64(h.world) {
			h.stage = stageLastJoin
		}
	}
	if h.stage == stageLastJoin {
		if err := st.Set(ctx, round+"complete", nil); err != nil {
			return err
		}
		h.stage = stageJoined
	}
	return nil
}

// ack tells rank 0 that this node has seen the round complete; on rank 0
// it waits until every other node has.
func (h *handler) ack(ctx context.Context, st registry.Store, round string) error {
	if h.world == 1 {
		return nil
	}
	if h.rank == 0 {
		return h.await(ctx, st, round+"acked", "the other nodes to see the round complete")
	}
	if h.stage == stageJoined {
		n, err := st.Add(ctx, round+"acks", 1)
		if err != nil {
			return err
		}
		h.stage = stageAcked
		if n == int64(h.world-1) {
			h.stage = stageLastAck
		}
	}
	if h.stage == stageLastAck {
		if err := st.Set(ctx, round+"acked", nil); err != nil {
			return err
		}
		h.stage = stageAcked
	}
	return nil
}

// await waits until key is set, failing with registry.ErrClosed if the
// rendezvous is closed first.
func (h *handler) await(ctx context.Context, st registry.Store, key, what string) error {
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		closed bool
		err    error
	}
	results := make(chan result, 2)
	go func() {
		_, err := st.Get(ctx, key)
		results <- result{false, err}
	}()
	go func() {
		_, err := st.Get(ctx, h.prefix+"closed/signal")
		results <- result{true, err}
	}()
	r := <-results
	switch {
	case r.err != nil && outer.Err() != nil:
		return ctxError(outer, "waiting for "+what)
	case r.err != nil:
		return r.err
	case r.closed:
		return fmt.Errorf("static: run %q: %w", h.runID, registry.ErrClosed)
	}
	return nil
}

// explain adds to a failed wait for a round how many nodes had joined.
func (h *handler) explain(st registry.Store, round string, err error) error {
	if !errors.Is(err, registry.ErrTimeout) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, aerr := st.Add(ctx, round+"joined", 0)
	if aerr != nil {
		return err
	}
	return fmt.Errorf("static: run %q: %d of %d nodes joined; every node needs the same endpoint and --nnodes %d, and its own rank: %w",
		h.runID, n, h.world, h.world, err)
}

func (h *handler) isClosed(ctx context.Context, st registry.Store) (bool, error) {
	n, err := st.Add(ctx, h.prefix+"closed", 0)
	return n > 0, err
}

// IsClosed reports whether some node has closed the rendezvous.
func (h *handler) IsClosed(ctx context.Context) (bool, error) {
	ctx, cancel := h.bound(ctx)
	defer cancel()
	st, err := h.connect(ctx)
	if err != nil {
		return false, err
	}
	return h.isClosed(ctx, st)
}

// SetClosed closes the rendezvous for every node: NextRendezvous calls,
// waiting or to come, fail with registry.ErrClosed.
func (h *handler) SetClosed(ctx context.Context) error {
	ctx, cancel := h.bound(ctx)
	defer cancel()
	st, err := h.connect(ctx)
	if err != nil {
		return err
	}
	// The counter answers IsClosed without blocking; the signal wakes the
	// nodes waiting in a round.
	if _, err = st.Add(ctx, h.prefix+"closed", 1); err != nil {
		return err
	}
	return st.Set(ctx, h.prefix+"closed/signal", nil)
}

// Shutdown closes this node's connection to the store, or, on rank 0, the
// store itself, after answering the requests it has received (or when ctx
// is done). Calls waiting on this handler fail. Calling it again does
// nothing.
func (h *handler) Shutdown(ctx context.Context) (bool, error) {
	h.stop(errShutDown)
	h.mu.Lock()
	if h.shut {
		h.mu.Unlock()
		return true, nil
	}
	h.shut = true
	c, srv := h.client, h.server
	h.mu.Unlock()
	if c != nil {
		c.Close()
	}
	if srv != nil {
		if err := srv.Close(ctx); err != nil {
			return false, fmt.Errorf("static: closing the store: %w", err)
		}
	}
	return true, nil
}

// prefixStore is the view of the store given to the participants of one
// round: its keys live under prefix, apart from the rendezvous' own.
type prefixStore struct {
	st     registry.Store
	prefix string
}

func (p prefixStore) Set(ctx context.Context, key string, value []byte) error {
	return p.st.Set(ctx, p.prefix+key, value)
}

func (p prefixStore) Get(ctx context.Context, key string) ([]byte, error) {
	return p.st.Get(ctx, p.prefix+key)
}

func (p prefixStore) Add(ctx context.Context, key string, delta int64) (int64, error) {
	return p.st.Add(ctx, p.prefix+key, delta)
}
