package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exportApp is a program with a plugin group of its own: it loads every
// exporter of testpackages/exporter's group with Load, and one by name
// with Lookup.
var exportApp = map[string]string{
	"app/go.mod": "module example.com/exportapp\n\ngo 1.26.0\n",
	"app/main.go": `package main

//go:generate go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints generate

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/testpackages/exporter"
)

func main() {
	name := flag.String("lookup", "csv", "exporter to look up")
	flag.Parse()
	quiet := discovery.WithLogger(slog.New(slog.DiscardHandler))
	plugins, err := discovery.Load[exporter.Exporter](exporter.Group, quiet)
	if err != nil {
		fmt.Println("load error:", err)
	}
	for _, p := range plugins {
		fmt.Printf("%s: %s\n", p.Name, p.Value.Export("a", "b"))
	}
	e, err := discovery.Lookup[exporter.Exporter](exporter.Group, *name, quiet)
	if err != nil {
		fmt.Println("lookup error:", err)
		os.Exit(3)
	}
	fmt.Println("lookup:", e.Export("x"))
}
`,
}

// loadLine is the line of exportApp's Load call, where generate and check
// say the group is loaded.
const loadLine = "app/main.go:19"

// TestExportersGroup walks the general case the way a user works: a
// program loads its own group, myapp.exporters, whose interface is in one
// module and whose exporters are in two others, one declared by a factory
// and one by a var.
func TestExportersGroup(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.write(exportApp)
	tp := filepath.Join(s.root, "testpackages")
	csvEPs := filepath.Join(tp, "csvexporter", "entry_points.txt")
	badEPs := filepath.Join(tp, "badexporters", "entry_points.txt")
	s.ok(".", "go", "work", "init", "./app", s.root, filepath.Join(tp, "exporter"))

	// 1. Before go work use: the group is empty, and Lookup says so.
	s.ok("app", "go", "generate", "./...")
	out, err := s.run("app", nil, "go", "run", ".")
	require.Error(t, err, out)
	assert.NotContains(t, out, "load error")
	assert.Contains(t, out, `lookup error: no such entry point: group myapp.exporters has no entry point "csv"; it has none`)

	// 2. After go work use, before go generate: each exporter is named at
	// its line, with the fix.
	s.ok(".", "go", "work", "use", filepath.Join(tp, "csvexporter"), filepath.Join(tp, "jsonexporter"))
	out, err = s.run("app", nil, "go", "run", ".")
	require.Error(t, err, out)
	assert.Contains(t, out, "load error: "+csvEPs+":3: entry point csv in [myapp.exporters] of module github.com/go-entrypoints/entrypoints/testpackages/csvexporter: declared in the workspace but not linked into this binary; fix: run go generate ./...")
	assert.Contains(t, out, "jsonexporter/entry_points.txt:3: entry point json in [myapp.exporters]")
	assert.Contains(t, out, "lookup error: "+csvEPs+":3: entry point csv")

	// 3. After go generate: the factory is called, the var taken as it is.
	s.ok("app", "go", "generate", "./...")
	out = s.ok("app", "go", "run", ".")
	assert.Equal(t, "csv: a,b\njson: [\"a\",\"b\"]\nlookup: x\n", out)
	out = s.ok("app", "go", "run", ".", "-lookup", "json")
	assert.Contains(t, out, `lookup: ["x"]`)

	// An unknown name lists the names the group has.
	out, err = s.run("app", nil, "go", "run", ".", "-lookup", "xml")
	require.Error(t, err, out)
	assert.Contains(t, out, `lookup error: no such entry point: group myapp.exporters has no entry point "xml"; it has csv, json`)

	// 4. The built binary keeps its exporters wherever it runs.
	bin := filepath.Join(s.dir, "exportapp")
	s.ok("app", "go", "build", "-o", bin, ".")
	out, err = s.run(t.TempDir(), []string{"GOWORK=off"}, bin)
	require.NoError(t, err, out)
	assert.Equal(t, "csv: a,b\njson: [\"a\",\"b\"]\nlookup: x\n", out)

	// 5. A declaration of the wrong type is refused at its line by generate
	// and check; the others are linked, and a factory that panics or fails
	// spares the others.
	s.ok(".", "go", "work", "use", filepath.Join(tp, "badexporters"))
	wrongType := badEPs + ":3: entry point wrongtype in [myapp.exporters] of module github.com/go-entrypoints/entrypoints/testpackages/badexporters: " +
		"github.com/go-entrypoints/entrypoints/testpackages/badexporters.WrongType has type func() string; want exporter.Exporter, or a func() returning exporter.Exporter or (exporter.Exporter, error), as discovery.Load[exporter.Exporter] at " + loadLine + " loads it; fix: make WrongType a func() exporter.Exporter, or a var of type exporter.Exporter"
	out, err = s.run("app", nil, "go", "generate", "./...")
	require.Error(t, err, out)
	assert.Contains(t, out, "entrypoints generate: 1 problem:\n"+wrongType)
	assert.Contains(t, out, "(entrypoints_gen.go links 4 entry points)")
	out, err = s.run("app", nil, "go", "run", "github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints", "check")
	require.Error(t, err, out)
	assert.Contains(t, out, "entrypoints check: 1 problem:\n"+wrongType)

	out, err = s.run("app", nil, "go", "run", ".")
	require.NoError(t, err, out)
	assert.Contains(t, out, "csv: a,b\njson: [\"a\",\"b\"]\nlookup: x\n")
	assert.Contains(t, out, badEPs+":3: entry point wrongtype in [myapp.exporters] of module github.com/go-entrypoints/entrypoints/testpackages/badexporters: declared in the workspace but not linked")
	assert.Contains(t, out, badEPs+":4: entry point panics in [myapp.exporters] of module github.com/go-entrypoints/entrypoints/testpackages/badexporters: Panics panicked: badexporters.Panics panics on purpose")
	assert.Contains(t, out, badEPs+":5: entry point fails in [myapp.exporters] of module github.com/go-entrypoints/entrypoints/testpackages/badexporters: Fails failed: badexporters.Fails fails on purpose")
	assert.NotContains(t, out, "goroutine ")

	// A group loaded as two types is reported at both calls, and every
	// entry point is checked against both: here the second call is in a
	// package of the workspace that the program imports.
	s.write(map[string]string{"app/names.go": "package main\n\nimport _ \"example.com/exportapp/names\"\n", "app/names/names.go": `package names

import (
	"fmt"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/testpackages/exporter"
)

var _, _ = discovery.Lookup[fmt.Stringer](exporter.Group, "csv")
`})
	errOut, err := s.run("app", nil, "go", "run", "github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints", "check")
	require.Error(t, err, errOut)
	assert.Contains(t, errOut, filepath.Join(s.dir, "app", "names", "names.go")+":10: group myapp.exporters is loaded as fmt.Stringer by discovery.Lookup[fmt.Stringer] here and as exporter.Exporter by discovery.Load[exporter.Exporter] at "+loadLine+"; fix: load a group as one type everywhere")
	assert.Contains(t, errOut, csvEPs+":3: entry point csv in [myapp.exporters] of module github.com/go-entrypoints/entrypoints/testpackages/csvexporter: github.com/go-entrypoints/entrypoints/testpackages/csvexporter.New has type func() exporter.Exporter; want fmt.Stringer, or a func() returning fmt.Stringer or (fmt.Stringer, error), as discovery.Lookup[fmt.Stringer] at app/names/names.go:10 loads it")
	require.NoError(t, os.Remove(filepath.Join(s.dir, "app", "names.go")))
	require.NoError(t, os.RemoveAll(filepath.Join(s.dir, "app", "names")))

	// 6. With discovery/dynamic and no generate, the exporters are built
	// from the workspace and loaded.
	t.Run("dynamic", func(t *testing.T) {
		requireCgo(t)
		s.ok(".", "go", "work", "edit", "-dropuse", filepath.Join(tp, "badexporters"))
		require.NoError(t, os.Remove(filepath.Join(s.dir, "app", "entrypoints_gen.go")))
		s.write(map[string]string{"app/dynamic.go": "package main\n\nimport _ \"github.com/go-entrypoints/entrypoints/discovery/dynamic\"\n"})
		out := s.ok("app", "go", "run", "github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints", "list")
		assert.Contains(t, out, "loadable (not linked; discovery/dynamic loads it at run time in example.com/exportapp; go generate ./... links it)")
		out, err := s.run("app", []string{"GOENTRYPOINTS_CACHE=" + t.TempDir()}, "go", "run", ".")
		require.NoError(t, err, out)
		assert.Contains(t, out, "csv: a,b\njson: [\"a\",\"b\"]\nlookup: x\n")
	})
}

// requireCgo skips the test where Go plugins cannot be built.
func requireCgo(t *testing.T) {
	t.Helper()
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd":
	default:
		t.Skipf("Go plugins are not supported on %s", runtime.GOOS)
	}
	out, err := exec.Command("go", "env", "CGO_ENABLED").Output()
	require.NoError(t, err)
	if strings.TrimSpace(string(out)) != "1" {
		t.Skip("cgo is disabled (CGO_ENABLED=0 or no C compiler), and Go plugins need it")
	}
}
