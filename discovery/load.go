package discovery

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
)

// ErrNotFound: Lookup was asked for a name that its group does not have.
var ErrNotFound = errors.New("no such entry point")

// Load returns the value of the entry point's symbol: the counterpart of
// Python's EntryPoint.load(). The value is the linked symbol if the entry
// point is linked into the binary. Otherwise, if the program imports
// discovery/dynamic, the dynamic loader builds it from the workspace in
// effect (or the one WithWorkspace names), which must use the entry point's
// module. Otherwise the error wraps ErrNotLinked and says how to link it.
//
// Load returns the symbol's value as it is: a factory is not called (Load
// and Lookup of package discovery do that). Its error is an *Error naming
// the entry point's file:line. The options that apply are WithWorkspace,
// WithLogger and WithContext.
func (ep EntryPoint) Load(opts ...Option) (any, error) {
	c, err := newConfig(callEntryPointLoad, "", opts)
	if err != nil {
		return nil, err
	}
	if v, ok := linkedValue(ep); ok {
		return v, nil
	}
	if err := checkEntryPoint(ep); err != nil {
		return nil, &Error{File: ep.File, Line: ep.Line, Err: fmt.Errorf("discovery.EntryPoint.Load: %w", err),
			Fix: "load an entry point that discovery.Find returns, or one with a group, name and value as an entry_points.txt declares them"}
	}
	l := hooks.CurrentLoader[EntryPoint]()
	if l == nil || ep.Module == "" {
		return nil, asError(ep, notLinked())
	}
	res := &found{}
	ws := c.readWorkspace(res)
	switch {
	case ws == nil || res.gowork == "":
		return nil, asError(ep, &Error{
			Err: fmt.Errorf("%w, and the dynamic loader has no workspace to build it from", ErrNotLinked),
			Fix: "run the program from the workspace it was built from, or name it with discovery.WithWorkspace; " + notLinkedFix,
		})
	case !ws.uses(ep.Module):
		return nil, asError(ep, &Error{
			Err: fmt.Errorf("%w, and its module %s is not in the workspace %s", ErrNotLinked, ep.Module, res.gowork),
			Fix: "go work use the module's directory, or name its workspace with discovery.WithWorkspace",
		})
	}
	vals, errs := safeLoad(c, l, res.gowork, []EntryPoint{ep})
	switch {
	case len(errs) > 0 && errs[0] != nil:
		return nil, asError(ep, errs[0])
	case len(vals) == 0:
		return nil, asError(ep, errors.New("the dynamic loader returned no value"))
	}
	return vals[0], nil
}

// checkEntryPoint reports what makes ep an entry point that no
// entry_points.txt can declare, such as the zero EntryPoint.
func checkEntryPoint(ep EntryPoint) error {
	switch {
	case !isGroup(ep.Group):
		return fmt.Errorf("invalid group name %q in entry point %s: want one or more word runs joined by dots, such as myapp.exporters", ep.Group, ep)
	case !isName(ep.Name):
		return fmt.Errorf("invalid name %q in entry point %s: want letters, digits, _, . and -", ep.Name, ep)
	}
	if err := checkValue(ep.Value, ""); err != nil {
		return fmt.Errorf("%w, in entry point %s", err, ep)
	}
	return nil
}

// A Plugin is an entry point loaded as a T. Its Value field is the loaded
// value; the declaration's "importpath:Symbol" is p.EntryPoint.Value.
type Plugin[T any] struct {
	EntryPoint
	Value T // the entry point's value, made a T
}

// Load loads every entry point of group, in the order Find returns them,
// and makes each a T: the counterpart of stevedore's ExtensionManager. Each
// entry point's value is found as EntryPoint.Load finds it, and made a T
// by this rule, which entrypoints generate and check apply to the symbol's
// declared type before the program runs:
//
//   - a value whose type is assignable to T (as the compiler would allow:
//     the same type, a func(P) R for a named func type with that
//     signature, a type implementing interface T) is taken as it is; a nil
//     func, pointer, map, channel or interface is an error;
//   - else a func with no parameters returning a type assignable to T, or
//     such a type and an error, is a factory, called on each Load: its
//     result is the value, and a panic, a non-nil error or a nil result
//     fails that entry point;
//   - else the entry point fails with an error naming its symbol's type
//     and T.
//
// Failures are isolated: Load returns the entry points that loaded, and an
// ErrorList naming every one that failed, at its file:line, with the
// problems Find met in the group (lines of the group's sections that do not
// parse are included, as they may be its entry points, and so are those of
// no group). Each failure is also logged as a warning. The
// options that apply are WithWorkspace, WithModules, WithLogger,
// WithContext, and WithGroup naming group itself.
func Load[T any](group string, opts ...Option) ([]Plugin[T], error) {
	c, err := loadConfig(callLoad, group, opts)
	if err != nil {
		return nil, err
	}
	res := findAll(c)
	vals, errs := loadGroup[T](c, res, nil)
	// Find kept the problems that may concern the group (see find).
	failed := slices.Clone(res.problems)
	var plugins []Plugin[T]
	for i, ep := range res.eps {
		if errs[i] != nil {
			failed = append(failed, asError(ep, errs[i]))
			continue
		}
		plugins = append(plugins, Plugin[T]{EntryPoint: ep, Value: vals[i]})
	}
	logProblems(c, "entry point not loaded: ", res.warnings, failed)
	return plugins, failed.err()
}

// Lookup loads the entry point of group named name and makes it a T by the
// rule of Load: the counterpart of stevedore's DriverManager. If group has
// no entry point of that name, the error wraps ErrNotFound and lists the
// names it has. If the entry point fails to load, the error is an *Error
// naming its file:line. Problems with other entry points of the group do
// not affect Lookup. The options that apply are those of Load.
func Lookup[T any](group, name string, opts ...Option) (T, error) {
	var zero T
	c, err := loadConfig(callLookup, group, opts)
	if err != nil {
		return zero, err
	}
	res := findAll(c)
	i := slices.IndexFunc(res.eps, func(ep EntryPoint) bool { return ep.Name == name })
	if i < 0 {
		return zero, notFound(res, group, name)
	}
	ep := res.eps[i]
	var warnings ErrorList // about ep; a conflict is one, as ep wins it
	for _, e := range slices.Concat(res.warnings, res.problems) {
		if e.EntryPoint != nil && e.EntryPoint.Name == name {
			warnings = append(warnings, e)
		}
	}
	vals, errs := loadGroup[T](c, res, func(ep EntryPoint) bool { return ep.Name != name })
	if errs[i] != nil {
		e := asError(ep, errs[i])
		logProblems(c, "entry point not loaded: ", warnings, ErrorList{e})
		return zero, e
	}
	logProblems(c, "", warnings, nil)
	return vals[i], nil
}

// loadConfig is newConfig for Load and Lookup, which also check group.
func loadConfig(k call, group string, opts []Option) (*config, error) {
	if !isGroup(group) {
		return nil, fmt.Errorf("discovery.%s: invalid group name %q: want one or more word runs joined by dots, such as myapp.exporters", k.name, group)
	}
	return newConfig(k, group, opts)
}

// notFound returns the error of Lookup for a name that group does not have.
func notFound(res *found, group, name string) error {
	names := make([]string, 0, len(res.eps))
	for _, ep := range res.eps {
		names = append(names, ep.Name)
	}
	slices.Sort(names)
	has := "it has none: no module of the workspace declares one, and none is linked into this binary"
	if len(names) > 0 {
		has = "it has " + strings.Join(names, ", ")
	}
	err := fmt.Errorf("%w: group %s has no entry point %q; %s", ErrNotFound, group, name, has)
	if p := res.problems; len(p) > 0 { // those that may concern the group (see find)
		return fmt.Errorf("%w\nproblems met in the group, which may explain it:\n%w", err, p)
	}
	return err
}

// concerns reports whether the problem e may concern group: one of its
// entry points or lines, or of no group in particular.
func concerns(e *Error, group string) bool {
	switch {
	case e.EntryPoint != nil:
		return e.EntryPoint.Group == group
	case e.Group != "":
		return e.Group == group
	}
	return true
}

// logProblems logs warnings, and failures, those of an entry point
// prefixed with what (a line that does not parse, or a workspace that
// cannot be read, is no entry point that was not loaded).
func logProblems(c *config, what string, warnings, failures ErrorList) {
	for _, e := range warnings {
		c.logger.Warn("discovery: " + e.Error())
	}
	for _, e := range failures {
		if e.EntryPoint == nil {
			c.logger.Warn("discovery: " + e.Error())
			continue
		}
		c.logger.Warn("discovery: " + what + e.Error())
	}
}

// loadGroup loads the entry points of res, except those that skip reports,
// and makes each a T. vals[i] and errs[i] are those of res.eps[i]; both
// are zero for a skipped entry point.
func loadGroup[T any](c *config, res *found, skip func(EntryPoint) bool) (vals []T, errs []error) {
	vals, errs = make([]T, len(res.eps)), make([]error, len(res.eps))
	raw := make([]any, len(res.eps))
	skipped := make([]bool, len(res.eps))
	var pending []int // indexes of entry points to load dynamically
	for i, ep := range res.eps {
		switch {
		case skip != nil && skip(ep):
			skipped[i] = true
		case ep.Linked:
			raw[i] = res.symbols[i]
		default:
			pending = append(pending, i)
		}
	}
	c.load(res, pending, raw, errs)
	for i, ep := range res.eps {
		if skipped[i] || errs[i] != nil {
			continue
		}
		vals[i], errs[i] = as[T](ep, raw[i])
	}
	return vals, errs
}

// notLinked returns the error for an entry point that is declared but
// neither linked nor loadable.
func notLinked() *Error {
	return &Error{Err: ErrNotLinked, Fix: notLinkedFix}
}

// load fills values and errs for the pending entry points of res, with the
// installed loader if there is one.
func (c *config) load(res *found, pending []int, values []any, errs []error) {
	if len(pending) == 0 {
		return
	}
	l := hooks.CurrentLoader[EntryPoint]()
	if l == nil || res.gowork == "" {
		for _, i := range pending {
			errs[i] = notLinked()
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
func safeLoad(c *config, l hooks.Loader[EntryPoint], gowork string, eps []EntryPoint) (vals []any, errs []error) {
	defer func() {
		if p := recover(); p != nil {
			vals, errs = nil, make([]error, len(eps))
			for i := range errs {
				errs[i] = fmt.Errorf("the dynamic loader panicked: %v", p)
			}
		}
	}()
	ctx := hooks.WithLogger(c.ctx, c.logger)
	if c.workspace != "" {
		ctx = hooks.WithExplicitWorkspace(ctx)
	}
	return l.Load(ctx, gowork, eps)
}
