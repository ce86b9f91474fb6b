// Package etcd is a dynamic rendezvous backend on etcd v3, registered
// under the name "etcd": the nodes of a job find each other through an etcd
// cluster they can all reach, the way PyTorch's etcd and c10d rendezvous
// backends let them.
//
// It follows PyTorch's dynamic rendezvous. Nodes join a round; once
// MinNodes have joined, a last-call window (last_call_timeout) lets more
// arrive, and the round completes when it ends or at once when MaxNodes
// have joined. Ranks follow the sorted node identifiers. Nodes that arrive
// while a round runs wait for the next one; NumNodesWaiting counts them, and
// the running nodes re-rendezvous (call NextRendezvous again) to let them
// in. A node that dies loses its etcd lease after keep_alive_interval times
// keep_alive_max_attempt and is dropped; the survivors re-rendezvous.
//
// Each node's cost is constant in the size of the job: a node joins by
// putting a key of its own under the round, with its lease, in one
// transaction that also counts the round's keys; the node that sees
// MaxNodes, or that ends the last call, seals the round with a key created
// once; ranks are counts of keys at the seal's revision; waiting nodes
// watch only the run's closed key and the round's control keys. No key is
// written by every node, and no node reads or watches what every node
// writes. The README describes the keys and the requests of each node. A
// dead node's keys go with its lease. The store of round r of a run lives
// under <prefix>/<run id>/store/<r>/.
//
// The backend is an out-of-tree handler: its entry_points.txt declares it
// in group torchrun.handlers, and discovery.Discover registers it.
package etcd

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Backend is the name the backend is registered under.
const Backend = "etcd"

// leaveTimeout bounds the clean-up a node does when it gives up a
// rendezvous, so that giving up stays prompt when etcd is unreachable.
const leaveTimeout = time.Second

// connectTimeout bounds one attempt to connect to etcd (read_timeout, if
// shorter).
const connectTimeout = 5 * time.Second

// watchRetry is the pause before watching again after a watch broke.
const watchRetry = 100 * time.Millisecond

// NewCreator returns the creator of etcd rendezvous handlers. It is the
// value of this module's torchrun.handlers entry point.
func NewCreator() registry.Creator { return New }

// New creates an etcd rendezvous handler from p. p.Endpoint lists etcd
// client addresses (host:port, comma-separated); p.Config holds the keys
// described in the README (join_timeout, last_call_timeout, close_timeout,
// keep_alive_interval, keep_alive_max_attempt, read_timeout, prefix,
// protocol, cacert, cert, key). Every invalid value is reported, naming
// its key; a key it does not know is logged as a warning (slog.Default)
// and ignored. New does not contact etcd; the first call that does reports
// an error wrapping registry.ErrConnection if it cannot, as soon as etcd
// has been unreachable for two seconds (or half read_timeout, if shorter).
func New(p registry.Parameters) (registry.Handler, error) {
	cfg, err := parseConfig(p)
	if err != nil {
		return nil, err
	}
	for _, k := range unknownKeys(p.Config) {
		slog.Warn("etcd rendezvous: ignoring unknown config key", "key", k, "known", strings.Join(knownKeys, ", "))
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.endpoints,
		TLS:                  cfg.tls,
		Logger:               zap.NewNop(),
		DialKeepAliveTime:    cfg.keepAlive,
		DialKeepAliveTimeout: cfg.readTimeout,
		// gRPC backs off up to two minutes between reconnections; a node
		// must see etcd again soon after it comes back.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			// A connection attempt may take a while when etcd accepts
			// many clients at once; a refused one fails at once anyway.
			MinConnectTimeout: min(connectTimeout, cfg.readTimeout),
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd rendezvous: creating etcd client for %s: %w: %w", strings.Join(cfg.endpoints, ","), registry.ErrConnection, err)
	}
	id := make([]byte, 4)
	_, _ = crand.Read(id)
	h := &Handler{
		cfg:          cfg,
		minNodes:     p.MinNodes,
		maxNodes:     p.MaxNodes,
		runID:        p.RunID,
		cli:          cli,
		k:            newKeys(cfg.prefix, p.RunID),
		id:           fmt.Sprintf("%s_%d_%s", cfg.localAddr, os.Getpid(), hex.EncodeToString(id)),
		leaseChanged: make(chan struct{}, 1),
		round:        -1,
		reach:        newReachability(min(unreachableAfter, cfg.readTimeout/2)),
	}
	cctx, stop := context.WithCancel(context.Background())
	h.connStop, h.connDone = stop, make(chan struct{})
	go func() {
		defer close(h.connDone)
		h.reach.watchConn(cctx, cli.ActiveConnection())
	}()
	return h, nil
}

// Handler is an etcd rendezvous handler: one node of one run. Its methods
// are safe for concurrent use; concurrent NextRendezvous calls run one
// after the other.
type Handler struct {
	cfg                config
	minNodes, maxNodes int
	runID              string
	cli                *clientv3.Client
	k                  keys
	id                 string // this node's identifier, <local addr>_<pid>_<random>

	leaseMu      sync.Mutex // serialises lease grants
	lease        clientv3.LeaseID
	leaseChanged chan struct{} // receives when a new lease replaces an expired one

	reach    *reachability
	connStop context.CancelFunc // stops following the connection
	connDone chan struct{}

	rdzvMu sync.Mutex // serialises NextRendezvous

	mu      sync.Mutex
	round   int                // round of this node's join key, -1 before the first join
	kaStop  context.CancelFunc // stops the keep-alive loop
	kaDone  chan struct{}
	shut    bool
	shutOK  bool
	shutErr error
}

// Backend returns "etcd".
func (h *Handler) Backend() string { return Backend }

// RunID returns the run this handler takes part in.
func (h *Handler) RunID() string { return h.runID }

// NextRendezvous joins the next round of the run and blocks until it
// completes. It fails with an error wrapping registry.ErrTimeout after
// join_timeout, except while the node waits behind a full round (which it
// may do until ctx is done, as PyTorch's redundant nodes do), and with one
// wrapping registry.ErrGracefulExit if the run is closed meanwhile. See
// registry.Handler.
func (h *Handler) NextRendezvous(ctx context.Context) (registry.Info, error) {
	if err := h.checkOpen(); err != nil {
		return registry.Info{}, err
	}
	h.rdzvMu.Lock()
	defer h.rdzvMu.Unlock()
	jt := h.newJoinTimer(ctx)
	defer jt.stop()
	info, err := h.rendezvous(jt.ctx, jt)
	if err != nil && !errors.Is(err, registry.ErrConnection) {
		// Give up our place, so that no round counts a node that left.
		lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
		_ = h.leave(lctx)
		lcancel()
	}
	return info, err
}

// IsClosed reports whether the run has been closed.
func (h *Handler) IsClosed(ctx context.Context) (bool, error) {
	if err := h.checkOpen(); err != nil {
		return false, err
	}
	octx, cancel := h.opContext(ctx)
	defer cancel()
	resp, err := h.cli.Get(octx, h.k.closed(), clientv3.WithCountOnly())
	if err != nil {
		return false, h.opError(ctx, octx, "reading whether the run is closed", err)
	}
	return resp.Count > 0, nil
}

// SetClosed closes the run, within close_timeout: every node's
// NextRendezvous fails with an error wrapping registry.ErrClosed.
func (h *Handler) SetClosed(ctx context.Context) error {
	if err := h.checkOpen(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, h.cfg.closeTimeout,
		fmt.Errorf("closing did not complete within close_timeout (%v)", h.cfg.closeTimeout))
	defer cancel()
	octx, ocancel := h.opContext(ctx)
	defer ocancel()
	if _, err := h.cli.Put(octx, h.k.closed(), "closed"); err != nil {
		return h.opError(ctx, octx, "closing the run", err)
	}
	return nil
}

// NumNodesWaiting returns the number of nodes waiting for the next round
// while the current one runs: the join keys of the round after the run's
// last sealed round. Nodes behind a round of MaxNodes are not counted, as
// PyTorch does not count its redundant nodes, until a place frees up.
func (h *Handler) NumNodesWaiting(ctx context.Context) (int, error) {
	if err := h.checkOpen(); err != nil {
		return 0, err
	}
	octx, cancel := h.opContext(ctx)
	defer cancel()
	resp, err := h.cli.Get(octx, h.k.sealed())
	if err != nil {
		return 0, h.opError(ctx, octx, "reading the run's last round", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil // no round has been sealed: nobody waits for one to end
	}
	s, err := parseRound(h.k.sealed(), resp.Kvs[0].Value)
	if err != nil {
		return 0, err
	}
	counts, err := h.cli.Txn(octx).Then(
		clientv3.OpGet(h.k.joins(s), clientv3.WithPrefix(), clientv3.WithCountOnly()),
		clientv3.OpGet(h.k.joins(s+1), clientv3.WithPrefix(), clientv3.WithCountOnly()),
	).Commit()
	if err != nil {
		return 0, h.opError(ctx, octx, "counting the waiting nodes", err)
	}
	running, waiting := counts.Responses[0].GetResponseRange().Count, counts.Responses[1].GetResponseRange().Count
	if running >= int64(h.maxNodes) {
		return 0, nil
	}
	return int(waiting), nil
}

// Shutdown revokes this node's lease, which deletes its keys, and closes
// the etcd client, within close_timeout. Unlike PyTorch's, it does not
// close the run: the other nodes go on. Later calls return the first
// call's result.
func (h *Handler) Shutdown(ctx context.Context) (bool, error) {
	h.mu.Lock()
	if h.shut {
		defer h.mu.Unlock()
		return h.shutOK, h.shutErr
	}
	h.shut = true
	h.mu.Unlock()
	h.stopKeepAlive()

	ctx, cancel := context.WithTimeout(ctx, h.cfg.closeTimeout)
	defer cancel()
	var errs []error
	if lease := h.currentLease(); lease != 0 {
		octx, ocancel := h.opContext(ctx)
		_, err := h.cli.Revoke(octx, lease)
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			errs = append(errs, h.opError(ctx, octx, "revoking the node's lease", err))
		}
		ocancel()
	}
	if err := h.closeClient(); err != nil {
		errs = append(errs, err)
	}
	err := errors.Join(errs...)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.shutOK, h.shutErr = err == nil, err
	return h.shutOK, h.shutErr
}

// closeClient closes the etcd client and stops following its connection.
func (h *Handler) closeClient() error {
	var err error
	if cerr := h.cli.Close(); cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = fmt.Errorf("etcd rendezvous: closing the etcd client: %w", cerr)
	}
	h.connStop()
	<-h.connDone
	return err
}

func (h *Handler) checkOpen() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shut {
		return fmt.Errorf("etcd rendezvous: handler of run %q is shut down; create a new one: %w", h.runID, registry.ErrRendezvous)
	}
	return nil
}

// opContext bounds one request to etcd by read_timeout, and ends it once
// etcd has been unreachable for a while (see reachability).
func (h *Handler) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	octx, cancel := context.WithCancelCause(ctx)
	var stop func() bool
	if down := h.reach.current(); down.Err() == nil {
		stop = context.AfterFunc(down, func() { cancel(context.Cause(down)) })
	} else {
		// etcd was unreachable when last tried. It may be back: reconnect
		// now rather than after gRPC's backoff, and give up only if it
		// is still unreachable after the grace period.
		h.cli.ActiveConnection().ResetConnectBackoff()
		t := time.AfterFunc(h.reach.grace, func() {
			if down := h.reach.current(); down.Err() != nil {
				cancel(context.Cause(down))
			}
		})
		stop = t.Stop
	}
	tctx, tcancel := context.WithTimeout(octx, h.cfg.readTimeout)
	return tctx, func() {
		stop()
		tcancel()
		cancel(nil)
	}
}

// opError classifies the failure of a request made under octx, derived
// from ctx by opContext: the caller's context (or a deadline of ours)
// gives ErrTimeout, anything else means etcd could not be reached and
// gives ErrConnection.
func (h *Handler) opError(ctx, octx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("etcd rendezvous: run %q: %s: %w: %w", h.runID, what, registry.ErrTimeout, context.Cause(ctx))
	}
	endpoints := strings.Join(h.cfg.endpoints, ",")
	if cause := context.Cause(octx); errors.Is(cause, errUnreachable) {
		return fmt.Errorf("etcd rendezvous: run %q: %s: etcd at %s: %v; check that it runs and is reachable: %w",
			h.runID, what, endpoints, cause, registry.ErrConnection)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(octx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		return fmt.Errorf("etcd rendezvous: run %q: %s: etcd at %s did not answer within read_timeout (%v) (%v); check that it runs and is reachable, or raise read_timeout: %w",
			h.runID, what, endpoints, h.cfg.readTimeout, err, registry.ErrConnection)
	}
	// Not a timeout: etcd, or whatever listens at the endpoint, refused
	// the request.
	return fmt.Errorf("etcd rendezvous: run %q: %s: etcd at %s failed the request: %v; check that the endpoint is an etcd server's client URL: %w",
		h.runID, what, endpoints, err, registry.ErrConnection)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// freePort returns a TCP port that was free a moment ago, for the job's
// store should this node get rank 0.
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("etcd rendezvous: finding a free port for the bootstrap store: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
