package main

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/go-entrypoints/entrypoints/discovery"
)

const dynamicPath = "github.com/go-entrypoints/entrypoints/discovery/dynamic"

// programs is what the commands know of the code that uses the entry
// points: the package in the current directory and the packages of the
// workspace it imports or, run where there is no Go package, every main
// package of the workspace's modules and the workspace packages they import.
type programs struct {
	// dynamic maps each inspected main package that imports
	// discovery/dynamic, which loads unlinked entry points at run time, to
	// the callers among the packages it is built from.
	dynamic map[string][]string
	// callers are the packages of the workspace's modules, among those
	// inspected, that import discovery: those that may call Load or Lookup.
	callers []string
	// uses says, for each caller, which groups it loads.
	uses map[string]*groupUses
}

// groupUses is what a package loads: groups named by constants, and
// whether it loads others that cannot be known before it runs.
type groupUses struct {
	groups  map[string]bool
	unknown bool // a group that is not a constant, or EntryPoint.Load
}

// dynamicLoaders returns the inspected programs that import
// discovery/dynamic and load group, or may load it.
func (progs *programs) dynamicLoaders(group string) []string {
	if progs == nil {
		return nil
	}
	var loaders []string
	for prog, callers := range progs.dynamic {
		for _, c := range callers {
			if u := progs.uses[c]; u != nil && (u.groups[group] || u.unknown) {
				loaders = append(loaders, prog)
				break
			}
		}
	}
	slices.Sort(loaders)
	return loaders
}

// inspectPrograms finds the programs of p: the package in p's directory, if
// there is one, else the main packages of the workspace's modules.
func (p *project) inspectPrograms() (*programs, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedImports | packages.NeedDeps | packages.NeedModule,
		Dir:  p.dir,
		Env:  p.env(),
	}
	roots, err := packages.Load(cfg, ".")
	if err != nil {
		return nil, err
	}
	if len(roots) != 1 || roots[0].Name == "" || len(roots[0].GoFiles) == 0 {
		// No package here: every main package of the workspace.
		all, err := packages.Load(cfg, "work")
		if err != nil {
			return nil, err
		}
		roots = roots[:0]
		for _, pkg := range all {
			if pkg.Name == "main" {
				roots = append(roots, pkg)
			}
		}
	}
	isCaller := func(pkg *packages.Package) bool {
		return pkg.PkgPath != discoveryPath && pkg.Module != nil && pkg.Module.Main && pkg.Imports[discoveryPath] != nil
	}
	progs := &programs{dynamic: make(map[string][]string), uses: make(map[string]*groupUses)}
	callers := make(map[string]bool)
	for _, root := range roots {
		// The callers root is built from, and whether it imports dynamic.
		var own []string
		dyn := false
		seen := make(map[*packages.Package]bool)
		var visit func(pkg *packages.Package)
		visit = func(pkg *packages.Package) {
			if seen[pkg] {
				return
			}
			seen[pkg] = true
			if pkg.PkgPath == dynamicPath {
				dyn = true
			}
			if isCaller(pkg) {
				own = append(own, pkg.PkgPath)
				callers[pkg.PkgPath] = true
			}
			for _, imp := range pkg.Imports {
				visit(imp)
			}
		}
		visit(root)
		if dyn && root.Name == "main" {
			progs.dynamic[root.PkgPath] = own
		}
	}
	for path := range callers {
		progs.callers = append(progs.callers, path)
	}
	slices.Sort(progs.callers)
	return progs, nil
}

// A groupLoad is a call of discovery.Load[T] or discovery.Lookup[T] with a
// constant group name.
type groupLoad struct {
	group string
	typ   types.Type // T
	call  string     // "discovery.Load[exporter.Exporter]"
	pos   token.Position
}

// findLoads returns the calls of discovery.Load[T] and discovery.Lookup[T]
// with a constant group name in pkg, which must have syntax and type
// information, and the groups pkg loads, Discover's included.
func findLoads(pkg *packages.Package) ([]groupLoad, *groupUses) {
	uses := &groupUses{groups: make(map[string]bool)}
	if pkg.TypesInfo == nil {
		return nil, uses
	}
	var loads []groupLoad
	for _, f := range pkg.Syntax {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fun := ast.Unparen(call.Fun)
			switch x := fun.(type) {
			case *ast.IndexExpr:
				fun = x.X
			case *ast.IndexListExpr:
				fun = x.X
			}
			var id *ast.Ident
			switch x := fun.(type) {
			case *ast.Ident:
				id = x
			case *ast.SelectorExpr:
				id = x.Sel
			default:
				return true
			}
			fn, ok := pkg.TypesInfo.Uses[id].(*types.Func)
			if !ok || fn.Pkg() == nil || fn.Pkg().Path() != discoveryPath {
				return true
			}
			switch {
			case fn.Name() == "Discover":
				uses.groups[discovery.HandlersGroup] = true
				return true
			case fn.Signature().Recv() != nil:
				uses.unknown = uses.unknown || fn.Name() == "Load" // EntryPoint.Load
				return true
			case fn.Name() != "Load" && fn.Name() != "Lookup":
				return true
			}
			inst, ok := pkg.TypesInfo.Instances[id]
			if !ok || inst.TypeArgs.Len() != 1 || len(call.Args) == 0 {
				return true
			}
			group := pkg.TypesInfo.Types[call.Args[0]].Value
			if group == nil || group.Kind() != constant.String {
				uses.unknown = true // not known before run time
				return true
			}
			uses.groups[constant.StringVal(group)] = true
			t := inst.TypeArgs.At(0)
			if hasTypeParam(t) {
				// Load[T] inside a generic function: T is known only
				// where the function is instantiated, so nothing can be
				// checked here; the group is still linked.
				return true
			}
			loads = append(loads, groupLoad{
				group: constant.StringVal(group),
				typ:   t,
				call:  fmt.Sprintf("discovery.%s[%s]", fn.Name(), typeString(t)),
				pos:   pkg.Fset.Position(call.Pos()),
			})
			return true
		})
	}
	return loads, uses
}

// typeString returns t with its packages named by their names, as the
// source that uses them writes it.
func typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string { return p.Name() })
}

// groupTypes returns, for each group loaded by loads, the distinct types it
// is loaded as, each with its first call, and the problems of a group loaded
// as two different types.
func (p *project) groupTypes(loads []groupLoad) (map[string][]groupLoad, discovery.ErrorList) {
	slices.SortStableFunc(loads, func(a, b groupLoad) int {
		if c := strings.Compare(a.pos.Filename, b.pos.Filename); c != 0 {
			return c
		}
		return a.pos.Offset - b.pos.Offset
	})
	byGroup := make(map[string][]groupLoad)
	var problems discovery.ErrorList
	for _, l := range loads {
		first := byGroup[l.group]
		if slices.ContainsFunc(first, func(o groupLoad) bool { return types.Identical(o.typ, l.typ) }) {
			continue
		}
		if len(first) > 0 {
			problems = append(problems, &discovery.Error{
				File: l.pos.Filename, Line: l.pos.Line,
				Err: fmt.Errorf("group %s is loaded as %s by %s here and as %s by %s at %s",
					l.group, typeString(l.typ), l.call, typeString(first[0].typ), first[0].call, p.rel(first[0].pos.Filename)+":"+fmt.Sprint(first[0].pos.Line)),
				Fix: "load a group as one type everywhere; every entry point of the group must be both",
			})
		}
		byGroup[l.group] = append(first, l)
	}
	return byGroup, problems
}

// loadRule reports whether a symbol declared with type sym can be made a T
// by the rule Load applies at run time (see discovery's convert.go): a
// value assignable to T is taken as it is; else a func that is not
// variadic, takes no parameters and returns a result assignable to T, or
// such a result and an error, is a factory. A var declared with an
// interface type is judged by that type, as the value it will hold is not
// known before the program runs.
func loadRule(sym, t types.Type) bool {
	if types.AssignableTo(sym, t) {
		return true
	}
	sig, ok := sym.Underlying().(*types.Signature)
	if !ok || sig.Params().Len() != 0 || sig.Variadic() || sig.TypeParams().Len() != 0 {
		return false
	}
	res := sig.Results()
	switch res.Len() {
	case 1:
		return types.AssignableTo(res.At(0).Type(), t)
	case 2:
		return types.AssignableTo(res.At(0).Type(), t) && types.Identical(res.At(1).Type(), types.Universe.Lookup("error").Type())
	}
	return false
}

// hasTypeParam reports whether t is, or is built from, a type parameter,
// such as the T of a generic function that calls discovery.Load[T].
func hasTypeParam(t types.Type) bool {
	switch t := t.(type) {
	case *types.TypeParam:
		return true
	case *types.Pointer:
		return hasTypeParam(t.Elem())
	case *types.Slice:
		return hasTypeParam(t.Elem())
	case *types.Array:
		return hasTypeParam(t.Elem())
	case *types.Chan:
		return hasTypeParam(t.Elem())
	case *types.Map:
		return hasTypeParam(t.Key()) || hasTypeParam(t.Elem())
	case *types.Signature:
		return hasTypeParam(t.Params()) || hasTypeParam(t.Results())
	case *types.Tuple:
		for v := range t.Variables() {
			if hasTypeParam(v.Type()) {
				return true
			}
		}
	case *types.Struct:
		for f := range t.Fields() {
			if hasTypeParam(f.Type()) {
				return true
			}
		}
	case *types.Interface:
		for m := range t.Methods() {
			if hasTypeParam(m.Type()) {
				return true
			}
		}
		for e := range t.EmbeddedTypes() {
			if hasTypeParam(e) {
				return true
			}
		}
	case *types.Named:
		for a := range t.TypeArgs().Types() {
			if hasTypeParam(a) {
				return true
			}
		}
	case *types.Alias:
		return hasTypeParam(types.Unalias(t))
	}
	return false
}
