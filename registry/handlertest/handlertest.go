// Package handlertest checks that a rendezvous backend behaves as the
// registry.Handler contract says, in the spirit of testing/fstest.TestFS: a
// backend author runs Check against their backend in a test and gets one
// error listing every misbehaviour found. For a backend whose entry point is
// mybackend.NewCreator, a func() registry.Creator:
//
//	func TestConformance(t *testing.T) {
//		create := mybackend.NewCreator()
//		err := handlertest.Check(t.Context(), func(node int, p registry.Parameters) (registry.Handler, error) {
//			return create(p)
//		}, handlertest.Options{Params: registry.Parameters{Backend: "mybackend", Endpoint: "localhost:29400", MinNodes: 2, MaxNodes: 4}})
//		if err != nil {
//			t.Fatal(err)
//		}
//	}
//
// Check runs several scenarios, each on a run of its own (the run id is
// Params.RunID, or a fresh one, with the scenario's name appended), with
// nodes started concurrently:
//
//   - round: Nodes nodes complete a round: ranks are unique and cover
//     0..world-1, every node sees the same world size, within
//     [MinNodes, MaxNodes], and the same bootstrap address, with a non-empty
//     host and a valid port; the round's store is shared (a value set by one
//     node is read by every other, Add is atomic); Backend and RunID report
//     what the handler was created with.
//     After the round, NumNodesWaiting is 0 on every node (nobody waits)
//     and IsClosed false. In this and every other round Check completes, a
//     store Get of a key nobody has set must still be waiting after
//     Prompt/4, and return the value once another node sets it; when
//     Options.NodeLocalAddr is set, the bootstrap host must be the
//     LocalAddr of the node given rank 0. Without NodeLocalAddr, Check can
//     only see that the nodes agree on a well-formed address, not that it
//     is rank 0's.
//   - latejoin: after a round of Nodes nodes, one more node arrives; the
//     running nodes see NumNodesWaiting > 0, re-rendezvous, and the next
//     round admits the late node, with a store of its own. Skipped when
//     Nodes equals MaxNodes.
//   - extranode: MaxNodes+1 nodes start together. The nodes admitted
//     form one round of at most MaxNodes; every other node either is
//     refused (its handler cannot be created, or NextRendezvous fails with
//     registry.ErrGracefulExit) or waits until its context is done, and
//     then fails with registry.ErrTimeout. If the round admitted fewer
//     than MaxNodes, NumNodesWaiting on the admitted nodes must count the
//     waiting ones; beyond a full round it may not (PyTorch keeps such
//     nodes as redundant, uncounted). Skipped when MaxNodes is above
//     MaxExtraNodeWorld.
//   - close: nodes wait for a round that cannot complete; IsClosed is
//     false on every node; SetClosed on another node makes every waiting
//     and every later NextRendezvous fail with an error wrapping
//     registry.ErrClosed, and IsClosed reports true on every node.
//   - timeout: a node alone (MinNodes must be at least 2) gets an error
//     wrapping registry.ErrTimeout promptly once its context is cancelled,
//     or its deadline passes.
//   - shutdown: every handler of every scenario is shut down twice; both
//     calls succeed.
//
// Scenarios listed in Options.Skip are not run.
package handlertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Names of the scenarios, for Options.Skip.
const (
	Round    = "round"
	LateJoin = "latejoin"
	Close    = "close"
	Timeout  = "timeout"
	// ExtraNode is the scenario starting MaxNodes+1 nodes.
	ExtraNode = "extranode"
)

// MaxExtraNodeWorld is the largest MaxNodes for which the extranode
// scenario runs: above it, starting MaxNodes+1 nodes is too costly.
const MaxExtraNodeWorld = 64

// NewHandler creates the handler of node number node (from 0) with params.
// Check fills in params.RunID; a backend that needs more per node (a rank
// of its own, say) sets it from node.
type NewHandler func(node int, params registry.Parameters) (registry.Handler, error)

// Options tell Check what to expect of the backend.
type Options struct {
	// Params are the parameters every node is created with. Backend,
	// MinNodes and MaxNodes are required; RunID, if set, is the prefix of
	// the run id of every scenario.
	Params registry.Parameters
	// Nodes is the number of nodes started together; it defaults to
	// MinNodes and must lie within [MinNodes, MaxNodes].
	Nodes int
	// RoundTimeout bounds each round of a scenario. Default 30s.
	RoundTimeout time.Duration
	// Prompt is how soon NextRendezvous must return once its context is
	// done. Default 2s.
	Prompt time.Duration
	// Skip lists scenarios not to run (Round, LateJoin, ExtraNode, Close,
	// Timeout), for a backend that by design lacks the feature.
	Skip []string
	// NodeLocalAddr, if set, gives each node a LocalAddr of its own
	// (Params.LocalAddr = NodeLocalAddr(node)), and Check then requires
	// the bootstrap host every node sees to be the LocalAddr of the node
	// given rank 0, as PyTorch's dynamic rendezvous publishes it. Leave it
	// nil for a backend whose bootstrap address is not rank 0's LocalAddr
	// (the static backend publishes the endpoint's host).
	NodeLocalAddr func(node int) string
}

func (o *Options) defaults() error {
	if o.Nodes == 0 {
		o.Nodes = o.Params.MinNodes
	}
	if o.RoundTimeout <= 0 {
		o.RoundTimeout = 30 * time.Second
	}
	if o.Prompt <= 0 {
		o.Prompt = 2 * time.Second
	}
	var errs []error
	if err := o.Params.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Nodes < o.Params.MinNodes || o.Nodes > o.Params.MaxNodes {
		errs = append(errs, fmt.Errorf("option Nodes (%d) must lie within [MinNodes, MaxNodes] = [%d, %d]", o.Nodes, o.Params.MinNodes, o.Params.MaxNodes))
	}
	if !slices.Contains(o.Skip, Timeout) && !slices.Contains(o.Skip, Close) && o.Params.MinNodes < 2 {
		errs = append(errs, fmt.Errorf("MinNodes is %d; the %s and %s scenarios need a round that cannot complete: set MinNodes to at least 2 or skip them", o.Params.MinNodes, Timeout, Close))
	}
	for _, s := range o.Skip {
		if !slices.Contains([]string{Round, LateJoin, ExtraNode, Close, Timeout}, s) {
			errs = append(errs, fmt.Errorf("unknown scenario %q in Skip", s))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("handlertest: invalid options: %w", errors.Join(errs...))
	}
	return nil
}

// Check runs the scenarios against the backend whose handlers newHandler
// creates. It returns nil if the backend conforms, and otherwise one error
// joining a descriptive error per misbehaviour, each naming its scenario.
// ctx bounds the whole check.
func Check(ctx context.Context, newHandler NewHandler, opts Options) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	c := &checker{newHandler: newHandler, opts: opts, base: opts.Params.RunID}
	if c.base == "" {
		c.base = "handlertest-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	scenarios := []struct {
		name string
		run  func(context.Context, *scenario)
	}{
		{Round, c.round},
		{LateJoin, c.lateJoin},
		{ExtraNode, c.extraNode},
		{Close, c.close},
		{Timeout, c.timeout},
	}
	for _, s := range scenarios {
		if slices.Contains(opts.Skip, s.name) ||
			(s.name == LateJoin && opts.Nodes >= opts.Params.MaxNodes) ||
			(s.name == ExtraNode && opts.Params.MaxNodes > MaxExtraNodeWorld) {
			continue
		}
		sc := &scenario{c: c, name: s.name, runID: c.base + "-" + s.name}
		s.run(ctx, sc)
		sc.shutdown(ctx)
		c.errs = append(c.errs, sc.errs...)
	}
	return errors.Join(c.errs...)
}

type checker struct {
	newHandler NewHandler
	opts       Options
	base       string
	errs       []error
}

// scenario is one run of the backend: its handlers and what went wrong.
type scenario struct {
	c        *checker
	name     string
	runID    string
	handlers []registry.Handler
	mu       sync.Mutex
	errs     []error
}

func (s *scenario) errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Errorf("%s: "+format, append([]any{s.name}, args...)...))
}

// start creates n more handlers and checks what they report of themselves.
func (s *scenario) start(n int) ([]registry.Handler, bool) {
	var hs []registry.Handler
	for range n {
		node := len(s.handlers)
		h, err := s.create(node)
		if err != nil {
			s.errorf("creating handler of node %d: %v", node, err)
			return hs, false
		}
		if h == nil {
			s.errorf("creating handler of node %d returned no handler and no error", node)
			return hs, false
		}
		hs = append(hs, h)
	}
	return hs, true
}

// create creates the handler of node, keeps it for shutdown and checks what
// it reports of itself.
func (s *scenario) create(node int) (registry.Handler, error) {
	p := s.params(node)
	h, err := s.c.newHandler(node, p)
	if err != nil || h == nil {
		return h, err
	}
	s.handlers = append(s.handlers, h)
	if got := h.Backend(); got != p.Backend {
		s.errorf("node %d: Backend() = %q, want %q", node, got, p.Backend)
	}
	if got := h.RunID(); got != p.RunID {
		s.errorf("node %d: RunID() = %q, want %q", node, got, p.RunID)
	}
	return h, nil
}

// params returns the parameters node is created with.
func (s *scenario) params(node int) registry.Parameters {
	p := s.c.opts.Params
	p.RunID = s.runID
	if s.c.opts.NodeLocalAddr != nil {
		p.LocalAddr = s.c.opts.NodeLocalAddr(node)
	}
	return p
}

// shutdown shuts every handler down twice; both calls must succeed.
func (s *scenario) shutdown(ctx context.Context) {
	var wg sync.WaitGroup
	for i, h := range s.handlers {
		wg.Go(func() {
			for call := 1; call <= 2; call++ {
				sctx, cancel := context.WithTimeout(ctx, s.c.opts.RoundTimeout)
				ok, err := h.Shutdown(sctx)
				cancel()
				if err != nil || !ok {
					s.errorf("node %d: Shutdown call %d = (%v, %v), want (true, nil); Shutdown must succeed and be idempotent", i, call, ok, err)
				}
			}
		})
	}
	wg.Wait()
}

// result is what one NextRendezvous call gave.
type result struct {
	node int
	info registry.Info
	err  error
	took time.Duration
	hung bool // still blocked when given up on
}

// rendezvous calls NextRendezvous on every handler at once, each bounded by
// RoundTimeout, and returns the results in node order.
func (s *scenario) rendezvous(ctx context.Context, hs []registry.Handler, first int) []result {
	res := make([]result, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, s.c.opts.RoundTimeout)
			res[i] = s.next(rctx, cancel, h, first+i, s.c.opts.RoundTimeout)
		})
	}
	wg.Wait()
	return res
}

// next calls h.NextRendezvous(ctx), whose deadline or cancellation is due
// within limit, and waits for it at most Prompt longer: a backend that
// ignores its context must not hang the check. cancel is called when the
// call returns.
func (s *scenario) next(ctx context.Context, cancel context.CancelFunc, h registry.Handler, node int, limit time.Duration) result {
	ch := make(chan result, 1)
	start := time.Now()
	go func() {
		defer cancel()
		info, err := h.NextRendezvous(ctx)
		ch <- result{node: node, info: info, err: err, took: time.Since(start)}
	}()
	timer := time.NewTimer(limit + s.c.opts.Prompt)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r
	case <-timer.C:
		cancel()
		return result{node: node, hung: true, took: time.Since(start),
			err: fmt.Errorf("NextRendezvous still blocked %v after its context was done; it must return promptly, with an error wrapping registry.ErrTimeout", s.c.opts.Prompt)}
	}
}

// checkRound checks the results of a completed round of want nodes and
// returns whether it is sound enough to go on.
func (s *scenario) checkRound(ctx context.Context, res []result, want int) bool {
	ok := true
	for _, r := range res {
		if r.err != nil {
			s.errorf("node %d: NextRendezvous failed after %v: %v", r.node, r.took.Round(time.Millisecond), r.err)
			ok = false
		}
	}
	if !ok {
		return false
	}
	ranks := make(map[int]int)
	for _, r := range res {
		if r.info.WorldSize != want {
			s.errorf("node %d: world size %d, want %d (every node started must be admitted)", r.node, r.info.WorldSize, want)
			ok = false
		}
		if r.info.Rank < 0 || r.info.Rank >= r.info.WorldSize {
			s.errorf("node %d: rank %d outside [0, %d)", r.node, r.info.Rank, r.info.WorldSize)
			ok = false
		}
		if prev, dup := ranks[r.info.Rank]; dup {
			s.errorf("nodes %d and %d both got rank %d", prev, r.node, r.info.Rank)
			ok = false
		}
		ranks[r.info.Rank] = r.node
		if r.info.Store == nil {
			s.errorf("node %d: Info.Store is nil", r.node)
			ok = false
		}
	}
	if p := s.c.opts.Params; want < p.MinNodes || want > p.MaxNodes {
		s.errorf("world size %d outside [MinNodes, MaxNodes] = [%d, %d]", want, p.MinNodes, p.MaxNodes)
	}
	boot := res[0].info.Bootstrap
	if boot.Addr == "" || boot.Port < 1 || boot.Port > 65535 {
		s.errorf("node %d: bootstrap address %q port %d; rank 0 must publish a host and a port in 1..65535", res[0].node, boot.Addr, boot.Port)
	}
	for _, r := range res[1:] {
		if r.info.Bootstrap != boot {
			s.errorf("node %d sees bootstrap %+v, node %d sees %+v; all must see rank 0's", r.node, r.info.Bootstrap, res[0].node, boot)
		}
	}
	if s.c.opts.NodeLocalAddr != nil && ok {
		for _, r := range res {
			if r.info.Rank != 0 {
				continue
			}
			if want := s.params(r.node).LocalAddr; boot.Addr != want {
				s.errorf("bootstrap host is %q, want %q, the LocalAddr of node %d, which has rank 0", boot.Addr, want, r.node)
			}
		}
	}
	if ok {
		s.checkStore(ctx, res)
	}
	return ok
}

// checkStore has every node set a key and read every other node's, and
// add to a shared counter.
func (s *scenario) checkStore(ctx context.Context, res []result) {
	ctx, cancel := context.WithTimeout(ctx, s.c.opts.RoundTimeout)
	defer cancel()
	key := func(rank int) string { return "handlertest/" + s.name + "/rank" + strconv.Itoa(rank) }
	value := func(rank int) string { return "value of rank " + strconv.Itoa(rank) + " in " + s.runID }
	s.checkGetWaits(ctx, res)
	added := make([]int64, len(res))
	var wg sync.WaitGroup
	for i, r := range res {
		wg.Go(func() {
			st := r.info.Store
			if err := st.Set(ctx, key(r.info.Rank), []byte(value(r.info.Rank))); err != nil {
				s.errorf("node %d: store Set: %v", r.node, err)
				return
			}
			n, err := st.Add(ctx, "handlertest/"+s.name+"/counter", 1)
			if err != nil {
				s.errorf("node %d: store Add: %v", r.node, err)
				return
			}
			added[i] = n
			for rank := range len(res) {
				got, err := st.Get(ctx, key(rank))
				if err != nil {
					s.errorf("node %d: store Get of the key set by rank %d: %v; the store must be shared by the round's participants", r.node, rank, err)
					continue
				}
				if string(got) != value(rank) {
					s.errorf("node %d: store Get of the key set by rank %d = %q, want %q", r.node, rank, got, value(rank))
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(added)
	for i, n := range added {
		if n != int64(i+1) {
			s.errorf("store Add of 1 by each of %d nodes returned %v, want 1..%d: Add must be atomic and the store the round's own", len(res), added, len(res))
			break
		}
	}
}

// checkGetWaits has the first node Get a key nobody has set: the call
// must wait until the last node sets it, and return the value set.
func (s *scenario) checkGetWaits(ctx context.Context, res []result) {
	key := "handlertest/" + s.name + "/later"
	want := "set later in " + s.runID
	first, last := res[0], res[len(res)-1]
	type got struct {
		v   []byte
		err error
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan got, 1)
	go func() {
		v, err := first.info.Store.Get(gctx, key)
		ch <- got{v, err}
	}()
	select {
	case g := <-ch:
		s.errorf("node %d: store Get of a key nobody has set returned (%q, %v) at once; Get must wait until the key is set", first.node, g.v, g.err)
		return
	case <-time.After(s.c.opts.Prompt / 4):
	}
	if err := last.info.Store.Set(ctx, key, []byte(want)); err != nil {
		s.errorf("node %d: store Set: %v", last.node, err)
		return
	}
	select {
	case g := <-ch:
		if g.err != nil || string(g.v) != want {
			s.errorf("node %d: store Get waiting for a key = (%q, %v) once node %d set it, want %q", first.node, g.v, g.err, last.node, want)
		}
	case <-ctx.Done():
		s.errorf("node %d: store Get waiting for a key did not return once node %d set it", first.node, last.node)
	}
}

// checkIdle checks that, between rounds, no node is counted as waiting and
// the rendezvous is not closed.
func (s *scenario) checkIdle(ctx context.Context, hs []registry.Handler) {
	for i, h := range hs {
		qctx, cancel := context.WithTimeout(ctx, s.c.opts.RoundTimeout)
		if n, err := h.NumNodesWaiting(qctx); err != nil || n != 0 {
			s.errorf("node %d: NumNodesWaiting after a round that admitted every node = (%d, %v), want (0, nil)", i, n, err)
		}
		if closed, err := h.IsClosed(qctx); err != nil || closed {
			s.errorf("node %d: IsClosed before any SetClosed = (%v, %v), want (false, nil)", i, closed, err)
		}
		cancel()
	}
}

// round: Nodes nodes complete a round.
func (c *checker) round(ctx context.Context, s *scenario) {
	hs, ok := s.start(c.opts.Nodes)
	if !ok {
		return
	}
	if s.checkRound(ctx, s.rendezvous(ctx, hs, 0), c.opts.Nodes) {
		s.checkIdle(ctx, hs)
	}
}

// extraNode: MaxNodes+1 nodes start; at most MaxNodes are admitted, the
// others are refused or wait.
func (c *checker) extraNode(ctx context.Context, s *scenario) {
	maxNodes := c.opts.Params.MaxNodes
	var hs []registry.Handler
	var nodes []int
	byNode := make(map[int]registry.Handler)
	refused := 0
	for node := range maxNodes + 1 {
		h, err := s.create(node)
		switch {
		case err != nil && node < c.opts.Params.MinNodes:
			s.errorf("creating handler of node %d: %v", node, err)
			return
		case err != nil:
			refused++ // the backend refuses nodes beyond its world
		case h == nil:
			s.errorf("creating handler of node %d returned no handler and no error", node)
			return
		default:
			hs = append(hs, h)
			nodes = append(nodes, node)
			byNode[node] = h
		}
	}
	// Every node runs NextRendezvous; those admitted return, the others
	// wait until cancelled.
	rctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	results := make(chan result, len(hs))
	for i, h := range hs {
		go func() {
			nctx, cancel := context.WithTimeout(rctx, c.opts.RoundTimeout)
			results <- s.next(nctx, cancel, h, nodes[i], c.opts.RoundTimeout)
		}()
	}
	var admitted, others []result
	returned := make(map[int]bool)
	deadline := time.After(c.opts.RoundTimeout)
collect:
	for len(admitted)+len(others) < len(hs) {
		select {
		case r := <-results:
			returned[r.node] = true
			switch {
			case r.err == nil:
				admitted = append(admitted, r)
			case errors.Is(r.err, registry.ErrGracefulExit):
				refused++
				others = append(others, r)
			default:
				s.errorf("node %d: NextRendezvous with %d nodes started, MaxNodes %d, failed after %v: %v; a node beyond MaxNodes must wait or fail with registry.ErrGracefulExit",
					r.node, maxNodes+1, maxNodes, r.took.Round(time.Millisecond), r.err)
				return
			}
			if len(admitted) > 0 && len(admitted) >= admitted[0].info.WorldSize {
				break collect
			}
		case <-deadline:
			break collect
		}
	}
	if len(admitted) == 0 {
		s.errorf("no node completed a round within %v with %d nodes started, MaxNodes %d", c.opts.RoundTimeout, maxNodes+1, maxNodes)
		return
	}
	world := admitted[0].info.WorldSize
	if world > maxNodes || len(admitted) > maxNodes {
		s.errorf("%d nodes admitted to a round of world size %d, MaxNodes %d; a round must admit at most MaxNodes nodes", len(admitted), world, maxNodes)
		return
	}
	if !s.checkRound(ctx, admitted, len(admitted)) {
		return
	}
	var waitingNodes []int
	for _, node := range nodes {
		if !returned[node] {
			waitingNodes = append(waitingNodes, node)
		}
	}
	if len(waitingNodes)+refused == 0 {
		s.errorf("all %d nodes returned, yet the round admitted only %d", len(hs), len(admitted))
	}
	if len(waitingNodes) > 0 && len(admitted) < maxNodes {
		// The next round has room for the waiting nodes: they are counted
		// on every admitted node, eventually, so that it re-rendezvouses.
		// Beyond a full round they may go uncounted, as in PyTorch, where
		// such nodes are redundant and do not trigger a new round.
		var last []int
		counted := false
		for end := time.Now().Add(c.opts.RoundTimeout); !counted && time.Now().Before(end) && ctx.Err() == nil; {
			last, counted = last[:0], true
			for _, r := range admitted {
				qctx, cancel := context.WithTimeout(ctx, c.opts.RoundTimeout)
				w, err := byNode[r.node].NumNodesWaiting(qctx)
				cancel()
				if err != nil {
					s.errorf("node %d: NumNodesWaiting: %v", r.node, err)
					return
				}
				last = append(last, w)
				counted = counted && w > 0
			}
			if !counted {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !counted {
			s.errorf("NumNodesWaiting on the admitted nodes = %v while nodes %v wait, want > 0 on every node within %v", last, waitingNodes, c.opts.RoundTimeout)
		}
	}
	// The waiting nodes give up when their context is done.
	cancelAll()
	for range waitingNodes {
		r := <-results
		if !errors.Is(r.err, registry.ErrTimeout) && !errors.Is(r.err, registry.ErrGracefulExit) {
			s.errorf("node %d: NextRendezvous waiting beyond MaxNodes returned (%+v, %v) when cancelled, want an error wrapping registry.ErrTimeout", r.node, r.info, r.err)
		}
	}
}

// lateJoin: a node arriving after a round waits, is counted, and is
// admitted when the others re-rendezvous.
func (c *checker) lateJoin(ctx context.Context, s *scenario) {
	n := c.opts.Nodes
	hs, ok := s.start(n)
	if !ok || !s.checkRound(ctx, s.rendezvous(ctx, hs, 0), n) {
		return
	}
	late, ok := s.start(1)
	if !ok {
		return
	}
	lateRes := make(chan result, 1)
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	go func() {
		// The late node waits through the polling below and the next round.
		rctx, cancel := context.WithTimeout(lctx, 2*c.opts.RoundTimeout)
		lateRes <- s.next(rctx, cancel, late[0], n, 2*c.opts.RoundTimeout)
	}()
	// The late node has to reach the backend first; NumNodesWaiting is
	// allowed to see it eventually.
	deadline := time.Now().Add(c.opts.RoundTimeout)
	var waiting []int
	for {
		waiting = waiting[:0]
		for i, h := range hs {
			qctx, cancel := context.WithTimeout(ctx, c.opts.RoundTimeout)
			w, err := h.NumNodesWaiting(qctx)
			cancel()
			if err != nil {
				s.errorf("node %d: NumNodesWaiting: %v", i, err)
				lcancel()
				<-lateRes
				return
			}
			waiting = append(waiting, w)
		}
		if !slices.Contains(waiting, 0) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case r := <-lateRes:
			if r.err == nil {
				s.errorf("node %d (late): NextRendezvous returned %+v before the running nodes re-rendezvoused; a late node must wait for the next round", n, r.info)
			} else {
				s.errorf("node %d (late): NextRendezvous failed while waiting for the next round: %v", n, r.err)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	if slices.Contains(waiting, 0) {
		s.errorf("NumNodesWaiting on the running nodes = %v while a late node waits, want > 0 on every node within %v", waiting, c.opts.RoundTimeout)
	}
	res := s.rendezvous(ctx, hs, 0)
	res = append(res, <-lateRes)
	s.checkRound(ctx, res, n+1)
}

// close: SetClosed fails every waiting and later NextRendezvous.
func (c *checker) close(ctx context.Context, s *scenario) {
	hs, ok := s.start(c.opts.Params.MinNodes)
	if !ok {
		return
	}
	// MinNodes-1 nodes cannot complete a round: they wait until closed.
	waiters := hs[1:]
	done := make(chan []result, 1)
	go func() { done <- s.rendezvous(ctx, waiters, 1) }()
	time.Sleep(c.opts.Prompt / 4) // let the waiters reach the backend
	cctx, cancel := context.WithTimeout(ctx, c.opts.RoundTimeout)
	defer cancel()
	for i, h := range hs {
		if closed, err := h.IsClosed(cctx); err != nil || closed {
			s.errorf("node %d: IsClosed before SetClosed = (%v, %v), want (false, nil)", i, closed, err)
		}
	}
	if err := hs[0].SetClosed(cctx); err != nil {
		s.errorf("node 0: SetClosed: %v", err)
	}
	for _, r := range <-done {
		if !errors.Is(r.err, registry.ErrClosed) {
			s.errorf("node %d: NextRendezvous waiting when the rendezvous was closed returned (%+v, %v) after %v, want an error wrapping registry.ErrClosed", r.node, r.info, r.err, r.took.Round(time.Millisecond))
		}
	}
	for _, r := range s.rendezvous(ctx, hs, 0) {
		if !errors.Is(r.err, registry.ErrClosed) {
			s.errorf("node %d: NextRendezvous after SetClosed returned (%+v, %v), want an error wrapping registry.ErrClosed", r.node, r.info, r.err)
		}
	}
	for i, h := range hs {
		closed, err := h.IsClosed(cctx)
		if err != nil || !closed {
			s.errorf("node %d: IsClosed after SetClosed = (%v, %v), want (true, nil)", i, closed, err)
		}
	}
}

// timeout: a lone node gives up promptly when cancelled or past its
// deadline.
func (c *checker) timeout(ctx context.Context, s *scenario) {
	hs, ok := s.start(1)
	if !ok {
		return
	}
	h := hs[0]
	wait := c.opts.Prompt / 2
	for _, how := range []string{"cancelled", "past its deadline"} {
		var rctx context.Context
		var cancel context.CancelFunc
		if how == "cancelled" {
			rctx, cancel = context.WithCancel(ctx)
			timer := time.AfterFunc(wait, cancel)
			defer timer.Stop()
		} else {
			rctx, cancel = context.WithTimeout(ctx, wait)
		}
		r := s.next(rctx, cancel, h, 0, wait)
		switch {
		case r.hung:
			s.errorf("node 0 alone, context %s after %v: %v", how, wait, r.err)
		case !errors.Is(r.err, registry.ErrTimeout):
			s.errorf("node 0 alone, context %s after %v: NextRendezvous returned (%+v, %v), want an error wrapping registry.ErrTimeout", how, wait, r.info, r.err)
		case r.took > wait+c.opts.Prompt:
			s.errorf("node 0 alone, context %s after %v: NextRendezvous returned after %v, want within %v of it", how, wait, r.took.Round(time.Millisecond), c.opts.Prompt)
		}
		if r.hung {
			return
		}
	}
}
