package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file drive the real go command on temporary workspaces,
// as a user would. Building is slow: they are skipped under -short.

// sandbox is a directory of modules and the environment to run go in it.
type sandbox struct {
	t    *testing.T
	root string   // the repository's root, the project module
	dir  string   // temporary directory holding the workspace
	env  []string // environment without GOWORK or GOFLAGS
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the go command on temporary workspaces; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOWORK=") && !strings.HasPrefix(kv, "GOFLAGS=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GOTOOLCHAIN=local")
	return &sandbox{t: t, root: root, dir: t.TempDir(), env: env}
}

// write writes files (paths relative to the sandbox) with contents.
func (s *sandbox) write(files map[string]string) {
	s.t.Helper()
	for name, data := range files {
		path := filepath.Join(s.dir, filepath.FromSlash(name))
		require.NoError(s.t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(s.t, os.WriteFile(path, []byte(data), 0o644))
	}
}

// run runs a command in dir (relative to the sandbox unless absolute) with
// extra environment variables, and returns its combined output and error.
func (s *sandbox) run(dir string, env []string, name string, args ...string) (string, error) {
	s.t.Helper()
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(s.dir, dir)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), s.env...), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ok runs a command that must succeed and returns its output.
func (s *sandbox) ok(dir string, name string, args ...string) string {
	s.t.Helper()
	out, err := s.run(dir, nil, name, args...)
	require.NoError(s.t, err, "%s %s in %s:\n%s", name, strings.Join(args, " "), dir, out)
	return out
}

// appFiles is a program that discovers handlers and creates one by name.
var appFiles = map[string]string{
	"app/go.mod": "module example.com/app\n\ngo 1.26.0\n",
	"app/main.go": `package main

//go:generate go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints generate

import (
	"flag"
	"fmt"
	"os"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/registry"
)

func main() {
	backend := flag.String("backend", "myhandler", "backend to create")
	workspace := flag.String("workspace", "", "go.work to read")
	flag.Parse()
	var opts []discovery.Option
	if *workspace != "" {
		opts = append(opts, discovery.WithWorkspace(*workspace))
	}
	if _, err := discovery.Discover(opts...); err != nil {
		fmt.Println("discover error:", err)
	}
	fmt.Println("registered:", registry.Backends())
	h, err := registry.CreateHandler(registry.Parameters{Backend: *backend, RunID: "job", MinNodes: 1, MaxNodes: 1})
	if err != nil {
		fmt.Println("create error:", err)
		os.Exit(3)
	}
	fmt.Println("created:", h.Backend())
}
`,
	"app/app_test.go": `package main

import (
	"testing"

	"github.com/go-entrypoints/entrypoints/discovery"
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
	if h.Backend() != "myhandler" {
		t.Fatalf("Backend() = %q", h.Backend())
	}
}
`,
}

// handlerFiles returns a handler module of the given name, declared in
// its entry_points.txt after a comment line.
func handlerFiles(name string) map[string]string {
	return map[string]string{
		name + "/go.mod":           "module example.com/" + name + "\n\ngo 1.26.0\n",
		name + "/entry_points.txt": "# " + name + " rendezvous backend\n[torchrun.handlers]\n" + name + " = example.com/" + name + ":NewHandler\n",
		name + "/handler.go": `package ` + name + `

import (
	"context"

	"github.com/go-entrypoints/entrypoints/registry"
)

type handler struct{ runID string }

func (h *handler) Backend() string { return "` + name + `" }
func (h *handler) NextRendezvous(context.Context) (registry.Info, error) {
	return registry.Info{Rank: 0, WorldSize: 1}, nil
}
func (h *handler) IsClosed(context.Context) (bool, error)       { return false, nil }
func (h *handler) SetClosed(context.Context) error              { return nil }
func (h *handler) NumNodesWaiting(context.Context) (int, error) { return 0, nil }
func (h *handler) RunID() string                                { return h.runID }
func (h *handler) Shutdown(context.Context) (bool, error)       { return true, nil }

// NewHandler is the entry point.
func NewHandler() registry.Creator {
	return func(p registry.Parameters) (registry.Handler, error) { return &handler{runID: p.RunID}, nil }
}
`,
	}
}

// TestWorkspaceFlow walks the go work use flow of the README, steps 1 to 5.
func TestWorkspaceFlow(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.write(appFiles)
	s.write(handlerFiles("myhandler"))
	s.ok(".", "go", "work", "init", "./app", s.root)

	// 1. Before go work use ./myhandler: the app runs, myhandler is not
	// registered, and creating it fails with a helpful error.
	s.ok("app", "go", "generate", "./...")
	out, err := s.run("app", nil, "go", "run", ".")
	require.Error(t, err, out)
	assert.NotContains(t, out, "discover error")
	assert.Contains(t, out, "registered: []")
	assert.Contains(t, out, `create error: registry: unknown rendezvous backend "myhandler" (registered: none)`)
	assert.Contains(t, out, "registered by discovery.Discover from the entry_points.txt of each module of the workspace")

	// 2. After go work use, before go generate: Discover names the entry
	// point, its module, its line and the command that fixes it.
	s.ok(".", "go", "work", "use", "./myhandler")
	out, err = s.run("app", nil, "go", "run", ".")
	require.Error(t, err, out)
	assert.Contains(t, out, "discover error: "+filepath.Join(s.dir, "myhandler", "entry_points.txt")+":3: entry point myhandler in [torchrun.handlers] of module example.com/myhandler: declared in the workspace but not linked into this binary; fix: run go generate ./...")

	// 3. After go generate: go run and go test see myhandler.
	s.ok("app", "go", "generate", "./...")
	gen, err := os.ReadFile(filepath.Join(s.dir, "app", "entrypoints_gen.go"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(gen), "// Code generated by \"entrypoints generate\"; DO NOT EDIT.\n"))
	assert.Contains(t, string(gen), `myhandler "example.com/myhandler"`)
	out = s.ok("app", "go", "run", ".")
	assert.NotContains(t, out, "discover error")
	assert.Contains(t, out, "registered: [myhandler]")
	assert.Contains(t, out, "created: myhandler")
	s.ok("app", "go", "test", "./...")
	// Generating again changes nothing.
	s.ok("app", "go", "generate", "./...")
	gen2, err := os.ReadFile(filepath.Join(s.dir, "app", "entrypoints_gen.go"))
	require.NoError(t, err)
	assert.Equal(t, string(gen), string(gen2))

	// 4. The built binary keeps myhandler wherever it runs: with no
	// go.work, and inside an unrelated workspace.
	bin := filepath.Join(s.dir, "appbin")
	s.ok("app", "go", "build", "-o", bin, ".")
	nowork := t.TempDir()
	out = s.ok(nowork, bin)
	assert.Contains(t, out, "created: myhandler")
	assert.NotContains(t, out, "discover error")
	unrelated := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(unrelated, "go.work"), []byte("go 1.26.0\n\nuse ./other\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(unrelated, "other"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(unrelated, "other", "go.mod"), []byte("module example.com/other\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(unrelated, "other", "entry_points.txt"), []byte("[torchrun.handlers]\nother = example.com/other:New\nbroken line\n"), 0o644))
	out = s.ok(filepath.Join(unrelated, "other"), bin)
	assert.Equal(t, "registered: [myhandler]\ncreated: myhandler\n", out)

	// 5. GOWORK and WithWorkspace follow the go command's rules. A module
	// added to the workspace after the build makes the workspace visible.
	s.write(handlerFiles("late"))
	s.ok(".", "go", "work", "use", "./late")
	lateErr := "entry point late in [torchrun.handlers] of module example.com/late: declared in the workspace but not linked"
	gowork := filepath.Join(s.dir, "go.work")
	for _, tt := range []struct {
		name     string
		dir      string
		env      []string
		args     []string
		wantLate bool
		want     string
	}{
		{name: "nearest go.work", dir: filepath.Join(s.dir, "app"), wantLate: true},
		{name: "GOWORK=off", dir: filepath.Join(s.dir, "app"), env: []string{"GOWORK=off"}},
		{name: "GOWORK=auto", dir: filepath.Join(s.dir, "app"), env: []string{"GOWORK=auto"}, wantLate: true},
		{name: "absolute GOWORK", dir: nowork, env: []string{"GOWORK=" + gowork}, wantLate: true},
		{name: "absolute GOWORK wins over the nearest", dir: filepath.Join(unrelated, "other"), env: []string{"GOWORK=" + gowork}, wantLate: true},
		{name: "relative GOWORK", dir: s.dir, env: []string{"GOWORK=go.work"}, want: `invalid GOWORK "go.work": not an absolute path`},
		{name: "WithWorkspace", dir: nowork, args: []string{"-workspace", gowork}, wantLate: true},
		{name: "WithWorkspace with GOWORK=off", dir: nowork, env: []string{"GOWORK=off"}, args: []string{"-workspace", s.dir}, wantLate: true},
		{name: "WithWorkspace of an unrelated workspace", dir: s.dir, args: []string{"-workspace", filepath.Join(unrelated, "go.work")}, want: "other/entry_points.txt:2: entry point other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.run(tt.dir, tt.env, bin, tt.args...)
			require.NoError(t, err, out)
			assert.Contains(t, out, "created: myhandler")
			if tt.wantLate {
				assert.Contains(t, out, lateErr)
			} else {
				assert.NotContains(t, out, lateErr)
			}
			if tt.want != "" {
				assert.Contains(t, out, tt.want)
			}
		})
	}
}

// TestOutOfTreeRendezvous is PyTorch's out-of-tree rendezvous test, ported:
// testbackend is not registered until its module is in the workspace, is
// registered once it is, and is gone once it is removed.
func TestOutOfTreeRendezvous(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.write(appFiles)
	testbackend := filepath.Join(s.root, "testpackages", "testbackend")
	s.ok(".", "go", "work", "init", "./app", s.root)
	discover := func() string {
		s.ok("app", "go", "generate", "./...")
		out, _ := s.run("app", nil, "go", "run", ".", "-backend", "testbackend")
		return out
	}

	out := discover()
	assert.Contains(t, out, "registered: []")
	assert.Contains(t, out, `unknown rendezvous backend "testbackend"`)

	s.ok(".", "go", "work", "use", testbackend)
	out = discover()
	assert.Contains(t, out, "registered: [testbackend]")
	assert.Contains(t, out, "created: testbackend")

	s.ok(".", "go", "work", "edit", "-dropuse", testbackend)
	out = discover()
	assert.Contains(t, out, "registered: []")
	assert.NotContains(t, out, "created: testbackend")
}

// TestBrokenModules checks that broken declarations are reported at their
// line by generate and by Discover, and do not stop the good ones.
func TestBrokenModules(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.write(appFiles)
	tp := filepath.Join(s.root, "testpackages")
	// Written by hand: go work use sorts the directories, and testbackend
	// must come before clash, which declares testbackend too.
	s.write(map[string]string{"go.work": "go 1.26.0\n\nuse (\n\t./app\n\t" + s.root + "\n\t" +
		filepath.Join(tp, "testbackend") + "\n\t" + filepath.Join(tp, "clash") + "\n\t" + filepath.Join(tp, "broken") + "\n)\n"})
	broken := filepath.Join(tp, "broken", "entry_points.txt")

	out, err := s.run("app", nil, "go", "generate", "./...")
	require.Error(t, err, out)
	assert.Contains(t, out, broken+":5: entry point missing in [torchrun.handlers] of module github.com/go-entrypoints/entrypoints/testpackages/broken: package github.com/go-entrypoints/entrypoints/testpackages/broken has no symbol DoesNotExist")
	assert.Contains(t, out, broken+":6: entry point wrongtype in [torchrun.handlers] of module github.com/go-entrypoints/entrypoints/testpackages/broken: github.com/go-entrypoints/entrypoints/testpackages/broken.WrongType has type string; want registry.Creator, or a func() returning registry.Creator or (registry.Creator, error)")
	assert.Contains(t, out, broken+`:10: unexpected line "this line is not an entry point"`)
	assert.Contains(t, out, filepath.Join(tp, "clash", "entry_points.txt")+":5: entry point testbackend in [torchrun.handlers] of module github.com/go-entrypoints/entrypoints/testpackages/clash: conflicting declarations")

	// The file links the good entry points, and the program runs.
	out, err = s.run("app", nil, "go", "run", ".", "-backend", "survivor")
	require.NoError(t, err, out)
	assert.Contains(t, out, "registered: [creatorpanics survivor testbackend]")
	assert.Contains(t, out, "created: survivor")
	assert.Contains(t, out, broken+":7: entry point panics in [torchrun.handlers] of module github.com/go-entrypoints/entrypoints/testpackages/broken: Panics panicked: broken.Panics panics on purpose")
	assert.Contains(t, out, broken+":9: entry point nilcreator")
	assert.Contains(t, out, "NilCreator gave a nil registry.Creator")

	// A creator that panics gives an error, not a crash.
	out, err = s.run("app", nil, "go", "run", ".", "-backend", "creatorpanics")
	require.Error(t, err)
	assert.Contains(t, out, `create error: registry: creator of backend "creatorpanics" panicked`)
	assert.NotContains(t, out, "goroutine ")

	// check reports every problem and fails.
	out, err = s.run("app", nil, "go", "run", "github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints", "check")
	require.Error(t, err)
	assert.Contains(t, out, "4 problems")
	assert.Contains(t, out, "has no symbol DoesNotExist")
}

// TestGenerateAvoidsNameClashes checks that the generated imports take no
// name the package declares, in its test files too, nor init.
func TestGenerateAvoidsNameClashes(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.write(appFiles)
	s.write(map[string]string{
		"app/names.go":      "package main\n\nvar discovery2, conn = 1, 2\n\nfunc discovery3() {}\n",
		"app/names_test.go": "package main\n\nvar h = 3\n",
		"h/go.mod":          "module example.org/h\n\ngo 1.26.0\n",
		"h/entry_points.txt": "[torchrun.handlers]\n" +
			"a = example.org/h/init:NewHandler\n" +
			"b = example.org/h/discovery:NewHandler\n" +
			"c = example.org/h/conn:NewHandler\n" +
			"d = example.org/h:NewHandler\n",
	})
	for _, pkg := range []string{"init", "discovery", "conn", ""} {
		name := pkg
		if name == "" {
			name = "h"
		}
		s.write(map[string]string{filepath.Join("h", pkg, "h.go"): "package " + name + `

import "github.com/go-entrypoints/entrypoints/registry"

// NewHandler is the entry point.
func NewHandler() registry.Creator { return nil }
`})
	}
	s.ok(".", "go", "work", "init", "./app", "./h", s.root)
	s.ok("app", "go", "generate", "./...")
	s.ok("app", "go", "vet", ".")
	gen, err := os.ReadFile(filepath.Join(s.dir, "app", "entrypoints_gen.go"))
	require.NoError(t, err)
	for _, want := range []string{
		`discovery "github.com/go-entrypoints/entrypoints/discovery"`,
		`h2 "example.org/h"`,
		`conn2 "example.org/h/conn"`,
		`discovery4 "example.org/h/discovery"`,
		`init2 "example.org/h/init"`,
	} {
		assert.Contains(t, string(gen), want)
	}
}
