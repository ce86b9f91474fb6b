package etcd_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/contrib/etcd"
	"github.com/go-entrypoints/entrypoints/registry"
)

// A node whose --nnodes disagrees with the run's fails at once, naming
// both values, whichever node comes first; the first goes on waiting.
func TestNNodesDisagreementFailsTheLaterNode(t *testing.T) {
	srv := startServer(t)
	for _, order := range [][2][2]int{{{3, 3}, {2, 2}}, {{2, 2}, {3, 3}}} {
		first, second := order[0], order[1]
		run := "nnodes-" + itoa(first[0]) + "-then-" + itoa(second[0])
		t.Run(run, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a := newNodes(t, params(srv.Endpoint(), run, first[0], first[1], nil), 1)[0]
			b := newNodes(t, params(srv.Endpoint(), run, second[0], second[1], nil), 1)[0]
			aDone := make(chan error, 1)
			actx, acancel := context.WithCancel(ctx)
			defer acancel()
			go func() { _, err := a.NextRendezvous(actx); aDone <- err }()
			require.Eventually(t, func() bool { return joined(t, srv, run, 0) == 1 }, 10*time.Second, 10*time.Millisecond)

			start := time.Now()
			_, err := b.NextRendezvous(ctx)
			require.ErrorIs(t, err, registry.ErrState)
			assert.Contains(t, err.Error(), "this node has --nnodes "+itoa(second[0])+":"+itoa(second[1]))
			assert.Contains(t, err.Error(), "other nodes have "+itoa(first[0])+":"+itoa(first[1]))
			assert.Less(t, time.Since(start), 5*time.Second, "refused at once, not after join_timeout")
			select {
			case err := <-aDone:
				t.Fatalf("the first node stopped waiting: %v", err)
			default:
			}
			acancel()
			assert.ErrorIs(t, <-aDone, registry.ErrTimeout)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A node arriving at a full round waits for the next one without a join
// timeout; it is admitted when a place frees up, or told to exit
// gracefully when the run is closed.
func TestNodeBehindAFullRound(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := params(srv.Endpoint(), "full", 2, 2, map[string]string{"join_timeout": "1"})
	hs := newNodes(t, p, 4)
	requireRound(t, rendezvous(ctx, hs[:2]), 2)

	extra := make(chan outcome, 2)
	for _, h := range hs[2:] {
		go func() {
			info, err := h.NextRendezvous(ctx)
			extra <- outcome{info, err}
		}()
	}
	require.Eventually(t, func() bool { return joined(t, srv, "full", 1) == 2 }, 10*time.Second, 10*time.Millisecond)
	// Two nodes behind a full round of two: the round after has enough
	// nodes, but must not form while this one runs, and join_timeout
	// (1s) does not apply.
	time.Sleep(2500 * time.Millisecond)
	select {
	case o := <-extra:
		t.Fatalf("a node behind a full round stopped waiting: %+v", o)
	default:
	}
	n, err := hs[0].NumNodesWaiting(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nodes behind a full round are not counted, as PyTorch does not count redundant nodes")

	// The running nodes leave: the waiting ones form the next round.
	for _, h := range hs[:2] {
		_, err := h.Shutdown(ctx)
		require.NoError(t, err)
	}
	requireRound(t, []outcome{<-extra, <-extra}, 2)

	// A fifth node behind the new full round is told to exit gracefully
	// when the run closes.
	late := newNodes(t, p, 1)[0]
	lateDone := make(chan error, 1)
	go func() { _, err := late.NextRendezvous(ctx); lateDone <- err }()
	require.Eventually(t, func() bool { return joined(t, srv, "full", 2) == 1 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, hs[2].SetClosed(ctx))
	err = <-lateDone
	require.ErrorIs(t, err, registry.ErrGracefulExit)
	assert.NotErrorIs(t, err, registry.ErrTimeout)
}

// A round whose join_timeout passes while etcd is down says so.
func TestJoinTimeoutNamesUnreachableEtcd(t *testing.T) {
	srv := startServer(t)
	h := newNodes(t, params(srv.Endpoint(), "down-timeout", 2, 2, map[string]string{"join_timeout": "3"}), 1)[0]
	done := make(chan error, 1)
	go func() { _, err := h.NextRendezvous(context.Background()); done <- err }()
	require.Eventually(t, func() bool { return joined(t, srv, "down-timeout", 0) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, srv.Close())
	err := <-done
	require.ErrorIs(t, err, registry.ErrTimeout)
	assert.Contains(t, err.Error(), "join_timeout (3s): etcd at http://"+srv.Endpoint()+" is unreachable")
	assert.NotContains(t, err.Error(), "start more nodes")
}

// An endpoint that answers at once, but is no etcd, is not reported as a
// timeout.
func TestNotEtcdIsNoTimeout(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true) // as gRPC speaks it
	srv.Start()
	defer srv.Close()
	h := newNodes(t, params(strings.TrimPrefix(srv.URL, "http://"), "not-etcd", 1, 1, nil), 1)[0]
	start := time.Now()
	_, err := h.NextRendezvous(context.Background())
	require.ErrorIs(t, err, registry.ErrConnection)
	assert.NotErrorIs(t, err, registry.ErrTimeout)
	assert.Contains(t, err.Error(), "404")
	assert.Contains(t, err.Error(), "check that the endpoint is an etcd server's client URL")
	assert.NotContains(t, err.Error(), "did not answer")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestPyTorchKeyNames(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	p := func(conf map[string]string) registry.Parameters {
		return registry.Parameters{Backend: etcd.Backend, Endpoint: "https://localhost:2379", RunID: "aliases", MinNodes: 1, MaxNodes: 1, Config: conf}
	}
	// etcd-v2's TLS keys, etcd's (v1) join timeout.
	h, err := etcd.New(p(map[string]string{"protocol": "https", "ca_cert": cert, "ssl_cert": cert, "ssl_cert_key": key, "timeout": "60"}))
	require.NoError(t, err)
	_, err = h.Shutdown(context.Background())
	require.NoError(t, err)

	missing := filepath.Join(dir, "missing.pem")
	_, err = etcd.New(p(map[string]string{"protocol": "https", "ca_cert": missing}))
	assert.ErrorIs(t, err, os.ErrNotExist, "ca_cert is read as cacert")
	_, err = etcd.New(p(map[string]string{"protocol": "https", "ssl_cert": cert}))
	assert.ErrorContains(t, err, `"cert" and "key" go together`, "ssl_cert is cert")
	_, err = etcd.New(p(map[string]string{"protocol": "https", "cacert": cert, "ca_cert": key}))
	assert.ErrorContains(t, err, `config options "cacert" (`)
	assert.ErrorContains(t, err, `differ, but are the same setting`)
	_, err = etcd.New(p(map[string]string{"timeout": "0"}))
	assert.ErrorContains(t, err, `"join_timeout" is "0"`, "timeout is join_timeout")
}
