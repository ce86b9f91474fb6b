package handlertest_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
	"github.com/go-entrypoints/entrypoints/registry/handlertest"
)

// faults make the in-memory backend misbehave in one way each, to show
// that Check notices.
type faults struct {
	dupRanks      bool // every node gets rank 0
	ignoreCtx     bool // NextRendezvous does not watch its context
	noClose       bool // SetClosed does nothing
	sharedStore   bool // one store for every round of a run
	wrongBackend  bool // Backend() reports another name
	badShutdown   bool // a second Shutdown fails
	noWaiting     bool // NumNodesWaiting is always 0
	wrongRunID    bool // RunID() reports another run
	splitBoot     bool // each node reports its own bootstrap address
	admitLateNode bool // a late node joins the running round at once
	alwaysWaiting bool // NumNodesWaiting is never below 1
	alwaysClosed  bool // IsClosed is true before any SetClosed
	ignoreMax     bool // a round never completes at MaxNodes, only at the last call
	getNoWait     bool // store Get of a missing key returns at once
	bootOfLast    bool // the bootstrap host is the last rank's LocalAddr
}

// memNet is a tiny in-memory rendezvous backend: the reference the checker
// is tested against. Runs are kept by run id.
type memNet struct {
	f        faults
	lastCall time.Duration

	mu   sync.Mutex
	runs map[string]*memRun
}

type memRun struct {
	min, max     int
	round        int
	complete     bool
	closed       bool
	participants []string
	waiting      []string
	addrs        map[string]string // LocalAddr by node id
	store        *memStore
	changed      chan struct{} // closed and replaced on every change
	timer        *time.Timer
}

func newMemNet(f faults) *memNet {
	return &memNet{f: f, lastCall: 30 * time.Millisecond, runs: make(map[string]*memRun)}
}

// run returns the run p takes part in; n.mu must be held.
func (n *memNet) run(p registry.Parameters) *memRun {
	r, ok := n.runs[p.RunID]
	if !ok {
		r = &memRun{min: p.MinNodes, max: p.MaxNodes, changed: make(chan struct{}), store: newMemStore(n.f.getNoWait), addrs: make(map[string]string)}
		n.runs[p.RunID] = r
	}
	return r
}

func (r *memRun) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (n *memNet) newHandler(node int, p registry.Parameters) (registry.Handler, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &memHandler{net: n, p: p, id: fmt.Sprintf("node%03d", node)}, nil
}

type memHandler struct {
	net *memNet
	p   registry.Parameters
	id  string

	mu   sync.Mutex
	shut int
}

func (h *memHandler) Backend() string {
	if h.net.f.wrongBackend {
		return h.p.Backend + "-other"
	}
	return h.p.Backend
}

func (h *memHandler) RunID() string {
	if h.net.f.wrongRunID {
		return "other"
	}
	return h.p.RunID
}

// leave removes h from its run; n.mu must be held.
func (h *memHandler) leave(r *memRun) {
	r.waiting = slices.DeleteFunc(r.waiting, func(id string) bool { return id == h.id })
	before := len(r.participants)
	r.participants = slices.DeleteFunc(r.participants, func(id string) bool { return id == h.id })
	if r.complete && before > 0 && len(r.participants) == 0 {
		r.round++
		r.complete = false
		r.participants, r.waiting = r.waiting, nil
		h.net.progress(r)
	}
}

// progress completes or schedules the completion of a forming round;
// n.mu must be held.
func (n *memNet) progress(r *memRun) {
	if r.complete {
		return
	}
	p := len(r.participants)
	switch {
	case p >= maxNodes(r) && !n.f.ignoreMax:
		n.completeRound(r)
	case p >= minNodes(r) && r.timer == nil:
		round := r.round
		r.timer = time.AfterFunc(n.lastCall, func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			r.timer = nil
			if r.round == round && !r.complete && len(r.participants) >= minNodes(r) {
				n.completeRound(r)
			}
		})
	}
}

func minNodes(r *memRun) int { return r.min }
func maxNodes(r *memRun) int { return r.max }

func (n *memNet) completeRound(r *memRun) {
	r.complete = true
	slices.Sort(r.participants)
	if !n.f.sharedStore {
		r.store = newMemStore(n.f.getNoWait)
	}
	r.notify()
}

func (h *memHandler) NextRendezvous(ctx context.Context) (registry.Info, error) {
	n := h.net
	n.mu.Lock()
	r := n.run(h.p)
	h.leave(r)
	r.addrs[h.id] = cmp.Or(h.p.LocalAddr, "host-"+h.id)
	switch {
	case r.closed:
	case n.f.admitLateNode && r.complete:
		r.participants = append(r.participants, h.id)
	case r.complete:
		r.waiting = append(r.waiting, h.id)
	default:
		r.participants = append(r.participants, h.id)
		n.progress(r)
	}
	r.notify()
	for {
		if r.closed {
			n.mu.Unlock()
			return registry.Info{}, fmt.Errorf("mem: %w", registry.ErrClosed)
		}
		if rank := slices.Index(r.participants, h.id); r.complete && rank >= 0 {
			boot := r.participants[0]
			if n.f.bootOfLast {
				boot = r.participants[len(r.participants)-1]
			}
			info := registry.Info{Store: r.store, Rank: rank, WorldSize: len(r.participants),
				Bootstrap: registry.BootstrapInfo{Addr: r.addrs[boot], Port: 1000 + r.round}}
			if n.f.dupRanks {
				info.Rank = 0
			}
			if n.f.splitBoot {
				info.Bootstrap.Addr = "host-" + h.id
			}
			n.mu.Unlock()
			return info, nil
		}
		changed := r.changed
		n.mu.Unlock()
		done := ctx.Done()
		if n.f.ignoreCtx {
			done = nil
		}
		select {
		case <-changed:
		case <-done:
			n.mu.Lock()
			h.leave(r)
			r.notify()
			n.mu.Unlock()
			return registry.Info{}, fmt.Errorf("mem: %w: %w", registry.ErrTimeout, ctx.Err())
		case <-time.After(3 * time.Second): // bounds a broken handler's wait
		}
		n.mu.Lock()
	}
}

func (h *memHandler) IsClosed(context.Context) (bool, error) {
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	return h.net.run(h.p).closed || h.net.f.alwaysClosed, nil
}

func (h *memHandler) SetClosed(context.Context) error {
	if h.net.f.noClose {
		return nil
	}
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	r := h.net.run(h.p)
	r.closed = true
	r.notify()
	return nil
}

func (h *memHandler) NumNodesWaiting(context.Context) (int, error) {
	if h.net.f.noWaiting {
		return 0, nil
	}
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	n := len(h.net.run(h.p).waiting)
	if h.net.f.alwaysWaiting {
		n = max(n, 1)
	}
	return n, nil
}

func (h *memHandler) Shutdown(context.Context) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shut++
	if h.net.f.badShutdown && h.shut > 1 {
		return false, errors.New("mem: already shut down")
	}
	h.net.mu.Lock()
	defer h.net.mu.Unlock()
	r := h.net.run(h.p)
	h.leave(r)
	r.notify()
	return true, nil
}

// memStore is a map whose Get waits for the key.
type memStore struct {
	noWait  bool // Get does not wait (a fault)
	mu      sync.Mutex
	m       map[string][]byte
	changed chan struct{}
}

func newMemStore(noWait bool) *memStore {
	return &memStore{noWait: noWait, m: make(map[string][]byte), changed: make(chan struct{})}
}

func (s *memStore) Set(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = slices.Clone(value)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func (s *memStore) Get(ctx context.Context, key string) ([]byte, error) {
	for {
		s.mu.Lock()
		v, ok := s.m[key]
		changed := s.changed
		s.mu.Unlock()
		if ok || s.noWait {
			return v, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("mem store: %w: %w", registry.ErrTimeout, ctx.Err())
		}
	}
}

func (s *memStore) Add(_ context.Context, key string, delta int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := strconv.ParseInt(string(s.m[key]), 10, 64)
	n += delta
	s.m[key] = []byte(strconv.FormatInt(n, 10))
	close(s.changed)
	s.changed = make(chan struct{})
	return n, nil
}

func options() handlertest.Options {
	return handlertest.Options{
		Params:        registry.Parameters{Backend: "mem", MinNodes: 2, MaxNodes: 4},
		Nodes:         3,
		RoundTimeout:  5 * time.Second,
		Prompt:        400 * time.Millisecond,
		NodeLocalAddr: func(node int) string { return "10.0.0." + strconv.Itoa(node+1) },
	}
}

func TestCheckPassesConformingBackend(t *testing.T) {
	net := newMemNet(faults{})
	err := handlertest.Check(context.Background(), net.newHandler, options())
	require.NoError(t, err)
	// Every scenario ran on a run of its own.
	net.mu.Lock()
	defer net.mu.Unlock()
	assert.Len(t, net.runs, 5)
}

func TestCheckDetectsBrokenBackends(t *testing.T) {
	tests := []struct {
		name string
		f    faults
		want []string // substrings the error must contain
	}{
		{"duplicate ranks", faults{dupRanks: true}, []string{"round: nodes", "both got rank 0"}},
		{"context ignored", faults{ignoreCtx: true}, []string{"timeout: node 0 alone, context cancelled", "still blocked"}},
		{"close ignored", faults{noClose: true}, []string{"close: node 1", "registry.ErrClosed", "IsClosed after SetClosed = (false, <nil>)"}},
		{"store shared across rounds", faults{sharedStore: true}, []string{"latejoin: store Add of 1 by each of 4 nodes returned [4 5 6 7]"}},
		{"wrong backend name", faults{wrongBackend: true}, []string{`round: node 0: Backend() = "mem-other", want "mem"`}},
		{"wrong run id", faults{wrongRunID: true}, []string{`RunID() = "other"`}},
		{"shutdown not idempotent", faults{badShutdown: true}, []string{"Shutdown call 2 = (false, mem: already shut down)"}},
		{"late node not counted", faults{noWaiting: true}, []string{"latejoin: NumNodesWaiting on the running nodes = [0 0 0]"}},
		{"bootstrap differs", faults{splitBoot: true}, []string{"round: node 1 sees bootstrap"}},
		{"late node admitted at once", faults{admitLateNode: true}, []string{"latejoin: node 3 (late): NextRendezvous returned"}},
		{"nodes always waiting", faults{alwaysWaiting: true}, []string{"round: node 0: NumNodesWaiting after a round that admitted every node = (1, <nil>), want (0, nil)"}},
		{"closed from the start", faults{alwaysClosed: true}, []string{
			"round: node 0: IsClosed before any SetClosed = (true, <nil>)",
			"close: node 0: IsClosed before SetClosed = (true, <nil>)",
		}},
		{"MaxNodes ignored", faults{ignoreMax: true}, []string{"extranode: 5 nodes admitted to a round of world size 5, MaxNodes 4"}},
		{"store Get does not wait", faults{getNoWait: true}, []string{"round: node 0: store Get of a key nobody has set returned", "Get must wait until the key is set"}},
		{"bootstrap of the last rank", faults{bootOfLast: true}, []string{`round: bootstrap host is "10.0.0.3", want "10.0.0.1", the LocalAddr of node 0, which has rank 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := options()
			opts.RoundTimeout = 2 * time.Second
			err := handlertest.Check(context.Background(), newMemNet(tt.f).newHandler, opts)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestCheckWithoutNodeLocalAddrOnlySeesAgreement(t *testing.T) {
	// The limit of the bootstrap check, documented: without a LocalAddr
	// per node, Check cannot tell which node's address the nodes agree on.
	opts := options()
	opts.NodeLocalAddr = nil
	require.NoError(t, handlertest.Check(context.Background(), newMemNet(faults{bootOfLast: true}).newHandler, opts))
}

func TestCheckExtraNodeRefusedAtCreation(t *testing.T) {
	// A backend with a fixed world refuses to create a node beyond it, as
	// the static backend does for a rank out of range.
	net := newMemNet(faults{})
	refusing := func(node int, p registry.Parameters) (registry.Handler, error) {
		if node >= p.MaxNodes {
			return nil, fmt.Errorf("node %d is beyond the world of %d", node, p.MaxNodes)
		}
		return net.newHandler(node, p)
	}
	opts := options()
	opts.Params.MinNodes, opts.Params.MaxNodes, opts.Nodes = 3, 3, 3
	require.NoError(t, handlertest.Check(context.Background(), refusing, opts))
}

func TestCheckSkipsScenarios(t *testing.T) {
	opts := options()
	opts.Skip = []string{handlertest.Close}
	// The broken close is not looked at when skipped.
	require.NoError(t, handlertest.Check(context.Background(), newMemNet(faults{noClose: true}).newHandler, opts))
}

func TestCheckRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*handlertest.Options)
		want   string
	}{
		{"no backend", func(o *handlertest.Options) { o.Params.Backend = "" }, "backend name is empty"},
		{"too many nodes", func(o *handlertest.Options) { o.Nodes = 5 }, "Nodes (5) must lie within [MinNodes, MaxNodes] = [2, 4]"},
		{"min 1", func(o *handlertest.Options) { o.Params.MinNodes, o.Nodes = 1, 1 }, "set MinNodes to at least 2"},
		{"unknown skip", func(o *handlertest.Options) { o.Skip = []string{"nap"} }, `unknown scenario "nap"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			tt.modify(&opts)
			err := handlertest.Check(context.Background(), newMemNet(faults{}).newHandler, opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "handlertest: invalid options")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCheckReportsCreatorErrors(t *testing.T) {
	failing := func(node int, p registry.Parameters) (registry.Handler, error) {
		return nil, errors.New("cannot reach the backend")
	}
	err := handlertest.Check(context.Background(), failing, options())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "round: creating handler of node 0: cannot reach the backend")
}
