package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
		{args: []string{"generate", "-h"}, code: 0, err: "usage: entrypoints generate [-o file] [-group name]... [-workspace go.work]"},
		{args: []string{"generate", "-group", "my app"}, code: 2, err: `invalid value "my app" for flag -group: "my app" is not a group name`},
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
	assert.Contains(t, out, "torchrun.handlers  myhandler  example.com/myhandler:NewHandler  example.com/myhandler  (devel)  myhandler/entry_points.txt:3  unlinked (go generate ./... in the program's package links it, or import discovery/dynamic to load it at run time)\n")

	code, out, errOut = runCLI("generate")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out)

	code, out, errOut = runCLI("list", "-json")
	require.Equal(t, 0, code, errOut)
	var listedOut listOutput
	require.NoError(t, json.Unmarshal([]byte(out), &listedOut))
	assert.Equal(t, listOutput{EntryPoints: []listed{{
		Group: "torchrun.handlers", Name: "myhandler", Value: "example.com/myhandler:NewHandler",
		Module: "example.com/myhandler", Version: "(devel)", Pos: "myhandler/entry_points.txt:3", Status: "linked",
		LinkedBy: []string{"app/entrypoints_gen.go"},
	}}, Problems: []listProblem{}}, listedOut)

	code, out, errOut = runCLI("list", "-json", "-group", "nope")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "{\n\t\"EntryPoints\": [],\n\t\"Problems\": []\n}\n", out)

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

// TestBrokenWorkspace checks that where the go command refuses the
// workspace for a problem of its go.work (a missing directory, a syntax
// error, an unknown directive), each command prints one message naming the
// go.work line and the fix, and writes nothing.
func TestBrokenWorkspace(t *testing.T) {
	s := newSandbox(t)
	s.write(appFiles)
	s.write(handlerFiles("myhandler"))
	t.Chdir(filepath.Join(s.dir, "app"))
	t.Setenv("GOWORK", "")
	t.Setenv("GOFLAGS", "")
	uses := "use (\n\t./app\n\t" + s.root + "\n\t./myhandler\n"
	for _, tt := range []struct {
		name, work, want string
	}{
		{"missing directory", "go 1.26.0\n\n" + uses + "\t./missing\n)\n",
			"go.work:7: use ./missing: the directory does not exist, so the go command builds nothing in this workspace; fix: go work edit -dropuse=./missing (in " + s.dir + "), or restore the directory\n"},
		{"unknown directive", "go 1.26.0\n\n" + uses + ")\nfrobnicate x\n",
			"go.work:8"},
		{"syntax error", "go 1.26.0\n\n" + uses + ")\nuse \"x\n",
			"go.work:8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s.write(map[string]string{"go.work": tt.work})
			for _, cmd := range []string{"list", "check", "generate"} {
				code, out, errOut := runCLI(cmd)
				assert.Equal(t, 1, code, cmd)
				assert.Empty(t, out, cmd)
				assert.Equal(t, "entrypoints "+cmd+": "+filepath.Join(s.dir, "go.work"), errOut[:min(len(errOut), len("entrypoints "+cmd+": "+filepath.Join(s.dir, "go.work")))], cmd)
				assert.Contains(t, errOut, tt.want, cmd)
				assert.Contains(t, errOut, "; fix: ", cmd)
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "one message: %s", errOut)
			}
			assert.NoFileExists(t, filepath.Join(s.dir, "app", "entrypoints_gen.go"))
		})
	}
}

// TestGenerateGroupsAndListJSON checks generate -group, and that list -json
// and the table tell the same, problems included.
func TestGenerateGroupsAndListJSON(t *testing.T) {
	s := newSandbox(t)
	s.write(appFiles)
	s.write(handlerFiles("myhandler"))
	exporters := func(mod string) map[string]string {
		return map[string]string{
			mod + "/go.mod":           "module example.com/" + mod + "\n\ngo 1.26.0\n",
			mod + "/entry_points.txt": "[myapp.exporters]\ncsv = example.com/" + mod + ":NewCSV\n",
			mod + "/exp.go":           "package " + mod + "\n\n// NewCSV is the entry point.\nfunc NewCSV() string { return \"csv\" }\n",
		}
	}
	s.write(exporters("exp"))
	s.ok(".", "go", "work", "init", "./app", s.root, "./myhandler", "./exp")
	t.Chdir(filepath.Join(s.dir, "app"))
	t.Setenv("GOWORK", "")
	t.Setenv("GOFLAGS", "")
	gen := filepath.Join(s.dir, "app", "entrypoints_gen.go")

	code, out, errOut := runCLI("generate", "-group", "myapp.exporters")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out+errOut)
	src, err := os.ReadFile(gen)
	require.NoError(t, err)
	assert.Contains(t, string(src), `exp "example.com/exp"`)
	assert.Contains(t, string(src), `Group: "myapp.exporters", Name: "csv"`)
	assert.NotContains(t, string(src), "myhandler")

	// list tells which are linked; nothing imports discovery/dynamic.
	code, out, errOut = runCLI("list")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "myapp.exporters    csv        example.com/exp:NewCSV            example.com/exp        (devel)  exp/entry_points.txt:2        linked by app/entrypoints_gen.go\n")
	assert.Contains(t, out, "myhandler/entry_points.txt:3  unlinked (go generate")

	// A group nobody declares links nothing, and generate says so.
	code, _, errOut = runCLI("generate", "-group", "myapp.nothing", "-group", "myapp.nothing")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "entrypoints generate: note: no module of the workspace declares an entry point of group [myapp.nothing]\n", errOut)
	src, err = os.ReadFile(gen)
	require.NoError(t, err)
	assert.Contains(t, string(src), "// No entry points of group myapp.nothing are declared by the modules of the workspace.")

	// Two groups, then every group.
	code, _, errOut = runCLI("generate", "-group", "myapp.exporters", "-group", "torchrun.handlers")
	require.Equal(t, 0, code, errOut)
	both, err := os.ReadFile(gen)
	require.NoError(t, err)
	code, _, errOut = runCLI("generate")
	require.Equal(t, 0, code, errOut)
	all, err := os.ReadFile(gen)
	require.NoError(t, err)
	assert.Equal(t, string(all), string(both))
	assert.Contains(t, string(all), `myhandler "example.com/myhandler"`)

	// A program that imports discovery/dynamic loads what is not linked of
	// the groups it loads, and only those.
	s.write(exporters("other"))
	s.write(map[string]string{
		"other/entry_points.txt": "[myapp.exporters]\ncsv = example.com/other:NewCSV\njson = example.com/other:NewCSV\n[myapp.exporters\n[myapp.other]\nx = example.com/other:NewCSV\n",
		"app/dynamic.go":         "package main\n\nimport _ \"github.com/go-entrypoints/entrypoints/discovery/dynamic\"\n",
	})
	s.ok(".", "go", "work", "use", "./other")
	code, out, _ = runCLI("list")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "other/entry_points.txt:3      unlinked (go generate")
	assert.Contains(t, out, "other/entry_points.txt:6      unlinked (go generate")
	s.write(map[string]string{"app/exporters.go": "package main\n\nimport \"github.com/go-entrypoints/entrypoints/discovery\"\n\nvar _, _ = discovery.Load[string](\"myapp.exporters\")\n"})
	code, out, errOut = runCLI("list")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "other/entry_points.txt:3      loadable (not linked; discovery/dynamic loads it at run time in example.com/app; go generate ./... links it)\n")
	assert.Contains(t, out, "other/entry_points.txt:6      unlinked (go generate")
	assert.Contains(t, errOut, "entrypoints list: "+filepath.Join(s.dir, "other", "entry_points.txt")+":4: invalid group header")
	assert.Contains(t, errOut, "entrypoints list: "+filepath.Join(s.dir, "other", "entry_points.txt")+":2: entry point csv in [myapp.exporters] of module example.com/other: conflicting declarations")
	assert.Contains(t, errOut, "entrypoints list: 0 entry points broken, 2 other problems in the workspace")

	code, out, _ = runCLI("list", "-json", "-group", "myapp.exporters")
	assert.Equal(t, 1, code)
	var got listOutput
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, []listed{{
		Group: "myapp.exporters", Name: "csv", Value: "example.com/exp:NewCSV", Module: "example.com/exp", Version: "(devel)",
		Pos: "exp/entry_points.txt:2", Status: "linked", LinkedBy: []string{"app/entrypoints_gen.go"},
	}, {
		Group: "myapp.exporters", Name: "json", Value: "example.com/other:NewCSV", Module: "example.com/other", Version: "(devel)",
		Pos: "other/entry_points.txt:3", Status: "loadable", LoadedBy: []string{"example.com/app"},
	}}, got.EntryPoints)
	otherFile := filepath.Join(s.dir, "other", "entry_points.txt")
	require.Len(t, got.Problems, 2, "%+v", got.Problems)
	assert.Equal(t, listProblem{Pos: otherFile + ":4", File: otherFile, Line: 4, Error: got.Problems[0].Error}, got.Problems[0])
	assert.Contains(t, got.Problems[0].Error, "invalid group header")
	assert.Equal(t, listProblem{Pos: otherFile + ":2", File: otherFile, Line: 2, Group: "myapp.exporters", Name: "csv", Module: "example.com/other",
		Error: got.Problems[1].Error, Fix: got.Problems[1].Fix}, got.Problems[1])
	assert.Contains(t, got.Problems[1].Error, "conflicting declarations: module example.com/exp declares it too")
}
