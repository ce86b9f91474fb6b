package static_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// BenchmarkRendezvous measures rounds of n nodes in this process, on
// loopback: the time from the moment every node calls NextRendezvous to
// the moment every node holds its rank. It reports the median and the
// 99th percentile over the b.N rounds.
func BenchmarkRendezvous(b *testing.B) {
	for _, n := range []int{8, 32, 64} {
		b.Run(fmt.Sprint("nodes=", n), func(b *testing.B) {
			hs := make([]registry.Handler, n)
			ep := freeEndpoint(b)
			for rank := range n {
				h, err := newHandler(ep, n, rank)
				if err != nil {
					b.Fatal(err)
				}
				hs[rank] = h
			}
			defer func() {
				for i := n - 1; i >= 0; i-- {
					hs[i].Shutdown(context.Background())
				}
			}()
			ctx := context.Background()
			// A first round connects every node to rank 0's store.
			if _, errs := rendezvous(ctx, hs); errs[0] != nil {
				b.Fatal(errs[0])
			}
			var took []time.Duration
			b.ResetTimer()
			for b.Loop() {
				start := make(chan struct{})
				var wg sync.WaitGroup
				errs := make([]error, n)
				for i, h := range hs {
					wg.Go(func() {
						<-start
						_, errs[i] = h.NextRendezvous(ctx)
					})
				}
				t0 := time.Now()
				close(start)
				wg.Wait()
				took = append(took, time.Since(t0))
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			slices.Sort(took)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
			b.ReportMetric(ms(took[(len(took)*99)/100]), "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
