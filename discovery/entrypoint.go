package discovery

import (
	"fmt"
	"strings"
)

// HandlersGroup is the group of rendezvous handler entry points, the one
// Discover registers: PyTorch's torchrun.handlers.
const HandlersGroup = "torchrun.handlers"

// An EntryPoint is one declaration of an entry_points.txt file: a name in a
// group, bound to a package-level symbol of a Go package.
type EntryPoint struct {
	Group string // section of the file, such as "torchrun.handlers"
	Name  string // name of the entry point, such as "myhandler"
	Value string // "importpath:Symbol", such as "example.com/myhandler:NewHandler"

	Module  string // path of the module that declares the entry point
	Version string // version of that module; empty for a workspace module
	Dir     string // root directory of that module; empty if not on this machine

	File string // the entry_points.txt that declares it
	Line int    // line of the declaration in File

	// Linked reports whether the entry point's symbol is linked into the
	// running binary (by code that entrypoints generate wrote).
	Linked bool
}

// ImportPath returns the import path of the package that holds the entry
// point's symbol.
func (ep EntryPoint) ImportPath() string {
	path, _, _ := strings.Cut(ep.Value, ":")
	return path
}

// Symbol returns the name of the entry point's symbol in its package.
func (ep EntryPoint) Symbol() string {
	_, sym, _ := strings.Cut(ep.Value, ":")
	return sym
}

// Pos returns where the entry point is declared, "file:line".
func (ep EntryPoint) Pos() string {
	return fmt.Sprintf("%s:%d", ep.File, ep.Line)
}

// String returns the entry point as its line in the file, with its group:
// "[torchrun.handlers] myhandler = example.com/myhandler:NewHandler".
func (ep EntryPoint) String() string {
	return fmt.Sprintf("[%s] %s = %s", ep.Group, ep.Name, ep.Value)
}
