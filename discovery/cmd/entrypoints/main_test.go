package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args       []string
		code       int
		out, err   string
		notStdout  bool
		notStderrr bool
	}{
		{args: nil, code: 2, err: "usage: entrypoints <command>"},
		{args: []string{"bogus"}, code: 2, err: `entrypoints: unknown command "bogus"`},
		{args: []string{"-h"}, code: 0, out: "list       print the entry points"},
		{args: []string{"help"}, code: 0, out: "generate   write entrypoints_gen.go"},
		{args: []string{"list", "-bogus"}, code: 2, err: "flag provided but not defined: -bogus"},
		{args: []string{"list", "extra"}, code: 2, err: `entrypoints list: unexpected argument "extra"`},
		{args: []string{"generate", "-h"}, code: 0, err: "usage: entrypoints generate [-o file] [-workspace go.work]"},
		{args: []string{"check", "-workspace"}, code: 2, err: "flag needs an argument: -workspace"},
		{args: []string{"generate", "-o", "../elsewhere.go"}, code: 2, err: "want the name of a .go file"},
		{args: []string{"generate", "-o", "x.txt"}, code: 2, err: "want the name of a .go file"},
	} {
		code, out, err := runCLI(tt.args...)
		assert.Equal(t, tt.code, code, "%q", tt.args)
		assert.Contains(t, out, tt.out, "%q", tt.args)
		assert.Contains(t, err, tt.err, "%q", tt.args)
	}
}

func TestListGenerateCheck(t *testing.T) {
	s := newSandbox(t)
	s.write(appFiles)
	s.write(handlerFiles("myhandler"))
	s.ok(".", "go", "work", "init", "./app", s.root, "./myhandler")
	t.Chdir(filepath.Join(s.dir, "app"))
	t.Setenv("GOWORK", "")
	t.Setenv("GOFLAGS", "")

	code, out, errOut := runCLI("list")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "GROUP              NAME       VALUE                             MODULE                 VERSION  DECLARED AT                   STATUS\n")
	assert.Contains(t, out, "torchrun.handlers  myhandler  example.com/myhandler:NewHandler  example.com/myhandler  (devel)  myhandler/entry_points.txt:3  loadable (not linked")

	code, out, errOut = runCLI("generate")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out)

	code, out, errOut = runCLI("list", "-json")
	require.Equal(t, 0, code, errOut)
	var listedOut []listed
	require.NoError(t, json.Unmarshal([]byte(out), &listedOut))
	assert.Equal(t, []listed{{
		Group: "torchrun.handlers", Name: "myhandler", Value: "example.com/myhandler:NewHandler",
		Module: "example.com/myhandler", Pos: "myhandler/entry_points.txt:3", Status: "linked",
		LinkedBy: []string{"app/entrypoints_gen.go"},
	}}, listedOut)

	code, out, errOut = runCLI("list", "-json", "-group", "nope")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "[]\n", out)

	code, out, errOut = runCLI("check")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "ok: 1 entry point in 1 module\n", out)

	// A declaration changed since generate: list says the link is stale.
	s.write(map[string]string{
		"myhandler/other.go":         "package myhandler\n\nimport \"github.com/go-entrypoints/entrypoints/registry\"\n\n// Other is another entry point.\nfunc Other() registry.Creator { return nil }\n",
		"myhandler/entry_points.txt": "[torchrun.handlers]\nmyhandler = example.com/myhandler:Other\n",
	})
	code, out, errOut = runCLI("list")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "stale (linked as example.com/myhandler:NewHandler by app/entrypoints_gen.go; fix: go generate ./... in that package links it as declared)")

	// A broken declaration: check and list report it at its line.
	s.write(map[string]string{"myhandler/entry_points.txt": "[torchrun.handlers]\nmyhandler = example.com/myhandler:Gone\n[torchrun.handlers\n"})
	code, _, errOut = runCLI("check")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "entrypoints check: 2 problems:")
	assert.Contains(t, errOut, "myhandler/entry_points.txt:2: entry point myhandler in [torchrun.handlers] of module example.com/myhandler: package example.com/myhandler has no symbol Gone")
	assert.Contains(t, errOut, "myhandler/entry_points.txt:3: invalid group header")
	code, out, errOut = runCLI("list")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "broken")
	assert.Contains(t, out, "myhandler/entry_points.txt:2: myhandler: package example.com/myhandler has no symbol Gone")
	assert.Contains(t, errOut, "entrypoints list: ")

	// generate outside a package.
	t.Chdir(s.dir)
	code, _, errOut = runCLI("generate")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no Go package in the current directory")
}

// TestBrokenWorkspace checks that the commands still report what they can
// when the go command refuses the workspace.
func TestBrokenWorkspace(t *testing.T) {
	s := newSandbox(t)
	s.write(appFiles)
	s.write(handlerFiles("myhandler"))
	s.write(map[string]string{"go.work": "go 1.26.0\n\nuse (\n\t./app\n\t" + s.root + "\n\t./myhandler\n\t./missing\n)\n"})
	t.Chdir(filepath.Join(s.dir, "app"))
	t.Setenv("GOWORK", "")
	t.Setenv("GOFLAGS", "")

	code, out, errOut := runCLI("list")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "myhandler/entry_points.txt:3")
	assert.Contains(t, out, "the go command cannot load the packages")
	assert.Contains(t, errOut, "go.work: go list -m")
	assert.Contains(t, errOut, "missing")

	code, _, errOut = runCLI("check")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "go.work: go list -m")

	code, _, errOut = runCLI("generate")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "nothing written")
	assert.NoFileExists(t, filepath.Join(s.dir, "app", "entrypoints_gen.go"))
}
