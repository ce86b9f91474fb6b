package discovery

import "sync"

// Linked is an entry point whose symbol is compiled into the binary. Code
// written by entrypoints generate passes one per declared entry point to
// Link from an init function; programs do not usually build them by hand.
type Linked struct {
	Group, Name, Value string // as in EntryPoint
	Module, Version    string // module that declares it, and its version when generated
	Line               int    // line in the module's entry_points.txt

	// Symbol is the value of the symbol the entry point names: a func, or
	// the value of a var.
	Symbol any
}

// linked is the table of linked entry points, in the order they were linked.
var linked struct {
	sync.Mutex
	eps []Linked
}

// Link adds entry points to the table of entry points linked into the
// binary. Find and Discover see them wherever the binary runs. Linking the
// same entry point twice (same group, name and module) keeps the first.
func Link(eps ...Linked) {
	linked.Lock()
	defer linked.Unlock()
	linked.eps = append(linked.eps, eps...)
}

// linkedEntryPoints returns a snapshot of the linked table.
func linkedEntryPoints() []Linked {
	linked.Lock()
	defer linked.Unlock()
	return linked.eps[:len(linked.eps):len(linked.eps)]
}

// entryPoint returns the metadata of l. The file is named after the module
// that declared it, as the binary may run far from that module's sources.
func (l Linked) entryPoint() EntryPoint {
	return EntryPoint{
		Group: l.Group, Name: l.Name, Value: l.Value,
		Module: l.Module, Version: l.Version,
		File: l.Module + "/" + FileName, Line: l.Line,
		Linked: true,
	}
}
