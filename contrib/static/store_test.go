package static

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

// startStore starts a store on a free loopback port and a client of it.
func startStore(t *testing.T) (*server, *client) {
	t.Helper()
	srv, err := listen("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close(context.Background()) })
	c, err := dial(context.Background(), srv.Addr().String())
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
	c2, err := dial(ctx, srv.Addr().String())
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
		c, err := dial(context.Background(), srv.Addr().String())
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
			// The server drops a peer that does not speak the
			// protocol (a cut frame just leaves it waiting, until
			// the peer goes away).
			if name != "cut mid-body" {
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = conn.Read(make([]byte, 1))
				require.Error(t, err, "the server should close the connection")
				// A timeout would mean the server kept the connection.
				var ne net.Error
				assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept a connection that does not speak the protocol")
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

func TestWireRoundTrip(t *testing.T) {
	reqs := []request{
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
