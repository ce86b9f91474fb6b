package discovery

import (
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
// so that calling it again neither loads them again nor reports conflicts
// (registry.Register refuses a name twice, and cannot tell whether a
// creator is the one registered before). Registries are held weakly: a
// program, test or benchmark that discovers into a fresh registry each time
// would otherwise keep every one alive with its handlers.
var registered struct {
	sync.Mutex
	m map[weak.Pointer[registry.Registry]]map[doneKey]bool
}

// Discover registers every rendezvous handler entry point (group
// HandlersGroup) found by Find in the registry (registry.Default unless
// WithRegistry says otherwise): the counterpart of PyTorch's
// _register_out_of_tree_handlers. It is Load[registry.Creator] of
// HandlersGroup followed by registry.Register of each creator under its
// entry point's name: an entry point's value is a func() registry.Creator
// (or func() (registry.Creator, error)), which Discover calls to get the
// creator, or a registry.Creator.
//
// Linked entry points are registered with their linked symbol. Entry points
// declared in the workspace but not linked are loaded by the dynamic loader
// if the program imports discovery/dynamic, and otherwise reported as not
// linked, with the command that fixes it.
//
// A failing entry point (a bad line, a missing symbol, a value of the wrong
// type, a factory that panics, a name already registered) is reported,
// logged as a warning, and skipped; every other one is still registered.
// The error is non-nil if anything failed; it is the report's Failed list.
//
// Discover is idempotent: it remembers which entry points it registered in
// which registry, and calling it again neither loads nor registers them
// again, nor reports them as conflicts. Anything else registered under a
// name it wants is a conflict, even the same creator: registry.Register
// refuses a name twice.
//
// Calls of Discover run one at a time, so that a second call waits for the
// first and finds its registrations: a handler's factory must not call
// Discover, which would wait for the call that runs the factory.
//
// The options that apply are WithWorkspace, WithModules, WithRegistry,
// WithLogger, WithContext, and WithGroup naming HandlersGroup; any other
// option is an error, returned with an empty report.
func Discover(opts ...Option) (*Report, error) {
	c, err := newConfig(callDiscover, HandlersGroup, opts)
	if err != nil {
		return &Report{}, err
	}
	res := findAll(c)
	rep := &Report{Failed: res.problems, Warnings: res.warnings}

	registered.Lock()
	defer registered.Unlock()
	if registered.m == nil {
		registered.m = make(map[weak.Pointer[registry.Registry]]map[doneKey]bool)
	}
	regKey := weak.Make(c.registry)
	done := registered.m[regKey]
	if done == nil {
		done = make(map[doneKey]bool)
		registered.m[regKey] = done
		runtime.AddCleanup(c.registry, forget, regKey)
	}

	creators, errs := loadGroup[registry.Creator](c, res, func(ep EntryPoint) bool { return done[key(ep)] })
	for i, ep := range res.eps {
		if done[key(ep)] {
			rep.Unchanged = append(rep.Unchanged, ep)
			continue
		}
		err := errs[i]
		if err == nil {
			err = register(c.registry, ep, creators[i])
		}
		if err != nil {
			rep.Failed = append(rep.Failed, asError(ep, err))
			continue
		}
		done[key(ep)] = true
		rep.Registered = append(rep.Registered, ep)
		c.logger.Debug("discovery: registered rendezvous handler", "name", ep.Name, "value", ep.Value, "module", ep.Module, "linked", ep.Linked)
	}
	logProblems(c, "entry point not registered: ", rep.Warnings, rep.Failed)
	return rep, rep.Failed.err()
}

// forget drops what registered holds for a registry that is gone.
func forget(key weak.Pointer[registry.Registry]) {
	registered.Lock()
	defer registered.Unlock()
	delete(registered.m, key)
}

// A doneKey identifies an entry point in the registered table.
type doneKey struct {
	ep EntryPoint
	// standIn is the call of discoverytest.Link that linked ep, if ep is
	// a stand-in: every stand-in has the same Value and no Module, and
	// another test's stand-in of the same name is another entry point.
	standIn *standInGroup
}

// key returns the key of ep in the registered table.
func key(ep EntryPoint) doneKey {
	g, _ := standInOf(ep)
	return doneKey{EntryPoint{Group: ep.Group, Name: ep.Name, Value: ep.Value, Module: ep.Module}, g}
}

// register registers creator under ep's name in r.
func register(r *registry.Registry, ep EntryPoint, creator registry.Creator) error {
	if err := r.Register(ep.Name, creator); err != nil {
		return &Error{
			Err: fmt.Errorf("%w: %v", ErrConflict, err),
			Fix: "rename the entry point, or remove one of the two from the program or the workspace",
		}
	}
	return nil
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
