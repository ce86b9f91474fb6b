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
//   - Endpoint: host:port where rank 0 hosts the store, read as
//     registry.ParseEndpoint reads it ([2001:db8::1]:29500 for IPv6).
//     Required, with its port; port 0 is refused.
//   - MinNodes, MaxNodes: the world size; they must be equal.
//   - Config "rank": this node's rank, in [0, world size). Required.
//   - Config "join_timeout" (PyTorch's "timeout" is an alias): seconds a
//     round, or connecting to rank 0, may take (default 600).
//   - Config "secret", or else the environment variable SecretEnv: the
//     job's secret (default: none). Every node must have the same.
//   - Config "max_connections" (world size + 64), "handshake_timeout"
//     (5 s), "max_value_size" (64 MiB) and "max_store_size" (256 MiB):
//     rank 0's store's limits.
//
// A node and the store exchange a handshake on connecting, so a node
// pointed at another service fails at once with registry.ErrConnection,
// and a node of another world size or run is refused with
// registry.ErrState naming both values. With a secret, each side proves it
// knows it by an HMAC over nonces from both sides, so the secret never
// crosses the wire and a node or store without it is refused. A round
// that cannot complete (a node of the job with another world size or a
// rank given twice, which only a secret tells from a stranger, or a node
// whose connection closed during the round) fails for every node with the
// same error wrapping registry.ErrState.
//
// Strangers fail alone: a hello that is refused or malformed is answered
// with the reason and closed; the rendezvous' own keys change only through
// the operations a node makes for its own rank, never through Set and Add;
// a connection over the limit, a handshake not done in time, a value or a
// store over its size fail the offender with an error naming the config
// key; running out of file descriptors is logged and told to the
// connection turned away. Without a secret, anyone who reaches the port
// can take the place of a node that has not connected yet: the store must
// then not be reachable by untrusted hosts. The store lives in the process
// of rank 0: it goes away when rank 0 shuts down, and the other nodes then
// get errors wrapping registry.ErrConnection. Nothing is encrypted.
package static

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Backend is the name the static backend is registered under.
const Backend = "static"

// DefaultJoinTimeout is how long a round may take when the config key
// join_timeout is not set, as in PyTorch.
const DefaultJoinTimeout = 600 * time.Second

// FailureLinger is how long rank 0 keeps answering after a round has
// failed (a node left, or did not match rank 0's world size or run), before
// NextRendezvous returns the failure: nodes that connect meanwhile are told
// why. Nodes that come later find no store and time out.
const FailureLinger = 2 * time.Second

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
	cfg, err := parseConfig(params, world)
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancelCause(context.Background())
	return &handler{
		endpoint:    net.JoinHostPort(host, strconv.Itoa(port)),
		bootstrap:   registry.BootstrapInfo{Addr: host, Port: port},
		rank:        rank,
		world:       world,
		runID:       params.RunID,
		prefix:      "static/" + params.RunID + "/",
		joinTimeout: cfg.joinTimeout,
		secret:      cfg.secret,
		limits:      cfg.limits,
		life:        life,
		stop:        stop,
		roundSem:    make(chan struct{}, 1),
		connSem:     make(chan struct{}, 1),
	}, nil
}

// config is what New reads from the config keys.
type config struct {
	joinTimeout time.Duration
	secret      []byte
	limits      limits
}

// parseConfig reads the config keys of a node of a world of world nodes.
func parseConfig(params registry.Parameters, world int) (config, error) {
	var errs []error
	intKey := func(key string, def, lo, hi int64, unit string) int64 {
		v, err := params.GetInt(key, int(def))
		switch {
		case err != nil:
			errs = append(errs, err)
		case int64(v) < lo || int64(v) > hi:
			errs = append(errs, fmt.Errorf("config key %q is %d; give %s from %d to %d (default %d)", key, v, unit, lo, hi, def))
		}
		return int64(v)
	}
	const maxSecs = math.MaxInt64 / int64(time.Second)
	defSecs := int64(DefaultJoinTimeout / time.Second)
	secs := intKey("join_timeout", defSecs, 1, maxSecs, "a number of seconds")
	// PyTorch's static backend calls the join timeout "timeout".
	if _, ok := params.Config["timeout"]; ok {
		alias := intKey("timeout", defSecs, 1, maxSecs, "a number of seconds")
		if _, both := params.Config["join_timeout"]; both && alias != secs {
			errs = append(errs, fmt.Errorf("config keys %q (%q) and %q (%q) differ; give one of them", "join_timeout", params.Config["join_timeout"], "timeout", params.Config["timeout"]))
		}
		secs = alias
	}
	def := defaultLimits(world)
	l := limits{
		conns:     int(intKey("max_connections", int64(def.conns), int64(world), 1<<20, "a number of connections")),
		handshake: time.Duration(intKey("handshake_timeout", int64(def.handshake/time.Second), 1, 3600, "a number of seconds")) * time.Second,
		value:     int(intKey("max_value_size", int64(def.value), 1, 1<<30, "a number of bytes")),
		store:     intKey("max_store_size", def.store, 1, 1<<40, "a number of bytes"),
	}
	secret, err := secretOption(params)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return config{}, fmt.Errorf("static: %w", err)
	}
	return config{joinTimeout: time.Duration(secs) * time.Second, secret: secret, limits: l}, nil
}

// SecretEnv is the environment variable that holds the job's secret when
// config key secret is not set. An environment variable keeps the secret
// out of the command lines that other users of a machine can read.
const SecretEnv = "STATIC_RENDEZVOUS_SECRET"

// secretOption returns the job's secret: config key secret, else the
// environment variable SecretEnv; none if both are unset or empty.
func secretOption(params registry.Parameters) ([]byte, error) {
	v, ok := params.Config["secret"]
	env := os.Getenv(SecretEnv)
	switch {
	case ok && env != "" && v != env:
		// Neither value goes into the error: they are secrets.
		return nil, fmt.Errorf("config key \"secret\" and environment variable %s are both set, to different values; give the secret once", SecretEnv)
	case !ok:
		v = env
	}
	return []byte(v), nil
}

// parseEndpoint reads the endpoint as registry.ParseEndpoint does, as
// PyTorch's static backend reads it: it must not be empty and must have a
// port. Port 0 is refused too: rank 0 would listen on a port of the
// system's choosing, which the other nodes cannot know.
func parseEndpoint(endpoint string) (string, int, error) {
	if strings.TrimSpace(endpoint) == "" {
		return "", 0, errors.New("static: the endpoint is empty; give the host:port where rank 0 hosts the store, e.g. --rdzv-endpoint 127.0.0.1:29500")
	}
	host, port, err := registry.ParseEndpoint(endpoint, -1)
	switch {
	case err != nil:
		return "", 0, fmt.Errorf("static: %w", err)
	case port == -1:
		return "", 0, fmt.Errorf("static: endpoint %q has no port; give the host:port where rank 0 hosts the store, e.g. %s:29500", endpoint, strings.TrimSpace(endpoint))
	case port == 0:
		return "", 0, fmt.Errorf("static: endpoint %q has port 0; give the port where rank 0 hosts the store, in [1, 65535], the same on every node", endpoint)
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
	stageNew    = iota // not counted yet
	stageJoined        // counted in the round
	stageAcked         // saw the round complete and said so (ranks > 0)
)

// The outcome of a round, stored once under the round's key "outcome" by
// whoever decides it first: the last node to join, or a node (or rank 0's
// store) that finds the round cannot complete. Every node of the round
// gets the same outcome.
const (
	outcomeOK   = "ok"
	outcomeFail = "fail:" // followed by the reason
)

// kv is the store as the handler uses it: a registry.Store, and the
// rendezvous' own operations, which the store carries out for this node's
// rank.
type kv interface {
	registry.Store
	// Join counts the node in the round whose keys start with round; see
	// server.join.
	Join(ctx context.Context, round string) (int, []byte, error)
	// Ack tells rank 0 that the node saw the round complete.
	Ack(ctx context.Context, round string) error
	// CloseRun closes the rendezvous.
	CloseRun(ctx context.Context) error
}

// handler is a static rendezvous handler: one node of the world.
type handler struct {
	endpoint    string
	bootstrap   registry.BootstrapInfo
	rank, world int
	runID       string
	prefix      string // of every store key of the run
	joinTimeout time.Duration
	secret      []byte // empty: none
	limits      limits // of rank 0's store

	life context.Context         // cancelled by Shutdown
	stop context.CancelCauseFunc // cancels life

	roundSem chan struct{} // serialises NextRendezvous
	round    int           // guarded by roundSem
	stage    int           // guarded by roundSem
	current  atomic.Int64  // round, for rank 0's store hooks

	connSem chan struct{} // serialises connecting

	mu     sync.Mutex
	store  kv      // nil until connected
	server *server // rank 0
	client *client // other ranks
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
func (h *handler) connect(ctx context.Context) (kv, error) {
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
		srv, err := listen(h.endpoint, serverConfig{prefix: h.prefix, runID: h.runID, world: h.world, secret: h.secret, limits: h.limits,
			conflict: h.nodeConflict, left: h.nodeLeft})
		if err != nil {
			return nil, fmt.Errorf("static: rank 0 cannot host the store at %s: %w: %v; the endpoint must be a free port of an address of this machine",
				h.endpoint, registry.ErrConnection, err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.shut {
			// Shut down while listening: nobody has used the store, and
			// an error closing it would add nothing to errShutDown.
			_ = srv.Close(ctx)
			return nil, errShutDown
		}
		h.server, h.store = srv, srv.local()
		return h.store, nil
	}
	c, err := dialRetry(ctx, h.endpoint, hello{rank: uint32(h.rank), world: uint32(h.world), runID: h.runID}, h.secret)
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
	round := h.roundKey(h.round)
	if err := h.join(ctx, st, round); err != nil {
		return registry.Info{}, err
	}
	_, outcome, err := h.await(ctx, st, "the other nodes to join", round+"outcome")
	if err != nil {
		return registry.Info{}, h.explain(st, round, err)
	}
	if err := h.failure(round, outcome); err != nil {
		if h.rank == 0 {
			// The store goes when rank 0 leaves: keep it a little, so that
			// nodes starting a moment late learn why the round failed
			// instead of waiting for rank 0 until their join timeout.
			select {
			case <-time.After(FailureLinger):
			case <-ctx.Done():
			}
		}
		return registry.Info{}, err
	}
	// The round is complete. The store lives in rank 0's process: rank 0
	// waits until every other node has seen the round complete, so that
	// shutting down right after this call takes the answer from no one.
	if err := h.ack(ctx, st, round); err != nil {
		return registry.Info{}, err
	}
	h.round++
	h.current.Store(int64(h.round))
	h.stage = stageNew
	return registry.Info{
		Store:     prefixStore{st, round + "store/"},
		Rank:      h.rank,
		WorldSize: h.world,
		Bootstrap: h.bootstrap,
	}, nil
}

// roundKey is the prefix of the store keys of round n.
func (h *handler) roundKey(n int) string { return fmt.Sprintf("%sround/%d/", h.prefix, n) }

// roundNumber is the number of the round whose keys start with round.
func (h *handler) roundNumber(round string) string {
	return strings.TrimSuffix(strings.TrimPrefix(round, h.prefix+"round/"), "/")
}

// failure returns the error of a failed round, nil if outcome is OK.
func (h *handler) failure(round string, outcome []byte) error {
	if string(outcome) == outcomeOK {
		return nil
	}
	return fmt.Errorf("static: run %q: round %s failed: %s: %w", h.runID, h.roundNumber(round), strings.TrimPrefix(string(outcome), outcomeFail), registry.ErrState)
}

// join counts this node in the round; the last node to join marks the
// round complete. A node that finds the round cannot complete fails it for
// every node.
func (h *handler) join(ctx context.Context, st kv, round string) error {
	if h.stage != stageNew {
		return nil
	}
	res, outcome, err := st.Join(ctx, round)
	if err != nil {
		return err
	}
	switch {
	case res == joinLate && string(outcome) == outcomeOK:
		return fmt.Errorf("static: run %q: round %s completed without this node: it was restarted after the job began, and a static rendezvous cannot take a restarted node in: %w; restart every node of the job",
			h.runID, h.roundNumber(round), registry.ErrState)
	case res == joinLate:
		return fmt.Errorf("%w (this node of rank %d came after the round failed: if it was restarted, restart every node of the job)", h.failure(round, outcome), h.rank)
	case res == joinConflict:
		return h.failure(round, outcome)
	}
	h.stage = stageJoined
	return nil
}

// ack tells rank 0 that this node has seen the round complete; on rank 0
// it waits until every other node has, or one has left.
func (h *handler) ack(ctx context.Context, st kv, round string) error {
	if h.rank != 0 {
		if h.stage == stageJoined {
			if err := st.Ack(ctx, round); err != nil {
				return err
			}
			h.stage = stageAcked
		}
		return nil
	}
	for rank := 1; rank < h.world; rank++ {
		i, lost, err := h.await(ctx, st, "the other nodes to see the round complete", round+"ack/"+strconv.Itoa(rank), round+"lost")
		if err != nil {
			return err
		}
		if i == 1 {
			return fmt.Errorf("static: run %q: round %s: %s: %w; the other nodes have their answer, restart the job", h.runID, h.roundNumber(round), lost, registry.ErrConnection)
		}
	}
	return nil
}

// nodeLeft is called by rank 0's store when the connection of the node of
// rank closes. A node that joined a round and left before it saw the round
// complete fails the round: for every node if it is not complete yet, for
// rank 0 otherwise.
func (h *handler) nodeLeft(srv *server, rank int) {
	cur := int(h.current.Load())
	for n := cur; n <= cur+1; n++ {
		round := h.roundKey(n)
		r := strconv.Itoa(rank)
		if _, joined := srv.peek(round + "rank/" + r); !joined {
			continue
		}
		if _, acked := srv.peek(round + "ack/" + r); acked {
			continue
		}
		reason := fmt.Sprintf("the node of rank %d left during round %d (its connection to the store closed)", rank, n)
		if v, _ := srv.setIfAbsent(round+"outcome", []byte(outcomeFail+reason+" before the round completed; every node of the round fails: restart the job")); string(v) == outcomeOK {
			srv.set(round+"lost", []byte(reason+" before it saw the round complete"))
		}
	}
}

// nodeConflict is called by rank 0's store when it refuses a node that
// proved the job's secret for not matching rank 0's world size, or for a
// rank that is connected already: the job is misconfigured, the current
// round cannot complete and fails for every node.
func (h *handler) nodeConflict(srv *server, reason string) {
	srv.setIfAbsent(h.roundKey(int(h.current.Load()))+"outcome", []byte(outcomeFail+reason))
}

// await waits until one of keys is set and returns its index and value,
// failing with registry.ErrClosed if the rendezvous is closed first.
func (h *handler) await(ctx context.Context, st registry.Store, what string, keys ...string) (int, []byte, error) {
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		i     int // -1: the closed signal
		value []byte
		err   error
	}
	results := make(chan result, len(keys)+1)
	wait := func(i int, key string) {
		v, err := st.Get(ctx, key)
		results <- result{i, v, err}
	}
	go wait(-1, h.prefix+"closed/signal")
	for i, key := range keys {
		go wait(i, key)
	}
	r := <-results
	switch {
	case r.err != nil && h.life.Err() != nil:
		return 0, nil, errShutDown
	case r.err != nil && outer.Err() != nil:
		return 0, nil, ctxError(outer, "waiting for "+what)
	case r.err != nil:
		return 0, nil, r.err
	case r.i < 0:
		return 0, nil, fmt.Errorf("static: run %q: %w", h.runID, registry.ErrClosed)
	}
	return r.i, r.value, nil
}

// explain adds to a failed wait for a round how many nodes had joined.
func (h *handler) explain(st kv, round string, err error) error {
	if !errors.Is(err, registry.ErrTimeout) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, aerr := st.Add(ctx, round+"joined", 0)
	if aerr != nil {
		return err
	}
	var refused string
	h.mu.Lock()
	srv := h.server
	h.mu.Unlock()
	if srv != nil {
		if rs := srv.recentRefusals(); len(rs) > 0 {
			refused = "; rank 0 turned away: " + strings.Join(rs, "; ")
		}
	}
	return fmt.Errorf("static: run %q: %d of %d nodes joined; every node needs the same endpoint and --nnodes %d, and its own rank%s: %w",
		h.runID, n, h.world, h.world, refused, err)
}

func (h *handler) isClosed(ctx context.Context, st kv) (bool, error) {
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
	return st.CloseRun(ctx)
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
