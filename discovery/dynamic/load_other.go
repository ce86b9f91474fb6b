//go:build !((linux || darwin || freebsd) && cgo)

package dynamic

import (
	"context"
	"fmt"
	"runtime"

	"github.com/go-entrypoints/entrypoints/discovery"
)

// Load reports, for every entry point, why this program cannot load
// plugins.
func (loader) Load(_ context.Context, _ string, eps []discovery.EntryPoint) ([]any, []error) {
	var err error
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd":
		err = &discovery.Error{
			Err: fmt.Errorf("%w: it was built with CGO_ENABLED=0, and Go plugins need cgo", ErrUnsupported),
			Fix: "rebuild with CGO_ENABLED=1 (this needs a C compiler), or " + generateFix,
		}
	default:
		err = &discovery.Error{
			Err: fmt.Errorf("%w: Go plugins work on linux, darwin and freebsd only, not on %s", ErrUnsupported, runtime.GOOS),
			Fix: generateFix,
		}
	}
	return unsupported(eps, err)
}
