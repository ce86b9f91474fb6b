// Package registry holds the rendezvous handler API and the registry of
// rendezvous backends: the Go counterpart of PyTorch's
// torch.distributed.elastic.rendezvous api and registry modules.
//
// A backend registers a Creator under its name; a program creates a Handler
// by name from Parameters:
//
//	registry.Register("mybackend", mybackend.New)
//	h, err := registry.CreateHandler(registry.Parameters{Backend: "mybackend", MinNodes: 1, MaxNodes: 4})
//
// Backends that live in other modules (out-of-tree handlers) declare
// themselves in an entry_points.txt file and are registered by
// discovery.Discover.
package registry

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Creator builds a Handler from Parameters. It is what a backend registers.
type Creator func(Parameters) (Handler, error)

// Registry maps backend names to creators. The zero value is an empty
// registry. A Registry is safe for concurrent use; looking a backend up,
// as CreateHandler does, takes no lock.
type Registry struct {
	creators sync.Map // backend name -> Creator
}

// New returns an empty registry.
func New() *Registry {
	return new(Registry)
}

// Default is the registry that the package-level functions and, unless told
// otherwise, discovery.Discover act on.
var Default = New()

// Register registers creator under backend. A name can be registered once:
// registering it again is an error naming both creators, even if the
// creator is the same. PyTorch lets a second registration of the same
// creator pass; Go cannot tell whether two funcs are the same (two closures
// from one function, with different captured configuration, share their
// code, and whether they do depends on inlining), so a registry that guessed
// would silently drop some registrations. discovery.Discover keeps track of
// what it registered, and calling it again registers nothing twice.
func (r *Registry) Register(backend string, creator Creator) error {
	if backend == "" {
		return errors.New("registry: backend name is empty")
	}
	if creator == nil {
		return fmt.Errorf("registry: creator of backend %q is nil", backend)
	}
	prev, taken := r.creators.LoadOrStore(backend, creator)
	if !taken {
		return nil
	}
	return fmt.Errorf("registry: backend %q is already registered, with creator %s; cannot register creator %s under the same name", backend, funcName(prev.(Creator)), funcName(creator))
}

// Lookup returns the creator registered under backend.
func (r *Registry) Lookup(backend string) (Creator, bool) {
	c, ok := r.creators.Load(backend)
	if !ok {
		return nil, false
	}
	return c.(Creator), true
}

// CreateHandler validates params, creates a handler with the creator
// registered under params.Backend and checks that the handler reports that
// backend. A creator that panics gives an error, not a crash.
func (r *Registry) CreateHandler(params Parameters) (h Handler, err error) {
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("registry: invalid rendezvous parameters: %w", err)
	}
	creator, ok := r.Lookup(params.Backend)
	if !ok {
		return nil, r.unknownBackend(params.Backend)
	}
	defer func() {
		if p := recover(); p != nil {
			h, err = nil, fmt.Errorf("registry: creator of backend %q panicked: %v", params.Backend, p)
		}
	}()
	h, err = creator(params)
	if err != nil {
		return nil, fmt.Errorf("registry: creating handler for backend %q: %w", params.Backend, err)
	}
	if h == nil || reflect.ValueOf(h).Kind() == reflect.Pointer && reflect.ValueOf(h).IsNil() {
		return nil, fmt.Errorf("registry: creator of backend %q returned no handler and no error", params.Backend)
	}
	if got := h.Backend(); got != params.Backend {
		return nil, fmt.Errorf("registry: handler created for backend %q reports backend %q; the creator is registered under the wrong name", params.Backend, got)
	}
	return h, nil
}

func (r *Registry) unknownBackend(backend string) error {
	known := r.Backends()
	list := "none"
	if len(known) > 0 {
		list = strings.Join(known, ", ")
	}
	return fmt.Errorf("registry: unknown rendezvous backend %q (registered: %s); "+
		"was it registered? Backends in other modules are registered by discovery.Discover "+
		"from the entry_points.txt of each module of the workspace (add one with go work use, then go generate ./...); "+
		"others with registry.Register", backend, list)
}

// Backends returns the names of the registered backends, sorted.
func (r *Registry) Backends() []string {
	var names []string
	r.creators.Range(func(name, _ any) bool {
		names = append(names, name.(string))
		return true
	})
	slices.Sort(names)
	return names
}

// Register registers creator under backend in the Default registry.
func Register(backend string, creator Creator) error { return Default.Register(backend, creator) }

// CreateHandler creates a handler with the Default registry.
func CreateHandler(params Parameters) (Handler, error) { return Default.CreateHandler(params) }

// Backends lists the backends of the Default registry, sorted.
func Backends() []string { return Default.Backends() }

// funcName returns the qualified name of the function behind c, such as
// "example.com/mybackend.New".
func funcName(c Creator) string {
	if f := runtime.FuncForPC(reflect.ValueOf(c).Pointer()); f != nil {
		return f.Name()
	}
	return fmt.Sprintf("%p", c)
}
