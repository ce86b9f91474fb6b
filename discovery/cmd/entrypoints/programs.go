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
	// dynamic lists the inspected main packages that import
	// discovery/dynamic: they load unlinked entry points at run time.
	dynamic []string
	// callers are the packages of the workspace's modules, among those
	// inspected, that import discovery: those that may call Load or Lookup.
	callers []string
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
	progs := &programs{}
	callers := make(map[string]bool)
	seen := make(map[*packages.Package]bool)
	var visit func(pkg *packages.Package) bool // reports whether pkg imports dynamic
	imports := make(map[*packages.Package]bool)
	visit = func(pkg *packages.Package) bool {
		if seen[pkg] {
			return imports[pkg]
		}
		seen[pkg] = true
		dyn := pkg.PkgPath == dynamicPath
		for _, imp := range pkg.Imports {
			if visit(imp) {
				dyn = true
			}
			if imp.PkgPath == discoveryPath && pkg.Module != nil && pkg.Module.Main {
				callers[pkg.PkgPath] = true
			}
		}
		imports[pkg] = dyn
		return dyn
	}
	for _, root := range roots {
		if visit(root) && root.Name == "main" {
			progs.dynamic = append(progs.dynamic, root.PkgPath)
		}
	}
	delete(callers, discoveryPath) // Discover's own Load is checked by the handlers rule
	for path := range callers {
		progs.callers = append(progs.callers, path)
	}
	slices.Sort(progs.dynamic)
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
// information.
func findLoads(pkg *packages.Package) []groupLoad {
	if pkg.TypesInfo == nil {
		return nil
	}
	var loads []groupLoad
	for _, f := range pkg.Syntax {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
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
			if !ok || fn.Pkg() == nil || fn.Pkg().Path() != discoveryPath || fn.Name() != "Load" && fn.Name() != "Lookup" {
				return true
			}
			inst, ok := pkg.TypesInfo.Instances[id]
			if !ok || inst.TypeArgs.Len() != 1 {
				return true
			}
			group := pkg.TypesInfo.Types[call.Args[0]].Value
			if group == nil || group.Kind() != constant.String {
				return true // not known before run time
			}
			t := inst.TypeArgs.At(0)
			loads = append(loads, groupLoad{
				group: constant.StringVal(group),
				typ:   t,
				call:  fmt.Sprintf("discovery.%s[%s]", fn.Name(), typeString(t)),
				pos:   pkg.Fset.Position(call.Pos()),
			})
			return true
		})
	}
	return loads
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
