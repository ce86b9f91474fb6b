package static_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/contrib/static"
	"github.com/go-entrypoints/entrypoints/registry"
)

// freeEndpoint returns a loopback host:port that nothing listens on.
func freeEndpoint(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func params(endpoint string, world, rank int, conf ...string) registry.Parameters {
	p := registry.Parameters{
		Backend:  static.Backend,
		Endpoint: endpoint,
		RunID:    "job",
		MinNodes: world,
		MaxNodes: world,
		Config:   map[string]string{"rank": strconv.Itoa(rank)},
	}
	for i := 0; i+1 < len(conf); i += 2 {
		p.Config[conf[i]] = conf[i+1]
	}
	return p
}

func newHandler(endpoint string, world, rank int, conf ...string) (registry.Handler, error) {
	return static.New(params(endpoint, world, rank, conf...))
}

// newNodes creates the handlers of a world on endpoint and shuts them down
// at the end of the test.
func newNodes(t *testing.T, endpoint string, world int, conf ...string) []registry.Handler {
	t.Helper()
	hs := make([]registry.Handler, world)
	for rank := range world {
		h, err := newHandler(endpoint, world, rank, conf...)
		require.NoError(t, err)
		hs[rank] = h
	}
	t.Cleanup(func() {
		// Rank 0 last: it hosts the store.
		for i := len(hs) - 1; i >= 0; i-- {
			ok, err := hs[i].Shutdown(context.Background())
			assert.True(t, ok)
			assert.NoError(t, err)
		}
	})
	return hs
}

// rendezvous runs NextRendezvous on every handler at once.
func rendezvous(ctx context.Context, hs []registry.Handler) ([]registry.Info, []error) {
	infos := make([]registry.Info, len(hs))
	errs := make([]error, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() { infos[i], errs[i] = h.NextRendezvous(ctx) })
	}
	wg.Wait()
	return infos, errs
}

func TestNewRejectsBadParameters(t *testing.T) {
	ep := "127.0.0.1:29500"
	tests := []struct {
		name string
		p    registry.Parameters
		want string
	}{
		{"min below max", func() registry.Parameters { p := params(ep, 4, 0); p.MinNodes = 2; return p }(), "fixed number of nodes"},
		{"no rank", func() registry.Parameters { p := params(ep, 2, 0); delete(p.Config, "rank"); return p }(), `"rank" is not set`},
		{"rank not a number", params(ep, 2, 0, "rank", "one"), `"rank" does not represent a valid integer`},
		{"negative rank", params(ep, 2, -1), "rank -1 is out of range"},
		{"rank too big", params(ep, 2, 2), "rank 2 is out of range"},
		{"empty endpoint", params("", 2, 0), "endpoint is empty"},
		{"blank endpoint", params(" \t", 2, 0), "endpoint is empty"},
		{"no port", params("127.0.0.1", 2, 0), `endpoint "127.0.0.1" has no port`},
		{"IPv6 without port", params("[::1]", 2, 0), `endpoint "[::1]" has no port`},
		{"no host", params(":29500", 2, 0), `has host ""`},
		{"port zero", params("127.0.0.1:0", 2, 0), "has port 0"},
		{"port too big", params("127.0.0.1:70000", 2, 0), `has port "70000"`},
		{"port not a number", params("127.0.0.1:http", 2, 0), `has port "http"`},
		// PyTorch refuses these host names when the handler is created.
		{"tilde", params("~", 2, 1), `has host "~"`},
		{"tilde with port", params("~:123", 2, 1), `has host "~"`},
		{"space before port", params("dummy.com :123", 2, 1), `has host "dummy.com "`},
		{"bare IPv6", params("::1", 2, 1), "an IPv6 address must be in brackets"},
		{"IPv6 zone", params("[fe80::1%eth0]:29500", 2, 1), `has host "fe80::1%eth0"`},
		{"join_timeout not a number", params(ep, 2, 0, "join_timeout", "soon"), `"join_timeout" does not represent a valid integer`},
		{"join_timeout zero", params(ep, 2, 0, "join_timeout", "0"), `config key "join_timeout" is 0; give a number of seconds from 1 to`},
		{"join_timeout negative", params(ep, 2, 0, "join_timeout", "-5"), `"join_timeout" is -5`},
		{"join_timeout huge", params(ep, 2, 0, "join_timeout", "9223372036854775807"), `"join_timeout" is 9223372036854775807`},
		{"timeout and join_timeout differ", params(ep, 2, 0, "join_timeout", "5", "timeout", "6"), `config keys "join_timeout" ("5") and "timeout" ("6") differ`},
		{"timeout zero", params(ep, 2, 0, "timeout", "0"), `"timeout" is 0`},
		{"max_connections below the world", params(ep, 4, 0, "max_connections", "3"), `"max_connections" is 3; give a number of connections from 4 to`},
		{"handshake_timeout zero", params(ep, 2, 0, "handshake_timeout", "0"), `"handshake_timeout" is 0`},
		{"max_value_size huge", params(ep, 2, 0, "max_value_size", "2147483648"), `"max_value_size" is 2147483648; give a number of bytes from 1 to 1073741824`},
		{"max_store_size not a number", params(ep, 2, 0, "max_store_size", "1GB"), `"max_store_size" does not represent a valid integer`},
		{"no nodes", params(ep, 0, 0), "at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := static.New(tt.p)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestNewAcceptsGoodParameters(t *testing.T) {
	for _, p := range []registry.Parameters{
		params("127.0.0.1:29500", 1, 0),
		params("localhost:29500", 8, 7, "join_timeout", " 30 "),
		params("[::1]:29500", 2, 1, "other_key", "ignored"),
		params("127.0.0.1:29500", 2, 1, "timeout", "60", "join_timeout", "60", "secret", "s3cret"),
		params("127.0.0.1:29500", 2, 1, "max_connections", "2", "handshake_timeout", "1", "max_value_size", "1", "max_store_size", "1"),
		params(" [2001:0db8:85a3:0000:0000:8a2e:0370:7334]:90 ", 1, 0),
		params("node_1.example-1.com:65535", 2, 1),
	} {
		h, err := static.New(p)
		require.NoError(t, err, "%+v", p)
		assert.Equal(t, "static", h.Backend())
		assert.Equal(t, "job", h.RunID())
		n, err := h.NumNodesWaiting(context.Background())
		require.NoError(t, err)
		assert.Zero(t, n)
		ok, err := h.Shutdown(context.Background())
		require.NoError(t, err)
		assert.True(t, ok)
	}
}

func TestCreateHandlerThroughRegistry(t *testing.T) {
	r := registry.New()
	require.NoError(t, r.Register(static.Backend, static.NewCreator()))
	h, err := r.CreateHandler(params(freeEndpoint(t), 1, 0))
	require.NoError(t, err)
	defer h.Shutdown(context.Background())
	info, err := h.NextRendezvous(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 0, info.Rank)
	assert.Equal(t, 1, info.WorldSize)
}

func TestRendezvous(t *testing.T) {
	for _, world := range []int{1, 2, 5} {
		t.Run(fmt.Sprint(world), func(t *testing.T) {
			ep := freeEndpoint(t)
			host, port, err := net.SplitHostPort(ep)
			require.NoError(t, err)
			hs := newNodes(t, ep, world)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			for round := range 3 {
				infos, errs := rendezvous(ctx, hs)
				for rank := range world {
					require.NoError(t, errs[rank], "round %d rank %d", round, rank)
					assert.Equal(t, rank, infos[rank].Rank)
					assert.Equal(t, world, infos[rank].WorldSize)
					assert.Equal(t, host, infos[rank].Bootstrap.Addr)
					assert.Equal(t, port, strconv.Itoa(infos[rank].Bootstrap.Port))
				}
				// The store is shared by the round's participants:
				// every node sets a key and reads every other's.
				var wg sync.WaitGroup
				for rank, info := range infos {
					wg.Go(func() {
						assert.NoError(t, info.Store.Set(ctx, fmt.Sprint("node/", rank), []byte(fmt.Sprint(round, "/", rank))))
						for other := range world {
							v, err := info.Store.Get(ctx, fmt.Sprint("node/", other))
							if assert.NoError(t, err) {
								assert.Equal(t, fmt.Sprint(round, "/", other), string(v))
							}
						}
						_, err := info.Store.Add(ctx, "count", 1)
						assert.NoError(t, err)
					})
				}
				wg.Wait()
				n, err := infos[0].Store.Add(ctx, "count", 0)
				require.NoError(t, err)
				assert.Equal(t, int64(world), n, "each round has its own store")
			}
		})
	}
}

func TestRendezvousRankZeroLast(t *testing.T) {
	// The other nodes start first and keep trying to connect until rank 0
	// listens.
	ep := freeEndpoint(t)
	hs := newNodes(t, ep, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		info registry.Info
		err  error
	}
	results := make(chan result, 2)
	for _, h := range hs[1:] {
		go func() {
			info, err := h.NextRendezvous(ctx)
			results <- result{info, err}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	info0, err := hs[0].NextRendezvous(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, info0.Rank)
	ranks := []int{0}
	for range 2 {
		r := <-results
		require.NoError(t, r.err)
		ranks = append(ranks, r.info.Rank)
	}
	assert.ElementsMatch(t, []int{0, 1, 2}, ranks)
}

func TestRendezvousTimeout(t *testing.T) {
	ep := freeEndpoint(t)
	hs := newNodes(t, ep, 3)
	for _, tc := range []struct {
		name string
		h    registry.Handler
		want string
	}{
		{"rank 0 waits for the others", hs[0], "1 of 3 nodes joined"},
		{"rank 1 joins, the third never comes", hs[1], "2 of 3 nodes joined"},
		{"rank 2 cannot connect", nil, "cannot connect to the store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h == nil {
				var err error
				h, err = static.New(params(freeEndpoint(t), 3, 2))
				require.NoError(t, err)
				defer h.Shutdown(context.Background())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := h.NextRendezvous(ctx)
			require.ErrorIs(t, err, registry.ErrTimeout)
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, time.Since(start), 2*time.Second, "NextRendezvous did not return promptly")
		})
	}
	// A node whose call timed out can join again; the round completes.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	infos, errs := rendezvous(ctx, hs)
	for rank := range hs {
		require.NoError(t, errs[rank])
		assert.Equal(t, rank, infos[rank].Rank)
	}
}

func TestRendezvousCancel(t *testing.T) {
	hs := newNodes(t, freeEndpoint(t), 2)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := hs[0].NextRendezvous(ctx)
	require.ErrorIs(t, err, registry.ErrTimeout)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestJoinTimeoutConfig(t *testing.T) {
	hs := newNodes(t, freeEndpoint(t), 2, "join_timeout", "1")
	start := time.Now()
	_, err := hs[1].NextRendezvous(context.Background())
	require.ErrorIs(t, err, registry.ErrTimeout)
	assert.Contains(t, err.Error(), "join_timeout")
	assert.InDelta(t, time.Second, time.Since(start), float64(time.Second))
}

func TestSetClosed(t *testing.T) {
	hs := newNodes(t, freeEndpoint(t), 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, h := range hs {
		// Rank 0 first: the others connect to its store.
		closed, err := h.IsClosed(ctx)
		require.NoError(t, err)
		assert.False(t, closed)
	}

	// Two nodes wait in the round; the third closes the rendezvous.
	errs := make(chan error, 2)
	for _, h := range hs[:2] {
		go func() {
			_, err := h.NextRendezvous(ctx)
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, hs[2].SetClosed(ctx))
	for range 2 {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, registry.ErrClosed)
		case <-ctx.Done():
			t.Fatal("waiting nodes did not see the rendezvous closed")
		}
	}
	for rank, h := range hs {
		closed, err := h.IsClosed(ctx)
		require.NoError(t, err)
		assert.True(t, closed, "rank %d", rank)
		_, err = h.NextRendezvous(ctx)
		require.ErrorIs(t, err, registry.ErrClosed, "rank %d", rank)
	}
}

func TestDuplicateRank(t *testing.T) {
	t.Run("with a secret", func(t *testing.T) {
		// A second node of rank 1 that proves the job's secret belongs to
		// the job, which is misconfigured: the round fails for every
		// node, at once.
		ep := freeEndpoint(t)
		hs := newNodes(t, ep, 3, "secret", "s3cret")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errs := make(chan error, 2)
		for _, h := range hs[:2] {
			go func() { _, err := h.NextRendezvous(ctx); errs <- err }()
		}
		waitJoined(t, hs[1])
		dup, err := newHandler(ep, 3, 1, "secret", "s3cret")
		require.NoError(t, err)
		defer dup.Shutdown(context.Background())
		start := time.Now()
		_, err = dup.NextRendezvous(ctx)
		require.ErrorIs(t, err, registry.ErrState)
		assert.Contains(t, err.Error(), "two nodes joined with rank 1: one is connected already")
		for i := range 2 {
			err := <-errs
			require.ErrorIs(t, err, registry.ErrState, "node %d", i)
			assert.Contains(t, err.Error(), "round 0 failed: two nodes joined with rank 1: one is connected already", "node %d", i)
		}
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("without a secret", func(t *testing.T) {
		// Without a secret, the second node of rank 1 may be a stranger:
		// it fails alone, and the job's round completes.
		ep := freeEndpoint(t)
		hs := newNodes(t, ep, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errs := make(chan error, 3)
		for _, h := range hs[:2] {
			go func() { _, err := h.NextRendezvous(ctx); errs <- err }()
		}
		waitJoined(t, hs[1])
		dup, err := newHandler(ep, 3, 1)
		require.NoError(t, err)
		defer dup.Shutdown(context.Background())
		_, err = dup.NextRendezvous(ctx)
		require.ErrorIs(t, err, registry.ErrState)
		assert.Contains(t, err.Error(), "refuses this node: two nodes joined with rank 1: one is connected already")
		go func() { _, err := hs[2].NextRendezvous(ctx); errs <- err }()
		for range 3 {
			require.NoError(t, <-errs)
		}
	})
}

// waitJoined waits until h, which runs NextRendezvous, is connected and has
// had time to join.
func waitJoined(t *testing.T, h registry.Handler) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := h.IsClosed(context.Background()) // waits for the connection NextRendezvous makes
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
}

func TestWorldSizeMismatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		worlds []int // by rank
		odd    []int // the ranks whose world differs from rank 0's
		want   string
	}{
		{"rank 0 smaller", []int{2, 3, 3}, []int{1, 2}, "has a world of 3 nodes, rank 0 of 2; start every node with the same --nnodes"},
		{"rank 0 larger", []int{3, 2, 3}, []int{1}, "the node of rank 1 has a world of 2 nodes, rank 0 of 3; start every node with the same --nnodes"},
	} {
		for _, order := range []string{"rank 0 first", "rank 0 last"} {
			t.Run(tc.name+"/"+order, func(t *testing.T) {
				t.Parallel()
				t.Run("with a secret", func(t *testing.T) {
					t.Parallel()
					// A node of the job with another --nnodes: every node
					// fails at once, rank 0 included, and says why.
					errs := mismatch(t, tc.worlds, order, "secret", "s3cret")
					for rank, err := range errs {
						require.ErrorIs(t, err, registry.ErrState, "rank %d", rank)
						assert.Contains(t, err.Error(), tc.want, "rank %d", rank)
					}
				})
				t.Run("without a secret", func(t *testing.T) {
					t.Parallel()
					// The odd node may be a stranger: it fails at once,
					// naming both world sizes; the others wait for the
					// node they miss, and rank 0's timeout says whom it
					// turned away.
					errs := mismatch(t, tc.worlds, order, "join_timeout", "3")
					for _, rank := range tc.odd {
						require.ErrorIs(t, errs[rank], registry.ErrState, "rank %d", rank)
						assert.Contains(t, errs[rank].Error(), "refuses this node: ", "rank %d", rank)
						assert.Contains(t, errs[rank].Error(), tc.want, "rank %d", rank)
					}
					require.ErrorIs(t, errs[0], registry.ErrTimeout)
					assert.Contains(t, errs[0].Error(), "rank 0 turned away: ")
					assert.Contains(t, errs[0].Error(), tc.want)
				})
			})
		}
	}
}

// mismatch runs a round of nodes of the given world sizes, by rank, with
// rank 0 first or last, and returns their errors.
func mismatch(t *testing.T, worlds []int, order string, conf ...string) []error {
	ep := freeEndpoint(t)
	var hs []registry.Handler
	for rank, world := range worlds {
		h, err := newHandler(ep, world, rank, conf...)
		require.NoError(t, err)
		t.Cleanup(func() { h.Shutdown(context.Background()) })
		hs = append(hs, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make([]error, len(hs))
	var wg sync.WaitGroup
	run := func(i int) { wg.Go(func() { _, errs[i] = hs[i].NextRendezvous(ctx) }) }
	if order == "rank 0 first" {
		run(0)
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i < len(hs); i++ {
		run(i)
	}
	if order == "rank 0 last" {
		time.Sleep(300 * time.Millisecond)
		run(0)
	}
	start := time.Now()
	wg.Wait()
	assert.Less(t, time.Since(start), 10*time.Second)
	return errs
}

func TestNodeLeavesDuringRound(t *testing.T) {
	ep := freeEndpoint(t)
	hs := newNodes(t, ep, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Ranks 0 and 1 join; rank 1 leaves (its connection closes, as when
	// its process is killed) before rank 2 comes.
	errs := make(chan error, 2)
	for _, h := range hs[:2] {
		go func() {
			_, err := h.NextRendezvous(ctx)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool {
		n, err := hs[1].NumNodesWaiting(ctx) // always 0; only to let it connect
		return err == nil && n == 0
	}, time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // let rank 1 join
	start := time.Now()
	_, err := hs[1].Shutdown(ctx)
	require.NoError(t, err)
	want := "round 0 failed: the node of rank 1 left during round 0 (its connection to the store closed) before the round completed"
	for range 2 {
		err := <-errs
		require.Error(t, err)
		if !strings.Contains(err.Error(), "shut down") { // rank 1's own call
			require.ErrorIs(t, err, registry.ErrState)
			assert.Contains(t, err.Error(), want)
		}
	}
	assert.Less(t, time.Since(start), static.FailureLinger+2*time.Second, "rank 0 must see the node leave at once")

	// The restarted rank 1 and the late rank 2 get the same outcome.
	again, err := newHandler(ep, 3, 1)
	require.NoError(t, err)
	defer again.Shutdown(context.Background())
	_, errs2 := rendezvous(ctx, []registry.Handler{again, hs[2]})
	for i, err := range errs2 {
		require.ErrorIs(t, err, registry.ErrState, "node %d", i)
		assert.Contains(t, err.Error(), want, "node %d", i)
	}
	assert.Contains(t, errs2[0].Error(), "this node of rank 1 came after the round failed: if it was restarted, restart every node of the job")
}

func TestRestartedNodeAfterRound(t *testing.T) {
	ep := freeEndpoint(t)
	hs := newNodes(t, ep, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, errs := rendezvous(ctx, hs)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	// Rank 1's process is restarted: its connection closes first. Until
	// rank 0 sees it close, the new node is told rank 1 is connected.
	_, err := hs[1].Shutdown(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		again, e := newHandler(ep, 2, 1)
		if e != nil {
			err = e
			return true
		}
		defer again.Shutdown(context.Background())
		_, err = again.NextRendezvous(ctx)
		return err == nil || !strings.Contains(err.Error(), "two nodes joined with rank 1: one is connected already")
	}, 10*time.Second, 20*time.Millisecond)
	require.ErrorIs(t, err, registry.ErrState)
	assert.Contains(t, err.Error(), "round 0 completed without this node: it was restarted after the job began")
}

func TestEndpointNotAStore(t *testing.T) {
	// A service that accepts connections and never answers, as a busy
	// port of another program may.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	h, err := newHandler(ln.Addr().String(), 2, 1)
	require.NoError(t, err)
	defer h.Shutdown(context.Background())
	start := time.Now()
	_, err = h.NextRendezvous(context.Background())
	require.ErrorIs(t, err, registry.ErrConnection)
	assert.Contains(t, err.Error(), "the service at "+ln.Addr().String()+" did not answer the handshake within 5s")
	assert.Contains(t, err.Error(), "either it is not a static rendezvous store")
	assert.Less(t, time.Since(start), 8*time.Second, "the handshake must time out long before join_timeout")
}

func TestRankZeroShutdown(t *testing.T) {
	hs := newNodes(t, freeEndpoint(t), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	infos, errs := rendezvous(ctx, hs)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	// Rank 0 leaves right away: rank 1 has its answer, then the store is
	// gone.
	ok, err := hs[0].Shutdown(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
	err = infos[1].Store.Set(ctx, "k", nil)
	require.ErrorIs(t, err, registry.ErrConnection)
	_, err = hs[1].NextRendezvous(ctx)
	require.ErrorIs(t, err, registry.ErrConnection)

	// Shutdown is idempotent, and later calls fail.
	for range 2 {
		ok, err = hs[0].Shutdown(ctx)
		require.NoError(t, err)
		assert.True(t, ok)
	}
	_, err = hs[0].NextRendezvous(ctx)
	require.ErrorIs(t, err, registry.ErrRendezvous)
	assert.Contains(t, err.Error(), "shut down")
}

func TestShutdownAbortsWaitingCall(t *testing.T) {
	hs := newNodes(t, freeEndpoint(t), 2)
	errs := make(chan error, 1)
	go func() {
		_, err := hs[1].NextRendezvous(context.Background())
		errs <- err
	}()
	time.Sleep(100 * time.Millisecond)
	_, err := hs[1].Shutdown(context.Background())
	require.NoError(t, err)
	select {
	case err := <-errs:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "shut down")
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not end the waiting NextRendezvous")
	}
}

func TestEndpointInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	h, err := static.New(params(ln.Addr().String(), 2, 0))
	require.NoError(t, err)
	defer h.Shutdown(context.Background())
	_, err = h.NextRendezvous(context.Background())
	require.ErrorIs(t, err, registry.ErrConnection)
	assert.Contains(t, err.Error(), "rank 0 cannot host the store")
}

func TestManyNodes(t *testing.T) {
	const world = 32
	hs := newNodes(t, freeEndpoint(t), world)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for range 3 {
		infos, errs := rendezvous(ctx, hs)
		for rank := range world {
			require.NoError(t, errs[rank])
			assert.Equal(t, rank, infos[rank].Rank)
			assert.Equal(t, world, infos[rank].WorldSize)
		}
	}
}

func TestSecretSources(t *testing.T) {
	ep := "127.0.0.1:29500"
	t.Setenv(static.SecretEnv, "from the environment")
	_, err := newHandler(ep, 2, 0, "secret", "from the config")
	require.ErrorContains(t, err, `config key "secret" and environment variable STATIC_RENDEZVOUS_SECRET are both set, to different values`)
	assert.NotContains(t, err.Error(), "from the", "the error must not show the secrets")
	h, err := newHandler(ep, 2, 0, "secret", "from the environment")
	require.NoError(t, err)
	h.Shutdown(context.Background())
}

func TestSecretOnOneSideOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, secrets := range map[string][2]string{
		"node only":   {"", "s3cret"},
		"rank 0 only": {"s3cret", ""},
	} {
		t.Run(name, func(t *testing.T) {
			ep := freeEndpoint(t)
			var hs []registry.Handler
			for rank, secret := range secrets {
				var conf []string
				if secret != "" {
					conf = []string{"secret", secret}
				}
				h, err := newHandler(ep, 2, rank, append(conf, "join_timeout", "2")...)
				require.NoError(t, err)
				defer h.Shutdown(context.Background())
				hs = append(hs, h)
			}
			_, errs := rendezvous(ctx, hs)
			require.ErrorIs(t, errs[1], registry.ErrState)
			if secrets[0] == "" {
				assert.Contains(t, errs[1].Error(), "the node of rank 1 has a secret and rank 0's store has none; give every node the same secret (config key secret or environment variable STATIC_RENDEZVOUS_SECRET)")
			} else {
				assert.Contains(t, errs[1].Error(), "rank 0's store requires the job's secret and the node of rank 1 has none")
			}
			require.ErrorIs(t, errs[0], registry.ErrTimeout, "rank 0 waits for the node it misses")
		})
	}
}
