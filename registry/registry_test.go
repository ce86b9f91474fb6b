package registry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

// dummyHandler reports the backend it was given.
type dummyHandler struct{ backend string }

func (h *dummyHandler) Backend() string { return h.backend }
func (*dummyHandler) NextRendezvous(context.Context) (registry.Info, error) {
	return registry.Info{}, nil
}
func (*dummyHandler) IsClosed(context.Context) (bool, error)       { return false, nil }
func (*dummyHandler) SetClosed(context.Context) error              { return nil }
func (*dummyHandler) NumNodesWaiting(context.Context) (int, error) { return 0, nil }
func (*dummyHandler) RunID() string                                { return "" }
func (*dummyHandler) Shutdown(context.Context) (bool, error)       { return true, nil }

func createDummy(p registry.Parameters) (registry.Handler, error) {
	return &dummyHandler{backend: p.Backend}, nil
}

func createOther(p registry.Parameters) (registry.Handler, error) {
	return &dummyHandler{backend: p.Backend}, nil
}

func params(backend string) registry.Parameters {
	return registry.Parameters{Backend: backend, Endpoint: "localhost:1234", RunID: "r", MinNodes: 1, MaxNodes: 2}
}

// The tests below mirror PyTorch's RendezvousHandlerRegistryTest.

// PyTorch's test_register_registers_once_if_called_twice_with_same_creator
// passes a second registration of the same creator; here it fails (see
// Register): Go cannot tell whether two funcs are the same.
func TestRegisterSameCreatorTwiceFails(t *testing.T) {
	r := registry.New()
	require.NoError(t, r.Register("dummy", createDummy))
	err := r.Register("dummy", createDummy)
	assert.ErrorContains(t, err, `registry: backend "dummy" is already registered, with creator github.com/go-entrypoints/entrypoints/registry_test.createDummy; cannot register creator github.com/go-entrypoints/entrypoints/registry_test.createDummy under the same name`)
	assert.Equal(t, []string{"dummy"}, r.Backends())
}

// TestRegisterClosuresOfOneFunction is why: two closures made by one
// function share their code, and a registry comparing code pointers would
// drop the second, with its configuration, depending on inlining.
func TestRegisterClosuresOfOneFunction(t *testing.T) {
	withEndpoint := func(endpoint string) registry.Creator {
		return func(p registry.Parameters) (registry.Handler, error) {
			p.Endpoint = endpoint
			return createDummy(p)
		}
	}
	r := registry.New()
	require.NoError(t, r.Register("dummy", withEndpoint("a:1")))
	assert.ErrorContains(t, r.Register("dummy", withEndpoint("b:2")), `backend "dummy" is already registered`)
}

func TestRegisterDifferentCreatorFails(t *testing.T) {
	r := registry.New()
	require.NoError(t, r.Register("dummy", createDummy))
	err := r.Register("dummy", createOther)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `backend "dummy" is already registered`)
	assert.Contains(t, err.Error(), "registry_test.createDummy")
	assert.Contains(t, err.Error(), "registry_test.createOther")
}

func TestRegisterRejectsEmptyNameAndNilCreator(t *testing.T) {
	r := registry.New()
	assert.ErrorContains(t, r.Register("", createDummy), "backend name is empty")
	assert.ErrorContains(t, r.Register("x", nil), `creator of backend "x" is nil`)
	assert.Empty(t, r.Backends())
}

func TestCreateHandlerReturnsHandler(t *testing.T) {
	r := registry.New()
	require.NoError(t, r.Register("dummy", createDummy))
	h, err := r.CreateHandler(params("dummy"))
	require.NoError(t, err)
	assert.Equal(t, "dummy", h.Backend())
}

func TestCreateHandlerUnknownBackend(t *testing.T) {
	r := registry.New()
	_, err := r.CreateHandler(params("nope"))
	assert.ErrorContains(t, err, `unknown rendezvous backend "nope" (registered: none); was it registered?`)
	require.NoError(t, r.Register("b", createDummy))
	require.NoError(t, r.Register("a", createDummy))
	_, err = r.CreateHandler(params("nope"))
	assert.ErrorContains(t, err, "(registered: a, b)")
	assert.ErrorContains(t, err, "discovery.Discover")
	assert.ErrorContains(t, err, "entry_points.txt")
}

func TestCreateHandlerMismatchedBackendName(t *testing.T) {
	r := registry.New()
	require.NoError(t, r.Register("dummy", func(registry.Parameters) (registry.Handler, error) {
		return &dummyHandler{backend: "something-else"}, nil
	}))
	_, err := r.CreateHandler(params("dummy"))
	assert.ErrorContains(t, err, `handler created for backend "dummy" reports backend "something-else"`)
}

func TestCreateHandlerCreatorFailures(t *testing.T) {
	r := registry.New()
	sentinel := errors.New("no connection")
	require.NoError(t, r.Register("fails", func(registry.Parameters) (registry.Handler, error) { return nil, sentinel }))
	require.NoError(t, r.Register("panics", func(registry.Parameters) (registry.Handler, error) { panic("boom") }))
	require.NoError(t, r.Register("nil", func(registry.Parameters) (registry.Handler, error) { return nil, nil }))
	require.NoError(t, r.Register("typednil", func(registry.Parameters) (registry.Handler, error) {
		var h *dummyHandler
		return h, nil
	}))

	_, err := r.CreateHandler(params("fails"))
	assert.ErrorIs(t, err, sentinel)
	_, err = r.CreateHandler(params("panics"))
	assert.ErrorContains(t, err, `creator of backend "panics" panicked: boom`)
	_, err = r.CreateHandler(params("nil"))
	assert.ErrorContains(t, err, "returned no handler and no error")
	_, err = r.CreateHandler(params("typednil"))
	assert.ErrorContains(t, err, "returned no handler and no error")
}

func TestCreateHandlerValidatesParameters(t *testing.T) {
	r := registry.New()
	require.NoError(t, r.Register("dummy", createDummy))
	p := params("dummy")
	p.MinNodes = 0
	_, err := r.CreateHandler(p)
	assert.ErrorContains(t, err, "minimum number of nodes (0) must be at least 1")
}

func TestDefaultRegistry(t *testing.T) {
	require.NoError(t, registry.Register("default-test", createDummy))
	assert.Contains(t, registry.Backends(), "default-test")
	h, err := registry.CreateHandler(params("default-test"))
	require.NoError(t, err)
	assert.Equal(t, "default-test", h.Backend())
}

func TestRegistryConcurrentUse(t *testing.T) {
	r := registry.New()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			name := fmt.Sprintf("b%02d", i)
			assert.NoError(t, r.Register(name, createDummy))
			for range 100 {
				h, err := r.CreateHandler(params(name))
				if assert.NoError(t, err) {
					assert.Equal(t, name, h.Backend())
				}
				_ = r.Backends()
			}
		})
	}
	wg.Wait()
	backends := r.Backends()
	assert.Len(t, backends, 16)
	assert.IsIncreasing(t, backends)
}

func TestSentinelErrors(t *testing.T) {
	for _, err := range []error{registry.ErrClosed, registry.ErrTimeout, registry.ErrConnection, registry.ErrState, registry.ErrGracefulExit} {
		wrapped := fmt.Errorf("etcd: %w", err)
		assert.ErrorIs(t, wrapped, err)
		assert.ErrorIs(t, wrapped, registry.ErrRendezvous)
	}
	assert.NotErrorIs(t, registry.ErrClosed, registry.ErrTimeout)
}
