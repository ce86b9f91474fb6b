package etcd_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkRendezvous measures, on the embedded etcd, the time from the
// last node joining a round to every node holding its rank. Each
// iteration is one re-rendezvous of a job of n nodes (MinNodes = MaxNodes =
// n): all nodes but one call NextRendezvous and wait; then the last one
// calls it, and the clock runs until every call has returned. It reports
// the median and 99th percentile over the iterations (run with
// -benchtime=100x for a meaningful p99), and the time the first round took
// with all n nodes joining at once.
func BenchmarkRendezvous(b *testing.B) {
	for _, n := range []int{8, 32, 64} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) { benchRendezvous(b, n) })
	}
}

func benchRendezvous(b *testing.B, n int) {
	srv := startServer(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	hs := newNodes(b, params(srv.Endpoint(), fmt.Sprintf("bench-%d", n), n, n, nil), n)
	start := time.Now()
	for i, o := range rendezvous(ctx, hs) {
		require.NoError(b, o.err, "node %d", i)
	}
	first := time.Since(start)

	last := hs[n-1]
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
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
			time.Sleep(time.Millisecond)
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
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
	b.ReportMetric(ms(first), "first-round-ms")
	b.ReportMetric(0, "ns/op")
}
