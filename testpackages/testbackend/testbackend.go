// Package testbackend is a rendezvous backend for tests, the Go mirror of
// PyTorch's out_of_tree_test_package: its module declares it in
// entry_points.txt under [torchrun.handlers] as "testbackend", and nothing
// imports it by name.
//
// Its handler runs a one-node rendezvous: every NextRendezvous gives rank 0
// of a world of size 1, with an in-memory store.
package testbackend

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Backend is the name the backend is declared under.
const Backend = "testbackend"

// TestHandler is the entry point: it returns the creator of the backend.
func TestHandler() registry.Creator {
	return New
}

// New creates a handler for params.
func New(params registry.Parameters) (registry.Handler, error) {
	if params.MaxNodes != 1 && params.MinNodes > 1 {
		return nil, fmt.Errorf("testbackend runs one node, not %d to %d", params.MinNodes, params.MaxNodes)
	}
	return &handler{runID: params.RunID, store: &store{m: make(map[string][]byte), set: make(chan struct{})}}, nil
}

type handler struct {
	runID string
	store *store

	mu     sync.Mutex
	closed bool
}

func (h *handler) Backend() string { return Backend }
func (h *handler) RunID() string   { return h.runID }

func (h *handler) NextRendezvous(ctx context.Context) (registry.Info, error) {
	if err := ctx.Err(); err != nil {
		return registry.Info{}, fmt.Errorf("%w: %v", registry.ErrTimeout, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return registry.Info{}, registry.ErrClosed
	}
	return registry.Info{Store: h.store, Rank: 0, WorldSize: 1, Bootstrap: registry.BootstrapInfo{Addr: "127.0.0.1"}}, nil
}

func (h *handler) IsClosed(context.Context) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed, nil
}

func (h *handler) SetClosed(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return nil
}

func (h *handler) NumNodesWaiting(context.Context) (int, error) { return 0, nil }

func (h *handler) Shutdown(context.Context) (bool, error) { return true, nil }

// store is an in-memory registry.Store.
type store struct {
	mu  sync.Mutex
	m   map[string][]byte
	set chan struct{} // closed and replaced on every Set
}

func (s *store) Set(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = append([]byte(nil), value...)
	close(s.set)
	s.set = make(chan struct{})
	return nil
}

func (s *store) Get(ctx context.Context, key string) ([]byte, error) {
	for {
		s.mu.Lock()
		v, ok := s.m[key]
		set := s.set
		s.mu.Unlock()
		if ok {
			return v, nil
		}
		select {
		case <-set:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for key %q: %v", registry.ErrTimeout, key, ctx.Err())
		}
	}
}

func (s *store) Add(_ context.Context, key string, delta int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	if v, ok := s.m[key]; ok {
		if _, err := fmt.Sscan(string(v), &n); err != nil {
			return 0, fmt.Errorf("key %q does not hold an integer", key)
		}
	}
	n += delta
	s.m[key] = fmt.Appendf(nil, "%d", n)
	close(s.set)
	s.set = make(chan struct{})
	return n, nil
}
