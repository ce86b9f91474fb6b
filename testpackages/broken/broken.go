// Package broken holds rendezvous handler entry points that fail on
// purpose, each in its own way, and one that works (Survivor). Tests use it
// to check that one broken plugin neither stops the others nor crashes the
// host. Its module is not in the repository's go.work, so that the
// repository's own workspace stays clean; tests add it to temporary ones.
package broken

import (
	"context"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Survivor works: its handler runs a one-node rendezvous.
func Survivor() registry.Creator {
	return func(p registry.Parameters) (registry.Handler, error) { return handler{p.Backend}, nil }
}

// WrongType is not a creator.
var WrongType = "not a registry.Creator"

// Panics panics instead of returning a creator.
func Panics() registry.Creator { panic("broken.Panics panics on purpose") }

// CreatorPanics returns a creator that panics.
func CreatorPanics() registry.Creator {
	return func(registry.Parameters) (registry.Handler, error) {
		panic("broken.CreatorPanics's creator panics on purpose")
	}
}

// NilCreator returns no creator.
func NilCreator() registry.Creator { return nil }

type handler struct{ backend string }

func (h handler) Backend() string { return h.backend }
func (handler) NextRendezvous(context.Context) (registry.Info, error) {
	return registry.Info{WorldSize: 1}, nil
}
func (handler) IsClosed(context.Context) (bool, error)       { return false, nil }
func (handler) SetClosed(context.Context) error              { return nil }
func (handler) NumNodesWaiting(context.Context) (int, error) { return 0, nil }
func (handler) RunID() string                                { return "" }
func (handler) Shutdown(context.Context) (bool, error)       { return true, nil }
