package main

import (
	"errors"
	"fmt"
	"go/types"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/go-entrypoints/entrypoints/discovery"
)

const registryPath = "github.com/go-entrypoints/entrypoints/registry"

// checked is the result of type-checking the symbols of entry points.
type checked struct {
	failed error                        // why no package could be loaded, if none could
	self   *packages.Package            // the package in the directory, if asked for
	errs   map[int]*discovery.Error     // index in the entry points -> problem
	pkgs   map[string]*packages.Package // by import path

	progs    *programs              // the programs inspected
	loads    map[string][]groupLoad // group -> the types it is loaded as
	problems discovery.ErrorList    // groups loaded as two types
}

// typecheck loads the packages named by eps, the package in p's directory
// if self is set, and the packages of the workspace that the programs of p
// build and that may load entry points, and checks that each entry point's
// symbol exists, is a func or var, has an accepted type for
// torchrun.handlers and, for each group that the programs load with
// discovery.Load[T] or discovery.Lookup[T] and a constant group name, can be
// made a T as Load makes it one.
func (p *project) typecheck(eps []discovery.EntryPoint, self bool) (*checked, error) {
	c := &checked{errs: make(map[int]*discovery.Error), pkgs: make(map[string]*packages.Package)}
	fail := func(err error) (*checked, error) {
		// Nothing can be checked: every entry point says why.
		c.failed = fmt.Errorf("the go command cannot load the packages: %v", err)
		for i, ep := range eps {
			c.errs[i] = &discovery.Error{File: ep.File, Line: ep.Line, EntryPoint: &eps[i], Err: c.failed}
		}
		return c, nil
	}
	if p.broken != nil {
		return fail(p.broken)
	}
	progs, err := p.inspectPrograms()
	if err != nil {
		return fail(err)
	}
	c.progs = progs
	patterns := []string{registryPath}
	if self {
		patterns = append(patterns, ".")
	}
	seen := make(map[string]bool)
	for _, ep := range eps {
		if path := ep.ImportPath(); !seen[path] {
			seen[path] = true
			patterns = append(patterns, path)
		}
	}
	mode := packages.NeedName | packages.NeedTypes | packages.NeedFiles
	if len(progs.callers) > 0 {
		// Syntax and type information are needed to find the calls; the
		// other packages are type-checked from source too, which only
		// costs for large entry-point packages.
		mode |= packages.NeedSyntax | packages.NeedTypesInfo
		patterns = append(patterns, progs.callers...)
	}
	cfg := &packages.Config{Mode: mode, Dir: p.dir, Env: p.env()}
	roots, err := packages.Load(cfg, patterns...)
	if err != nil {
		return fail(err)
	}
	for _, pkg := range roots {
		if self && pkg.Dir == p.dir && c.self == nil {
			c.self = pkg
		}
		c.pkgs[pkg.PkgPath] = pkg
	}
	var creator types.Type
	if reg := c.pkgs[registryPath]; reg != nil && reg.Types != nil {
		if obj := reg.Types.Scope().Lookup("Creator"); obj != nil {
			creator = obj.Type()
		}
	}
	var loads []groupLoad
	for _, path := range progs.callers {
		if pkg := c.pkgs[path]; pkg != nil {
			found, uses := findLoads(pkg)
			progs.uses[path] = uses
			for _, l := range found {
				if l.group == discovery.HandlersGroup && creator != nil && types.Identical(l.typ, creator) {
					continue // the handlers rule checks it
				}
				loads = append(loads, l)
			}
		}
	}
	c.loads, c.problems = p.groupTypes(loads)
	for i, ep := range eps {
		if err := checkSymbol(c.pkgs[ep.ImportPath()], ep, creator); err != nil {
			c.errs[i] = &discovery.Error{File: ep.File, Line: ep.Line, EntryPoint: &eps[i], Err: err.err, Fix: err.fix}
			continue
		}
		if err := p.checkLoads(c.pkgs[ep.ImportPath()], ep, c.loads[ep.Group]); err != nil {
			c.errs[i] = &discovery.Error{File: ep.File, Line: ep.Line, EntryPoint: &eps[i], Err: err.err, Fix: err.fix}
		}
	}
	return c, nil
}

// checkLoads checks the symbol of ep, which exists in pkg, against each
// type its group is loaded as.
func (p *project) checkLoads(pkg *packages.Package, ep discovery.EntryPoint, loads []groupLoad) *symbolError {
	if len(loads) == 0 {
		return nil
	}
	obj := pkg.Types.Scope().Lookup(ep.Symbol())
	var errs []string
	var want []string
	for _, l := range loads {
		if loadRule(obj.Type(), l.typ) {
			continue
		}
		t := typeString(l.typ)
		errs = append(errs, fmt.Sprintf("want %s, or a func() returning %s or (%s, error), as %s at %s:%d loads it",
			t, t, t, l.call, p.rel(l.pos.Filename), l.pos.Line))
		want = append(want, t)
	}
	if len(errs) == 0 {
		return nil
	}
	return &symbolError{
		fmt.Errorf("%s.%s has type %s; %s", ep.ImportPath(), ep.Symbol(),
			typeString(obj.Type()), strings.Join(errs, "; ")),
		fmt.Sprintf("make %s a func() %s, or a var of type %s", ep.Symbol(), want[0], want[0]),
	}
}

type symbolError struct {
	err error
	fix string
}

// checkSymbol checks the symbol of ep in pkg.
func checkSymbol(pkg *packages.Package, ep discovery.EntryPoint, creator types.Type) *symbolError {
	path, sym := ep.ImportPath(), ep.Symbol()
	if pkg == nil || len(pkg.Errors) > 0 && pkg.Types == nil || pkg.Name == "" {
		msg := "not found"
		if pkg != nil && len(pkg.Errors) > 0 {
			msg = pkgErrors(pkg)
		}
		return &symbolError{fmt.Errorf("package %s cannot be loaded: %s", path, msg),
			"add the module that provides it to the workspace (go work use DIR) or to go.mod (go get), or correct the import path"}
	}
	if len(pkg.Errors) > 0 {
		return &symbolError{fmt.Errorf("package %s does not build: %s", path, pkgErrors(pkg)), "fix the package"}
	}
	if pkg.Name == "main" {
		return &symbolError{fmt.Errorf("package %s is a command (package main) and cannot be imported", path),
			"move " + sym + " to a non-main package"}
	}
	obj := pkg.Types.Scope().Lookup(sym)
	if obj == nil {
		return &symbolError{fmt.Errorf("package %s has no symbol %s", path, sym), "declare " + sym + " in " + path + ", or correct the entry point"}
	}
	switch obj.(type) {
	case *types.Func, *types.Var:
	default:
		return &symbolError{fmt.Errorf("%s.%s is not a func or var", path, sym), "point the entry point at a func or var"}
	}
	if sig, ok := obj.Type().(*types.Signature); ok && sig.TypeParams().Len() > 0 {
		return &symbolError{fmt.Errorf("%s.%s is a generic func", path, sym), "point the entry point at a non-generic func or var"}
	}
	if ep.Group == discovery.HandlersGroup && creator != nil {
		if !loadRule(obj.Type(), creator) {
			return &symbolError{fmt.Errorf("%s.%s has type %s; want registry.Creator, or a func() returning registry.Creator or (registry.Creator, error)", path, sym,
				typeString(obj.Type())),
				"change " + sym + " to a func() registry.Creator"}
		}
	}
	return nil
}

// pkgErrors returns pkg's errors, one per line, at most a few.
func pkgErrors(pkg *packages.Package) string {
	var msgs []string
	for i, e := range pkg.Errors {
		if i == 5 {
			msgs = append(msgs, fmt.Sprintf("and %d more errors", len(pkg.Errors)-i))
			break
		}
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "\n\t")
}

// errNoPackage is returned by generate outside a Go package.
var errNoPackage = errors.New("no Go package in the current directory; run entrypoints generate from go generate, in the package that should link the entry points")
