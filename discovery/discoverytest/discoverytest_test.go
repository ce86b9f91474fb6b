package discoverytest_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/discoverytest"
	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
	"github.com/go-entrypoints/entrypoints/registry"
)

// Exporter is the interface of the test group's values.
type Exporter interface{ Export() string }

type fakeExporter string

func (e fakeExporter) Export() string { return string(e) }

// workspace writes a go.work using the modules given (directory -> module
// path and entry_points.txt) in a temporary directory, and returns its path.
func workspace(t *testing.T, mods ...[3]string) string {
	t.Helper()
	root := t.TempDir()
	work := "go 1.26\n\nuse (\n"
	for _, m := range mods {
		dir := filepath.Join(root, m[0])
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+m[1]+"\n\ngo 1.26\n"), 0o644))
		if m[2] != "" {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "entry_points.txt"), []byte(m[2]), 0o644))
		}
		work += "\t./" + m[0] + "\n"
	}
	gowork := filepath.Join(root, "go.work")
	require.NoError(t, os.WriteFile(gowork, []byte(work+")\n"), 0o644))
	return gowork
}

// here returns the current file and the line after the call.
func here() (string, int) {
	_, file, line, _ := runtime.Caller(1)
	return file, line + 1
}

func TestLink(t *testing.T) {
	gowork := workspace(t,
		[3]string{"ws", "example.com/ws", "[test.exporters]\ncsv = example.com/ws:CSV\n[test.other]\nx = example.com/ws:X\n"},
		[3]string{"ws2", "example.com/ws2", "[test.exporters]\ncsv = example.com/ws2:CSV\n"})
	ws := discovery.WithWorkspace(gowork)

	calls := 0
	t.Run("stand-ins", func(t *testing.T) {
		file, line := here()
		discoverytest.Link(t, "test.exporters", map[string]any{
			"json": fakeExporter("json"),
			"csv":  func() Exporter { calls++; return fakeExporter("fake csv") },
		})
		// The group has the stand-ins alone, in name order, and none of
		// the problems of its declarations in the workspace.
		plugins, err := discovery.Load[Exporter]("test.exporters", ws)
		require.NoError(t, err)
		require.Len(t, plugins, 2)
		assert.Equal(t, "csv", plugins[0].Name)
		assert.Equal(t, "fake csv", plugins[0].Value.Export())
		assert.Equal(t, "json", plugins[1].Name)
		assert.Equal(t, discoverytest.StandInValue, plugins[1].EntryPoint.Value)
		assert.True(t, plugins[1].Linked)
		assert.Equal(t, file+":"+strconv.Itoa(line), plugins[1].Pos())
		e, err := discovery.Lookup[Exporter]("test.exporters", "csv", ws)
		require.NoError(t, err)
		assert.Equal(t, "fake csv", e.Export())
		assert.Equal(t, 2, calls)

		// Find and EntryPoint.Load see them too.
		eps, err := discovery.Find(ws, discovery.WithGroup("test.exporters"))
		require.NoError(t, err)
		require.Len(t, eps, 2)
		v, err := eps[0].Load()
		require.NoError(t, err)
		assert.IsType(t, func() Exporter { return nil }, v)

		// Other groups are as they were.
		_, err = discovery.Lookup[any]("test.other", "x", ws)
		assert.ErrorIs(t, err, discovery.ErrNotLinked)

		// Linking again replaces the group's stand-ins.
		discoverytest.Link(t, "test.exporters", map[string]any{"xml": fakeExporter("xml")})
		plugins, err = discovery.Load[Exporter]("test.exporters", ws)
		require.NoError(t, err)
		require.Len(t, plugins, 1)
		assert.Equal(t, "xml", plugins[0].Name)
	})

	// Once the test is over, the workspace's entry points are back.
	eps, err := discovery.Find(ws, discovery.WithGroup("test.exporters"))
	assert.Error(t, err)
	require.Len(t, eps, 1)
	assert.Equal(t, "example.com/ws:CSV", eps[0].Value)
	_, err = discovery.Lookup[Exporter]("test.exporters", "csv", ws)
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
}

func TestLinkHandlers(t *testing.T) {
	discoverytest.Link(t, discovery.HandlersGroup, map[string]any{
		"fake": func() registry.Creator {
			return func(p registry.Parameters) (registry.Handler, error) { return nil, errors.New("fake handler") }
		},
	})
	r := registry.New()
	rep, err := discovery.Discover(discovery.WithRegistry(r), discovery.WithWorkspace(workspace(t)))
	require.NoError(t, err)
	require.Len(t, rep.Registered, 1)
	assert.Equal(t, []string{"fake"}, r.Backends())
	_, err = r.CreateHandler(registry.Parameters{Backend: "fake", MinNodes: 1, MaxNodes: 1})
	assert.ErrorContains(t, err, "fake handler")
}

func TestStandInValue(t *testing.T) {
	assert.Equal(t, hooks.StandInValue, discoverytest.StandInValue)
}

func TestLinkRefusesBadNames(t *testing.T) {
	_, err := hooks.LinkStandIns("my app", nil)
	assert.EqualError(t, err, `invalid group name "my app": want one or more word runs joined by dots, such as myapp.exporters`)
	_, err = hooks.LinkStandIns("myapp", []hooks.StandIn{{Name: "a b"}})
	assert.EqualError(t, err, `invalid entry point name "a b": want letters, digits, _, . and -`)
}

// fakeLoader loads entry points from a map of symbols, as the dynamic
// loader would from a plugin built from the workspace.
type fakeLoader map[string]any

func (l fakeLoader) Load(_ context.Context, _ string, eps []discovery.EntryPoint) ([]any, []error) {
	vals, errs := make([]any, len(eps)), make([]error, len(eps))
	for i, ep := range eps {
		v, ok := l[ep.Value]
		if !ok {
			errs[i] = errors.New("undefined: " + ep.Symbol())
			continue
		}
		vals[i] = v
	}
	return vals, errs
}

func TestCheck(t *testing.T) {
	defer hooks.SetLoader[discovery.EntryPoint](nil)
	hooks.SetLoader[discovery.EntryPoint](fakeLoader{
		"example.com/a:CSV":    func() Exporter { return fakeExporter("csv") },
		"example.com/a:JSON":   fakeExporter("json"),
		"example.com/b:XML":    func() (Exporter, error) { return nil, errors.New("no schema") },
		"example.com/b:YAML":   "yaml",
		"example.com/b:Panics": func() Exporter { panic("boom") },
	})
	good := workspace(t, [3]string{"a", "example.com/a", "[test.exporters]\ncsv = example.com/a:CSV\njson = example.com/a:JSON\n"})
	assert.NoError(t, discoverytest.Check[Exporter]("test.exporters", discovery.WithWorkspace(good)))

	bad := workspace(t,
		[3]string{"a", "example.com/a", "[test.exporters]\ncsv = example.com/a:CSV\n"},
		[3]string{"b", "example.com/b", "[test.exporters]\nxml = example.com/b:XML\nyaml = example.com/b:YAML\n" +
			"csv = example.com/b:CSV\npanics = example.com/b:Panics\nmissing = example.com/b:Missing\nnot a line\n"})
	err := discoverytest.Check[Exporter]("test.exporters", discovery.WithWorkspace(bad))
	var list discovery.ErrorList
	require.ErrorAs(t, err, &list)
	b := filepath.Join(filepath.Dir(bad), "b", "entry_points.txt")
	msgs := make([]string, len(list))
	for i, e := range list {
		msgs[i] = e.Error()
	}
	assert.Equal(t, []string{
		b + `:7: unexpected line "not a line": want name = importpath:Symbol, a [group] header, a # comment or a blank line`,
		b + ":4: entry point csv in [test.exporters] of module example.com/b: conflicting declarations: module example.com/a declares it too, at " +
			filepath.Join(filepath.Dir(bad), "a", "entry_points.txt") + ":2, and wins; fix: rename one of the two, or remove one module from the workspace (go work edit -dropuse=DIR)",
		b + ":2: entry point xml in [test.exporters] of module example.com/b: XML failed: no schema",
		b + ":3: entry point yaml in [test.exporters] of module example.com/b: YAML has type string; want discoverytest_test.Exporter, or a func() returning discoverytest_test.Exporter or (discoverytest_test.Exporter, error)",
		b + ":5: entry point panics in [test.exporters] of module example.com/b: Panics panicked: boom",
		b + ":6: entry point missing in [test.exporters] of module example.com/b: undefined: Missing",
	}, msgs)

	// Not linked, and no dynamic loader.
	hooks.SetLoader[discovery.EntryPoint](nil)
	err = discoverytest.Check[Exporter]("test.exporters", discovery.WithWorkspace(good))
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
	assert.ErrorContains(t, err, filepath.Join(filepath.Dir(good), "a", "entry_points.txt")+":2: entry point csv in [test.exporters] of module example.com/a: declared in the workspace but not linked into this binary")

	// A group nobody declares.
	err = discoverytest.Check[Exporter]("test.nobody", discovery.WithWorkspace(good))
	assert.EqualError(t, err, "discoverytest.Check: no module of the workspace declares an entry point of group test.nobody; fix: go work use the modules that declare them, or name their workspace with discovery.WithWorkspace")

	// Bad options are Load's errors.
	err = discoverytest.Check[Exporter]("test.exporters", discovery.WithRegistry(registry.New()))
	assert.ErrorContains(t, err, "discovery.Load: option WithRegistry does not apply")

	// A group with stand-ins is not the workspace's.
	discoverytest.Link(t, "test.exporters", map[string]any{"csv": fakeExporter("csv")})
	err = discoverytest.Check[Exporter]("test.exporters", discovery.WithWorkspace(good))
	assert.ErrorContains(t, err, "discoverytest.Check: group test.exporters has stand-ins linked by discoverytest.Link in this test")
}

// TestCheckRepositoryWorkspace checks the rendezvous handlers that the
// repository's own workspace declares: this test binary neither links nor
// loads them, and Check says so for each, at its line.
func TestCheckRepositoryWorkspace(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	err = discoverytest.Check[registry.Creator](discovery.HandlersGroup, discovery.WithWorkspace(filepath.Join(root, "go.work")))
	assert.ErrorIs(t, err, discovery.ErrNotLinked)
	assert.ErrorContains(t, err, filepath.Join(root, "testpackages", "testbackend", "entry_points.txt")+":")
	assert.ErrorContains(t, err, "entry point testbackend in [torchrun.handlers] of module github.com/go-entrypoints/entrypoints/testpackages/testbackend: declared in the workspace but not linked into this binary")
}

// TestLinkParallelGroups checks that parallel tests may link different
// groups: the end of one test undoes its own stand-ins, not another's.
func TestLinkParallelGroups(t *testing.T) {
	ws := discovery.WithWorkspace(workspace(t))
	aLinked, bLinked, aDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	t.Run("group", func(t *testing.T) {
		t.Run("a", func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() { close(aDone) }) // runs after Link's cleanup
			discoverytest.Link(t, "test.a", map[string]any{"a": fakeExporter("a")})
			close(aLinked)
			<-bLinked
		})
		t.Run("b", func(t *testing.T) {
			t.Parallel()
			<-aLinked
			discoverytest.Link(t, "test.b", map[string]any{"b": fakeExporter("b")})
			close(bLinked)
			<-aDone
			e, err := discovery.Lookup[Exporter]("test.b", "b", ws)
			require.NoError(t, err, "test a ended, and took test b's stand-ins with it")
			assert.Equal(t, "b", e.Export())
			_, err = discovery.Lookup[Exporter]("test.a", "a", ws)
			assert.ErrorIs(t, err, discovery.ErrNotFound)
		})
	})
	// Linking a group again replaces its stand-ins until that test ends.
	t.Run("again", func(t *testing.T) {
		discoverytest.Link(t, "test.a", map[string]any{"a": fakeExporter("1")})
		t.Run("inner", func(t *testing.T) {
			discoverytest.Link(t, "test.a", map[string]any{"a": fakeExporter("2")})
			e, err := discovery.Lookup[Exporter]("test.a", "a", ws)
			require.NoError(t, err)
			assert.Equal(t, "2", e.Export())
		})
		e, err := discovery.Lookup[Exporter]("test.a", "a", ws)
		require.NoError(t, err)
		assert.Equal(t, "1", e.Export())
	})
	_, err := discovery.Lookup[Exporter]("test.a", "a", ws)
	assert.ErrorIs(t, err, discovery.ErrNotFound)
}

// TestLinkHandlersInTwoTests checks that Discover does not take a test's
// stand-in handler for the one another test linked under the same name:
// the registry already has that name, and says so.
func TestLinkHandlersInTwoTests(t *testing.T) {
	r := registry.New()
	ws := discovery.WithWorkspace(workspace(t))
	for _, msg := range []string{"one", "two"} {
		t.Run(msg, func(t *testing.T) {
			discoverytest.Link(t, discovery.HandlersGroup, map[string]any{
				"fake": func() registry.Creator {
					return func(p registry.Parameters) (registry.Handler, error) { return nil, errors.New(msg) }
				},
			})
			rep, err := discovery.Discover(discovery.WithRegistry(r), ws)
			if msg == "one" {
				require.NoError(t, err)
				assert.Len(t, rep.Registered, 1)
				// Discover is idempotent within the test.
				rep, err = discovery.Discover(discovery.WithRegistry(r), ws)
				require.NoError(t, err)
				assert.Len(t, rep.Unchanged, 1)
				return
			}
			assert.ErrorIs(t, err, discovery.ErrConflict)
			assert.ErrorContains(t, err, `backend "fake" is already registered`)
			assert.Empty(t, rep.Unchanged, "test one's handler is not test two's")
		})
	}
}

// TestLinkKeepsBrokenWorkspaceWarning checks that Find still warns of a
// broken workspace while a group has stand-ins: its problems are not the
// group's, and a test that links stand-ins sees them as a program would.
func TestLinkKeepsBrokenWorkspaceWarning(t *testing.T) {
	gowork := workspace(t, [3]string{"m", "example.com/m", "[test.other]\nx = example.com/m:X\n"})
	require.NoError(t, os.WriteFile(gowork, []byte("go 1.26\n\nuse ./m\nuse ./gone\n"), 0o644))
	discoverytest.Link(t, "test.exporters", map[string]any{"csv": fakeExporter("csv")})

	var logs strings.Builder
	_, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	assert.ErrorContains(t, err, "go.work:4: use ./gone: the directory does not exist")
	assert.Contains(t, logs.String(), "the workspace is broken")
	assert.Contains(t, logs.String(), "go.work:4")
}
