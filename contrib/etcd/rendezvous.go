package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/go-entrypoints/entrypoints/registry"
)

// The protocol, in short (the README has it in full): a node puts its
// join key into the open round (the one after the run's last sealed
// round) in a transaction guarded by the round not being sealed, and
// learns the number of join keys of the round and of the round before in
// the same request. The node that sees MaxNodes seals the round; the node
// that sees MinNodes first takes the round's last-call key and seals the
// round when the last call ends. No round is sealed while the round before
// still has join keys: its nodes are running, and those joining meanwhile
// wait (NumNodesWaiting counts them). A sealed round's participants are
// the join keys that exist at the seal's revision; ranks follow the key
// order, and each node counts the keys before its own at that revision.
// Waiting nodes watch only the round's control keys and the run's closed
// key; the node holding a last call that waits for the round before to end
// also watches that round's join keys.

// joinTimer is the join_timeout of one NextRendezvous call. It is paused
// while the node waits behind a full round.
type joinTimer struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	t      *time.Timer
	d      time.Duration
	paused bool
}

func (h *Handler) newJoinTimer(parent context.Context) *joinTimer {
	ctx, cancel := context.WithCancelCause(parent)
	j := &joinTimer{ctx: ctx, cancel: cancel, d: h.cfg.joinTimeout}
	j.t = time.AfterFunc(j.d, func() { cancel(h.joinTimeoutError()) })
	return j
}

// pause stops the clock; resume starts it again from a full join_timeout.
func (j *joinTimer) pause() {
	if !j.paused {
		j.t.Stop()
		j.paused = true
	}
}

func (j *joinTimer) resume() {
	if j.paused {
		j.t.Reset(j.d)
		j.paused = false
	}
}

func (j *joinTimer) stop() {
	j.t.Stop()
	j.cancel(nil)
}

// joinTimeoutError says why the round did not complete: too few nodes,
// or etcd unreachable.
func (h *Handler) joinTimeoutError() error {
	if down := h.reach.current(); down.Err() != nil {
		return fmt.Errorf("rendezvous did not complete within join_timeout (%v): etcd at %s is unreachable (%v); check that it runs and is reachable",
			h.cfg.joinTimeout, strings.Join(h.cfg.endpoints, ","), context.Cause(down))
	}
	return fmt.Errorf("rendezvous did not complete within join_timeout (%v); start more nodes or raise join_timeout", h.cfg.joinTimeout)
}

// rendezvous joins rounds until this node is a participant of a sealed one.
func (h *Handler) rendezvous(ctx context.Context, jt *joinTimer) (registry.Info, error) {
	if err := h.ensureLive(ctx); err != nil {
		return registry.Info{}, err
	}
	port, err := freePort()
	if err != nil {
		return registry.Info{}, err
	}
	me := member{Addr: h.cfg.localAddr, Port: port, Min: h.minNodes, Max: h.maxNodes}
	var unreachable error // the last failure to reach etcd, for the timeout's error
	// A node that was in a round joins the one after it; a new node reads
	// the run first. The first request fails fast when etcd is
	// unreachable; once under way, the rendezvous rides out outages.
	h.mu.Lock()
	next := h.round + 1
	h.mu.Unlock()
	if next == 0 {
		last, err := h.readRun(ctx)
		if err != nil {
			return registry.Info{}, err
		}
		next = last + 1
	}
	first := true
	for {
		r, v, w, err := h.join(ctx, next, me, first, &unreachable)
		first = false
		if err != nil {
			return registry.Info{}, err
		}
		res, err := h.wait(ctx, jt, r, v, w, &unreachable)
		if err != nil {
			return registry.Info{}, err
		}
		if res.joined {
			return res.info, nil
		}
		next = res.next
	}
}

// ride runs op until it does not fail for want of etcd, waiting out an
// outage until ctx is done: a node in a rendezvous rides out etcd
// restarts.
func (h *Handler) ride(ctx context.Context, unreachable *error, op func() error) error {
	for {
		err := op()
		if !errors.Is(err, registry.ErrConnection) {
			return err
		}
		*unreachable = err
		if serr := sleep(ctx, watchRetry); serr != nil {
			return h.waitError(ctx, *unreachable)
		}
	}
}

// join puts this node's key into round r (r < 0: the open round) and
// returns the round it joined, the round as the joining request saw it,
// and a watch of the round set up before that request. With fast, a first
// attempt that finds etcd unreachable fails.
func (h *Handler) join(ctx context.Context, r int, me member, fast bool, unreachable *error) (int, view, *roundWatch, error) {
	value := me.encode()
	mine := nnodesValue(h.minNodes, h.maxNodes)
	w := &roundWatch{h: h, r: -1}
	defer func() {
		if w != nil {
			w.stop()
		}
	}()
	for {
		if r < 0 {
			var last int
			err := h.ride(ctx, unreachable, func() (err error) { last, err = h.readRun(ctx); return err })
			if err != nil {
				return 0, view{}, nil, err
			}
			r = last + 1
		}
		h.mu.Lock()
		prev := h.round
		h.mu.Unlock()
		lease := h.currentLease()
		var then []clientv3.Op
		if prev >= 0 && prev != r {
			then = append(then, clientv3.OpDelete(h.k.join(prev, h.id)))
		}
		put := len(then)
		then = append(then,
			clientv3.OpPut(h.k.join(r, h.id), value, clientv3.WithLease(lease)),
			clientv3.OpGet(h.k.joins(r), clientv3.WithPrefix(), clientv3.WithCountOnly()),
			clientv3.OpGet(h.k.lastCall(r)),
		)
		if r > 0 {
			then = append(then, clientv3.OpGet(h.k.joins(r-1), clientv3.WithPrefix(), clientv3.WithCountOnly()))
		}
		var resp *clientv3.TxnResponse
		attempt := func() error {
			if w.r != r || w.ch == nil {
				// The watch is set up before the join: it sees every
				// change after the join, and starts in step with etcd,
				// which serves a watch from a past revision late.
				w.stop()
				w.r = r
				if err := w.start(ctx); err != nil {
					return err
				}
			}
			octx, cancel := h.opContext(ctx)
			defer cancel()
			var err error
			resp, err = h.cli.Txn(octx).If(
				clientv3.Compare(clientv3.CreateRevision(h.k.seal(r)), "=", 0),
				clientv3.Compare(clientv3.CreateRevision(h.k.closed()), "=", 0),
				clientv3.Compare(clientv3.Value(h.k.nnodes()), "=", mine),
			).Then(then...).Else(
				clientv3.OpGet(h.k.seal(r), clientv3.WithKeysOnly()),
				clientv3.OpGet(h.k.closed(), clientv3.WithKeysOnly()),
			).Commit()
			if errors.Is(err, rpctypes.ErrLeaseNotFound) {
				// The lease expired while etcd could not be reached.
				resp = nil
				return h.renew(ctx)
			}
			if err != nil {
				resp = nil
				return h.opError(ctx, octx, fmt.Sprintf("joining round %d", r), err)
			}
			return nil
		}
		var err error
		if fast {
			err = attempt()
			fast = false
		} else {
			err = h.ride(ctx, unreachable, attempt)
		}
		if err != nil {
			return 0, view{}, nil, err
		}
		if resp == nil || lease != h.currentLease() {
			continue // the lease was renewed: join with the new one
		}
		if resp.Succeeded {
			h.mu.Lock()
			h.round = r
			h.mu.Unlock()
			rr := func(i int) *clientv3.GetResponse {
				return (*clientv3.GetResponse)(resp.Responses[put+1+i].GetResponseRange())
			}
			v := view{rev: resp.Header.Revision, mine: true, n: rr(0).Count}
			if r > 0 {
				v.prev = rr(2).Count
			}
			if kvs := rr(1).Kvs; len(kvs) > 0 {
				v.lastCall = kvs[0]
			}
			watch := w
			w = nil
			return r, v, watch, nil
		}
		switch {
		case len(resp.Responses[1].GetResponseRange().Kvs) > 0:
			return 0, view{}, nil, h.closedError()
		case len(resp.Responses[0].GetResponseRange().Kvs) > 0:
			r++ // sealed meanwhile: the next round is open
		default:
			r = -1 // the run's --nnodes record went with its writer, or this node is new: read the run
		}
	}
}

// readRun records this node's MinNodes:MaxNodes as the run's if no node
// has, and returns the run's last sealed round (-1 if none). A run that is
// closed or whose nodes have other bounds is an error.
func (h *Handler) readRun(ctx context.Context) (int, error) {
	for {
		last, err := h.tryReadRun(ctx)
		if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return last, err
		}
		if err := h.renew(ctx); err != nil {
			return 0, err
		}
	}
}

func (h *Handler) tryReadRun(ctx context.Context) (int, error) {
	mine := nnodesValue(h.minNodes, h.maxNodes)
	octx, cancel := h.opContext(ctx)
	defer cancel()
	resp, err := h.cli.Txn(octx).If(
		clientv3.Compare(clientv3.CreateRevision(h.k.nnodes()), "=", 0),
	).Then(
		clientv3.OpPut(h.k.nnodes(), mine, clientv3.WithLease(h.currentLease())),
		clientv3.OpGet(h.k.closed(), clientv3.WithKeysOnly()),
		clientv3.OpGet(h.k.sealed()),
	).Else(
		clientv3.OpGet(h.k.nnodes()),
		clientv3.OpGet(h.k.closed(), clientv3.WithKeysOnly()),
		clientv3.OpGet(h.k.sealed()),
	).Commit()
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return 0, err
	}
	if err != nil {
		return 0, h.opError(ctx, octx, "reading the run", err)
	}
	if len(resp.Responses[1].GetResponseRange().Kvs) > 0 {
		return 0, h.closedError()
	}
	if !resp.Succeeded {
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 && string(kvs[0].Value) != mine {
			return 0, fmt.Errorf("etcd rendezvous: run %q: this node has --nnodes %s (MinNodes:MaxNodes), the run's other nodes have %s (key %s); give every node of a run the same --nnodes: %w",
				h.runID, mine, kvs[0].Value, h.k.nnodes(), registry.ErrState)
		}
	}
	kvs := resp.Responses[2].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return -1, nil
	}
	return parseRound(h.k.sealed(), kvs[0].Value)
}

func (h *Handler) closedError() error {
	return fmt.Errorf("etcd rendezvous: run %q: %w", h.runID, registry.ErrClosed)
}

// view is what a waiting node knows of its round, read at one revision.
type view struct {
	rev      int64
	closed   bool
	sealRev  int64            // creation revision of the round's seal, 0 if unsealed
	lastCall *mvccpb.KeyValue // the round's last-call key, nil if none
	mine     bool             // this node's join key exists
	n, prev  int64            // join keys of the round and of the round before
}

// look reads the view of round r in one request.
func (h *Handler) look(ctx context.Context, r int) (view, error) {
	ops := []clientv3.Op{
		clientv3.OpGet(h.k.closed(), clientv3.WithCountOnly()),
		clientv3.OpGet(h.k.seal(r), clientv3.WithKeysOnly()),
		clientv3.OpGet(h.k.lastCall(r)),
		clientv3.OpGet(h.k.join(r, h.id), clientv3.WithCountOnly()),
		clientv3.OpGet(h.k.joins(r), clientv3.WithPrefix(), clientv3.WithCountOnly()),
	}
	if r > 0 {
		ops = append(ops, clientv3.OpGet(h.k.joins(r-1), clientv3.WithPrefix(), clientv3.WithCountOnly()))
	}
	octx, cancel := h.opContext(ctx)
	defer cancel()
	resp, err := h.cli.Txn(octx).Then(ops...).Commit()
	if err != nil {
		return view{}, h.opError(ctx, octx, fmt.Sprintf("reading round %d", r), err)
	}
	rr := func(i int) *clientv3.GetResponse {
		return (*clientv3.GetResponse)(resp.Responses[i].GetResponseRange())
	}
	v := view{
		rev:    resp.Header.Revision,
		closed: rr(0).Count > 0,
		mine:   rr(3).Count > 0,
		n:      rr(4).Count,
	}
	if kvs := rr(1).Kvs; len(kvs) > 0 {
		v.sealRev = kvs[0].CreateRevision
	}
	if kvs := rr(2).Kvs; len(kvs) > 0 {
		v.lastCall = kvs[0]
	}
	if r > 0 {
		v.prev = rr(5).Count
	}
	return v, nil
}

// waitResult is how a wait for a round ended: this node joined it, or it
// must join round next.
type waitResult struct {
	joined bool
	info   registry.Info
	next   int
}

// wait waits for round r, which this node has joined, to be sealed, and
// takes its part in sealing it.
func (h *Handler) wait(ctx context.Context, jt *joinTimer, r int, v view, w *roundWatch, unreachable *error) (waitResult, error) {
	defer w.stop()
	guard := time.NewTicker(time.Duration(h.cfg.leaseTTL()) * time.Second)
	defer guard.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	prevLeft := int64(0) // join keys of round r-1 still there, when w watches them
	for fresh := true; ; fresh = false {
		if !fresh {
			err := h.ride(ctx, unreachable, func() error {
				if w.ch == nil {
					// The watch broke: set it up again before looking.
					if err := w.start(ctx); err != nil {
						return err
					}
				}
				var err error
				v, err = h.look(ctx, r)
				return err
			})
			if err != nil {
				return waitResult{}, err
			}
		}
		behindFull := v.prev >= int64(h.maxNodes)
		switch {
		case v.closed && behindFull:
			return waitResult{}, fmt.Errorf("etcd rendezvous: run %q was closed while this node waited behind a full round: %w", h.runID, registry.ErrGracefulExit)
		case v.closed:
			return waitResult{}, h.closedError()
		case v.sealRev != 0:
			var res waitResult
			err := h.ride(ctx, unreachable, func() (err error) { res, err = h.outcome(ctx, r, v.sealRev); return err })
			return res, err
		case !v.mine:
			// Our key went with an expired lease: join again.
			return waitResult{next: r}, nil
		}
		if behindFull {
			jt.pause()
		} else {
			jt.resume()
		}

		lease := h.currentLease()
		lc, err := h.lastCallOf(r, v, lease)
		if err != nil {
			return waitResult{}, err
		}
		acted, sealRev, err := h.act(ctx, r, v, lc, lease, unreachable)
		if err != nil {
			return waitResult{}, err
		}
		if sealRev != 0 {
			var res waitResult
			err := h.ride(ctx, unreachable, func() (err error) { res, err = h.outcome(ctx, r, sealRev); return err })
			return res, err
		}
		if acted {
			continue
		}

		// Nothing to do until something changes.
		var fire <-chan time.Time
		if !lc.due.IsZero() && time.Now().Before(lc.due) {
			timer.Reset(time.Until(lc.due))
			fire = timer.C
		}
		if lc.owner && lc.pending && w.prev == nil {
			w.watchPrev(ctx, v.rev+1)
			prevLeft = v.prev
		}
		sealRev, err = h.await(ctx, w, fire, guard.C, &prevLeft, unreachable)
		if err != nil {
			return waitResult{}, err
		}
		if fire != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if sealRev != 0 {
			// The watch showed the seal: no need to look again.
			var res waitResult
			err := h.ride(ctx, unreachable, func() (err error) { res, err = h.outcome(ctx, r, sealRev); return err })
			return res, err
		}
	}
}

// lastCall is a round's last call as a node sees it.
type lastCall struct {
	open    bool      // the round has a last-call key
	owner   bool      // this node holds it
	pending bool      // it waits for the round before to end
	due     time.Time // when this node is to seal the round; zero if not
}

func (h *Handler) lastCallOf(r int, v view, lease clientv3.LeaseID) (lastCall, error) {
	if v.lastCall == nil {
		return lastCall{}, nil
	}
	lc := lastCall{
		open:    true,
		owner:   clientv3.LeaseID(v.lastCall.Lease) == lease,
		pending: len(v.lastCall.Value) == 0,
	}
	if lc.pending {
		return lc, nil
	}
	ms, err := strconv.ParseInt(string(v.lastCall.Value), 10, 64)
	if err != nil {
		return lastCall{}, corrupt(h.k.lastCall(r), v.lastCall.Value, "a time in Unix milliseconds")
	}
	lc.due = time.UnixMilli(ms)
	if !lc.owner {
		// Should the node holding the last call not end it (it hangs,
		// or its lease is about to expire), any node may, a lease TTL
		// later.
		lc.due = lc.due.Add(time.Duration(h.cfg.leaseTTL()) * time.Second)
	}
	return lc, nil
}

// act does what round r needs from this node, as v shows it, and reports
// whether it wrote anything, and the seal's revision if it sealed the
// round.
func (h *Handler) act(ctx context.Context, r int, v view, lc lastCall, lease clientv3.LeaseID, unreachable *error) (bool, int64, error) {
	min, max := int64(h.minNodes), int64(h.maxNodes)
	switch {
	case v.n >= max && v.prev == 0:
		rev, err := h.seal(ctx, r, unreachable)
		return true, rev, err
	case !lc.open && v.n >= min:
		// The round has MinNodes: open the last call, or, while the
		// round before runs, hold it open.
		value := ""
		if v.prev == 0 {
			value = strconv.FormatInt(time.Now().Add(h.cfg.lastCallTimeout).UnixMilli(), 10)
		}
		return true, 0, h.ride(ctx, unreachable, func() error {
			octx, cancel := h.opContext(ctx)
			defer cancel()
			_, err := h.cli.Txn(octx).
				If(clientv3.Compare(clientv3.CreateRevision(h.k.lastCall(r)), "=", 0)).
				Then(clientv3.OpPut(h.k.lastCall(r), value, clientv3.WithLease(lease))).
				Commit()
			if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
				return h.opError(ctx, octx, "opening the last call", err)
			}
			return nil
		})
	case lc.owner && v.n < min:
		// Fewer than MinNodes are left: the last call ends without a
		// round, and opens again when enough nodes are back.
		return true, 0, h.ownLastCall(ctx, r, lease, nil, unreachable)
	case lc.owner && lc.pending && v.prev == 0:
		// The round before has ended: the last call starts now.
		deadline := strconv.FormatInt(time.Now().Add(h.cfg.lastCallTimeout).UnixMilli(), 10)
		return true, 0, h.ownLastCall(ctx, r, lease, &deadline, unreachable)
	case !lc.due.IsZero() && !time.Now().Before(lc.due) && v.n >= min && v.prev == 0:
		rev, err := h.seal(ctx, r, unreachable)
		return true, rev, err
	}
	return false, 0, nil
}

// ownLastCall sets round r's last-call key to value, or deletes it if
// value is nil, if this node (its lease) holds it.
func (h *Handler) ownLastCall(ctx context.Context, r int, lease clientv3.LeaseID, value *string, unreachable *error) error {
	op := clientv3.OpDelete(h.k.lastCall(r))
	if value != nil {
		op = clientv3.OpPut(h.k.lastCall(r), *value, clientv3.WithLease(lease))
	}
	return h.ride(ctx, unreachable, func() error {
		octx, cancel := h.opContext(ctx)
		defer cancel()
		_, err := h.cli.Txn(octx).
			If(clientv3.Compare(clientv3.LeaseValue(h.k.lastCall(r)), "=", lease)).
			Then(op).
			Commit()
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return h.opError(ctx, octx, "updating the last call", err)
		}
		return nil
	})
}

// seal seals round r unless it is sealed, records it as the run's last
// sealed round, and returns the seal's revision.
func (h *Handler) seal(ctx context.Context, r int, unreachable *error) (int64, error) {
	var rev int64
	err := h.ride(ctx, unreachable, func() error {
		octx, cancel := h.opContext(ctx)
		defer cancel()
		resp, err := h.cli.Txn(octx).
			If(clientv3.Compare(clientv3.CreateRevision(h.k.seal(r)), "=", 0)).
			Then(clientv3.OpPut(h.k.seal(r), ""), clientv3.OpPut(h.k.sealed(), strconv.Itoa(r))).
			Else(clientv3.OpGet(h.k.seal(r), clientv3.WithKeysOnly())).
			Commit()
		if err != nil {
			return h.opError(ctx, octx, fmt.Sprintf("sealing round %d", r), err)
		}
		if resp.Succeeded {
			rev = resp.Header.Revision
		} else if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			rev = kvs[0].CreateRevision
		}
		return nil
	})
	return rev, err
}

// await blocks until something may have changed round r: a watch event, a
// fired timer, the guard's tick, a new lease. When a watch event shows
// the round's seal, it returns the seal's revision.
func (h *Handler) await(ctx context.Context, w *roundWatch, fire, guard <-chan time.Time, prevLeft *int64, unreachable *error) (int64, error) {
	for {
		select {
		case resp := <-w.ch:
			if resp.Err() != nil {
				w.stop() // etcd went away: look again and watch anew
				return 0, nil
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypePut && string(ev.Kv.Key) == h.k.seal(w.r) {
					return ev.Kv.CreateRevision, nil
				}
			}
			return 0, nil
		case resp, ok := <-w.prev:
			if !ok || resp.Err() != nil {
				w.stopPrev()
				return 0, nil
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					*prevLeft--
				}
			}
			if *prevLeft <= 0 {
				w.stopPrev()
				return 0, nil
			}
		case <-fire:
			return 0, nil
		case <-guard:
			// A guard, not the mechanism: should a watch ever be lost
			// silently, the round is looked at once per lease TTL.
			return 0, nil
		case <-h.leaseChanged:
			return 0, nil
		case <-ctx.Done():
			return 0, h.waitError(ctx, *unreachable)
		}
	}
}

// outcome reads, at the revision round r was sealed at, whether this node
// is a participant, its rank, the world size and rank 0's address.
func (h *Handler) outcome(ctx context.Context, r int, sealRev int64) (waitResult, error) {
	myKey := h.k.join(r, h.id)
	at := clientv3.WithRev(sealRev)
	octx, cancel := h.opContext(ctx)
	defer cancel()
	resp, err := h.cli.Txn(octx).Then(
		clientv3.OpGet(h.k.joins(r), clientv3.WithPrefix(), clientv3.WithLimit(1), at),
		clientv3.OpGet(h.k.joins(r), clientv3.WithRange(myKey), clientv3.WithCountOnly(), at),
		clientv3.OpGet(myKey, clientv3.WithCountOnly(), at),
	).Commit()
	if errors.Is(err, rpctypes.ErrCompacted) {
		return waitResult{}, fmt.Errorf("etcd rendezvous: run %q: round %d: etcd compacted its history past the round's seal (revision %d) before this node read it; keep more history (--auto-compaction-retention) or re-rendezvous: %w",
			h.runID, r, sealRev, registry.ErrState)
	}
	if err != nil {
		return waitResult{}, h.opError(ctx, octx, fmt.Sprintf("reading round %d", r), err)
	}
	first := resp.Responses[0].GetResponseRange()
	n := first.Count
	rank := resp.Responses[1].GetResponseRange().Count
	if resp.Responses[2].GetResponseRange().Count == 0 || n < int64(h.minNodes) || rank >= int64(h.maxNodes) {
		// Not in the round (our key went with an expired lease), a round
		// that lost nodes as it was sealed, or a place beyond MaxNodes:
		// wait for the next round.
		return waitResult{next: r + 1}, nil
	}
	boot, err := decodeMember(string(first.Kvs[0].Key), first.Kvs[0].Value)
	if err != nil {
		return waitResult{}, err
	}
	return waitResult{joined: true, info: registry.Info{
		Store:     &Store{h: h, prefix: h.k.store(r)},
		Rank:      int(rank),
		WorldSize: int(min(n, int64(h.maxNodes))),
		Bootstrap: registry.BootstrapInfo{Addr: boot.Addr, Port: boot.Port},
	}}, nil
}

// leave deletes this node's join key, and the last-call key of its round
// if it holds it, so that no round counts a node that gave up.
func (h *Handler) leave(ctx context.Context) error {
	h.mu.Lock()
	r := h.round
	h.round = -1
	h.mu.Unlock()
	if r < 0 {
		return nil
	}
	octx, cancel := h.opContext(ctx)
	defer cancel()
	_, err := h.cli.Txn(octx).
		If(clientv3.Compare(clientv3.LeaseValue(h.k.lastCall(r)), "=", h.currentLease())).
		Then(clientv3.OpDelete(h.k.join(r, h.id)), clientv3.OpDelete(h.k.lastCall(r))).
		Else(clientv3.OpDelete(h.k.join(r, h.id))).
		Commit()
	if err != nil {
		return h.opError(ctx, octx, "leaving the round", err)
	}
	return nil
}

// waitError is the error of a wait that ctx ended.
func (h *Handler) waitError(ctx context.Context, unreachable error) error {
	err := h.opError(ctx, ctx, "waiting for the round to complete", ctx.Err())
	if unreachable != nil && h.reach.current().Err() == nil {
		err = fmt.Errorf("%w (etcd was unreachable meanwhile: %v)", err, unreachable)
	}
	return err
}

// roundWatch watches what a waiting node needs: the run's closed key and
// the round's control keys, and, for the node holding a last call while
// the round before runs, that round's join keys.
type roundWatch struct {
	h          *Handler
	r          int
	cancel     context.CancelFunc
	ch         clientv3.WatchChan // closed key and control keys
	prevCancel context.CancelFunc
	prev       clientv3.WatchChan // join keys of round r-1
}

// start watches the run's closed key and the round's control keys, from
// now on. It returns once etcd has set both watches up, which makes every
// later change reach the watch.
func (w *roundWatch) start(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	octx, ocancel := w.h.opContext(parent)
	defer ocancel()
	// Watch blocks until it has a stream to etcd: a request that fails
	// (etcd unreachable, read_timeout) ends it.
	stopCancel := context.AfterFunc(octx, cancel)
	closed := w.h.cli.Watch(ctx, w.h.k.closed(), clientv3.WithCreatedNotify())
	ctl := w.h.cli.Watch(ctx, w.h.k.ctl(w.r), clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	for _, ch := range []clientv3.WatchChan{closed, ctl} {
		var err error
		select {
		case resp, ok := <-ch:
			switch {
			case !ok:
				err = errors.New("watch closed")
			case resp.Err() != nil:
				err = resp.Err()
			case !resp.Created:
				err = errors.New("watch not created")
			}
		case <-octx.Done():
			err = octx.Err()
		}
		if err == nil && octx.Err() != nil {
			err = octx.Err()
		}
		if err != nil {
			cancel()
			return w.h.opError(parent, octx, fmt.Sprintf("watching round %d", w.r), err)
		}
	}
	if !stopCancel() {
		cancel()
		return w.h.opError(parent, octx, fmt.Sprintf("watching round %d", w.r), octx.Err())
	}
	w.cancel = cancel
	ch := make(chan clientv3.WatchResponse)
	w.ch = ch
	forward := func(in clientv3.WatchChan) {
		for resp := range in {
			select {
			case ch <- resp:
			case <-ctx.Done():
				return
			}
		}
		// The watch ended (etcd went away or ctx is done): say so.
		select {
		case ch <- clientv3.WatchResponse{Canceled: true}:
		case <-ctx.Done():
		}
	}
	go forward(closed)
	go forward(ctl)
	return nil
}

func (w *roundWatch) watchPrev(parent context.Context, rev int64) {
	ctx, cancel := context.WithCancel(parent)
	w.prevCancel = cancel
	w.prev = w.h.cli.Watch(ctx, w.h.k.joins(w.r-1), clientv3.WithPrefix(), clientv3.WithRev(rev))
}

func (w *roundWatch) stopPrev() {
	if w.prevCancel != nil {
		w.prevCancel()
	}
	w.prev, w.prevCancel = nil, nil
}

func (w *roundWatch) stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.ch, w.cancel = nil, nil
	w.stopPrev()
}
