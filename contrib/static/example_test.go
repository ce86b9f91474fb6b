package static_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"sort"
	"strconv"
	"sync"

	"github.com/go-entrypoints/entrypoints/contrib/static"
	"github.com/go-entrypoints/entrypoints/registry"
)

// A job of two nodes. In real use each node runs on its own machine with
// the same endpoint, the address of the node of rank 0, and its own rank.
func Example() {
	// A free port for the example; a real job names a fixed one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	endpoint := ln.Addr().String()
	ln.Close()

	reg := registry.New()
	if err := reg.Register(static.Backend, static.NewCreator()); err != nil {
		log.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lines []string
		wg    sync.WaitGroup
	)
	for rank := range 2 {
		wg.Go(func() {
			h, err := reg.CreateHandler(registry.Parameters{
				Backend:  "static",
				Endpoint: endpoint,
				RunID:    "example",
				MinNodes: 2,
				MaxNodes: 2,
				Config:   map[string]string{"rank": strconv.Itoa(rank)},
			})
			if err != nil {
				log.Fatal(err)
			}
			defer h.Shutdown(context.Background())
			info, err := h.NextRendezvous(context.Background())
			if err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			lines = append(lines, fmt.Sprintf("rank %d of %d, bootstrap is the endpoint: %t",
				info.Rank, info.WorldSize, net.JoinHostPort(info.Bootstrap.Addr, strconv.Itoa(info.Bootstrap.Port)) == endpoint))
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// rank 0 of 2, bootstrap is the endpoint: true
	// rank 1 of 2, bootstrap is the endpoint: true
}
