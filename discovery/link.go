package discovery

import (
	"fmt"
	"slices"
	"sync"

	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
)

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

// linkedValue returns the linked symbol of ep, if ep is linked: a stand-in
// linked by discoverytest, or an entry point of the linked table with the
// same group, name and value (and module, if ep names one).
func linkedValue(ep EntryPoint) (any, bool) {
	if v, ok := standIn(ep); ok {
		return v, true
	}
	for _, l := range linkedEntryPoints() {
		if l.Group == ep.Group && l.Name == ep.Name && l.Value == ep.Value && (ep.Module == "" || l.Module == ep.Module) {
			return l.Symbol, true
		}
	}
	return nil, false
}

// standIns holds the stand-ins that discoverytest linked, one layer per
// call of Link, in the order of the calls. A group has the stand-ins of its
// last layer. Each undo removes its own layer, whatever the order the tests
// that linked them end in: parallel tests may link different groups.
var standIns struct {
	sync.Mutex
	layers []*standInGroup
}

type standInGroup struct {
	group string
	eps   []EntryPoint
	vals  []any
}

func init() {
	hooks.LinkStandIns = linkStandIns
}

// linkStandIns makes group consist of exactly the stand-ins s until undo is
// called.
func linkStandIns(group string, s []hooks.StandIn) (undo func(), err error) {
	if !isGroup(group) {
		return nil, fmt.Errorf("invalid group name %q: want one or more word runs joined by dots, such as myapp.exporters", group)
	}
	for _, si := range s {
		if !isName(si.Name) {
			return nil, fmt.Errorf("invalid entry point name %q: want letters, digits, _, . and -", si.Name)
		}
	}
	g := &standInGroup{group: group, eps: make([]EntryPoint, len(s)), vals: make([]any, len(s))}
	for i, si := range s {
		g.eps[i] = EntryPoint{Group: group, Name: si.Name, Value: hooks.StandInValue, File: si.File, Line: si.Line, Linked: true}
		g.vals[i] = si.Value
	}
	standIns.Lock()
	defer standIns.Unlock()
	standIns.layers = append(standIns.layers, g)
	return func() {
		standIns.Lock()
		defer standIns.Unlock()
		standIns.layers = slices.DeleteFunc(slices.Clone(standIns.layers), func(o *standInGroup) bool { return o == g })
	}, nil
}

// standInGroups returns the groups that have stand-ins, each with its last
// layer, in the order they were first linked.
func standInGroups() []*standInGroup {
	standIns.Lock()
	defer standIns.Unlock()
	var groups []*standInGroup
	for _, g := range standIns.layers {
		if i := slices.IndexFunc(groups, func(o *standInGroup) bool { return o.group == g.group }); i >= 0 {
			groups[i] = g
			continue
		}
		groups = append(groups, g)
	}
	return groups
}

// standIn returns the value of ep if it is a stand-in.
func standIn(ep EntryPoint) (any, bool) {
	g, i := standInOf(ep)
	if g == nil {
		return nil, false
	}
	return g.vals[i], true
}

// standInOf returns the layer of stand-ins that ep is one of, and its index
// there, or nil.
func standInOf(ep EntryPoint) (*standInGroup, int) {
	if ep.Value != hooks.StandInValue {
		return nil, 0
	}
	for _, g := range standInGroups() {
		if g.group != ep.Group {
			continue
		}
		for i, s := range g.eps {
			if s.Name == ep.Name {
				return g, i
			}
		}
	}
	return nil, 0
}

// findAll is find with the stand-ins of discoverytest: a group that has
// stand-ins has them alone, first, and none of its other entry points or
// their problems.
func findAll(c *config) *found {
	res := find(c)
	if groups := standInGroups(); len(groups) > 0 {
		return res.withStandIns(c, groups)
	}
	return res
}

// withStandIns returns res with the stand-ins of groups, as findAll does.
func (res *found) withStandIns(c *config, groups []*standInGroup) *found {
	out := &found{symbols: make(map[int]any), gowork: res.gowork, broken: res.broken}
	replaced := make(map[string]bool)
	for _, g := range groups {
		replaced[g.group] = true
		if c.group != "" && g.group != c.group {
			continue
		}
		for i, ep := range g.eps {
			out.symbols[len(out.eps)] = g.vals[i]
			out.eps = append(out.eps, ep)
		}
	}
	for i, ep := range res.eps {
		if replaced[ep.Group] {
			continue
		}
		if s, ok := res.symbols[i]; ok {
			out.symbols[len(out.eps)] = s
		}
		out.eps = append(out.eps, ep)
	}
	keep := func(l ErrorList) ErrorList {
		return slices.DeleteFunc(slices.Clone(l), func(e *Error) bool { return e.EntryPoint != nil && replaced[e.EntryPoint.Group] })
	}
	out.problems, out.warnings = keep(res.problems), keep(res.warnings)
	return out
}
