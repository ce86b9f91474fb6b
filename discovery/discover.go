package discovery

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"weak"

	"github.com/go-entrypoints/entrypoints/registry"
)

// A Report says what Discover did.
type Report struct {
	// Registered are the entry points this call registered, in the order
	// Find returned them.
	Registered []EntryPoint
	// Unchanged are the entry points an earlier call registered in the
	// same registry; they were not loaded again.
	Unchanged []EntryPoint
	// Failed lists the problems met: lines that do not parse, entry
	// points that could not be loaded or registered, conflicts. Each names
	// its entry point and file:line.
	Failed ErrorList
	// Warnings lists what worked but needs attention, such as an entry
	// point linked with a value its entry_points.txt no longer declares.
	Warnings ErrorList
}

// notLinkedFix is the fix suggested for an entry point that is declared but
// neither linked nor loadable.
const notLinkedFix = "run go generate ./... in the program's main module (its main package needs the line " +
	"//go:generate go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints generate) and rebuild, " +
	"or load it at run time with import _ \"github.com/go-entrypoints/entrypoints/discovery/dynamic\"; " +
	"if go generate does not link it, go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints check says why"

// registered remembers, per registry, the entry points Discover registered,
// so that calling it again neither loads them again nor reports conflicts.
// Registries are held weakly: a registry dropped by the program is forgotten.
var registered struct {
	sync.Mutex
	m map[weak.Pointer[registry.Registry]]map[EntryPoint]bool
}

// Discover registers every rendezvous handler entry point (group
// HandlersGroup) found by Find in the registry (registry.Default unless
// WithRegistry says otherwise): the counterpart of PyTorch's
// _register_out_of_tree_handlers. An entry point's value must be a
// func() registry.Creator, which Discover calls to get the creator to
// register under the entry point's name, or a registry.Creator.
//
// Linked entry points are registered with their linked symbol. Entry points
// declared in the workspace but not linked are loaded by the Loader
// installed with SetLoader, if any, and otherwise reported as not linked,
// with the command that fixes it.
//
// A failing entry point (a bad line, a missing symbol, a value of the wrong
// type, a factory that panics, a name taken by another backend) is
// reported, logged as a warning, and skipped; every other one is still
// registered. The error is non-nil if anything failed; it is the report's
// Failed list. Discover is idempotent: calling it again registers nothing
// twice and reports no conflict.
func Discover(opts ...Option) (*Report, error) {
	c := newConfig(append(opts[:len(opts):len(opts)], WithGroup(HandlersGroup)))
	res := find(c)
	rep := &Report{Failed: res.problems, Warnings: res.warnings}

	registered.Lock()
	defer registered.Unlock()
	if registered.m == nil {
		registered.m = make(map[weak.Pointer[registry.Registry]]map[EntryPoint]bool)
	}
	regKey := weak.Make(c.registry)
	done := registered.m[regKey]
	if done == nil {
		done = make(map[EntryPoint]bool)
		registered.m[regKey] = done
		runtime.AddCleanup(c.registry, forget, regKey)
	}

	values := make([]any, len(res.eps))
	loadErrs := make([]error, len(res.eps))
	var pending []int // indexes of entry points to load dynamically
	for i, ep := range res.eps {
		switch {
		case done[key(ep)]:
			continue
		case ep.Linked:
			values[i] = res.symbols[i]
		default:
			pending = append(pending, i)
		}
	}
	c.load(res, pending, values, loadErrs)

	for i, ep := range res.eps {
		if done[key(ep)] {
			rep.Unchanged = append(rep.Unchanged, ep)
			continue
		}
		err := loadErrs[i]
		if err == nil {
			err = register(c.registry, ep, values[i])
		}
		if err != nil {
			rep.Failed = append(rep.Failed, asError(ep, err))
			continue
		}
		done[key(ep)] = true
		rep.Registered = append(rep.Registered, ep)
		c.logger.Debug("discovery: registered rendezvous handler", "name", ep.Name, "value", ep.Value, "module", ep.Module, "linked", ep.Linked)
	}
	for _, e := range rep.Warnings {
		c.logger.Warn("discovery: " + e.Error())
	}
	for _, e := range rep.Failed {
		c.logger.Warn("discovery: entry point not registered: " + e.Error())
	}
	return rep, rep.Failed.err()
}

// forget drops what registered holds for a registry that is gone.
func forget(key weak.Pointer[registry.Registry]) {
	registered.Lock()
	defer registered.Unlock()
	delete(registered.m, key)
}

// key identifies an entry point for the registered table.
func key(ep EntryPoint) EntryPoint {
	return EntryPoint{Group: ep.Group, Name: ep.Name, Value: ep.Value, Module: ep.Module}
}

// load fills values and errs for the pending entry points, with the
// installed loader if there is one.
func (c *config) load(res *found, pending []int, values []any, errs []error) {
	if len(pending) == 0 {
		return
	}
	l := currentLoader()
	if l == nil || res.gowork == "" {
		for _, i := range pending {
			errs[i] = &Error{Err: ErrNotLinked, Fix: notLinkedFix}
		}
		return
	}
	eps := make([]EntryPoint, len(pending))
	for j, i := range pending {
		eps[j] = res.eps[i]
	}
	vals, lerrs := safeLoad(c, l, res.gowork, eps)
	for j, i := range pending {
		switch {
		case j < len(lerrs) && lerrs[j] != nil:
			errs[i] = lerrs[j]
		case j < len(vals):
			values[i] = vals[j]
		default:
			errs[i] = errors.New("the dynamic loader returned no value")
		}
	}
}

// safeLoad calls the loader, turning a panic into an error for every entry
// point.
func safeLoad(c *config, l Loader, gowork string, eps []EntryPoint) (vals []any, errs []error) {
	defer func() {
		if p := recover(); p != nil {
			vals, errs = nil, make([]error, len(eps))
			for i := range errs {
				errs[i] = fmt.Errorf("the dynamic loader panicked: %v", p)
			}
		}
	}()
	return l.Load(context.WithValue(c.ctx, loggerKey{}, c.logger), gowork, eps)
}

// register turns the value of ep into a creator and registers it in r.
func register(r *registry.Registry, ep EntryPoint, value any) error {
	creator, err := creatorOf(ep, value)
	if err != nil {
		return err
	}
	if err := r.Register(ep.Name, creator); err != nil {
		return &Error{
			Err: fmt.Errorf("%w: %v", ErrConflict, err),
			Fix: "rename the entry point, or remove one of the two from the program or the workspace",
		}
	}
	return nil
}

// creatorOf returns the creator that the value of a handler entry point
// stands for, calling it if it is a factory.
func creatorOf(ep EntryPoint, value any) (c registry.Creator, err error) {
	switch v := value.(type) {
	case registry.Creator:
		c = v
	case func(registry.Parameters) (registry.Handler, error):
		c = v
	case func() registry.Creator:
		if v == nil {
			return nil, fmt.Errorf("%s is a nil func", ep.Symbol())
		}
		defer func() {
			if p := recover(); p != nil {
				c, err = nil, fmt.Errorf("%s panicked: %v", ep.Symbol(), p)
			}
		}()
		c = v()
	default:
		return nil, fmt.Errorf("%s has type %T; want func() registry.Creator or registry.Creator", ep.Symbol(), value)
	}
	if c == nil {
		return nil, fmt.Errorf("%s gave a nil registry.Creator", ep.Symbol())
	}
	return c, nil
}

// asError returns err as an *Error about ep, with ep's position.
func asError(ep EntryPoint, err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Err: err}
	}
	out := *e
	out.File, out.Line, out.EntryPoint = ep.File, ep.Line, &ep
	return &out
}
