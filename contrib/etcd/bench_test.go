package etcd_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/contrib/etcd/embedded"
)

// BenchmarkRendezvous measures rounds of n nodes (MinNodes = MaxNodes = n)
// on the embedded etcd, and etcd's traffic, read from etcd's own metrics.
//
// First, all n nodes join at once (a job starting); it reports the time
// that took (first-round-ms) and what etcd received and sent per node:
// gRPC messages (first-req/node) and bytes (first-bytes/node).
//
// Then each iteration is one re-rendezvous: all nodes but one call
// NextRendezvous and wait; then the last one calls it, and the clock runs
// until every call has returned. It reports the median and 99th
// percentile of that time over the iterations (p50-ms, p99-ms; run with
// -benchtime=100x for a meaningful p99), and etcd's messages and bytes per
// node and round over the whole iteration (req/node, bytes/node; the last
// node's polling of NumNodesWaiting, every 10ms, is included).
//
//	go test -run '^$' -bench Rendezvous -benchtime 20x ./contrib/etcd
//
// Every node is a handler with its own etcd client in this process, as
// torchrun --standalone runs them.
func BenchmarkRendezvous(b *testing.B) {
	for _, n := range []int{8, 64, 256, 1024} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) { benchRendezvous(b, n) })
	}
}

func benchRendezvous(b *testing.B, n int) {
	srv := startServer(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	// PyTorch's keep-alive settings and timeouts, as torchrun uses them,
	// rather than the tests' short ones: a lease renewed every second by
	// each of a thousand nodes is load of its own.
	hs := newNodes(b, params(srv.Endpoint(), fmt.Sprintf("bench-%d", n), n, n, map[string]string{
		"keep_alive_interval": "5", "keep_alive_max_attempt": "3", "read_timeout": "60", "join_timeout": "600",
	}), n)
	before := readTraffic(b, srv)
	start := time.Now()
	for i, o := range rendezvous(ctx, hs) {
		require.NoError(b, o.err, "node %d", i)
	}
	first := time.Since(start)
	firstTraffic := readTraffic(b, srv).minus(before)

	last := hs[n-1]
	lat := make([]time.Duration, 0, b.N)
	var rounds traffic
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		before := readTraffic(b, srv)
		ends := make([]time.Time, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, h := range hs[:n-1] {
			wg.Go(func() {
				_, errs[i] = h.NextRendezvous(ctx)
				ends[i] = time.Now()
			})
		}
		for {
			w, err := last.NumNodesWaiting(ctx)
			require.NoError(b, err)
			if w == n-1 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.StartTimer()
		t0 := time.Now()
		_, errs[n-1] = last.NextRendezvous(ctx)
		ends[n-1] = time.Now()
		wg.Wait()
		b.StopTimer()
		for i, err := range errs {
			require.NoError(b, err, "node %d", i)
		}
		lat = append(lat, slices.MaxFunc(ends, time.Time.Compare).Sub(t0))
		rounds = rounds.plus(readTraffic(b, srv).minus(before))
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	perNode := func(v float64) float64 { return v / float64(n) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
	b.ReportMetric(perNode(rounds.requests)/float64(b.N), "req/node")
	b.ReportMetric(perNode(rounds.bytesSent)/float64(b.N), "bytes/node")
	b.ReportMetric(ms(first), "first-round-ms")
	b.ReportMetric(perNode(firstTraffic.requests), "first-req/node")
	b.ReportMetric(perNode(firstTraffic.bytesSent), "first-bytes/node")
	b.ReportMetric(0, "ns/op")
}

// traffic is what etcd's metrics count: gRPC messages it received
// (requests, and messages on streams: watch creations, keep-alives) and
// bytes it sent to clients.
type traffic struct {
	requests, bytesSent float64
}

func (t traffic) minus(u traffic) traffic {
	return traffic{t.requests - u.requests, t.bytesSent - u.bytesSent}
}

func (t traffic) plus(u traffic) traffic {
	return traffic{t.requests + u.requests, t.bytesSent + u.bytesSent}
}

// readTraffic reads srv's metrics endpoint. The counters are the
// process's, shared by every embedded server in it: use differences.
func readTraffic(tb testing.TB, srv *embedded.Server) traffic {
	tb.Helper()
	resp, err := http.Get("http://" + srv.Endpoint() + "/metrics")
	require.NoError(tb, err)
	defer resp.Body.Close()
	var t traffic
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		switch name {
		case "etcd_network_client_grpc_sent_bytes_total", "grpc_server_msg_received_total":
		default:
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		require.NoError(tb, err, "metrics line %q", line)
		if name == "grpc_server_msg_received_total" {
			t.requests += v
		} else {
			t.bytesSent += v
		}
	}
	require.NoError(tb, sc.Err())
	return t
}
