package discovery_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
	"github.com/go-entrypoints/entrypoints/registry"
)

// BenchmarkFind times Find over synthetic workspaces of modules two folders
// deep where every module, or one module in eight, declares 3 entry points
// in 2 groups; Find is asked for one group, 2 entry points per declaring
// module. Besides ns/op it reports the time per module. go run ./discovery/internal/cmd/findbench compares the
// same with the I/O floor and with Python, first calls in new processes
// included.
func BenchmarkFind(b *testing.B) {
	// The testing package runs each sub-benchmark more than once: write
	// each workspace once, as writing 10,000 modules takes seconds.
	root := b.TempDir()
	workspaces := make(map[synthws.Shape]*synthws.Workspace)
	workspace := func(b *testing.B, s synthws.Shape) *synthws.Workspace {
		if ws := workspaces[s]; ws != nil {
			return ws
		}
		dir := filepath.Join(root, fmt.Sprintf("%d-%d", s.Modules, s.Every))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		ws, err := synthws.Write(dir, s)
		if err != nil {
			b.Fatal(err)
		}
		workspaces[s] = ws
		return ws
	}
	for _, every := range []int{1, 8} {
		for _, n := range []int{100, 1000, 10000} {
			b.Run(fmt.Sprintf("modules=%d/every=%d", n, every), func(b *testing.B) {
				s := synthws.Shape{Modules: n, Every: every}
				ws := workspace(b, s)
				opts := []discovery.Option{
					discovery.WithWorkspace(ws.GoWork),
					discovery.WithGroup(synthws.Group),
					discovery.WithLogger(slog.New(slog.DiscardHandler)),
				}
				b.ReportAllocs()
				for b.Loop() {
					eps, err := discovery.Find(opts...)
					if err != nil || len(eps) != s.EntryPoints() {
						b.Fatalf("Find found %d entry points and error %v; want %d and no error", len(eps), err, s.EntryPoints())
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/module")
			})
		}
	}
}

// BenchmarkDiscover times Discover registering n linked entry points into a
// fresh registry, with no workspace in effect.
func BenchmarkDiscover(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run("linked="+strconv.Itoa(n), func(b *testing.B) {
			b.Setenv("GOWORK", "off")
			defer discovery.ResetLinked()()
			discovery.Link(linkedHandlers(n)...)
			logger := slog.New(slog.DiscardHandler)
			b.ReportAllocs()
			for b.Loop() {
				rep, err := discovery.Discover(discovery.WithRegistry(registry.New()), discovery.WithLogger(logger))
				if err != nil || len(rep.Registered) != n {
					b.Fatalf("Discover registered %d entry points and returned %v; want %d and no error", len(rep.Registered), err, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entrypoint")
		})
	}
}

// linkedHandlers returns n entry points of group torchrun.handlers, as
// entrypoints generate would link them.
func linkedHandlers(n int) []discovery.Linked {
	eps := make([]discovery.Linked, n)
	for i := range eps {
		name := fmt.Sprintf("bench%05d", i)
		mod := "example.com/bench/" + name
		eps[i] = discovery.Linked{
			Group: discovery.HandlersGroup, Name: name, Value: mod + ":NewHandler",
			Module: mod, Line: 2,
			Symbol: func() registry.Creator { return newBenchHandler(name) },
		}
	}
	return eps
}

// newBenchHandler returns a creator of handlers for backend.
func newBenchHandler(backend string) registry.Creator {
	return func(p registry.Parameters) (registry.Handler, error) {
		return &benchHandler{backend: backend, runID: p.RunID}, nil
	}
}

// BenchmarkCreateHandler times CreateHandler from parallel callers on a
// registry holding a few backends, as registry.Default does. The creators
// return a ready handler, so that only CreateHandler is timed: it reads
// the registry without locking, so ns/op should fall as -cpu grows, and no
// mutex contention should show with -mutexprofile.
func BenchmarkCreateHandler(b *testing.B) {
	r := registry.New()
	for _, name := range []string{"c10d", "etcd", "etcd-v2", "static", "mybackend"} {
		h := &benchHandler{backend: name, runID: "bench"}
		if err := r.Register(name, func(registry.Parameters) (registry.Handler, error) { return h, nil }); err != nil {
			b.Fatal(err)
		}
	}
	params := registry.Parameters{Backend: "mybackend", Endpoint: "localhost:29400", RunID: "bench", MinNodes: 1, MaxNodes: 4}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, err := r.CreateHandler(params)
			if err != nil || h.Backend() != params.Backend {
				b.Errorf("CreateHandler returned %v, %v; want a %s handler", h, err, params.Backend)
				return
			}
		}
	})
}

// benchHandler is a do-nothing rendezvous handler.
type benchHandler struct{ backend, runID string }

func (h *benchHandler) Backend() string { return h.backend }
func (h *benchHandler) NextRendezvous(context.Context) (registry.Info, error) {
	return registry.Info{}, registry.ErrClosed
}
func (h *benchHandler) IsClosed(context.Context) (bool, error)       { return true, nil }
func (h *benchHandler) SetClosed(context.Context) error              { return nil }
func (h *benchHandler) NumNodesWaiting(context.Context) (int, error) { return 0, nil }
func (h *benchHandler) RunID() string                                { return h.runID }
func (h *benchHandler) Shutdown(context.Context) (bool, error)       { return true, nil }
