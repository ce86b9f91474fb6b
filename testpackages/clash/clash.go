// Package clash declares a rendezvous handler under a name another test
// module also declares, testbackend, for tests of name clashes. Its module
// is not in the repository's go.work; tests add it to temporary ones.
package clash

import (
	"errors"

	"github.com/go-entrypoints/entrypoints/registry"
)

// TestHandler returns a creator that always fails.
func TestHandler() registry.Creator {
	return func(registry.Parameters) (registry.Handler, error) {
		return nil, errors.New("clash: this creator is never meant to be registered")
	}
}
