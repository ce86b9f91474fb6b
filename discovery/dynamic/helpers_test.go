package dynamic_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
)

// requirePlugins skips t under -short, and where this machine cannot build
// and load Go plugins.
func requirePlugins(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: builds programs and plugins with the go command")
	}
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd":
	default:
		t.Skipf("Go plugins are not supported on %s", runtime.GOOS)
	}
	out, err := exec.Command("go", "env", "CGO_ENABLED").Output()
	require.NoError(t, err, "go env CGO_ENABLED: is the go command on PATH?")
	if strings.TrimSpace(string(out)) != "1" {
		t.Skip("cgo is disabled (CGO_ENABLED=0 or no C compiler), and Go plugins need it")
	}
}

// repoRoot returns the repository's root directory: this package is
// discovery/dynamic in it.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

// goVersion returns the go directive of the repository's go.mod, which the
// temporary modules use too.
func goVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	require.NoError(t, err)
	f, err := modfile.ParseLax("go.mod", data, nil)
	require.NoError(t, err)
	return f.Go.Version
}

// requirement returns "path version" of the repository's requirement of
// the module path.
func requirement(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	require.NoError(t, err)
	f, err := modfile.ParseLax("go.mod", data, nil)
	require.NoError(t, err)
	for _, r := range f.Require {
		if r.Mod.Path == path {
			return r.Mod.Path + " " + r.Mod.Version
		}
	}
	t.Fatalf("the repository does not require %s", path)
	return ""
}

// sums returns the lines of the repository's go.sum for the module path.
func sums(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "go.sum"))
	require.NoError(t, err)
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(l, path+" ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// A testWorkspace is a temporary Go workspace that uses this repository's
// module and temporary modules, with a private plugin cache.
type testWorkspace struct {
	t     *testing.T
	dir   string
	cache string // plugin cache, created by the programs run
	env   []string
}

// newWorkspace writes files (path relative to the workspace -> contents)
// and a go.work that uses the repository and each given module directory.
func newWorkspace(t *testing.T, files map[string]string, modules ...string) *testWorkspace {
	t.Helper()
	w := &testWorkspace{t: t, dir: t.TempDir(), cache: filepath.Join(t.TempDir(), "plugins")}
	work := "go " + goVersion(t) + "\n\nuse (\n\t" + repoRoot(t) + "\n"
	for _, m := range modules {
		work += "\t./" + m + "\n"
	}
	w.write(map[string]string{"go.work": work + ")\n"})
	w.write(files)
	w.env = append(os.Environ(),
		"GOWORK="+filepath.Join(w.dir, "go.work"),
		"GOENTRYPOINTS_CACHE="+w.cache,
		"GOTOOLCHAIN=local",
		"GOFLAGS=-buildvcs=false",
	)
	return w
}

// write writes files (path relative to the workspace -> contents).
func (w *testWorkspace) write(files map[string]string) {
	w.t.Helper()
	for name, data := range files {
		path := filepath.Join(w.dir, filepath.FromSlash(name))
		require.NoError(w.t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(w.t, os.WriteFile(path, []byte(data), 0o644))
	}
}

// path returns the absolute path of a file of the workspace.
func (w *testWorkspace) path(name string) string {
	return filepath.Join(w.dir, filepath.FromSlash(name))
}

// run runs a command in the workspace directory dir, with the workspace's
// environment plus env, and returns its combined output and error.
func (w *testWorkspace) run(dir string, env []string, name string, args ...string) (string, error) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = w.path(dir)
	cmd.Env = append(w.env[:len(w.env):len(w.env)], env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	w.t.Logf("%s %s (in %s, %s): %v\n%s", name, strings.Join(args, " "), dir, time.Since(start).Round(time.Millisecond), err, out.String())
	return out.String(), err
}

// mustRun is run, failing the test if the command fails.
func (w *testWorkspace) mustRun(dir string, env []string, name string, args ...string) string {
	w.t.Helper()
	out, err := w.run(dir, env, name, args...)
	require.NoError(w.t, err, "%s %s failed:\n%s", name, strings.Join(args, " "), out)
	return out
}

// plugins returns the plugins in the workspace's cache.
func (w *testWorkspace) plugins() []string {
	w.t.Helper()
	m, err := filepath.Glob(filepath.Join(w.cache, "*.so"))
	require.NoError(w.t, err)
	return m
}

// built is the start of the log line of a plugin build.
const built = "discovery/dynamic: built a plugin"

// handlerModule returns the files of a module example.com/<name> whose
// package provides handler entry points: NewHandler (and, with extra, more
// declarations) returns handlers whose RunID is version.
func handlerModule(goVersion, name, version, eps, imports, extra string) map[string]string {
	return map[string]string{
		name + "/go.mod":           "module example.com/" + name + "\n\ngo " + goVersion + "\n",
		name + "/entry_points.txt": eps,
		name + "/handler.go": `package ` + name + `

import (
	"context"

	"github.com/go-entrypoints/entrypoints/registry"
` + imports + `
)

const Version = "` + version + `"

type handler struct {
	registry.Handler
	backend string
}

func (h handler) Backend() string { return h.backend }
func (h handler) RunID() string   { return Version }
func (h handler) Shutdown(context.Context) (bool, error) { return true, nil }

// NewHandler is the entry point.
func NewHandler() registry.Creator {
	return func(p registry.Parameters) (registry.Handler, error) { return handler{backend: p.Backend}, nil }
}
` + extra,
	}
}

// appModule returns the files of the module example.com/app whose main
// (and test) discovers handlers, prints what was registered and each
// failure with the sentinel errors it matches, then creates each handler
// named on the command line (in APP_BACKENDS for the test) and prints its
// backend and RunID.
func appModule(goVersion string) map[string]string {
	return map[string]string{
		"app/go.mod": "module example.com/app\n\ngo " + goVersion + "\n",
		"app/main.go": `package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/dynamic"
	"github.com/go-entrypoints/entrypoints/registry"
)

var sentinels = map[string]error{
	"ErrUnsupported": dynamic.ErrUnsupported,
	"ErrGoCommand":   dynamic.ErrGoCommand,
	"ErrBuild":       dynamic.ErrBuild,
	"ErrSymbol":      dynamic.ErrSymbol,
	"ErrMismatch":    dynamic.ErrMismatch,
	"ErrUntrusted":   dynamic.ErrUntrusted,
}

// run discovers handlers and creates those named; it returns false if
// creating one failed.
func run(backends []string) bool {
	rep, _ := discovery.Discover()
	for _, ep := range rep.Registered {
		fmt.Printf("registered %s linked=%t\n", ep.Name, ep.Linked)
	}
	for _, e := range rep.Failed {
		var is []string
		for name, s := range sentinels {
			if errors.Is(e, s) {
				is = append(is, name)
			}
		}
		name := "-" // a problem of the workspace, not of one entry point
		if e.EntryPoint != nil {
			name = e.EntryPoint.Name
		}
		fmt.Printf("failed %s is=%v: %v\n", name, is, e)
	}
	ok := true
	for _, b := range backends {
		h, err := registry.CreateHandler(registry.Parameters{Backend: b, MinNodes: 1, MaxNodes: 1})
		if err != nil {
			fmt.Printf("create %s: %v\n", b, err)
			ok = false
			continue
		}
		fmt.Printf("handler %s %s\n", h.Backend(), h.RunID())
	}
	return ok
}

func main() {
	if !run(os.Args[1:]) {
		os.Exit(1)
	}
}
`,
		"app/main_test.go": `package main

import (
	"os"
	"strings"
	"testing"
)

func TestHandlers(t *testing.T) {
	if !run(strings.Fields(os.Getenv("APP_BACKENDS"))) {
		t.Fatal("creating a handler failed")
	}
}
`,
	}
}
