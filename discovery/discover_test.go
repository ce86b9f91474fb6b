package discovery_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
	"github.com/go-entrypoints/entrypoints/registry"
)

// fakeHandler is a handler that does nothing.
type fakeHandler struct{ backend string }

func (h fakeHandler) Backend() string { return h.backend }
func (fakeHandler) NextRendezvous(context.Context) (registry.Info, error) {
	return registry.Info{WorldSize: 1}, nil
}
func (fakeHandler) IsClosed(context.Context) (bool, error)       { return false, nil }
func (fakeHandler) SetClosed(context.Context) error              { return nil }
func (fakeHandler) NumNodesWaiting(context.Context) (int, error) { return 0, nil }
func (fakeHandler) RunID() string                                { return "" }
func (fakeHandler) Shutdown(context.Context) (bool, error)       { return true, nil }

func newFake(p registry.Parameters) (registry.Handler, error) { return fakeHandler{p.Backend}, nil }
func fakeFactory() registry.Creator                           { return newFake }

func params(backend string) registry.Parameters {
	return registry.Parameters{Backend: backend, MinNodes: 1, MaxNodes: 1}
}

// linkHandler links a torchrun.handlers entry point of module example.com/linked.
func linkHandler(name string, symbol any) {
	discovery.Link(discovery.Linked{
		Group: discovery.HandlersGroup, Name: name, Value: "example.com/linked:" + name,
		Module: "example.com/linked", Line: 7, Symbol: symbol,
	})
}

// emptyWorkspace returns a workspace with no entry points.
func emptyWorkspace(t *testing.T) string {
	return workspace(t, []string{"./m"}, module("m", "example.com/m", ""))
}

func TestDiscoverLinked(t *testing.T) {
	defer discovery.ResetLinked()()
	linkHandler("Factory", fakeFactory)
	linkHandler("Plain", registry.Creator(newFake))
	linkHandler("Func", newFake)
	discovery.Link(discovery.Linked{Group: "other", Name: "x", Value: "example.com/linked:X", Module: "example.com/linked", Symbol: 42})

	r := registry.New()
	rep, err := discovery.Discover(discovery.WithRegistry(r), discovery.WithWorkspace(emptyWorkspace(t)))
	require.NoError(t, err)
	assert.Equal(t, []string{"[torchrun.handlers] Factory", "[torchrun.handlers] Plain", "[torchrun.handlers] Func"}, names(rep.Registered))
	assert.True(t, rep.Registered[0].Linked)
	assert.Equal(t, "example.com/linked/entry_points.txt:7", rep.Registered[0].Pos())
	assert.Equal(t, []string{"Factory", "Func", "Plain"}, r.Backends())
	h, err := r.CreateHandler(params("Factory"))
	require.NoError(t, err)
	assert.Equal(t, "Factory", h.Backend())

	// A second call registers nothing twice and reports no conflict.
	rep, err = discovery.Discover(discovery.WithRegistry(r), discovery.WithWorkspace(emptyWorkspace(t)))
	require.NoError(t, err)
	assert.Empty(t, rep.Registered)
	assert.Len(t, rep.Unchanged, 3)
	assert.Equal(t, []string{"Factory", "Func", "Plain"}, r.Backends())
}

func TestDiscoverIsolatesFailures(t *testing.T) {
	defer discovery.ResetLinked()()
	linkHandler("Good", fakeFactory)
	linkHandler("WrongType", "not a factory")
	linkHandler("Panics", func() registry.Creator { panic("boom") })
	linkHandler("NilCreator", func() registry.Creator { return nil })
	linkHandler("Taken", fakeFactory)
	linkHandler("CreatorPanics", func() registry.Creator {
		return func(registry.Parameters) (registry.Handler, error) { panic("creator boom") }
	})
	gowork := workspace(t, []string{"./ws"}, module("ws", "example.com/ws",
		"[torchrun.handlers]\nnotlinked = example.com/ws:NewHandler\nbad line here\nGood = example.com/ws:Good\n"))
	dir := filepath.Dir(gowork)

	r := registry.New()
	require.NoError(t, r.Register("Taken", func(registry.Parameters) (registry.Handler, error) { return nil, nil }))
	var logs bytes.Buffer
	rep, err := discovery.Discover(discovery.WithRegistry(r), discovery.WithWorkspace(gowork),
		discovery.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.Error(t, err)

	assert.Equal(t, []string{"[torchrun.handlers] Good", "[torchrun.handlers] CreatorPanics"}, names(rep.Registered))
	assert.Equal(t, []string{"CreatorPanics", "Good", "Taken"}, r.Backends())
	msgs := make([]string, len(rep.Failed))
	for i, e := range rep.Failed {
		msgs[i] = e.Error()
		assert.Contains(t, err.Error(), msgs[i])
		assert.Contains(t, logs.String(), "entry point not registered")
	}
	ws := filepath.Join(dir, "ws", "entry_points.txt")
	linked := "example.com/linked/entry_points.txt:7: entry point "
	assert.ElementsMatch(t, []string{
		ws + `:3: unexpected line "bad line here": want name = importpath:Symbol, a [group] header, a # comment or a blank line`,
		ws + ":4: entry point Good in [torchrun.handlers] of module example.com/ws: conflicting declarations: module example.com/linked declares it too, at example.com/linked/entry_points.txt:7 (linked into this binary), and wins; fix: rename one of the two, or remove one module from the workspace (go work edit -dropuse=DIR)",
		linked + "WrongType in [torchrun.handlers] of module example.com/linked: WrongType has type string; want registry.Creator, or a func() returning registry.Creator or (registry.Creator, error)",
		linked + "Panics in [torchrun.handlers] of module example.com/linked: Panics panicked: boom",
		linked + "NilCreator in [torchrun.handlers] of module example.com/linked: NilCreator gave a nil registry.Creator",
		linked + "Taken in [torchrun.handlers] of module example.com/linked: conflicting declarations: registry: backend \"Taken\" is already registered, with creator github.com/go-entrypoints/entrypoints/discovery_test.TestDiscoverIsolatesFailures.func4; cannot register creator github.com/go-entrypoints/entrypoints/discovery_test.newFake under the same name; fix: rename the entry point, or remove one of the two from the program or the workspace",
		ws + `:2: entry point notlinked in [torchrun.handlers] of module example.com/ws: declared in the workspace but not linked into this binary; fix: run go generate ./... in the program's main module (its main package needs the line //go:generate go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints generate) and rebuild, or load it at run time with import _ "github.com/go-entrypoints/entrypoints/discovery/dynamic"; if go generate does not link it, go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints check says why`,
	}, msgs)
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
	assert.ErrorIs(t, err, discovery.ErrConflict)

	// A creator that panics gives an error, not a crash.
	_, err = r.CreateHandler(params("CreatorPanics"))
	assert.ErrorContains(t, err, `creator of backend "CreatorPanics" panicked: creator boom`)

	// Discovering again retries the failures and reports them again, but
	// registers nothing twice.
	rep2, err2 := discovery.Discover(discovery.WithRegistry(r), discovery.WithWorkspace(gowork))
	require.Error(t, err2)
	assert.Empty(t, rep2.Registered)
	assert.Len(t, rep2.Unchanged, 2)
	assert.Len(t, rep2.Failed, len(rep.Failed))
}

// fakeLoader loads entry points from a map of symbols.
type fakeLoader struct {
	symbols map[string]any
	calls   [][]string
	panics  bool
}

func (l *fakeLoader) Load(ctx context.Context, gowork string, eps []discovery.EntryPoint) ([]any, []error) {
	if l.panics {
		panic("loader boom")
	}
	hooks.Logger(ctx).Info("fake loader loading", "n", len(eps))
	vals, errs := make([]any, len(eps)), make([]error, len(eps))
	var call []string
	for i, ep := range eps {
		call = append(call, ep.Name)
		v, ok := l.symbols[ep.Value]
		if !ok {
			errs[i] = errors.New("symbol not found in plugin")
			continue
		}
		vals[i] = v
	}
	l.calls = append(l.calls, call)
	return vals, errs
}

func TestDiscoverLoader(t *testing.T) {
	defer discovery.ResetLinked()()
	defer hooks.SetLoader[discovery.EntryPoint](nil)
	linkHandler("Linked", fakeFactory)
	gowork := workspace(t, []string{"./ws", "./lk"},
		module("ws", "example.com/ws", "[torchrun.handlers]\ndyn = example.com/ws:New\nmissing = example.com/ws:Missing\n"),
		module("lk", "example.com/linked", "[torchrun.handlers]\nLinked = example.com/linked:Linked\n"))
	l := &fakeLoader{symbols: map[string]any{"example.com/ws:New": fakeFactory}}
	hooks.SetLoader[discovery.EntryPoint](l)

	r := registry.New()
	var logs bytes.Buffer
	rep, err := discovery.Discover(discovery.WithRegistry(r), discovery.WithWorkspace(gowork),
		discovery.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.Error(t, err)
	assert.Contains(t, logs.String(), "fake loader loading", "the loader logs through Discover's logger")
	assert.Equal(t, []string{"[torchrun.handlers] Linked", "[torchrun.handlers] dyn"}, names(rep.Registered))
	// The linked entry point, also declared in the workspace, points at
	// its declaration and is never loaded dynamically.
	assert.True(t, rep.Registered[0].Linked)
	assert.Equal(t, filepath.Join(filepath.Dir(gowork), "lk", "entry_points.txt:2"), rep.Registered[0].Pos())
	assert.Equal(t, [][]string{{"dyn", "missing"}}, l.calls)
	require.Len(t, rep.Failed, 1)
	assert.Contains(t, rep.Failed[0].Error(), "entry_points.txt:3: entry point missing in [torchrun.handlers] of module example.com/ws: symbol not found in plugin")

	// Loaded entry points are not loaded again.
	_, err = discovery.Discover(discovery.WithRegistry(r), discovery.WithWorkspace(gowork))
	require.Error(t, err)
	assert.Equal(t, [][]string{{"dyn", "missing"}, {"missing"}}, l.calls)

	// A loader that panics fails its entry points only.
	hooks.SetLoader[discovery.EntryPoint](&fakeLoader{panics: true})
	rep, err = discovery.Discover(discovery.WithRegistry(registry.New()), discovery.WithWorkspace(gowork))
	assert.ErrorContains(t, err, "the dynamic loader panicked: loader boom")
	assert.Equal(t, []string{"[torchrun.handlers] Linked"}, names(rep.Registered))
}

func TestDiscoverStaleLink(t *testing.T) {
	defer discovery.ResetLinked()()
	linkHandler("h", fakeFactory)
	gowork := workspace(t, []string{"./lk"},
		module("lk", "example.com/linked", "[torchrun.handlers]\nh = example.com/linked:Renamed\n"))
	var logs bytes.Buffer
	rep, err := discovery.Discover(discovery.WithRegistry(registry.New()), discovery.WithWorkspace(gowork),
		discovery.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	assert.Equal(t, []string{"[torchrun.handlers] h"}, names(rep.Registered))
	require.Len(t, rep.Warnings, 1)
	assert.Contains(t, rep.Warnings[0].Error(), "entry_points.txt:2: entry point h in [torchrun.handlers] of module example.com/linked: declared as example.com/linked:Renamed but linked as example.com/linked:h; the linked symbol is used; fix: go generate ./...")
	assert.Contains(t, logs.String(), "level=WARN")
}

// TestOutOfTreeHandlerLoading is PyTorch's out-of-tree rendezvous test,
// ported at the level of metadata: testbackend is seen once its module is
// in the workspace, and not after it is removed. The end-to-end test of the
// entrypoints command runs the same steps with a real program.
func TestOutOfTreeHandlerLoading(t *testing.T) {
	defer discovery.ResetLinked()()
	backend := filepath.Join(repoRoot(t), "testpackages", "testbackend")
	find := func(dirs ...string) []string {
		gowork := workspace(t, dirs, module("app", "example.com/app", ""))
		eps, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup(discovery.HandlersGroup))
		require.NoError(t, err)
		return names(eps)
	}
	assert.NotContains(t, find("./app"), "[torchrun.handlers] testbackend")
	assert.Contains(t, find("./app", backend), "[torchrun.handlers] testbackend")
	assert.NotContains(t, find("./app"), "[torchrun.handlers] testbackend")
}

// TestLinkedWinsOverEarlierDeclaration checks that a linked entry point
// wins over a workspace module declaring the same name earlier in use
// order, and that the conflict names the linked one's declaration.
func TestLinkedWinsOverEarlierDeclaration(t *testing.T) {
	defer discovery.ResetLinked()()
	linkHandler("H", fakeFactory)
	gowork := workspace(t, []string{"./first", "./lk"},
		module("first", "example.com/first", "[torchrun.handlers]\nH = example.com/first:H\n"),
		module("lk", "example.com/linked", "[torchrun.handlers]\n\nH = example.com/linked:H\n"))
	eps, err := discovery.Find(discovery.WithWorkspace(gowork))
	require.Len(t, eps, 1)
	assert.Equal(t, "example.com/linked", eps[0].Module)
	assert.True(t, eps[0].Linked)
	lk := filepath.Join(filepath.Dir(gowork), "lk", "entry_points.txt")
	assert.Equal(t, lk+":3", eps[0].Pos())
	assert.ErrorContains(t, err, "first/entry_points.txt:2: entry point H in [torchrun.handlers] of module example.com/first: conflicting declarations: module example.com/linked declares it too, at "+lk+":3 (linked into this binary), and wins")
}

// TestDiscoverRegistersOnce checks that Discover is Load[registry.Creator]
// plus Register: a factory returning (registry.Creator, error) is called,
// and a name the program registered itself, even with the very creator the
// entry point gives, is a conflict, while Discover's own registrations are
// not.
func TestDiscoverRegistersOnce(t *testing.T) {
	defer discovery.ResetLinked()()
	linkHandler("ErrFactory", func() (registry.Creator, error) { return newFake, nil })
	linkHandler("Failing", func() (registry.Creator, error) { return nil, errors.New("no endpoint configured") })
	linkHandler("Mine", registry.Creator(newFake))
	r := registry.New()
	require.NoError(t, r.Register("Mine", newFake))
	ws := discovery.WithWorkspace(emptyWorkspace(t))
	for range 2 {
		rep, err := discovery.Discover(discovery.WithRegistry(r), ws)
		var list discovery.ErrorList
		require.ErrorAs(t, err, &list)
		require.Len(t, list, 2)
		assert.Contains(t, list[0].Error(), "entry point Failing in [torchrun.handlers] of module example.com/linked: Failing failed: no endpoint configured")
		assert.Contains(t, list[1].Error(), `entry point Mine in [torchrun.handlers] of module example.com/linked: conflicting declarations: registry: backend "Mine" is already registered`)
		assert.ErrorIs(t, err, discovery.ErrConflict)
		assert.Len(t, append(rep.Registered, rep.Unchanged...), 1)
	}
	assert.Equal(t, []string{"ErrFactory", "Mine"}, r.Backends())
}
