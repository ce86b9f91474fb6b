package etcd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/go-entrypoints/entrypoints/contrib/etcd"
	"github.com/go-entrypoints/entrypoints/contrib/etcd/embedded"
	"github.com/go-entrypoints/entrypoints/registry"
	"github.com/go-entrypoints/entrypoints/registry/handlertest"
)

// startServer runs an embedded etcd for the test.
func startServer(t testing.TB) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := embedded.Start(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// testConfig has short timeouts: a node is dead after 2s without
// keep-alives, the last call lasts 300ms.
func testConfig() map[string]string {
	return map[string]string{
		"last_call_timeout":      "300ms",
		"keep_alive_interval":    "1",
		"keep_alive_max_attempt": "2",
		"read_timeout":           "5s",
		"join_timeout":           "60",
		"close_timeout":          "5",
	}
}

func params(endpoint, run string, minNodes, maxNodes int, conf map[string]string) registry.Parameters {
	c := testConfig()
	maps.Copy(c, conf)
	return registry.Parameters{Backend: etcd.Backend, Endpoint: endpoint, RunID: run, MinNodes: minNodes, MaxNodes: maxNodes, LocalAddr: "127.0.0.1", Config: c}
}

// newNodes creates n handlers of one run, shut down at the end of the test.
func newNodes(t testing.TB, p registry.Parameters, n int) []*etcd.Handler {
	t.Helper()
	hs := make([]*etcd.Handler, n)
	for i := range hs {
		h, err := etcd.New(p)
		require.NoError(t, err)
		hs[i] = h.(*etcd.Handler)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = hs[i].Shutdown(ctx)
		})
	}
	return hs
}

type outcome struct {
	info registry.Info
	err  error
}

// rendezvous runs NextRendezvous on every handler at once.
func rendezvous(ctx context.Context, hs []*etcd.Handler) []outcome {
	out := make([]outcome, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() {
			info, err := h.NextRendezvous(ctx)
			out[i] = outcome{info, err}
		})
	}
	wg.Wait()
	return out
}

// requireRound checks that every outcome is a place in one round of size n.
func requireRound(t *testing.T, out []outcome, n int) {
	t.Helper()
	ranks := make(map[int]bool)
	for i, o := range out {
		require.NoError(t, o.err, "node %d", i)
		assert.Equal(t, n, o.info.WorldSize, "node %d", i)
		assert.False(t, ranks[o.info.Rank], "rank %d given twice", o.info.Rank)
		ranks[o.info.Rank] = true
		assert.Equal(t, out[0].info.Bootstrap, o.info.Bootstrap, "node %d", i)
	}
	for r := range n {
		assert.True(t, ranks[r], "rank %d missing", r)
	}
}

func TestConformance(t *testing.T) {
	srv := startServer(t)
	err := handlertest.Check(context.Background(), func(node int, p registry.Parameters) (registry.Handler, error) {
		return etcd.New(p)
	}, handlertest.Options{
		Params:       params(srv.Endpoint(), "conformance", 2, 4, nil),
		Nodes:        3,
		RoundTimeout: 20 * time.Second,
	})
	require.NoError(t, err)
}

func TestKilledNodeIsDroppedAndSurvivorsReRendezvous(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hs := newNodes(t, params(srv.Endpoint(), "kill", 2, 3, nil), 3)
	requireRound(t, rendezvous(ctx, hs), 3)

	etcd.Kill(hs[2])
	start := time.Now()
	out := rendezvous(ctx, hs[:2])
	requireRound(t, out, 2)
	// The dead node is dropped once its lease (2s) expires, not before.
	assert.Greater(t, time.Since(start), time.Second)
	assert.Less(t, time.Since(start), 10*time.Second)

	n, err := hs[0].NumNodesWaiting(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// agent does what torchrun's agent does with a handler: rendezvous, run
// the job (here a barrier through the round's store: every rank writes its
// key and reads all the others'), and rendezvous again when the job fails
// or nodes wait. It returns the world size of the first round whose
// barrier passes.
func agent(ctx context.Context, h *etcd.Handler) (int, error) {
	for {
		info, err := h.NextRendezvous(ctx)
		if err != nil {
			return 0, err
		}
		if barrier(ctx, info) == nil {
			return info.WorldSize, nil
		}
	}
}

func barrier(ctx context.Context, info registry.Info) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := info.Store.Set(ctx, fmt.Sprint("rank", info.Rank), []byte("here")); err != nil {
		return err
	}
	for r := range info.WorldSize {
		if _, err := info.Store.Get(ctx, fmt.Sprint("rank", r)); err != nil {
			return err
		}
	}
	return nil
}

func TestNodeKilledWhileRoundForms(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := params(srv.Endpoint(), "kill-forming", 3, 3, nil)
	hs := newNodes(t, p, 4)
	// Node 0 joins and dies while the round forms. Its place is kept
	// until its lease expires, so the round may complete with it; the
	// node left out is then counted as waiting, the job of the others
	// fails, and all re-rendezvous without it.
	go func() { _, _ = hs[0].NextRendezvous(ctx) }()
	require.Eventually(t, func() bool {
		n, err := hs[1].NumNodesWaiting(ctx) // reads the state
		return err == nil && n == 0 && joined(t, srv, "kill-forming", 0) == 1
	}, 10*time.Second, 10*time.Millisecond)
	etcd.Kill(hs[0])

	sizes := make([]int, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, h := range hs[1:] {
		wg.Go(func() { sizes[i], errs[i] = agent(ctx, h) })
	}
	wg.Wait()
	for i := range 3 {
		require.NoError(t, errs[i], "node %d", i+1)
		assert.Equal(t, 3, sizes[i], "node %d", i+1)
	}
}

func TestLateJoinerWaitsAndIsAdmitted(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := params(srv.Endpoint(), "late", 2, 3, nil)
	hs := newNodes(t, p, 3)
	first := rendezvous(ctx, hs[:2])
	requireRound(t, first, 2)
	require.NoError(t, first[0].info.Store.Set(ctx, "round", []byte("first")))

	lateDone := make(chan outcome, 1)
	go func() {
		info, err := hs[2].NextRendezvous(ctx)
		lateDone <- outcome{info, err}
	}()
	require.Eventually(t, func() bool {
		n, err := hs[0].NumNodesWaiting(ctx)
		return err == nil && n == 1
	}, 10*time.Second, 20*time.Millisecond, "the running nodes must see the late one waiting")
	select {
	case o := <-lateDone:
		t.Fatalf("the late node got a place before the others re-rendezvoused: %+v", o)
	default:
	}

	out := rendezvous(ctx, hs[:2])
	out = append(out, <-lateDone)
	requireRound(t, out, 3)
	// The new round has a store of its own.
	gctx, gcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer gcancel()
	_, err := out[2].info.Store.Get(gctx, "round")
	assert.ErrorIs(t, err, registry.ErrTimeout)
}

func TestServerRestart(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hs := newNodes(t, params(srv.Endpoint(), "restart", 3, 3, map[string]string{"read_timeout": "2"}), 3)
	requireRound(t, rendezvous(ctx, hs), 3)

	// Nodes 0 and 1 re-rendezvous and wait for node 2 through the outage.
	done := make(chan []outcome, 1)
	go func() { done <- rendezvous(ctx, hs[:2]) }()
	require.Eventually(t, func() bool {
		n, err := hs[2].NumNodesWaiting(ctx)
		return err == nil && n == 2
	}, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, srv.Close())
	start := time.Now()
	_, err := hs[2].NumNodesWaiting(ctx)
	require.ErrorIs(t, err, registry.ErrConnection)
	assert.Contains(t, err.Error(), srv.Endpoint())
	_, err = hs[2].IsClosed(ctx)
	require.ErrorIs(t, err, registry.ErrConnection)
	_, err = hs[2].NextRendezvous(ctx)
	require.ErrorIs(t, err, registry.ErrConnection)
	assert.Less(t, time.Since(start), 20*time.Second, "three calls of read_timeout 2s each")

	require.NoError(t, srv.Restart(ctx))
	// The node's client reconnects by itself; a call that races the
	// reconnection may still see the outage, and the next one succeeds.
	info, err := hs[2].NextRendezvous(ctx)
	if errors.Is(err, registry.ErrConnection) {
		t.Logf("first call after the restart: %v", err)
		info, err = hs[2].NextRendezvous(ctx)
	}
	require.NoError(t, err, "node 2 after the restart")
	out := append(<-done, outcome{info, err})
	requireRound(t, out, 3)
	require.NoError(t, out[0].info.Store.Set(ctx, "k", []byte("v")))
	v, err := out[1].info.Store.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
}

func Test32NodesJoinAtOnce(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hs := newNodes(t, params(srv.Endpoint(), "many", 32, 32, nil), 32)
	start := time.Now()
	out := rendezvous(ctx, hs)
	t.Logf("32 nodes joined at once in %v", time.Since(start))
	requireRound(t, out, 32)
	// Add from every node is atomic.
	var wg sync.WaitGroup
	for _, o := range out {
		wg.Go(func() {
			_, err := o.info.Store.Add(ctx, "count", 1)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	n, err := out[0].info.Store.Add(ctx, "count", 0)
	require.NoError(t, err)
	assert.EqualValues(t, 32, n)
}

func TestCorruptStateIsReported(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer cli.Close()
	sealed := etcd.DefaultPrefix + "/corrupt/rdzv/sealed"
	_, err = cli.Put(ctx, sealed, "{not a number")
	require.NoError(t, err)
	_, err = cli.Put(ctx, etcd.DefaultPrefix+"/corrupt/store/0/n", "seven")
	require.NoError(t, err)

	hs := newNodes(t, params(srv.Endpoint(), "corrupt", 1, 1, nil), 1)
	_, err = hs[0].NextRendezvous(ctx)
	require.ErrorIs(t, err, registry.ErrState)
	assert.Contains(t, err.Error(), sealed)
	assert.Contains(t, err.Error(), "etcdctl del --prefix "+etcd.DefaultPrefix+"/corrupt/")
	_, err = hs[0].NumNodesWaiting(ctx)
	require.ErrorIs(t, err, registry.ErrState)

	_, err = cli.Delete(ctx, sealed)
	require.NoError(t, err)
	info, err := hs[0].NextRendezvous(ctx)
	require.NoError(t, err)
	_, err = info.Store.Add(ctx, "n", 1)
	require.ErrorIs(t, err, registry.ErrState)
}

func TestUnreachableServer(t *testing.T) {
	// A port nothing listens on: start a server and stop it.
	srv := startServer(t)
	require.NoError(t, srv.Close())
	hs := newNodes(t, params(srv.Endpoint(), "down", 1, 1, map[string]string{"read_timeout": "500ms"}), 1)
	_, err := hs[0].NextRendezvous(context.Background())
	require.ErrorIs(t, err, registry.ErrConnection)
	assert.Contains(t, err.Error(), "check that it runs and is reachable")
	assert.Contains(t, err.Error(), "connection refused")

	// A caller's deadline that ends before etcd counts as unreachable
	// (2s with this read_timeout) is a timeout, not a connection error.
	h := newNodes(t, params(srv.Endpoint(), "down", 1, 1, map[string]string{"read_timeout": "30s"}), 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = h.NextRendezvous(ctx)
	require.ErrorIs(t, err, registry.ErrTimeout, "the caller's deadline is a timeout, not a connection error")
}

func TestUnreachableServerFailsFastWithCause(t *testing.T) {
	// With the default read_timeout (60s), a refused connection is
	// reported within seconds, with its cause, by every kind of call.
	srv := startServer(t)
	require.NoError(t, srv.Close())
	conf := testConfig()
	delete(conf, "read_timeout")
	p := params(srv.Endpoint(), "refused", 1, 1, nil)
	p.Config = conf
	h := newNodes(t, p, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	calls := map[string]func() error{
		"NextRendezvous": func() error { _, err := h.NextRendezvous(ctx); return err },
		"IsClosed":       func() error { _, err := h.IsClosed(ctx); return err },
		"NumNodesWaiting": func() error {
			_, err := h.NumNodesWaiting(ctx)
			return err
		},
		"SetClosed": func() error { return h.SetClosed(ctx) },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		took := time.Since(start)
		require.ErrorIs(t, err, registry.ErrConnection, name)
		assert.Contains(t, err.Error(), "connection refused", name)
		assert.Contains(t, err.Error(), srv.Endpoint(), name)
		assert.Less(t, took, 10*time.Second, "%s: an unreachable etcd is reported in seconds, not after read_timeout", name)
	}
}

func TestRequestsWaitOutAShortOutage(t *testing.T) {
	// An etcd that is back within read_timeout is waited for: a Store call
	// made while etcd is down succeeds once it is back.
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := newNodes(t, params(srv.Endpoint(), "blip", 1, 1, nil), 1)[0]
	info, err := h.NextRendezvous(ctx)
	require.NoError(t, err)
	require.NoError(t, srv.Close())
	done := make(chan error, 1)
	go func() { done <- info.Store.Set(ctx, "k", []byte("v")) }()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, srv.Restart(ctx))
	require.NoError(t, <-done)
	v, err := info.Store.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
}

func TestShutdownLeavesAndIsIdempotent(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hs := newNodes(t, params(srv.Endpoint(), "shutdown", 2, 2, nil), 2)
	requireRound(t, rendezvous(ctx, hs), 2)
	for range 2 {
		ok, err := hs[1].Shutdown(ctx)
		require.NoError(t, err)
		assert.True(t, ok)
	}
	_, err := hs[1].NextRendezvous(ctx)
	assert.ErrorContains(t, err, "shut down")
	closed, err := hs[0].IsClosed(ctx)
	require.NoError(t, err)
	assert.False(t, closed, "Shutdown does not close the run")
}

func TestHostileConfigIsRejected(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		conf     map[string]string
		want     string
	}{
		{"negative join timeout", "localhost:2379", map[string]string{"join_timeout": "-5"}, `"join_timeout" is "-5"`},
		{"zero last call", "localhost:2379", map[string]string{"last_call_timeout": "0"}, `"last_call_timeout" is "0"`},
		{"huge close timeout", "localhost:2379", map[string]string{"close_timeout": "99999999999999999999"}, `"close_timeout" is "99999999999999999999", not a duration`},
		{"huge join timeout", "localhost:2379", map[string]string{"join_timeout": "100000000"}, "from 1 to 604800"},
		{"non-numeric", "localhost:2379", map[string]string{"join_timeout": "soon"}, `"join_timeout" is "soon", not a duration`},
		{"sub-second keep-alive", "localhost:2379", map[string]string{"keep_alive_interval": "10ms"}, `"keep_alive_interval" is "10ms"`},
		{"fractional keep-alive", "localhost:2379", map[string]string{"keep_alive_interval": "1500ms"}, "whole seconds"},
		{"fractional heartbeat", "localhost:2379", map[string]string{"heartbeat": "2.5s"}, `"heartbeat" is "2.5s"; etcd leases count whole seconds`},
		{"heartbeat and keep_alive_interval differ", "localhost:2379", map[string]string{"keep_alive_interval": "5", "heartbeat": "6"}, `"keep_alive_interval" ("5") and "heartbeat" ("6") differ`},
		{"prefix and etcd_prefix differ", "localhost:2379", map[string]string{"prefix": "/a", "etcd_prefix": "/b"}, `"prefix" ("/a") and "etcd_prefix" ("/b") differ`},
		{"relative etcd_prefix", "localhost:2379", map[string]string{"etcd_prefix": "jobs"}, `"etcd_prefix" is "jobs"`},
		{"nanosecond join timeout", "localhost:2379", map[string]string{"join_timeout": "1ns"}, `"join_timeout" is "1ns"; give a duration from 1s to 168h0m0s`},
		{"sub-second close timeout", "localhost:2379", map[string]string{"close_timeout": "999ms"}, `"close_timeout" is "999ms"`},
		{"millisecond read timeout", "localhost:2379", map[string]string{"read_timeout": "1ms"}, `"read_timeout" is "1ms"; give a duration from 100ms`},
		{"microsecond last call", "localhost:2379", map[string]string{"last_call_timeout": "50us"}, `"last_call_timeout" is "50us"`},
		{"zero attempts", "localhost:2379", map[string]string{"keep_alive_max_attempt": "0"}, `"keep_alive_max_attempt" is 0`},
		{"bad attempts", "localhost:2379", map[string]string{"keep_alive_max_attempt": "three"}, `"keep_alive_max_attempt" does not represent a valid integer`},
		{"relative prefix", "localhost:2379", map[string]string{"prefix": "jobs"}, `"prefix" is "jobs"`},
		{"bad protocol", "localhost:2379", map[string]string{"protocol": "gopher"}, `"protocol" is "gopher"`},
		{"cert without key", "localhost:2379", map[string]string{"protocol": "https", "cert": "c.pem"}, `"cert" and "key" go together`},
		{"missing cacert", "localhost:2379", map[string]string{"protocol": "https", "cacert": "/nonexistent/ca.pem"}, `"cacert": reading CA certificates`},
		{"tls file over http", "localhost:2379", map[string]string{"cacert": "ca.pem"}, "set protocol=https"},
		{"port not a number", "localhost:http", nil, `has port "http"`},
		{"port out of range", "localhost:70000", nil, `has port "70000"`},
		{"no host", ":2379", nil, `has host ""`},
		{"empty port", "localhost:", nil, `has port ""`},
		{"port zero", "localhost:0", nil, `has port 0`},
		{"garbage", "not an endpoint/x", nil, `has host "not an endpoint/x"`},
		{"tilde", "~", nil, `has host "~"`},
		{"tilde with port", "~:123", nil, `has host "~"`},
		{"space before port", "dummy.com :123", nil, `has host "dummy.com "`},
		{"bare IPv6", "::1", nil, `"::1" is ambiguous: an IPv6 address must be in brackets`},
		{"IPv6 zone", "[fe80::1%eth0]:2379", nil, `has host "fe80::1%eth0"`},
		{"empty item", "localhost:2379,,localhost:2380", nil, "has an empty item"},
		{"https endpoint over http", "https://localhost:2379", nil, "set protocol=https"},
		{"three colons", "http://127.0.0.1:1:2", nil, `endpoint "127.0.0.1:1:2" has more than one colon`},
		{"three colons in a list", "127.0.0.1:2379,127.0.0.1:1:2", nil, `endpoint "127.0.0.1:1:2" has more than one colon`},
		{"bracketed non-address", "[etcd:x]:2379", nil, `has host "etcd:x" in brackets, which is not an IPv6 address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := params(tt.endpoint, "hostile", 1, 2, tt.conf)
			h, err := etcd.New(p)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "etcd rendezvous: invalid parameters")
		})
	}
}

func TestConfigAccepted(t *testing.T) {
	for _, conf := range []map[string]string{
		{"join_timeout": "1_000", "last_call_timeout": " 30 ", "close_timeout": "1m"},
		{"heartbeat": "2", "etcd_prefix": "/jobs/", "protocol": "HTTP"},
		{"heartbeat": "2", "keep_alive_interval": "2s", "prefix": "/jobs", "etcd_prefix": "/jobs/"},
		{"keep_alive_interval": "3600", "join_timeout": "1s", "close_timeout": "1", "read_timeout": "100ms", "last_call_timeout": "100ms"},
	} {
		p := registry.Parameters{Backend: etcd.Backend, Endpoint: "127.0.0.1:2379,http://[::1]:2379,[2001:db8::1],[::1],etcd.example", RunID: "ok", MinNodes: 1, MaxNodes: 2, Config: conf}
		h, err := etcd.New(p)
		require.NoError(t, err, "%v", conf)
		_, err = h.Shutdown(context.Background())
		require.NoError(t, err)
	}
	_, err := etcd.New(registry.Parameters{Backend: etcd.Backend, Endpoint: "localhost", MinNodes: 1, MaxNodes: 1})
	assert.ErrorContains(t, err, "run id is empty")
}

func TestUnknownConfigKeysAreLogged(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	p := registry.Parameters{Backend: etcd.Backend, Endpoint: "127.0.0.1:2379", RunID: "typo", MinNodes: 1, MaxNodes: 1,
		Config: map[string]string{"last_call_timout": "1", "rank": "0", "store_type": "x", "join_timeout": "5"}}
	h, err := etcd.New(p)
	require.NoError(t, err, "unknown keys are not an error")
	_, err = h.Shutdown(context.Background())
	require.NoError(t, err)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, "one warning per unknown key, none for rank:\n%s", buf.String())
	assert.Contains(t, lines[0], "level=WARN")
	assert.Contains(t, lines[0], "key=last_call_timout")
	assert.Contains(t, lines[0], "last_call_timeout", "the known keys are listed")
	assert.Contains(t, lines[1], "key=store_type")
	assert.NotContains(t, buf.String(), "key=rank")
	assert.NotContains(t, buf.String(), "key=join_timeout")
}

func TestNewCreatorRegisters(t *testing.T) {
	srv := startServer(t)
	reg := registry.New()
	require.NoError(t, reg.Register(etcd.Backend, etcd.NewCreator()))
	h, err := reg.CreateHandler(params(srv.Endpoint(), "registry", 1, 1, nil))
	require.NoError(t, err)
	defer h.Shutdown(context.Background())
	assert.Equal(t, "etcd", h.Backend())
	assert.Equal(t, "registry", h.RunID())
	info, err := h.NextRendezvous(context.Background())
	require.NoError(t, err)
	assert.Equal(t, registry.Info{Store: info.Store, Rank: 0, WorldSize: 1, Bootstrap: info.Bootstrap}, info)
	assert.Equal(t, "127.0.0.1", info.Bootstrap.Addr)
}

// joined returns the number of join keys of round r of run.
func joined(t *testing.T, srv *embedded.Server, run string, r int) int {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer cli.Close()
	resp, err := cli.Get(context.Background(), fmt.Sprintf("%s/%s/rdzv/round/%d/join/", etcd.DefaultPrefix, run, r), clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	return int(resp.Count)
}
