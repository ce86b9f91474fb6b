package main

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/packages"
)

// checkSource type-checks the files of a package with import path path;
// imports resolve to the packages in deps, then to the standard library.
func checkSource(t *testing.T, fset *token.FileSet, path string, deps map[string]*types.Package, files ...string) *packages.Package {
	t.Helper()
	var syntax []*ast.File
	for i, src := range files {
		f, err := parser.ParseFile(fset, fmt.Sprintf("%s/f%d.go", path, i), src, 0)
		require.NoError(t, err)
		syntax = append(syntax, f)
	}
	info := &types.Info{
		Types:     make(map[ast.Expr]types.TypeAndValue),
		Uses:      make(map[*ast.Ident]types.Object),
		Defs:      make(map[*ast.Ident]types.Object),
		Instances: make(map[*ast.Ident]types.Instance),
	}
	std := importer.Default()
	conf := types.Config{Importer: importerFunc(func(p string) (*types.Package, error) {
		if pkg, ok := deps[p]; ok {
			return pkg, nil
		}
		return std.Import(p)
	})}
	pkg, err := conf.Check(path, fset, syntax, info)
	require.NoError(t, err)
	return &packages.Package{PkgPath: path, Name: pkg.Name(), Fset: fset, Syntax: syntax, Types: pkg, TypesInfo: info}
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// fakeDiscovery is the part of package discovery that findLoads looks for.
const fakeDiscovery = `package discovery

type Option func()
type Plugin[T any] struct{ Value T }

func Load[T any](group string, opts ...Option) ([]Plugin[T], error) { return nil, nil }
func Lookup[T any](group, name string, opts ...Option) (T, error) { var t T; return t, nil }
func Find(opts ...Option) ([]EntryPoint, error) { return nil, nil }
func Discover(opts ...Option) (any, error) { return nil, nil }

type EntryPoint struct{}

func (EntryPoint) Load(opts ...Option) (any, error) { return nil, nil }
`

func TestFindLoads(t *testing.T) {
	fset := token.NewFileSet()
	disc := checkSource(t, fset, discoveryPath, nil, fakeDiscovery)
	exp := checkSource(t, fset, "example.com/exporter", nil, "package exporter\n\nconst Group = \"myapp.exporters\"\n\ntype Exporter interface{ Export() string }\n")
	deps := map[string]*types.Package{discoveryPath: disc.Types, "example.com/exporter": exp.Types}
	app := checkSource(t, fset, "example.com/app", deps, `package main

import (
	"fmt"

	d "github.com/go-entrypoints/entrypoints/discovery"
	"example.com/exporter"
)

const local = "myapp.local"

func main() {
	d.Load[exporter.Exporter](exporter.Group)
	d.Lookup[fmt.Stringer](local+".x", "name")
	group := "myapp.variable"
	d.Load[int](group)
	f := d.Load[string]
	f("myapp.through.a.variable")
	d.Find()
	(d.Load[[]byte])("myapp.bytes")
}

// loadAs loads a group as the type its caller chooses: nothing to check
// here, but the group is used.
func loadAs[T any]() {
	d.Load[T]("myapp.generic")
	d.Lookup[[]map[string]T]("myapp.generic.nested", "name")
	d.Load[[]T]("myapp.bytes")
}
`)
	var got []string
	loads, uses := findLoads(app)
	for _, l := range loads {
		got = append(got, fmt.Sprintf("%s %s %s %d", l.group, typeString(l.typ), l.call, l.pos.Line))
	}
	assert.Equal(t, []string{
		"myapp.exporters exporter.Exporter discovery.Load[exporter.Exporter] 13",
		"myapp.local.x fmt.Stringer discovery.Lookup[fmt.Stringer] 14",
		"myapp.bytes []byte discovery.Load[[]byte] 20",
	}, got)
	assert.Equal(t, &groupUses{groups: map[string]bool{"myapp.exporters": true, "myapp.local.x": true, "myapp.bytes": true, "myapp.generic": true, "myapp.generic.nested": true}, unknown: true}, uses)

	// Discover loads torchrun.handlers; EntryPoint.Load may load any group.
	discover := checkSource(t, fset, "example.com/discover", deps, "package discover\n\nimport \"github.com/go-entrypoints/entrypoints/discovery\"\n\nvar _, _ = discovery.Discover()\n")
	loads, uses = findLoads(discover)
	assert.Empty(t, loads)
	assert.Equal(t, &groupUses{groups: map[string]bool{"torchrun.handlers": true}}, uses)
	anyGroup := checkSource(t, fset, "example.com/anygroup", deps, `package anygroup

import "github.com/go-entrypoints/entrypoints/discovery"

func loadAll() {
	eps, _ := discovery.Find()
	for _, ep := range eps {
		ep.Load()
	}
}
`)
	loads, uses = findLoads(anyGroup)
	assert.Empty(t, loads)
	assert.Equal(t, &groupUses{groups: map[string]bool{}, unknown: true}, uses)
}

// TestLoadRule checks the rule of generate and check against the cases of
// the run-time rule: a value assignable to T, else a factory.
func TestLoadRule(t *testing.T) {
	fset := token.NewFileSet()
	pkg := checkSource(t, fset, "example.com/p", nil, `package p

type Exporter interface{ Export() string }
type Creator func(int) (string, error)
type csv struct{}

func (*csv) Export() string { return "" }

var (
	exporterVar  Exporter
	pointer      *csv
	value        csv
	anyVar       any
	factory      func() Exporter
	factoryErr   func() (Exporter, error)
	factoryPtr   func() *csv
	withParam    func(int) Exporter
	variadic     func(...int) Exporter
	notError     func() (Exporter, string)
	three        func() (Exporter, error, int)
	creatorFunc  func(int) (string, error)
	creatorMaker func() Creator
	unnamedMaker func() func(int) (string, error)
	str          string
)
`)
	scope := pkg.Types.Scope()
	typeOf := func(name string) types.Type { return scope.Lookup(name).Type() }
	exporter, creator := typeOf("Exporter"), typeOf("Creator")
	for _, tt := range []struct {
		sym  string
		t    types.Type
		want bool
	}{
		{"exporterVar", exporter, true},
		{"pointer", exporter, true},
		{"value", exporter, false}, // Export has a pointer receiver
		{"anyVar", exporter, false},
		{"factory", exporter, true},
		{"factoryErr", exporter, true},
		{"factoryPtr", exporter, true},
		{"withParam", exporter, false},
		{"variadic", exporter, false},
		{"notError", exporter, false},
		{"three", exporter, false},
		{"str", exporter, false},
		{"creatorFunc", creator, true},
		{"creatorMaker", creator, true},
		{"unnamedMaker", creator, true},
		{"factory", typeOf("factory"), true}, // a func type: taken as it is
		{"str", types.Universe.Lookup("any").Type(), true},
	} {
		assert.Equal(t, tt.want, loadRule(typeOf(tt.sym), tt.t), "%s as %s", tt.sym, tt.t)
	}
}
