// Package badexporters holds exporter entry points that fail on purpose:
// one of the wrong type, which generate and check refuse at its line; a
// factory that panics and one that returns an error, which fail only
// themselves when a program loads the group. Its module is not in the
// repository's go.work; tests add it to temporary workspaces.
package badexporters

import (
	"errors"

	"github.com/go-entrypoints/entrypoints/testpackages/exporter"
)

// WrongType is not an exporter, nor a func returning one.
func WrongType() string { return "not an exporter" }

// Panics panics instead of returning an exporter.
func Panics() exporter.Exporter { panic("badexporters.Panics panics on purpose") }

// Fails returns an error instead of an exporter.
func Fails() (exporter.Exporter, error) {
	return nil, errors.New("badexporters.Fails fails on purpose")
}
