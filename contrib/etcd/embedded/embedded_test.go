package embedded_test

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/go-entrypoints/entrypoints/contrib/etcd/embedded"
)

func newClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStartRestartKeepsDataAndEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := embedded.Start(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	assert.Equal(t, dir, srv.Dir())
	endpoint := srv.Endpoint()
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, endpoint)

	c := newClient(t, endpoint)
	_, err = c.Put(ctx, "k", "v")
	require.NoError(t, err)

	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close(), "second Close")
	down, cancelDown := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = c.Get(down, "k")
	cancelDown()
	assert.Error(t, err, "a stopped server must not answer")

	require.NoError(t, srv.Restart(ctx))
	assert.Equal(t, endpoint, srv.Endpoint())
	resp, err := c.Get(ctx, "k")
	require.NoError(t, err, "the old client reconnects by itself")
	require.Len(t, resp.Kvs, 1)
	assert.Equal(t, "v", string(resp.Kvs[0].Value))
}

func TestStartFailsOnDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv, err := embedded.Start(ctx, t.TempDir())
	if err == nil {
		// The server may have become ready before the context was looked at.
		srv.Close()
		t.Skip("server was ready before the cancelled context was noticed")
	}
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRestartWaitsForItsPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := embedded.Start(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	require.NoError(t, srv.Close())

	// Another socket holds the client port for a while: Restart waits
	// for it rather than failing with "address already in use".
	held, err := net.Listen("tcp", srv.Endpoint())
	require.NoError(t, err)
	go func() {
		time.Sleep(300 * time.Millisecond)
		held.Close()
	}()
	require.NoError(t, srv.Restart(ctx))
	c := newClient(t, srv.Endpoint())
	_, err = c.Put(ctx, "k", "v")
	require.NoError(t, err)

	// A port held until the context ends is reported as such.
	require.NoError(t, srv.Close())
	l, err := net.Listen("tcp", srv.Endpoint())
	require.NoError(t, err)
	defer l.Close()
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	err = srv.Restart(short)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
}

func TestServersDoNotShareAPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := map[string]bool{}
	for range 4 {
		srv, err := embedded.Start(ctx, t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { srv.Close() })
		assert.False(t, seen[srv.Endpoint()], "endpoint %s given twice", srv.Endpoint())
		seen[srv.Endpoint()] = true
	}
}
