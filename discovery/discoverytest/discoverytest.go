// Package discoverytest helps test programs that load plugins with package
// discovery, in the spirit of testing/fstest and registry/handlertest.
//
// Link stands in for a group's plugins during one test, so that the code
// under test, which calls discovery.Load or discovery.Lookup, gets test
// doubles instead of what the workspace declares:
//
//	func TestExportAll(t *testing.T) {
//		discoverytest.Link(t, "myapp.exporters", map[string]any{
//			"csv": func() myapp.Exporter { return &fakeExporter{} },
//		})
//		// code that calls discovery.Load[myapp.Exporter]("myapp.exporters")
//	}
//
// Check is the other direction: a conformance test that every entry point
// of a group declared in the workspace links, loads and has the type the
// program loads it as, returning one error listing every problem:
//
//	import _ "github.com/go-entrypoints/entrypoints/discovery/dynamic"
//
//	func TestExporters(t *testing.T) {
//		if err := discoverytest.Check[myapp.Exporter]("myapp.exporters"); err != nil {
//			t.Fatal(err)
//		}
//	}
package discoverytest

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"testing"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
)

// StandInValue is the Value of the entry points that Link links: they name
// no symbol of a package.
const StandInValue = "stand-in"

// Link makes group consist, until the test ends, of exactly the stand-ins
// given, by name: discovery.Find, EntryPoint.Load, Load, Lookup and Discover
// see each as an entry point linked into the binary, with Value
// StandInValue and the position of the call to Link, and no longer see the
// group's other entry points, linked or declared in the workspace, nor their
// problems (but a line of an entry_points.txt that does not parse is still
// reported: which group it meant is unknown). Other groups are not
// affected. The stand-ins come in name order; their values are made a T as
// any entry point's are (a factory is called on each load). Calling Link
// again for the same group, in the same test or a subtest, replaces its
// stand-ins until that test ends.
//
// Link changes what the whole test binary sees: a test that calls it must
// not run in parallel with tests that load the same group. Parallel tests
// may link different groups.
//
// A registry keeps what it registered after the test ends: a test that
// links handlers (group discovery.HandlersGroup) and calls
// discovery.Discover should give it a registry of its own
// (discovery.WithRegistry(registry.New())), as another test's stand-in of
// the same name in the same registry is a conflict.
func Link(t testing.TB, group string, standIns map[string]any) {
	t.Helper()
	_, file, line, _ := runtime.Caller(1)
	names := slices.Sorted(maps.Keys(standIns))
	s := make([]hooks.StandIn, len(names))
	for i, name := range names {
		s[i] = hooks.StandIn{Name: name, Value: standIns[name], File: file, Line: line}
	}
	undo, err := hooks.LinkStandIns(group, s)
	if err != nil {
		t.Fatalf("discoverytest.Link: %v", err)
	}
	t.Cleanup(undo)
}

// Check checks every entry point of group that a module of the workspace
// declares, as a program calling discovery.Load[T](group) would load it: it
// must be linked into the test binary or, if the test imports
// discovery/dynamic, build and load from the workspace, and its value must
// be a T by the rule of discovery.Load (a factory is called). It returns
// nil, or an error listing every problem at its file:line: lines that do
// not parse, conflicting declarations, entry points that cannot be loaded
// or are not a T, and a group that no module of the workspace declares.
//
// opts are those of discovery.Load; WithWorkspace names a workspace other
// than the one in effect. Check refuses to run on a group that Link
// replaced in the same test.
func Check[T any](group string, opts ...discovery.Option) error {
	plugins, err := discovery.Load[T](group, opts...)
	var list discovery.ErrorList
	if err != nil && !errors.As(err, &list) {
		return err // an option or the group name
	}
	declared := 0
	for _, p := range plugins {
		if p.EntryPoint.Value == StandInValue {
			return fmt.Errorf("discoverytest.Check: group %s has stand-ins linked by discoverytest.Link in this test; check the workspace's declarations in a test of its own", group)
		}
		if p.Dir != "" {
			declared++
		}
	}
	for _, e := range list {
		if e.EntryPoint != nil && e.EntryPoint.Dir != "" {
			declared++
		}
	}
	if declared == 0 && len(list) == 0 {
		return fmt.Errorf("discoverytest.Check: no module of the workspace declares an entry point of group %s; fix: go work use the modules that declare them, or name their workspace with discovery.WithWorkspace", group)
	}
	return err
}
