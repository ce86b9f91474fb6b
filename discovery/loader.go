package discovery

import (
	"context"
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
