// Package hooks holds what package discovery's companions plug into it
// with, kept out of discovery's public API: the dynamic loader that
// discovery/dynamic installs, the logger discovery hands that loader, and
// the stand-in entry points that discovery/discoverytest links for one test.
package hooks

import (
	"context"
	"log/slog"
	"sync"
)

// A Loader makes callable the entry points that are declared in the
// workspace but not linked into the binary; E is discovery.EntryPoint.
// Package discovery/dynamic provides one and installs it with SetLoader
// when it is imported.
type Loader[E any] interface {
	// Load returns the value of each entry point's symbol, in order, for
	// entry points declared by modules of the workspace whose go.work is
	// gowork. errs[i] explains why eps[i] could not be loaded. A Loader
	// must not return values for entry points whose errs[i] is non-nil.
	Load(ctx context.Context, gowork string, eps []E) (values []any, errs []error)
}

var loader struct {
	sync.Mutex
	l any // a Loader[E], or nil
}

// SetLoader installs l as the loader that discovery uses for entry points
// that are declared but not linked. A nil l removes it.
func SetLoader[E any](l Loader[E]) {
	loader.Lock()
	defer loader.Unlock()
	loader.l = l
}

// CurrentLoader returns the installed loader, or nil.
func CurrentLoader[E any]() Loader[E] {
	loader.Lock()
	defer loader.Unlock()
	l, _ := loader.l.(Loader[E])
	return l
}

// loggerKey is the context key under which discovery passes its logger to
// the loader.
type loggerKey struct{}

// WithLogger returns ctx carrying l, for Logger.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the logger that the discovery call was given
// (discovery.WithLogger), from the context it passes to Loader.Load, or
// slog.Default() if there is none. Loaders log through it.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}

// explicitKey is the context key that marks the workspace passed to the
// loader as named by the program.
type explicitKey struct{}

// WithExplicitWorkspace returns ctx saying that the workspace passed with
// it to Loader.Load was named by the program (discovery.WithWorkspace)
// rather than found where it runs: an explicit choice, which the loader
// trusts without checking it.
func WithExplicitWorkspace(ctx context.Context) context.Context {
	return context.WithValue(ctx, explicitKey{}, true)
}

// ExplicitWorkspace reports whether ctx says that the workspace was named by
// the program (see WithExplicitWorkspace).
func ExplicitWorkspace(ctx context.Context) bool {
	explicit, _ := ctx.Value(explicitKey{}).(bool)
	return explicit
}

// A StandIn is an entry point that a test links in place of the real ones
// of its group.
type StandIn struct {
	Name  string
	Value any    // the symbol's value
	File  string // where the test linked it
	Line  int
}

// StandInValue is the Value of stand-in entry points: they name no symbol
// of a package.
const StandInValue = "stand-in"

// LinkStandIns, set by package discovery when it is initialised, makes
// group consist of exactly standIns, as linked entry points, for Find,
// EntryPoint.Load, Load, Lookup and Discover, until undo is called. It
// fails if the group or a name is not valid in an entry_points.txt.
var LinkStandIns func(group string, standIns []StandIn) (undo func(), err error)
