package static

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

// testHello introduces the clients of the store tests, which accepts any.
var testHello = hello{rank: 1, world: 2, runID: "test"}

// startStore starts a store on a free loopback port and a client of it.
func startStore(t *testing.T) (*server, *client) {
	t.Helper()
	srv, err := listen("127.0.0.1:0", serverConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close(context.Background()) })
	c, err := dial(context.Background(), srv.Addr().String(), testHello, nil)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return srv, c
}

func TestStoreSetGetAdd(t *testing.T) {
	srv, c := startStore(t)
	ctx := context.Background()
	for name, st := range map[string]registry.Store{"remote": c, "local": srv.local()} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, st.Set(ctx, name+"/k", []byte("v1")))
			v, err := st.Get(ctx, name+"/k")
			require.NoError(t, err)
			assert.Equal(t, []byte("v1"), v)

			require.NoError(t, st.Set(ctx, name+"/empty", nil))
			v, err = st.Get(ctx, name+"/empty")
			require.NoError(t, err)
			assert.Empty(t, v)

			n, err := st.Add(ctx, name+"/n", 5)
			require.NoError(t, err)
			assert.Equal(t, int64(5), n)
			n, err = st.Add(ctx, name+"/n", -7)
			require.NoError(t, err)
			assert.Equal(t, int64(-2), n)
			v, err = st.Get(ctx, name+"/n")
			require.NoError(t, err)
			assert.Equal(t, "-2", string(v), "Add keeps decimal text, as PyTorch's TCPStore does")

			_, err = st.Add(ctx, name+"/k", 1)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "not an integer")
		})
	}
	// Both views see the same data.
	v, err := srv.local().Get(ctx, "remote/k")
	require.NoError(t, err)
	assert.Equal(t, []byte("v1"), v)
}

func TestStoreGetWaitsUntilSet(t *testing.T) {
	srv, c := startStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan []byte, 1)
	go func() {
		v, err := c.Get(ctx, "later")
		assert.NoError(t, err)
		got <- v
	}()
	select {
	case <-got:
		t.Fatal("Get returned before the key was set")
	case <-time.After(100 * time.Millisecond):
	}
	// A second client sets it.
	c2, err := dial(ctx, srv.Addr().String(), testHello, nil)
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, c2.Set(ctx, "later", []byte("now")))
	select {
	case v := <-got:
		assert.Equal(t, []byte("now"), v)
	case <-ctx.Done():
		t.Fatal("Get did not return after the key was set")
	}
}

func TestStoreGetCancelled(t *testing.T) {
	srv, c := startStore(t)
	for name, st := range map[string]registry.Store{"remote": c, "local": srv.local()} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := st.Get(ctx, "never")
			require.ErrorIs(t, err, registry.ErrTimeout)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
	// The server forgets abandoned Gets, remote and local.
	require.Eventually(t, func() bool { return srv.blocked.Load() == 0 }, 2*time.Second, 5*time.Millisecond)
	require.NoError(t, c.Set(context.Background(), "never", []byte("x")))
	v, err := c.Get(context.Background(), "never")
	require.NoError(t, err)
	assert.Equal(t, []byte("x"), v)
}

func TestStoreConcurrentAdds(t *testing.T) {
	srv, _ := startStore(t)
	const clients, adds = 8, 50
	var wg sync.WaitGroup
	for range clients {
		c, err := dial(context.Background(), srv.Addr().String(), testHello, nil)
		require.NoError(t, err)
		defer c.Close()
		wg.Go(func() {
			for range adds {
				_, err := c.Add(context.Background(), "count", 1)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	n, err := srv.local().Add(context.Background(), "count", 0)
	require.NoError(t, err)
	assert.Equal(t, int64(clients*adds), n)
}

func TestStoreCloseFailsWaitingCalls(t *testing.T) {
	srv, c := startStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() {
		_, err := c.Get(ctx, "never")
		errs <- err
	}()
	go func() {
		_, err := srv.local().Get(ctx, "never")
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, srv.Close(ctx))
	for range 2 {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, registry.ErrConnection)
		case <-ctx.Done():
			t.Fatal("a waiting Get did not fail when the store closed")
		}
	}
	// After the close, calls fail with the connection error too.
	err := c.Set(ctx, "k", nil)
	require.ErrorIs(t, err, registry.ErrConnection)
	_, err = srv.local().Add(ctx, "k", 1)
	require.ErrorIs(t, err, registry.ErrConnection)
	require.NoError(t, srv.Close(ctx), "Close twice")
}

func TestStoreSurvivesHostilePeers(t *testing.T) {
	srv, c := startStore(t)
	addr := srv.Addr().String()
	cases := map[string][]byte{
		"http":         []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"huge frame":   binary.BigEndian.AppendUint32(nil, maxFrame+1),
		"unknown op":   append(binary.BigEndian.AppendUint32(nil, 9), append([]byte{99}, make([]byte, 8)...)...),
		"short key":    append(binary.BigEndian.AppendUint32(nil, 13), append([]byte{byte(opGet)}, append(make([]byte, 8), 0xff, 0xff, 0xff, 0xff)...)...),
		"trailing":     append(binary.BigEndian.AppendUint32(nil, 10), append([]byte{byte(opCancel)}, make([]byte, 9)...)...),
		"empty":        binary.BigEndian.AppendUint32(nil, 0),
		"cut mid-body": binary.BigEndian.AppendUint32(nil, 100),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			_, err = conn.Write(payload)
			require.NoError(t, err)
			if name == "cut mid-body" {
				conn.Close()
			}
			// The server tells a peer that does not speak the protocol
			// so, and closes the connection (a cut frame just leaves
			// it waiting, until the peer goes away).
			if name != "cut mid-body" {
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				answer, err := io.ReadAll(conn)
				var ne net.Error
				require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept a connection that does not speak the protocol")
				h, err := decodeHello(answer[4:])
				require.NoError(t, err)
				assert.Contains(t, h.refused, "malformed hello: this is a static rendezvous store, and the peer does not speak its protocol")
			}
			// Well-behaved clients are not affected.
			n, err := c.Add(context.Background(), "alive/"+name, 1)
			require.NoError(t, err)
			assert.Equal(t, int64(1), n)
		})
	}
}

func TestStoreRejectsOversizedValue(t *testing.T) {
	_, c := startStore(t)
	err := c.Set(context.Background(), "big", make([]byte, maxFrame))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "limit")
	// The connection is still usable.
	require.NoError(t, c.Set(context.Background(), "small", []byte(strconv.Itoa(1))))
}

func TestStoreSetIfAbsent(t *testing.T) {
	srv, _ := startStore(t)
	v, set := srv.setIfAbsent("k", []byte("first"))
	assert.True(t, set)
	assert.Equal(t, "first", string(v))
	v, set = srv.setIfAbsent("k", []byte("second"))
	assert.False(t, set)
	assert.Equal(t, "first", string(v), "the first value is kept")
}

func TestHandshake(t *testing.T) {
	var mu sync.Mutex
	var refusals []string
	var left []int
	srv, err := listen("127.0.0.1:0", serverConfig{
		runID: "job", world: 3,
		conflict: func(_ *server, reason string) { mu.Lock(); refusals = append(refusals, reason); mu.Unlock() },
		left:     func(_ *server, rank int) { mu.Lock(); left = append(left, rank); mu.Unlock() },
	})
	require.NoError(t, err)
	defer srv.Close(context.Background())
	addr := srv.Addr().String()
	ctx := context.Background()

	_, err = dial(ctx, addr, hello{rank: 1, world: 2, runID: "job"}, nil)
	require.ErrorIs(t, err, registry.ErrState)
	assert.Contains(t, err.Error(), "the node of rank 1 has a world of 2 nodes, rank 0 of 3; start every node with the same --nnodes")
	_, err = dial(ctx, addr, hello{rank: 2, world: 3, runID: "other"}, nil)
	require.ErrorIs(t, err, registry.ErrState)
	assert.Contains(t, err.Error(), `the node of rank 2 is of run "other", rank 0 hosts run "job"`)
	mu.Lock()
	assert.Empty(t, refusals, "without a secret, a node of another world size may be a stranger: it fails alone")
	mu.Unlock()
	assert.Len(t, srv.recentRefusals(), 2, "rank 0 remembers both, to explain a round that times out")

	c, err := dial(ctx, addr, hello{rank: 2, world: 3, runID: "job"}, nil)
	require.NoError(t, err)
	c.Close()
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return slices.Equal(left, []int{2}) }, 5*time.Second, 5*time.Millisecond)
	// Connections the store closes itself are not a node leaving.
	c, err = dial(ctx, addr, hello{rank: 1, world: 3, runID: "job"}, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, srv.Close(ctx))
	mu.Lock()
	assert.Equal(t, []int{2}, left)
	mu.Unlock()
}

func TestHandshakeWithAPeerThatIsNotAStore(t *testing.T) {
	ctx := context.Background()
	for name, answer := range map[string][]byte{
		"silent": nil,
		"http":   []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"closes": {},
		"other version": func() []byte {
			return hello{version: protocolVersion + 1}.encode()
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				switch {
				case answer == nil:
					time.Sleep(handshakeTimeout + 2*time.Second)
				case len(answer) > 0:
					conn.Write(answer)
					time.Sleep(handshakeTimeout + 2*time.Second)
				}
			}()
			start := time.Now()
			_, err = dialRetry(ctx, ln.Addr().String(), testHello, nil)
			require.ErrorIs(t, err, registry.ErrConnection)
			if name == "other version" {
				assert.Contains(t, err.Error(), fmt.Sprintf("speaks protocol version %d, this node version %d", protocolVersion+1, protocolVersion))
			} else {
				assert.Contains(t, err.Error(), ln.Addr().String())
				assert.Contains(t, err.Error(), "static rendezvous store")
			}
			assert.Less(t, time.Since(start), handshakeTimeout+2*time.Second, "not tried again, nor for longer than the handshake timeout")
		})
	}
}

func TestWireRoundTrip(t *testing.T) {
	hs := []hello{
		{version: protocolVersion, rank: 3, world: 8, runID: "job", nonce: []byte("n"), secret: true},
		{version: protocolVersion, refused: "no", retry: true},
		{version: protocolVersion, proof: []byte("p"), maxValue: 1 << 20},
	}
	for _, h := range hs {
		got, err := decodeHello(h.encode()[4:])
		require.NoError(t, err)
		assert.Equal(t, h, got)
	}
	_, err := decodeHello([]byte("GET / HTTP/1.1"))
	require.ErrorIs(t, err, errMalformed)
	reqs := []request{
		{op: opJoin, id: 6, key: "static/job/round/0/"},
		{op: opAck, id: 7, key: "static/job/round/0/"},
		{op: opClose, id: 8},
		{op: opSet, id: 1, key: "a", value: []byte("b")},
		{op: opSet, id: 2, key: "", value: []byte{}},
		{op: opGet, id: 3, key: "k/é"},
		{op: opAdd, id: 4, key: "n", delta: -9},
		{op: opCancel, id: 5},
	}
	for _, r := range reqs {
		got, err := decodeRequest(r.encode()[4:])
		require.NoError(t, err)
		if len(r.value) == 0 {
			r.value, got.value = nil, nil
		}
		assert.Equal(t, r, got)
	}
	resps := []response{
		{id: 1, value: []byte("v"), n: 3},
		{id: 2, status: statusClosed, message: "closed"},
		{id: 3, status: statusError, message: "bad"},
	}
	for _, r := range resps {
		got, err := decodeResponse(r.encode()[4:])
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}
}

func TestNodeLeavesBeforeItAcks(t *testing.T) {
	// Rank 0 of a world of two, and a node of rank 1 that joins, sees the
	// round complete, and leaves without saying so: the other nodes (here
	// none) have their answer, rank 0 fails with a connection error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ep := ln.Addr().String()
	require.NoError(t, ln.Close())
	h, err := New(registry.Parameters{Backend: Backend, Endpoint: ep, RunID: "job", MinNodes: 2, MaxNodes: 2, Config: map[string]string{"rank": "0"}})
	require.NoError(t, err)
	defer h.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 1)
	go func() {
		_, err := h.NextRendezvous(ctx)
		errs <- err
	}()
	var c *client
	require.Eventually(t, func() bool {
		c, err = dial(ctx, ep, hello{rank: 1, world: 2, runID: "job"}, nil)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	round := "static/job/round/0/"
	require.Eventually(t, func() bool {
		n, err := c.Add(ctx, round+"joined", 0)
		return err == nil && n == 1
	}, 10*time.Second, 5*time.Millisecond, "rank 0 never joined")
	res, _, err := c.Join(ctx, round)
	require.NoError(t, err)
	require.Equal(t, joinCounted, res)
	v, err := c.Get(ctx, round+"outcome")
	require.NoError(t, err)
	require.Equal(t, outcomeOK, string(v), "the last node to join completes the round")
	c.Close()
	select {
	case err := <-errs:
		require.ErrorIs(t, err, registry.ErrConnection)
		assert.Contains(t, err.Error(), "the node of rank 1 left during round 0 (its connection to the store closed) before it saw the round complete")
	case <-ctx.Done():
		t.Fatal("rank 0 did not fail when the node left")
	}
}

// BenchmarkHandshake measures connecting to the store, handshake
// included, without a secret and with one (the HMAC challenge and
// response), side by side.
func BenchmarkHandshake(b *testing.B) {
	for name, secret := range map[string][]byte{"no secret": nil, "secret": []byte("s3cret")} {
		b.Run(name, func(b *testing.B) {
			srv, err := listen("127.0.0.1:0", serverConfig{prefix: "static/job/", runID: "job", world: 2, secret: secret})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close(context.Background())
			me := hello{rank: 1, world: 2, runID: "job"}
			for b.Loop() {
				c, err := dial(context.Background(), srv.Addr().String(), me, secret)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
				// The store frees rank 1's place when it sees the
				// connection close.
				for {
					srv.mu.Lock()
					gone := srv.members[1] == nil
					srv.mu.Unlock()
					if gone {
						break
					}
					time.Sleep(10 * time.Microsecond)
				}
			}
		})
	}
}
