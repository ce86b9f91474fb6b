package etcd_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"

	"github.com/go-entrypoints/entrypoints/contrib/etcd"
	"github.com/go-entrypoints/entrypoints/contrib/etcd/embedded"
	"github.com/go-entrypoints/entrypoints/registry"
)

// Two nodes of one job meet through etcd; here an embedded server stands
// in for the cluster.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "etcd")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	srv, err := embedded.Start(ctx, dir)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	params := registry.Parameters{
		Backend:  "etcd",
		Endpoint: srv.Endpoint(),
		RunID:    "example",
		MinNodes: 2,
		MaxNodes: 2,
		Config:   map[string]string{"last_call_timeout": "1"},
	}
	var (
		mu    sync.Mutex
		ranks []string
		wg    sync.WaitGroup
	)
	for range 2 {
		wg.Go(func() {
			h, err := etcd.New(params)
			if err != nil {
				log.Fatal(err)
			}
			defer h.Shutdown(ctx)
			info, err := h.NextRendezvous(ctx)
			if err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			ranks = append(ranks, fmt.Sprintf("rank %d of %d", info.Rank, info.WorldSize))
		})
	}
	wg.Wait()
	slices.Sort(ranks)
	fmt.Println(ranks)
	// Output: [rank 0 of 2 rank 1 of 2]
}
