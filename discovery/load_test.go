package discovery_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
	"github.com/go-entrypoints/entrypoints/registry"
)

// Exporter is the interface of the test group's values.
type Exporter interface{ Export() string }

type csvExporter struct{ sep string }

func (e *csvExporter) Export() string { return "csv" + e.sep }

// link links an entry point of group g, module example.com/plugins, whose
// symbol is named like the entry point, capitalised.
func link(g, name string, symbol any) {
	discovery.Link(discovery.Linked{
		Group: g, Name: name, Value: "example.com/plugins:" + strings.ToUpper(name[:1]) + name[1:],
		Module: "example.com/plugins", Line: 3, Symbol: symbol,
	})
}

// TestLoadRule checks the rule that makes a value a T, case by case, with
// Lookup.
func TestLoadRule(t *testing.T) {
	defer discovery.ResetLinked()()
	calls := 0
	var nilExporter *csvExporter
	var nilFactory func() Exporter
	var nilCreator registry.Creator
	errBroken := errors.New("broken config")
	for name, symbol := range map[string]any{
		"Value":           &csvExporter{","},
		"Factory":         func() Exporter { calls++; return &csvExporter{";"} },
		"ConcreteFactory": func() *csvExporter { return &csvExporter{"|"} },
		"ErrFactory":      func() (Exporter, error) { return &csvExporter{"\t"}, nil },
		"Failing":         func() (Exporter, error) { return nil, errBroken },
		"Panicking":       func() Exporter { panic("no config") },
		"WrongType":       "csv",
		"NotPointer":      csvExporter{","},
		"NotPointerMaker": func() csvExporter { return csvExporter{} },
		"WithParams":      func(sep string) Exporter { return &csvExporter{sep} },
		"Variadic":        func(...string) Exporter { return &csvExporter{} },
		"TwoResults":      func() (Exporter, int) { return &csvExporter{}, 0 },
		"NilSymbol":       nil,
		"NilPointer":      nilExporter,
		"NilFactory":      nilFactory,
		"GivesNil":        func() Exporter { return nil },
		"GivesNilPointer": func() *csvExporter { return nil },
		"GivesTypedNil":   func() Exporter { var p *csvExporter; return p },
		"GivesTypedNilErr": func() (Exporter, error) {
			var p *csvExporter
			return p, nil
		},
		"UnnamedFunc": newFake,
		"NamedFunc":   registry.Creator(newFake),
		"NilCreator":  nilCreator,
	} {
		link("test.rule", name, symbol)
	}
	lookup := func(name string) (string, error) {
		t.Helper()
		e, err := discovery.Lookup[Exporter]("test.rule", name, discovery.WithWorkspace(emptyWorkspace(t)))
		if err != nil {
			return "", err
		}
		return e.Export(), nil
	}
	pos := "example.com/plugins/entry_points.txt:3: entry point "
	for _, tc := range []struct{ name, want, err string }{
		{name: "Value", want: "csv,"},
		{name: "Factory", want: "csv;"},
		{name: "ConcreteFactory", want: "csv|"},
		{name: "ErrFactory", want: "csv\t"},
		{name: "Failing", err: "Failing in [test.rule] of module example.com/plugins: Failing failed: broken config"},
		{name: "Panicking", err: "Panicking in [test.rule] of module example.com/plugins: Panicking panicked: no config"},
		{name: "WrongType", err: "WrongType has type string; want discovery_test.Exporter, or a func() returning discovery_test.Exporter or (discovery_test.Exporter, error)"},
		{name: "NotPointer", err: "NotPointer has type discovery_test.csvExporter; want discovery_test.Exporter, or a func() returning discovery_test.Exporter or (discovery_test.Exporter, error) (discovery_test.csvExporter does not implement discovery_test.Exporter: method Export has pointer receiver; use a *discovery_test.csvExporter)"},
		{name: "NotPointerMaker", err: "NotPointerMaker has type func() discovery_test.csvExporter; want discovery_test.Exporter, or a func() returning discovery_test.Exporter or (discovery_test.Exporter, error) (discovery_test.csvExporter does not implement discovery_test.Exporter: method Export has pointer receiver; use a *discovery_test.csvExporter)"},
		{name: "WithParams", err: "WithParams has type func(string) discovery_test.Exporter; want discovery_test.Exporter, or a func()"},
		{name: "Variadic", err: "Variadic has type func(...string) discovery_test.Exporter; want"},
		{name: "TwoResults", err: "TwoResults has type func() (discovery_test.Exporter, int); want"},
		{name: "NilSymbol", err: "NilSymbol is nil; want discovery_test.Exporter"},
		{name: "NilPointer", err: "NilPointer is a nil *discovery_test.csvExporter"},
		{name: "NilFactory", err: "NilFactory is a nil func() discovery_test.Exporter"},
		{name: "GivesNil", err: "GivesNil gave a nil discovery_test.Exporter"},
		{name: "GivesNilPointer", err: "GivesNilPointer gave a nil discovery_test.Exporter"},
		{name: "GivesTypedNil", err: "GivesTypedNil gave a nil *discovery_test.csvExporter as a discovery_test.Exporter"},
		{name: "GivesTypedNilErr", err: "GivesTypedNilErr gave a nil *discovery_test.csvExporter as a discovery_test.Exporter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lookup(tc.name)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), pos+tc.name)
				assert.Contains(t, err.Error(), tc.err)
				var e *discovery.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tc.name, e.EntryPoint.Name)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	// A factory is called on each load; an error it returns is wrapped.
	calls = 0
	_, err := lookup("Factory")
	require.NoError(t, err)
	_, err = lookup("Factory")
	require.NoError(t, err)
	assert.Equal(t, 2, calls)
	_, err = lookup("Failing")
	assert.ErrorIs(t, err, errBroken)

	// A func whose type is T, or whose unnamed type is T's, is a value,
	// not a factory; a nil one is refused.
	ws := discovery.WithWorkspace(emptyWorkspace(t))
	for _, name := range []string{"UnnamedFunc", "NamedFunc"} {
		c, err := discovery.Lookup[registry.Creator]("test.rule", name, ws)
		require.NoError(t, err, name)
		h, err := c(params("x"))
		require.NoError(t, err)
		assert.Equal(t, "x", h.Backend())
	}
	_, err = discovery.Lookup[registry.Creator]("test.rule", "NilCreator", ws)
	assert.ErrorContains(t, err, "NilCreator is a nil registry.Creator")

	// With T = any every value is taken as it is: a factory is not called.
	calls = 0
	v, err := discovery.Lookup[any]("test.rule", "Factory", ws)
	require.NoError(t, err)
	assert.IsType(t, func() Exporter { return nil }, v)
	assert.Equal(t, 0, calls)

	// A func type as T: a func of that type is a value.
	f, err := discovery.Lookup[func() Exporter]("test.rule", "Factory", ws)
	require.NoError(t, err)
	assert.Equal(t, 0, calls)
	assert.Equal(t, "csv;", f().Export())
}

func TestLoadIsolatesFailures(t *testing.T) {
	defer discovery.ResetLinked()()
	link("test.exporters", "csv", func() Exporter { return &csvExporter{","} })
	link("test.exporters", "broken", func() Exporter { panic("boom") })
	link("test.exporters", "tsv", &csvExporter{"\t"})
	link("test.other", "x", "not an exporter")
	gowork := workspace(t, []string{"./ws"}, module("ws", "example.com/ws",
		"[test.exporters]\nnotlinked = example.com/ws:New\nbad line\n[test.other]\ny = example.com/ws:Y\n"))
	var logs bytes.Buffer
	plugins, err := discovery.Load[Exporter]("test.exporters", discovery.WithWorkspace(gowork),
		discovery.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.Len(t, plugins, 2)
	assert.Equal(t, "csv", plugins[0].Name)
	assert.Equal(t, "csv,", plugins[0].Value.Export())
	assert.Equal(t, "example.com/plugins/entry_points.txt:3", plugins[0].Pos())
	assert.Equal(t, "tsv", plugins[1].Name)
	assert.Equal(t, "csv\t", plugins[1].Value.Export())

	var list discovery.ErrorList
	require.ErrorAs(t, err, &list)
	epfile := filepath.Join(filepath.Dir(gowork), "ws", "entry_points.txt")
	require.Len(t, list, 3)
	assert.Equal(t, epfile+`:3: unexpected line "bad line": want name = importpath:Symbol, a [group] header, a # comment or a blank line`, list[0].Error())
	assert.Equal(t, "example.com/plugins/entry_points.txt:3: entry point broken in [test.exporters] of module example.com/plugins: Broken panicked: boom", list[1].Error())
	assert.Contains(t, list[2].Error(), epfile+":2: entry point notlinked in [test.exporters] of module example.com/ws: declared in the workspace but not linked into this binary; fix: run go generate ./...")
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
	for _, e := range list {
		assert.Contains(t, logs.String(), e.Error()[:40])
	}
	assert.Contains(t, logs.String(), "level=WARN msg=\"discovery: entry point not loaded: example.com/plugins/entry_points.txt:3: entry point broken")
	assert.Contains(t, logs.String(), "level=WARN msg=\"discovery: "+epfile+`:3: unexpected line \"bad line\"`, "a line that does not parse is no entry point not loaded")

	// Another group's failures are not this one's, nor the lines of its
	// section that do not parse.
	_, err = discovery.Load[string]("test.other", discovery.WithWorkspace(gowork))
	assert.NotContains(t, err.Error(), "broken")
	assert.NotContains(t, err.Error(), "bad line")
}

// TestLoadAnyGroupDynamically checks that the dynamic loader is asked for
// the entry points of any group, not only rendezvous handlers.
func TestLoadAnyGroupDynamically(t *testing.T) {
	defer discovery.ResetLinked()()
	defer hooks.SetLoader[discovery.EntryPoint](nil)
	l := &fakeLoader{symbols: map[string]any{"example.com/ws:New": func() (Exporter, error) { return &csvExporter{"!"}, nil }}}
	hooks.SetLoader[discovery.EntryPoint](l)
	gowork := workspace(t, []string{"./ws"}, module("ws", "example.com/ws",
		"[test.exporters]\ndyn = example.com/ws:New\nmissing = example.com/ws:Missing\n"))
	plugins, err := discovery.Load[Exporter]("test.exporters", discovery.WithWorkspace(gowork))
	require.Len(t, plugins, 1)
	assert.Equal(t, "csv!", plugins[0].Value.Export())
	assert.ErrorContains(t, err, "entry_points.txt:3: entry point missing in [test.exporters] of module example.com/ws: symbol not found in plugin")
	assert.Equal(t, [][]string{{"dyn", "missing"}}, l.calls)

	// Lookup loads the one entry point it is asked for.
	e, err := discovery.Lookup[Exporter]("test.exporters", "dyn", discovery.WithWorkspace(gowork))
	require.NoError(t, err)
	assert.Equal(t, "csv!", e.Export())
	assert.Equal(t, [][]string{{"dyn", "missing"}, {"dyn"}}, l.calls)

	// So does EntryPoint.Load, given the workspace, which returns the
	// factory itself.
	eps, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup("test.exporters"))
	require.NoError(t, err)
	v, err := eps[0].Load(discovery.WithWorkspace(gowork))
	require.NoError(t, err)
	assert.IsType(t, func() (Exporter, error) { return nil, nil }, v)
	_, err = eps[1].Load(discovery.WithWorkspace(gowork))
	assert.ErrorContains(t, err, "entry_points.txt:3: entry point missing in [test.exporters] of module example.com/ws: symbol not found in plugin")

	// No workspace to build from: none in effect, and none named.
	t.Setenv("GOWORK", "off")
	_, err = eps[0].Load()
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
	assert.ErrorContains(t, err, "entry_points.txt:2: entry point dyn in [test.exporters] of module example.com/ws: declared in the workspace but not linked into this binary, and the dynamic loader has no workspace to build it from; fix: run the program from the workspace it was built from, or name it with discovery.WithWorkspace")

	// An entry point whose module the workspace does not use.
	other := workspace(t, []string{"./m"}, module("m", "example.com/m", ""))
	_, err = eps[0].Load(discovery.WithWorkspace(other))
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
	assert.ErrorContains(t, err, "its module example.com/ws is not in the workspace "+other)
}

func TestEntryPointLoad(t *testing.T) {
	defer discovery.ResetLinked()()
	calls := 0
	factory := func() Exporter { calls++; return &csvExporter{} }
	link("test.exporters", "csv", factory)
	gowork := workspace(t, []string{"./ws"}, module("ws", "example.com/ws", "[test.exporters]\nxml = example.com/ws:XML\n"))
	eps, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup("test.exporters"))
	require.NoError(t, err)
	require.Len(t, eps, 2)

	// A linked entry point's value is its symbol, not called.
	v, err := eps[0].Load()
	require.NoError(t, err)
	f, ok := v.(func() Exporter)
	require.True(t, ok)
	assert.Equal(t, "csv", f().Export())
	assert.Equal(t, 1, calls)

	// An entry point parsed from a file is found in the linked table by
	// its group, name and value.
	parsed, err := discovery.ParseFile("entry_points.txt", []byte("[test.exporters]\ncsv = example.com/plugins:Csv\n"))
	require.NoError(t, err)
	v, err = parsed[0].Load()
	require.NoError(t, err)
	assert.IsType(t, factory, v)

	// Not linked, and no dynamic loader.
	_, err = eps[1].Load(discovery.WithWorkspace(gowork))
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
	var e *discovery.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, eps[1].Pos(), e.Pos())
	assert.Contains(t, err.Error(), "entry point xml in [test.exporters] of module example.com/ws: declared in the workspace but not linked into this binary; fix: run go generate ./...")
}

func TestLookupUnknownName(t *testing.T) {
	defer discovery.ResetLinked()()
	link("test.exporters", "tsv", &csvExporter{})
	link("test.exporters", "csv", &csvExporter{})
	gowork := workspace(t, []string{"./ws"}, module("ws", "example.com/ws", "[test.exporters]\njson = example.com/ws:JSON\n"))
	_, err := discovery.Lookup[Exporter]("test.exporters", "xml", discovery.WithWorkspace(gowork))
	assert.ErrorIs(t, err, discovery.ErrNotFound)
	assert.EqualError(t, err, `no such entry point: group test.exporters has no entry point "xml"; it has csv, json, tsv`)

	_, err = discovery.Lookup[Exporter]("test.empty", "xml", discovery.WithWorkspace(gowork))
	assert.EqualError(t, err, `no such entry point: group test.empty has no entry point "xml"; it has none: no module of the workspace declares one, and none is linked into this binary`)

	// A line that does not parse may be the missing entry point.
	bad := workspace(t, []string{"./ws"}, module("ws", "example.com/ws", "[test.exporters]\nxml = example.com/ws:\n"))
	_, err = discovery.Lookup[Exporter]("test.exporters", "xml", discovery.WithWorkspace(bad))
	assert.ErrorIs(t, err, discovery.ErrNotFound)
	assert.ErrorContains(t, err, "problems met in the group, which may explain it:\n"+filepath.Join(filepath.Dir(bad), "ws", "entry_points.txt")+":2: ")
}

// TestLookupConflict checks that Lookup returns the entry point that wins
// a conflict, and warns about it.
func TestLookupConflict(t *testing.T) {
	defer discovery.ResetLinked()()
	link("test.exporters", "csv", &csvExporter{"linked"})
	gowork := workspace(t, []string{"./ws"}, module("ws", "example.com/ws", "[test.exporters]\ncsv = example.com/ws:CSV\n"))
	var logs bytes.Buffer
	e, err := discovery.Lookup[Exporter]("test.exporters", "csv", discovery.WithWorkspace(gowork),
		discovery.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	assert.Equal(t, "csvlinked", e.Export())
	assert.Contains(t, logs.String(), "entry point csv in [test.exporters] of module example.com/ws: conflicting declarations: module example.com/plugins declares it too")
}

func TestOptionsThatDoNotApply(t *testing.T) {
	defer discovery.ResetLinked()()
	link("test.exporters", "csv", &csvExporter{})
	gowork := emptyWorkspace(t)
	ws := discovery.WithWorkspace(gowork)
	var noContext context.Context
	ep := discovery.EntryPoint{Group: "test.exporters", Name: "csv", Value: "example.com/plugins:Csv"}
	lookup := func(opts ...discovery.Option) error {
		_, err := discovery.Lookup[Exporter]("test.exporters", "csv", opts...)
		return err
	}
	load := func(opts ...discovery.Option) error {
		_, err := discovery.Load[Exporter]("test.exporters", opts...)
		return err
	}
	find := func(opts ...discovery.Option) error {
		_, err := discovery.Find(opts...)
		return err
	}
	epLoad := func(opts ...discovery.Option) error {
		_, err := ep.Load(opts...)
		return err
	}
	discover := func(opts ...discovery.Option) error {
		rep, err := discovery.Discover(append(opts, discovery.WithRegistry(registry.New()))...)
		require.NotNil(t, rep)
		return err
	}
	for _, tc := range []struct {
		name string
		call func(...discovery.Option) error
		opts []discovery.Option
		err  string // "" if the call succeeds
	}{
		{"Find/WithRegistry", find, []discovery.Option{ws, discovery.WithRegistry(registry.New())},
			"discovery.Find: option WithRegistry does not apply: Find reads metadata only: it loads and registers nothing; remove it (Find takes WithWorkspace, WithModules, WithGroup, WithLogger)"},
		{"Find/WithContext", find, []discovery.Option{ws, discovery.WithContext(context.Background())}, "option WithContext does not apply"},
		{"Find/WithGroup", find, []discovery.Option{ws, discovery.WithGroup("any.group")}, ""},
		{"Find/WorkspaceAndModules", find, []discovery.Option{ws, discovery.WithModules(t.TempDir())},
			"discovery.Find: options WithWorkspace and WithModules exclude each other"},
		{"Find/nil", find, []discovery.Option{ws, nil}, "discovery.Find: option 2 is nil"},
		{"Find/EmptyGroup", find, []discovery.Option{ws, discovery.WithGroup("")},
			`discovery.Find: WithGroup(""): invalid group name: want one or more word runs joined by dots, such as myapp.exporters`},
		{"Find/InvalidGroup", find, []discovery.Option{ws, discovery.WithGroup("my app")}, `discovery.Find: WithGroup("my app"): invalid group name`},
		{"Find/EmptyWorkspace", find, []discovery.Option{discovery.WithWorkspace("")},
			`discovery.Find: WithWorkspace(""): name a go.work file or its directory, or omit the option for the workspace in effect`},
		{"Load/EmptyWorkspace", load, []discovery.Option{discovery.WithWorkspace("")}, `discovery.Load: WithWorkspace("")`},
		{"Load/WithRegistry", load, []discovery.Option{ws, discovery.WithRegistry(registry.New())},
			"discovery.Load: option WithRegistry does not apply: Load takes its group as an argument and registers nothing"},
		{"Load/OtherGroup", load, []discovery.Option{ws, discovery.WithGroup("other")},
			`discovery.Load: option WithGroup("other") contradicts group "test.exporters"`},
		{"Load/SameGroup", load, []discovery.Option{ws, discovery.WithGroup("test.exporters")}, ""},
		{"Load/nilContext", load, []discovery.Option{ws, discovery.WithContext(noContext)}, "discovery.Load: WithContext(nil)"},
		{"Lookup/WithRegistry", lookup, []discovery.Option{ws, discovery.WithRegistry(registry.New())}, "discovery.Lookup: option WithRegistry does not apply"},
		{"Lookup/OtherGroup", lookup, []discovery.Option{ws, discovery.WithGroup("other")}, "discovery.Lookup: option WithGroup(\"other\") contradicts"},
		{"EntryPoint.Load/WithGroup", epLoad, []discovery.Option{discovery.WithGroup("test.exporters")}, "discovery.EntryPoint.Load: option WithGroup does not apply"},
		{"EntryPoint.Load/WithModules", epLoad, []discovery.Option{discovery.WithModules()}, "discovery.EntryPoint.Load: option WithModules does not apply"},
		{"EntryPoint.Load/WithRegistry", epLoad, []discovery.Option{discovery.WithRegistry(registry.New())}, "option WithRegistry does not apply"},
		{"EntryPoint.Load/ok", epLoad, []discovery.Option{ws, discovery.WithLogger(slog.Default()), discovery.WithContext(context.Background())}, ""},
		{"Discover/OtherGroup", discover, []discovery.Option{ws, discovery.WithGroup("myapp.exporters")},
			`discovery.Discover: option WithGroup("myapp.exporters") contradicts group "torchrun.handlers": Discover registers the entry points of group torchrun.handlers; remove it`},
		{"Discover/HandlersGroup", discover, []discovery.Option{ws, discovery.WithGroup(discovery.HandlersGroup)}, ""},
		{"Discover/nilRegistry", discover, []discovery.Option{ws, discovery.WithRegistry(nil)}, ""}, // the later WithRegistry wins
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(tc.opts...)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
	rep, err := discovery.Discover(ws, discovery.WithRegistry(nil))
	assert.ErrorContains(t, err, "discovery.Discover: WithRegistry(nil)")
	assert.Empty(t, rep.Registered)

	// WithModules of no module reads none, rather than the workspace in
	// effect (the repository's, for this test).
	eps, err := discovery.Find(discovery.WithModules())
	require.NoError(t, err)
	assert.Equal(t, []string{"[test.exporters] csv"}, names(eps))
	eps, err = discovery.Find(discovery.WithModules([]string{}...))
	require.NoError(t, err)
	assert.Len(t, eps, 1)

	for _, g := range []string{"", "my app", ".x", "x."} {
		_, err := discovery.Load[Exporter](g, ws)
		assert.ErrorContains(t, err, "discovery.Load: invalid group name "+`"`+g+`"`)
		_, err = discovery.Lookup[Exporter](g, "x", ws)
		assert.ErrorContains(t, err, "discovery.Lookup: invalid group name")
	}
}

// TestConcurrentLoads runs Find, Load, Lookup, EntryPoint.Load, Discover
// and Link at once, as the goroutines of a server may: run with -race.
func TestConcurrentLoads(t *testing.T) {
	defer discovery.ResetLinked()()
	var calls atomic.Int64
	link("test.exporters", "csv", func() Exporter { calls.Add(1); return &csvExporter{","} })
	linkHandler("conc", fakeFactory)
	gowork := workspace(t, []string{"./ws"}, module("ws", "example.com/ws",
		"[test.exporters]\nxml = example.com/ws:XML\n[torchrun.handlers]\nnotlinked = example.com/ws:New\n"))
	ws := discovery.WithWorkspace(gowork)
	discard := slog.New(slog.DiscardHandler)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 6*n)
	for range n {
		wg.Go(func() {
			plugins, err := discovery.Load[Exporter]("test.exporters", ws, discovery.WithLogger(discard))
			if len(plugins) != 1 || plugins[0].Value.Export() != "csv," || !errors.Is(err, discovery.ErrNotLinked) {
				errs <- fmt.Errorf("Load: %d plugins, %v", len(plugins), err)
			}
		})
		wg.Go(func() {
			if e, err := discovery.Lookup[Exporter]("test.exporters", "csv", ws, discovery.WithLogger(discard)); err != nil || e.Export() != "csv," {
				errs <- fmt.Errorf("Lookup: %v", err)
			}
		})
		wg.Go(func() {
			eps, err := discovery.Find(ws, discovery.WithGroup("test.exporters"))
			if err != nil || len(eps) != 2 {
				errs <- fmt.Errorf("Find: %v, %v", eps, err)
				return
			}
			if _, err := eps[0].Load(ws); err != nil {
				errs <- fmt.Errorf("EntryPoint.Load: %v", err)
			}
		})
		wg.Go(func() {
			rep, _ := discovery.Discover(ws, discovery.WithRegistry(registry.New()), discovery.WithLogger(discard))
			if len(rep.Registered) != 1 || len(rep.Failed) != 1 {
				errs <- fmt.Errorf("Discover: registered %v, failed %v", names(rep.Registered), rep.Failed)
			}
		})
		wg.Go(func() { link("test.other", "x", "x") })
		wg.Go(func() {
			if _, err := discovery.Lookup[string]("test.other", "x", ws); err != nil && !errors.Is(err, discovery.ErrNotFound) {
				errs <- fmt.Errorf("Lookup of a group being linked: %v", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, int64(2*n), calls.Load(), "each Load and Lookup calls the factory once")
}

// TestEntryPointLoadInvalid checks that EntryPoint.Load of an entry point
// that no entry_points.txt can declare, such as the zero EntryPoint, says
// so rather than calling it declared but not linked.
func TestEntryPointLoadInvalid(t *testing.T) {
	for _, tc := range []struct {
		ep  discovery.EntryPoint
		err string
	}{
		{discovery.EntryPoint{}, `discovery.EntryPoint.Load: invalid group name "" in entry point []  = : want one or more word runs joined by dots, such as myapp.exporters; fix: load an entry point that discovery.Find returns`},
		{discovery.EntryPoint{Group: "g", Name: "a b", Value: "example.com/x:X"}, `discovery.EntryPoint.Load: invalid name "a b" in entry point [g] a b = example.com/x:X`},
		{discovery.EntryPoint{Group: "g", Name: "x", Value: "example.com/x"}, `discovery.EntryPoint.Load: invalid value "example.com/x": want importpath:Symbol`},
		{discovery.EntryPoint{Group: "g", Name: "x", Value: "example.com/x:new", File: "entry_points.txt", Line: 2}, `entry_points.txt:2: discovery.EntryPoint.Load: invalid symbol "new" in "example.com/x:new"`},
	} {
		_, err := tc.ep.Load()
		assert.ErrorContains(t, err, tc.err)
		assert.NotErrorIs(t, err, discovery.ErrNotLinked)
		var e *discovery.Error
		assert.ErrorAs(t, err, &e)
	}
	// A valid entry point that is not linked is not linked.
	_, err := discovery.EntryPoint{Group: "g", Name: "x", Value: "example.com/x:X"}.Load()
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
}
