//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
)

// testEPs are three entry points of one module, in two packages.
var testEPs = []discovery.EntryPoint{
	{Group: discovery.HandlersGroup, Name: "a", Value: "example.com/h:NewA", Module: "example.com/h"},
	{Group: discovery.HandlersGroup, Name: "b", Value: "example.com/h/sub:NewB", Module: "example.com/h"},
	{Group: discovery.HandlersGroup, Name: "c", Value: "example.com/h:C", Module: "example.com/h"},
}

func TestNewPlan(t *testing.T) {
	p := newPlan("/src/h", testEPs)

	f, err := parser.ParseFile(token.NewFileSet(), "main.go", p.main, 0)
	require.NoError(t, err)
	assert.Equal(t, "main", f.Name.Name)
	var imports []string
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		imports = append(imports, path)
	}
	assert.Equal(t, []string{"example.com/h", "example.com/h/sub"}, imports)
	for i := range testEPs {
		assert.NotNil(t, f.Scope.Lookup(varName(i)), "var %s", varName(i))
	}
	assert.Equal(t, p.main, newPlan("/src/h", testEPs).main, "generation is deterministic")
}

func TestParseBuildError(t *testing.T) {
	p := newPlan("/src/h", testEPs)
	lineOf := func(i int) string {
		for line, j := range p.epLine {
			if j == i {
				return strconv.Itoa(line)
			}
		}
		t.Fatalf("no line for entry point %d", i)
		return ""
	}
	importLine := func(path string) string {
		for line, idx := range p.impLine {
			if p.eps[idx[0]].ImportPath() == path {
				return strconv.Itoa(line)
			}
		}
		t.Fatalf("no import line for %s", path)
		return ""
	}

	tests := []struct {
		name    string
		output  string
		symbols map[int]string
		other   bool
	}{{
		name: "undefined symbol, named by its overlay path",
		output: "# example.com/h/.entrypoints_plugin_0123456789abcdef\n" +
			"./.entrypoints_plugin_0123456789abcdef/main.go:" + lineOf(2) + ":16: undefined: p0.C\n",
		symbols: map[int]string{2: "undefined: example.com/h.C"},
	}, {
		name: "two problems, named by the build directory path",
		output: "# example.com/h/.entrypoints_plugin_0123456789abcdef\n" +
			"../../cache/build-123/main.go:" + lineOf(0) + ":16: p0.NewA (type) is not an expression\n" +
			"../../cache/build-123/main.go:" + lineOf(1) + ":16: cannot use generic function p1.NewB without instantiation\n",
		symbols: map[int]string{0: "example.com/h.NewA (type) is not an expression", 1: "cannot use generic function example.com/h/sub.NewB without instantiation"},
	}, {
		name:    "an import that fails names all its entry points",
		output:  "/cache/build-9/main.go:" + importLine("example.com/h") + ":2: no required module provides package example.com/h\n",
		symbols: map[int]string{0: "no required module provides package example.com/h", 2: "no required module provides package example.com/h"},
	}, {
		name:   "a package that does not compile",
		output: "# example.com/h\n./h.go:3:1: syntax error: non-declaration statement outside function body\n",
		other:  true,
	}, {
		name:   "the go command's own error",
		output: "go: go.work requires go >= 1.99 (running go 1.26; GOTOOLCHAIN=local)\n",
		other:  true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := p.parseBuildError(tt.output)
			if tt.symbols == nil {
				tt.symbols = map[int]string{}
			}
			assert.Equal(t, tt.symbols, be.symbols)
			assert.Equal(t, tt.other, be.other)
			assert.Equal(t, strings.TrimSpace(tt.output), be.Error())
		})
	}
}
