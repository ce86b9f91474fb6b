package dynamic_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const myhandlerEPs = "[torchrun.handlers]\nmyhandler = example.com/myhandler:NewHandler\n"

// TestFlow follows a user of the bare flow: go work use ./myhandler, then
// go test and go run of an app that discovers handlers (1), an edit of the
// handler (2), runs from the cache and a tampered cache (3), and go test
// -race (4).
func TestFlow(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	files := appModule(v)
	for name, data := range handlerModule(v, "myhandler", "v1", myhandlerEPs, "", "") {
		files[name] = data
	}
	w := newWorkspace(t, files, "app") // myhandler is not used yet

	// Before go work use: not registered, and nothing is built.
	out, err := w.run("app", nil, "go", "run", ".", "myhandler")
	require.Error(t, err)
	assert.Contains(t, out, `create myhandler: `)
	assert.NotContains(t, out, built)

	w.mustRun(".", nil, "go", "work", "use", "./myhandler")

	// 1. go test, then go run, see myhandler.
	out = w.mustRun("app", []string{"APP_BACKENDS=myhandler"}, "go", "test", "-count=1", "-v", "./...")
	assert.Contains(t, out, "registered myhandler linked=false")
	assert.Contains(t, out, "handler myhandler v1")
	assert.Contains(t, out, built)
	assert.Contains(t, out, "entry_points=myhandler")
	assert.Contains(t, out, "--- PASS: TestHandlers")
	require.Len(t, w.plugins(), 1)

	// go run builds the app with the same settings: the plugin is reused.
	out = w.mustRun("app", nil, "go", "run", ".", "myhandler")
	assert.Contains(t, out, "handler myhandler v1")
	assert.NotContains(t, out, built)

	// 2. An edit of the handler is loaded on the next run.
	v1 := w.plugins()[0]
	v1data, err := os.ReadFile(v1)
	require.NoError(t, err)
	data, err := os.ReadFile(w.path("myhandler/handler.go"))
	require.NoError(t, err)
	w.write(map[string]string{"myhandler/handler.go": strings.Replace(string(data), `"v1"`, `"v2"`, 1)})
	out = w.mustRun("app", nil, "go", "run", ".", "myhandler")
	assert.Contains(t, out, "handler myhandler v2")
	assert.Contains(t, out, built)
	// go test caches results by the files of the tested module only: it
	// reruns with -count=1.
	out = w.mustRun("app", []string{"APP_BACKENDS=myhandler"}, "go", "test", "-count=1", "-v", "./...")
	assert.Contains(t, out, "handler myhandler v2")
	// The new plugin replaces the old one in the cache.
	require.Len(t, w.plugins(), 1)
	assert.NoFileExists(t, v1)
	v2 := w.plugins()[0]

	// 3. Nothing changed: the plugin comes from the cache.
	out = w.mustRun("app", nil, "go", "run", ".", "myhandler")
	assert.Contains(t, out, "handler myhandler v2")
	assert.NotContains(t, out, built)

	// A plugin swapped in the cache is rebuilt, not loaded: put the v1
	// plugin (a valid one) in place of the v2 one.
	require.NoError(t, os.WriteFile(v2, v1data, 0o600))
	out = w.mustRun("app", nil, "go", "run", ".", "myhandler")
	assert.Contains(t, out, "handler myhandler v2")
	assert.Contains(t, out, built)
	assert.Contains(t, out, "does not match its recorded checksum")

	// A directory in its place too.
	require.NoError(t, os.Remove(v2))
	require.NoError(t, os.Mkdir(v2, 0o700))
	out = w.mustRun("app", nil, "go", "run", ".", "myhandler")
	assert.Contains(t, out, "handler myhandler v2")
	assert.Contains(t, out, "does not match its recorded checksum")

	// A truncated one too.
	require.NoError(t, os.Truncate(v2, 100))
	out = w.mustRun("app", nil, "go", "run", ".", "myhandler")
	assert.Contains(t, out, "handler myhandler v2")
	assert.Contains(t, out, "does not match its recorded checksum")

	// The cache is private.
	fi, err := os.Stat(w.cache)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	// 4. go test -race builds a plugin with -race.
	out = w.mustRun("app", []string{"APP_BACKENDS=myhandler"}, "go", "test", "-race", "-count=1", "-v", "./...")
	assert.Contains(t, out, "handler myhandler v2")
	assert.Contains(t, out, built)
	assert.Contains(t, out, "--- PASS: TestHandlers")

	// Other settings of the program are the plugin's too.
	// A program built with -trimpath records no directories: its
	// workspace is refused unless trusted explicitly.
	args := []string{"run", "-trimpath", "-tags=dynamictest", "-gcflags=all=-N -l", ".", "myhandler"}
	out, err = w.run("app", nil, "go", args...)
	require.Error(t, err)
	assert.Regexp(t, `failed myhandler is=\[ErrUntrusted\]: .*whether this program was built from this workspace cannot be checked: it records no source directory of its main module, as when it is built with -trimpath; nothing from it is built or loaded; fix: build it without -trimpath; if you trust this workspace`, out)
	assert.NotContains(t, out, built)
	out = w.mustRun("app", []string{"GOENTRYPOINTS_TRUST=" + w.path("go.work")}, "go", args...)
	assert.Contains(t, out, "handler myhandler v2")
	assert.Contains(t, out, built)
}

// TestImportInTestsOnly checks that the import can live in a program's
// tests only: go test loads the handler, go run reports how to link it.
// The handler depends on a module outside the workspace.
func TestImportInTestsOnly(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	// The handler has a dependency outside the workspace: the
	// repository's own, so that it is in the module cache.
	files := handlerModule(v, "myhandler", "v1", myhandlerEPs, "\t\"golang.org/x/mod/semver\"", "\nvar _ = semver.IsValid(Version)\n")
	files["myhandler/go.mod"] += "\nrequire " + requirement(t, "golang.org/x/mod") + "\n"
	files["myhandler/go.sum"] = sums(t, "golang.org/x/mod")
	files["app/go.mod"] = "module example.com/app\n\ngo " + v + "\n"
	files["app/main.go"] = `package main

import (
	"fmt"

	"github.com/go-entrypoints/entrypoints/discovery"
)

func main() {
	_, err := discovery.Discover()
	fmt.Println("discover:", err)
}
`
	files["app/main_test.go"] = `package main

import (
	"testing"

	"github.com/go-entrypoints/entrypoints/discovery"
	_ "github.com/go-entrypoints/entrypoints/discovery/dynamic"
	"github.com/go-entrypoints/entrypoints/registry"
)

func TestMyHandler(t *testing.T) {
	if _, err := discovery.Discover(); err != nil {
		t.Fatal(err)
	}
	h, err := registry.CreateHandler(registry.Parameters{Backend: "myhandler", MinNodes: 1, MaxNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("handler", h.Backend(), h.RunID())
}
`
	// An external test package (package main_test) too: its functions
	// are named after it, not after the package it tests.
	files["app/external_test.go"] = strings.ReplaceAll(strings.Replace(files["app/main_test.go"], "package main", "package main_test", 1), "TestMyHandler", "TestExternal")
	w := newWorkspace(t, files, "app", "myhandler")

	out := w.mustRun("app", nil, "go", "test", "-count=1", "-v", "-run", "TestMyHandler", "./...")
	assert.Contains(t, out, "handler myhandler v1")
	assert.Contains(t, out, "--- PASS: TestMyHandler")
	out = w.mustRun("app", nil, "go", "test", "-count=1", "-v", "-run", "TestExternal", "./...")
	assert.Contains(t, out, "handler myhandler v1")
	assert.Contains(t, out, "--- PASS: TestExternal")

	out = w.mustRun("app", nil, "go", "run", ".")
	assert.Contains(t, out, "declared in the workspace but not linked into this binary")
	assert.NotContains(t, out, built)
}

// TestLinkedNotLoaded checks that an entry point linked into the program
// is never loaded dynamically (5), while another one of the same module is.
func TestLinkedNotLoaded(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	files := appModule(v)
	eps := myhandlerEPs + "other = example.com/myhandler:NewOther\n"
	extra := "\n// NewOther is another entry point.\nfunc NewOther() registry.Creator { return NewHandler() }\n"
	for name, data := range handlerModule(v, "myhandler", "v1", eps, "", extra) {
		files[name] = data
	}
	// The link the generator would write, by hand.
	files["app/link.go"] = `package main

import (
	"github.com/go-entrypoints/entrypoints/discovery"
	"example.com/myhandler"
)

func init() {
	discovery.Link(discovery.Linked{
		Group: discovery.HandlersGroup, Name: "myhandler", Value: "example.com/myhandler:NewHandler",
		Module: "example.com/myhandler", Line: 2, Symbol: myhandler.NewHandler,
	})
}
`
	w := newWorkspace(t, files, "app", "myhandler")

	out := w.mustRun("app", nil, "go", "run", ".", "myhandler", "other")
	assert.Contains(t, out, "registered myhandler linked=true")
	assert.Contains(t, out, "registered other linked=false")
	assert.Contains(t, out, "handler myhandler v1")
	assert.Contains(t, out, "handler other v1")
	assert.Contains(t, out, "entry_points=other ")
	assert.NotContains(t, out, "entry_points=myhandler")
	assert.Len(t, w.plugins(), 1)

	// With both linked, nothing is built at all.
	w.write(map[string]string{"myhandler/entry_points.txt": myhandlerEPs})
	require.NoError(t, os.RemoveAll(w.cache))
	out = w.mustRun("app", nil, "go", "run", ".", "myhandler")
	assert.Contains(t, out, "registered myhandler linked=true")
	assert.NotContains(t, out, built)
	assert.NoDirExists(t, w.cache)
}

// TestFailures checks that where dynamic loading cannot work, Discover says
// why and what to do for each entry point, and registers the others (6).
func TestFailures(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	files := appModule(v)
	add := func(m map[string]string) {
		for name, data := range m {
			files[name] = data
		}
	}
	// myhandler shares a package with the app.
	add(handlerModule(v, "myhandler", "v1", myhandlerEPs, "\t\"example.com/shared\"", "\nvar _ = shared.Version\n"))
	add(map[string]string{
		"shared/go.mod":    "module example.com/shared\n\ngo " + v + "\n",
		"shared/shared.go": "package shared\n\nconst Version = \"1\"\n",
		"app/shared.go":    "package main\n\nimport \"example.com/shared\"\n\nvar _ = shared.Version\n",
	})
	// badsym: a good entry point, a missing symbol and one of the wrong type.
	add(handlerModule(v, "badsym", "v1",
		"[torchrun.handlers]\ngood = example.com/badsym:NewHandler\nmissing = example.com/badsym:Missing\nwrongtype = example.com/badsym:WrongType\nasvar = example.com/badsym:Creator\n",
		"", "\n// WrongType has the wrong type.\nfunc WrongType() int { return 1 }\n\n// Creator is an entry point that is a var.\nvar Creator = NewHandler()\n"))
	// broken does not compile.
	add(handlerModule(v, "broken", "v1", "[torchrun.handlers]\nbroken = example.com/broken:NewHandler\n",
		"", "\nvar _ = undefinedThing\n"))
	w := newWorkspace(t, files, "app", "myhandler", "shared", "badsym", "broken")

	exe := filepath.Join(t.TempDir(), "app")
	w.mustRun("app", nil, "go", "build", "-o", exe, ".")

	t.Run("compile errors and symbols", func(t *testing.T) {
		out, err := w.run("app", nil, exe, "myhandler", "good", "asvar")
		require.NoError(t, err, out)
		assert.Contains(t, out, "handler myhandler v1")
		assert.Contains(t, out, "handler good v1")
		assert.Contains(t, out, "handler asvar v1")
		assert.Regexp(t, `failed broken is=\[ErrBuild\]: \S+broken/entry_points.txt:2: .*building the entry point's plugin failed`, out)
		assert.Contains(t, out, "undefined: undefinedThing")
		assert.Regexp(t, `failed missing is=\[ErrSymbol\]: \S+badsym/entry_points.txt:3: .*undefined: example.com/badsym.Missing; fix: declare an exported func or var Missing`, out)
		assert.Regexp(t, `failed wrongtype is=\[ErrSymbol\]: \S+badsym/entry_points.txt:4: .*has type func\(\) int`, out)

		// The compiler's errors are cached with the plugins: the next run
		// reports them without building again.
		errs, err := filepath.Glob(filepath.Join(w.cache, "*.err"))
		require.NoError(t, err)
		assert.NotEmpty(t, errs)
		again, err := w.run("app", []string{"PATH=" + t.TempDir()}, exe, "myhandler", "good", "asvar")
		require.NoError(t, err, again)
		assert.Contains(t, again, "undefined: undefinedThing")
		assert.Regexp(t, `failed missing is=\[ErrSymbol\]: .*undefined: example.com/badsym.Missing`, again)
		assert.Contains(t, again, "handler good v1")
	})

	t.Run("no go command", func(t *testing.T) {
		empty := t.TempDir()
		out, err := w.run("app", []string{"PATH=" + empty, "GOENTRYPOINTS_CACHE=" + t.TempDir()}, exe, "myhandler")
		require.Error(t, err)
		assert.Regexp(t, `failed myhandler is=\[ErrGoCommand\]: .*myhandler/entry_points.txt:2: .*no usable go command.*; fix: install go1\.\S+ and put its bin directory on PATH, or run go generate`, out)
	})

	t.Run("go command of another version", func(t *testing.T) {
		bin := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(bin, "go"), []byte("#!/bin/sh\necho go1.20.1\n"), 0o755))
		out, err := w.run("app", []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "GOENTRYPOINTS_CACHE=" + t.TempDir()}, exe, "myhandler")
		require.Error(t, err)
		assert.Regexp(t, `failed myhandler is=\[ErrGoCommand\]: .*is go1\.20\.1, but this program was built with go1\.\S+, and a plugin must be built by the same version; fix: put go1\.\S+ first on PATH`, out)
	})

	t.Run("cgo disabled", func(t *testing.T) {
		out, err := w.run("app", []string{"CGO_ENABLED=0"}, "go", "run", ".", "myhandler", "good")
		require.Error(t, err)
		for _, name := range []string{"myhandler", "good", "missing", "wrongtype", "asvar", "broken"} {
			assert.Regexp(t, `failed `+name+` is=\[ErrUnsupported\]: .*built with CGO_ENABLED=0.*; fix: rebuild with CGO_ENABLED=1 .*or run go generate ./\.\.\.`, out)
		}
		assert.NotContains(t, out, built)
	})

	t.Run("workspace changed", func(t *testing.T) {
		w.write(map[string]string{"shared/shared.go": "package shared\n\nconst Version = \"2\"\n"})
		out, err := w.run("app", nil, exe, "myhandler", "good")
		require.Error(t, err)
		assert.Regexp(t, `failed myhandler is=\[ErrMismatch\]: .*a package differs between this program and the plugin: package example.com/shared: the workspace changed since this program was built.*; fix: rebuild the program`, out)
		// badsym does not use shared: its plugin still loads.
		assert.Contains(t, out, "handler good v1")
	})
}

// TestConcurrentBuilds runs two programs that need the same plugin at once:
// one builds it, the other waits and loads it.
func TestConcurrentBuilds(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	files := appModule(v)
	for name, data := range handlerModule(v, "myhandler", "v1", myhandlerEPs, "", "") {
		files[name] = data
	}
	w := newWorkspace(t, files, "app", "myhandler")
	exe := filepath.Join(t.TempDir(), "app")
	w.mustRun("app", nil, "go", "build", "-o", exe, ".")

	var wg sync.WaitGroup
	outs := make([]string, 3)
	errs := make([]error, 3)
	for i := range outs {
		wg.Go(func() { outs[i], errs[i] = w.run("app", nil, exe, "myhandler") })
	}
	wg.Wait()
	builds, waits := 0, 0
	for i, out := range outs {
		require.NoError(t, errs[i], out)
		assert.Contains(t, out, "handler myhandler v1")
		builds += strings.Count(out, built)
		waits += strings.Count(out, "discovery/dynamic: waiting for process ")
	}
	assert.Equal(t, 1, builds, "the plugin should be built once")
	// The others waited for the builder, and said so (all three start
	// together, and a build takes seconds).
	assert.Positive(t, waits, "a process waiting for another one's build logs it")
	assert.Len(t, w.plugins(), 1)
}
