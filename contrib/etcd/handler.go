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
// The state of a run is one JSON value under <prefix>/<run id>/rdzv/state,
// changed only by compare-and-swap transactions on its revision; nodes wait
// for changes with etcd watches, never by polling. Every node holds a lease
// and a key under <prefix>/<run id>/rdzv/alive/. The store of round r of a
// run lives under <prefix>/<run id>/store/<r>/.
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
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Backend is the name the backend is registered under.
const Backend = "etcd"

// leaveTimeout bounds the clean-up a node does when it gives up a
// rendezvous, so that giving up stays prompt when etcd is unreachable.
const leaveTimeout = time.Second

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
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd rendezvous: creating etcd client for %s: %w: %w", strings.Join(cfg.endpoints, ","), registry.ErrConnection, err)
	}
	id := make([]byte, 4)
	_, _ = crand.Read(id)
	base := cfg.prefix + "/" + url.PathEscape(p.RunID)
	h := &Handler{
		cfg:         cfg,
		bounds:      bounds{min: p.MinNodes, max: p.MaxNodes, lastCall: cfg.lastCallTimeout},
		runID:       p.RunID,
		cli:         cli,
		rdzvPrefix:  base + "/rdzv/",
		stateKey:    base + "/rdzv/state",
		alivePrefix: base + "/rdzv/alive/",
		storePrefix: base + "/store/",
		self: member{
			ID:   fmt.Sprintf("%s_%d_%s", cfg.localAddr, os.Getpid(), hex.EncodeToString(id)),
			Addr: cfg.localAddr,
		},
		reach: newReachability(min(unreachableAfter, cfg.readTimeout/2)),
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
// are safe for concurrent use.
type Handler struct {
	cfg    config
	bounds bounds
	runID  string
	cli    *clientv3.Client
	self   member

	rdzvPrefix, stateKey, alivePrefix, storePrefix string

	leaseMu sync.Mutex // serialises lease grants
	lease   clientv3.LeaseID

	reach    *reachability
	connStop context.CancelFunc // stops following the connection
	connDone chan struct{}

	mu       sync.Mutex
	kaStop   context.CancelFunc // stops the keep-alive loop
	kaDone   chan struct{}
	shut     bool
	shutOK   bool
	lastPort int // bootstrap port of the last NextRendezvous
	shutErr  error
}

// Backend returns "etcd".
func (h *Handler) Backend() string { return Backend }

// RunID returns the run this handler takes part in.
func (h *Handler) RunID() string { return h.runID }

// NextRendezvous joins the next round of the run and blocks until it
// completes, at most join_timeout. See registry.Handler.
func (h *Handler) NextRendezvous(ctx context.Context) (registry.Info, error) {
	if err := h.checkOpen(); err != nil {
		return registry.Info{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, h.cfg.joinTimeout,
		fmt.Errorf("rendezvous did not complete within join_timeout (%v); start more nodes or raise join_timeout", h.cfg.joinTimeout))
	defer cancel()
	me := h.self
	// The port also tells this call's entries in the state from those of
	// an earlier call, so it must differ from the last one.
	h.mu.Lock()
	last := h.lastPort
	h.mu.Unlock()
	port := last
	for tries := 0; port == last && tries < 5; tries++ {
		var err error
		if port, err = freePort(); err != nil {
			return registry.Info{}, err
		}
	}
	if port == last {
		return registry.Info{}, fmt.Errorf("etcd rendezvous: no free port for the bootstrap store other than %d", last)
	}
	h.mu.Lock()
	h.lastPort = port
	h.mu.Unlock()
	me.Port = port
	if err := h.ensureLive(ctx); err != nil {
		return registry.Info{}, err
	}
	info, err := h.rendezvous(ctx, me)
	if err != nil && ctx.Err() != nil {
		// Give up our place, so that no round counts a node that left.
		lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
		_ = h.leave(lctx)
		lcancel()
	}
	return info, err
}

// rendezvous runs PyTorch's exit-then-join operation against the shared
// state until this node is a participant of a complete round.
func (h *Handler) rendezvous(ctx context.Context, me member) (registry.Info, error) {
	// The first read fails fast when etcd is unreachable. The watch starts
	// before the second read, so that no change after that read is missed;
	// a watch from the current revision is served at once, where one from
	// a past revision may wait for etcd's catch-up loop.
	if _, err := h.read(ctx); err != nil {
		return registry.Info{}, err
	}
	watch := stateWatch{h: h, parent: ctx}
	defer watch.stop()
	watch.start()
	snap, err := h.read(ctx)
	if err != nil {
		return registry.Info{}, err
	}
	left := false
	conflicts := 0
	// The guard's period is the lease TTL: the time etcd itself takes to
	// notice a dead node.
	resyncEvery := time.Duration(h.cfg.leaseTTL()) * time.Second
	resync := time.NewTimer(resyncEvery)
	defer resync.Stop()
	var unreachable error // the last failed read while waiting
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if !snap.alive[me.ID] {
			// Our lease expired (etcd lost us for longer than its TTL):
			// take a new one before touching the state.
			err := h.renew(ctx)
			if errors.Is(err, registry.ErrConnection) {
				unreachable = err
			} else if err != nil {
				return registry.Info{}, err
			}
			if snap, err = h.resubscribe(ctx, &watch, &unreachable); err != nil {
				return registry.Info{}, err
			}
			continue
		}
		if snap.st.Closed {
			return registry.Info{}, fmt.Errorf("etcd rendezvous: run %q: %w", h.runID, registry.ErrClosed)
		}
		if !left && snap.st.holds(me) {
			// An update of ours whose answer was lost did apply: this
			// call's port is in the state.
			left = true
		}
		now := time.Now()
		next := snap.st.clone()
		changed := next.removeDead(snap.alive, h.bounds, now)
		if !left {
			changed = next.leave(me.ID, h.bounds, now) || changed
		}
		changed = next.join(me, h.bounds, now) || changed
		if changed {
			fresh, ok, err := h.cas(ctx, snap, next)
			if errors.Is(err, registry.ErrConnection) {
				// etcd went away; the update may or may not have applied.
				// Ride out the outage, then go on from what etcd holds.
				unreachable = err
				if snap, err = h.resubscribe(ctx, &watch, &unreachable); err != nil {
					return registry.Info{}, err
				}
				continue
			}
			if err != nil {
				return registry.Info{}, err
			}
			left = left || ok
			snap = fresh
			if !ok {
				// Lost a race with another node's update: back off a
				// little, at random, so that a crowd joining at once
				// does not retry in lockstep.
				conflicts++
				if err := sleep(ctx, rand.N(time.Duration(min(conflicts, 10))*time.Millisecond)); err != nil {
					return registry.Info{}, h.waitError(ctx, nil)
				}
			}
			continue
		}
		left = true
		if next.Complete {
			if rank := indexOf(next.Participants, me.ID); rank >= 0 {
				return h.info(next, rank), nil
			}
		}

		var deadline <-chan time.Time
		if !next.Complete && next.Deadline != 0 {
			wait := time.Until(time.UnixMilli(next.Deadline)) + time.Millisecond
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			deadline = timer.C
		}
		var err error
		select {
		case resp, ok := <-watch.ch:
			if !ok || resp.Err() != nil {
				// The watch broke, most likely because etcd went away.
				if snap, err = h.resubscribe(ctx, &watch, &unreachable); err != nil {
					return registry.Info{}, err
				}
				continue
			}
			// The events carry every change: apply them rather than
			// read the state again, which would cost every waiting node
			// a read for every change.
			if err := h.apply(&snap, resp.Events); err != nil {
				return registry.Info{}, err
			}
		case <-deadline:
		case <-resync.C:
			// A guard, not the mechanism: should a watch ever be lost
			// silently (say across an etcd restart), a read that shows a
			// change the watch did not deliver replaces it.
			resync.Reset(resyncEvery)
			fresh, err := h.readRiding(ctx, &unreachable)
			if err != nil {
				return registry.Info{}, err
			}
			if fresh.modRev == snap.modRev && len(fresh.alive) == len(snap.alive) {
				snap = fresh
				continue
			}
			if snap, err = h.resubscribe(ctx, &watch, &unreachable); err != nil {
				return registry.Info{}, err
			}
		case <-ctx.Done():
			return registry.Info{}, h.waitError(ctx, unreachable)
		}
	}
}

// resubscribe replaces the watch and reads the state again, waiting for
// etcd to come back if it is away: a node in a rendezvous rides out an
// etcd outage until its time is up.
func (h *Handler) resubscribe(ctx context.Context, watch *stateWatch, unreachable *error) (snapshot, error) {
	watch.stop()
	if err := sleep(ctx, watchRetry); err != nil {
		return snapshot{}, h.waitError(ctx, *unreachable)
	}
	watch.start() // returns once etcd has set the watch up
	return h.readRiding(ctx, unreachable)
}

// readRiding reads the state, retrying while etcd is unreachable, until
// ctx is done.
func (h *Handler) readRiding(ctx context.Context, unreachable *error) (snapshot, error) {
	for {
		snap, err := h.read(ctx)
		if !errors.Is(err, registry.ErrConnection) {
			return snap, err
		}
		*unreachable = err
		if err := sleep(ctx, watchRetry); err != nil {
			return snapshot{}, h.waitError(ctx, *unreachable)
		}
	}
}

// apply brings snap up to date with watch events. Events the snapshot
// already reflects (the watch starts before the read, and a node knows
// its own updates) are skipped by revision.
func (h *Handler) apply(snap *snapshot, events []*clientv3.Event) error {
	for _, ev := range events {
		key, rev := string(ev.Kv.Key), ev.Kv.ModRevision
		switch {
		case key == h.stateKey:
			if rev <= snap.stateRev {
				continue
			}
			if ev.Type == clientv3.EventTypeDelete {
				snap.st, snap.modRev = state{}, 0
			} else {
				st, err := decodeState(h.stateKey, ev.Kv.Value)
				if err != nil {
					return err
				}
				snap.st, snap.modRev = st, rev
			}
			snap.stateRev = rev
		case strings.HasPrefix(key, h.alivePrefix):
			if rev <= snap.aliveRev {
				continue
			}
			if id, err := url.PathUnescape(strings.TrimPrefix(key, h.alivePrefix)); err == nil {
				if ev.Type == clientv3.EventTypeDelete {
					delete(snap.alive, id)
				} else {
					snap.alive[id] = true
				}
			}
			snap.aliveRev = rev
		}
	}
	return nil
}

// waitError is the error of a wait that ctx ended.
func (h *Handler) waitError(ctx context.Context, unreachable error) error {
	err := h.opError(ctx, ctx, "waiting for the round to complete", ctx.Err())
	if unreachable != nil {
		err = fmt.Errorf("%w (etcd was unreachable meanwhile: %v)", err, unreachable)
	}
	return err
}

// stateWatch watches the rendezvous keys of a run.
type stateWatch struct {
	h      *Handler
	parent context.Context
	cancel context.CancelFunc
	ch     clientv3.WatchChan
}

// start watches from the current revision on. It returns once etcd has
// set the watch up, or the parent context is done.
func (w *stateWatch) start() {
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(w.parent)
	w.ch = w.h.cli.Watch(ctx, w.h.rdzvPrefix, clientv3.WithPrefix())
}

func (w *stateWatch) stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.ch, w.cancel = nil, nil
}

func (h *Handler) info(st state, rank int) registry.Info {
	boot := st.Participants[0]
	return registry.Info{
		Store:     &Store{h: h, prefix: h.storePrefix + strconv.Itoa(st.Round) + "/"},
		Rank:      rank,
		WorldSize: len(st.Participants),
		Bootstrap: registry.BootstrapInfo{Addr: boot.Addr, Port: boot.Port},
	}
}

// leave removes this node from the state of the run.
func (h *Handler) leave(ctx context.Context) error {
	for {
		snap, err := h.read(ctx)
		if err != nil {
			return err
		}
		next := snap.st.clone()
		if !next.leave(h.self.ID, h.bounds, time.Now()) {
			return nil
		}
		if _, ok, err := h.cas(ctx, snap, next); err != nil || ok {
			return err
		}
	}
}

// IsClosed reports whether the run has been closed.
func (h *Handler) IsClosed(ctx context.Context) (bool, error) {
	if err := h.checkOpen(); err != nil {
		return false, err
	}
	snap, err := h.read(ctx)
	if err != nil {
		return false, err
	}
	return snap.st.Closed, nil
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
	snap, err := h.read(ctx)
	for err == nil {
		if snap.st.Closed {
			return nil
		}
		next := snap.st.clone()
		next.Closed = true
		var ok bool
		if snap, ok, err = h.cas(ctx, snap, next); ok {
			return nil
		}
	}
	return err
}

// NumNodesWaiting returns the number of live nodes waiting for the next
// round while the current one runs.
func (h *Handler) NumNodesWaiting(ctx context.Context) (int, error) {
	if err := h.checkOpen(); err != nil {
		return 0, err
	}
	snap, err := h.read(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range snap.st.Wait {
		if snap.alive[m.ID] {
			n++
		}
	}
	return n, nil
}

// Shutdown leaves the run, revokes this node's lease and closes the etcd
// client, within close_timeout. Unlike PyTorch's, it does not close the
// run: the other nodes go on. Later calls return the first call's result.
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
	h.leaseMu.Lock()
	lease := h.lease
	h.leaseMu.Unlock()
	if lease != 0 {
		errs = append(errs, h.leave(ctx))
		octx, ocancel := h.opContext(ctx)
		if _, err := h.cli.Revoke(octx, lease); err != nil {
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

// snapshot is the state as read at one etcd revision.
type snapshot struct {
	st       state
	modRev   int64 // revision of the state key, 0 if absent
	stateRev int64 // revision as of which st is known
	alive    map[string]bool
	aliveRev int64 // revision as of which alive is known
}

func (h *Handler) readOps() []clientv3.Op {
	return []clientv3.Op{
		clientv3.OpGet(h.stateKey),
		clientv3.OpGet(h.alivePrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly()),
	}
}

// read returns the state of the run and the set of live nodes, atomically.
func (h *Handler) read(ctx context.Context) (snapshot, error) {
	octx, cancel := h.opContext(ctx)
	defer cancel()
	resp, err := h.cli.Txn(octx).Then(h.readOps()...).Commit()
	if err != nil {
		return snapshot{}, h.opError(ctx, octx, "reading the rendezvous state", err)
	}
	return h.snapshotOf(resp)
}

func (h *Handler) snapshotOf(resp *clientv3.TxnResponse) (snapshot, error) {
	rev := resp.Header.Revision
	snap := snapshot{stateRev: rev, aliveRev: rev, alive: make(map[string]bool)}
	if len(resp.Responses) != 2 {
		return snapshot{}, fmt.Errorf("etcd rendezvous: unexpected transaction response with %d results: %w", len(resp.Responses), registry.ErrState)
	}
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		st, err := decodeState(h.stateKey, kvs[0].Value)
		if err != nil {
			return snapshot{}, err
		}
		snap.st, snap.modRev = st, kvs[0].ModRevision
	}
	for _, kv := range resp.Responses[1].GetResponseRange().GetKvs() {
		if id, err := url.PathUnescape(strings.TrimPrefix(string(kv.Key), h.alivePrefix)); err == nil {
			snap.alive[id] = true
		}
	}
	return snap, nil
}

// cas writes next if the state is still the one in snap. It returns the
// state after the attempt and whether it succeeded.
func (h *Handler) cas(ctx context.Context, snap snapshot, next state) (snapshot, bool, error) {
	value, err := next.encode()
	if err != nil {
		return snapshot{}, false, err
	}
	octx, cancel := h.opContext(ctx)
	defer cancel()
	resp, err := h.cli.Txn(octx).
		If(clientv3.Compare(clientv3.ModRevision(h.stateKey), "=", snap.modRev)).
		Then(clientv3.OpPut(h.stateKey, value)).
		Else(h.readOps()...).
		Commit()
	if err != nil {
		return snapshot{}, false, h.opError(ctx, octx, "updating the rendezvous state", err)
	}
	if resp.Succeeded {
		rev := resp.Header.Revision
		return snapshot{st: next, modRev: rev, stateRev: rev, alive: snap.alive, aliveRev: snap.aliveRev}, true, nil
	}
	fresh, err := h.snapshotOf(resp)
	return fresh, false, err
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
	return fmt.Errorf("etcd rendezvous: run %q: %s: etcd at %s did not answer within read_timeout (%v) (%v); check that it runs and is reachable: %w",
		h.runID, what, endpoints, h.cfg.readTimeout, err, registry.ErrConnection)
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
