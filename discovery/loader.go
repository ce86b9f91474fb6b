package discovery

import (
	"context"
	"log/slog"
	"sync"
)

// A Loader makes callable the entry points that are declared in the
// workspace but not linked into the binary. Package discovery/dynamic
// provides one and installs it with SetLoader when it is imported; most
// programs need no other.
type Loader interface {
	// Load returns the value of each entry point's symbol, in order, for
	// entry points declared by modules of the workspace whose go.work is
	// gowork. errs[i] explains why eps[i] could not be loaded. A Loader
	// must not return values for entry points whose errs[i] is non-nil.
	Load(ctx context.Context, gowork string, eps []EntryPoint) (values []any, errs []error)
}

// loggerKey is the context key under which Discover passes its logger to the
// loader.
type loggerKey struct{}

// Logger returns the logger that Discover was given (WithLogger), from the
// context it passes to Loader.Load, or slog.Default() if there is none.
// Loaders log through it.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

var loader struct {
	sync.Mutex
	l Loader
}

// SetLoader installs l as the loader Discover uses for entry points that are
// declared but not linked. A nil l removes it.
func SetLoader(l Loader) {
	loader.Lock()
	defer loader.Unlock()
	loader.l = l
}

func currentLoader() Loader {
	loader.Lock()
	defer loader.Unlock()
	return loader.l
}
