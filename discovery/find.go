package discovery

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
)

// Find returns the entry points available to the running program: those
// linked into the binary, then those declared by the modules of the
// workspace in effect, in go.work use order. It loads nothing: it is the
// counterpart of Python's importlib.metadata.entry_points().
//
// The workspace in effect is the one the go command would use (see
// FindWorkspace), provided the running binary was built from it: a binary
// run from inside an unrelated workspace sees its linked entry points only.
// WithWorkspace names a workspace explicitly.
//
// Find returns every well-formed entry point it found, and an ErrorList of
// the problems it met: lines that do not parse, modules that cannot be
// read, and two modules declaring the same entry point (the first in use
// order wins). A broken workspace is never ignored in silence: if the
// program's own go.work does not parse, or uses a directory that does not
// exist, the problem is in the list at its go.work line, with the fix, and
// logged as a warning; the linked entry points are still returned. With
// WithGroup, a line that does not parse in the section of another group is
// not one of the problems: it concerns that group only. An option that does
// not apply to Find (see Option) is an error, returned alone.
func Find(opts ...Option) ([]EntryPoint, error) {
	c, err := newConfig(callFind, "", opts)
	if err != nil {
		return nil, err
	}
	res := findAll(c)
	for _, e := range res.broken {
		c.logger.Warn("discovery: the workspace is broken: " + e.Error())
	}
	return res.eps, res.problems.err()
}

// found is what find returns.
type found struct {
	eps      []EntryPoint
	symbols  map[int]any // index in eps -> linked symbol
	gowork   string      // workspace read, or ""
	broken   ErrorList   // problems of the go.work file itself, also in problems
	problems ErrorList
	warnings ErrorList
}

// find returns the entry points that c asks for: linked, then declared by
// the workspace's modules. The functions it calls while it reads the
// workspace, on the stack it runs on, are kept small: in a new process, a
// goroutine's stack starts small and each growth copies it into memory
// never touched before.
func find(c *config) *found {
	res := &found{symbols: make(map[int]any)}
	ws := c.readWorkspace(res)
	if c.group != "" {
		// A line of another group's section that does not parse is that
		// group's problem.
		res.problems = slices.DeleteFunc(res.problems, func(e *Error) bool { return !concerns(e, c.group) })
	}
	res.add(c, ws)
	return res
}

// add adds the entry points that c asks for, linked then declared by the
// modules of ws (which may be nil), to res.
func (res *found) add(c *config, ws *workspace) {
	linked := linkedEntryPoints()
	n := len(linked) + ws.count(c.group) // entry points found, at most
	index := make(map[[2]string]int, n)  // (group, name) -> index in res.eps
	if len(linked) > 0 {
		res.addLinked(c, linked, ws, index)
	}
	if ws == nil {
		return
	}
	res.eps = slices.Grow(res.eps, n-len(res.eps))
	for _, m := range ws.modules {
		for j := range m.decls {
			d := &m.decls[j]
			if c.group != "" && d.group != c.group {
				continue
			}
			key := [2]string{d.group, d.name}
			i, dup := index[key]
			switch {
			case !dup:
				index[key] = len(res.eps)
				res.eps = append(res.eps, m.entryPoint(j))
			case res.eps[i].Linked && res.eps[i].Module == m.path:
				// The declaration of a linked entry point, merged by
				// addLinked.
			default:
				res.conflict(i, m, j)
			}
		}
	}
}

// count returns the number of entry points of group (of every group if
// group is empty) that the workspace's modules declare; 0 if ws is nil.
func (ws *workspace) count(group string) int {
	if ws == nil {
		return 0
	}
	n := 0
	for _, m := range ws.modules {
		if group == "" {
			n += len(m.decls)
			continue
		}
		for j := range m.decls {
			if m.decls[j].group == group {
				n++
			}
		}
	}
	return n
}

// addLinked adds the entry points linked into the binary to res, and their
// keys to index. A linked entry point that a module of the workspace ws
// declares points at that declaration.
func (res *found) addLinked(c *config, linked []Linked, ws *workspace, index map[[2]string]int) {
	var declared map[[3]string]*EntryPoint // (group, name, module)
	if ws != nil {
		declared = make(map[[3]string]*EntryPoint)
		for _, m := range ws.modules {
			for j := range m.decls {
				ep := m.entryPoint(j)
				declared[[3]string{ep.Group, ep.Name, ep.Module}] = &ep
			}
		}
	}
	for _, l := range linked {
		if c.group != "" && l.Group != c.group {
			continue
		}
		ep := l.entryPoint()
		if d := declared[[3]string{ep.Group, ep.Name, ep.Module}]; d != nil {
			if d.Value != ep.Value {
				res.warnings = append(res.warnings, &Error{
					File: d.File, Line: d.Line, EntryPoint: copyOf(*d),
					Err: fmt.Errorf("declared as %s but linked as %s; the linked symbol is used", d.Value, ep.Value),
					Fix: "go generate ./... in the main package, then rebuild",
				})
			}
			ep.File, ep.Line, ep.Dir = d.File, d.Line, d.Dir
		}
		key := [2]string{ep.Group, ep.Name}
		if i, dup := index[key]; dup {
			if res.eps[i].Module != ep.Module {
				res.problems = append(res.problems, conflict(res.eps[i], ep))
			}
			continue
		}
		index[key] = len(res.eps)
		res.symbols[len(res.eps)] = l.Symbol
		res.eps = append(res.eps, ep)
	}
}

// conflict records that the entry point m.decls[j] conflicts with res.eps[i].
func (res *found) conflict(i int, m *wsModule, j int) {
	res.problems = append(res.problems, conflict(res.eps[i], m.entryPoint(j)))
}

// readWorkspace reads the workspace that applies to c, if any, recording
// its problems in res.
func (c *config) readWorkspace(res *found) *workspace {
	if c.modules != nil {
		ws, errs := readModules(c.modules)
		res.problems = append(res.problems, errs...)
		return ws
	}
	explicit := c.workspace != ""
	gowork := c.workspace
	if explicit {
		if fi, err := os.Stat(gowork); err == nil && fi.IsDir() {
			gowork = filepath.Join(gowork, "go.work")
		}
	} else {
		wd, err := os.Getwd()
		if err == nil {
			gowork, err = FindWorkspace(wd)
		}
		if err != nil {
			res.problems = append(res.problems, &Error{Err: err})
			return nil
		}
		if gowork == "" {
			return nil
		}
	}
	ws, errs := readWorkspace(gowork)
	if !explicit {
		main := mainModule()
		if main == "" || main == "command-line-arguments" {
			// Built from a list of files (go run main.go): which module
			// it belongs to is not recorded.
			c.logger.Warn("discovery: ignoring the workspace: this binary was built from a list of .go files, so its main module is unknown; build the package instead (go run .), or name the workspace with discovery.WithWorkspace", "gowork", gowork)
			return nil
		}
		if ws == nil && claimsModule(gowork, main) {
			// This binary's own workspace, which cannot be read: say so
			// rather than quietly ignoring it.
			res.problems = append(res.problems, errs...)
			res.broken = append(res.broken, errs...)
			return nil
		}
		if ws == nil || !ws.uses(main) {
			c.logger.Debug("discovery: ignoring the workspace: this binary was not built from it", "gowork", gowork, "main", main)
			return nil
		}
	}
	res.gowork = gowork
	for _, e := range errs {
		if e.File == gowork || e.File == "" {
			res.broken = append(res.broken, e)
		}
	}
	res.problems = append(res.problems, errs...)
	return ws
}

// mainModule returns the path of the running binary's main module.
var mainModule = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Path
	}
	return ""
})

// linkedNote says that ep is linked into the binary, if it is: a linked
// entry point wins over the workspace's declarations.
func linkedNote(ep EntryPoint) string {
	if ep.Linked {
		return " (linked into this binary)"
	}
	return ""
}

// copyOf returns a pointer to a copy of ep.
func copyOf(ep EntryPoint) *EntryPoint { return &ep }

// conflict reports that b declares the same entry point as a, which wins.
func conflict(a, b EntryPoint) *Error {
	return &Error{
		File: b.File, Line: b.Line, EntryPoint: &b,
		Err: fmt.Errorf("%w: module %s declares it too, at %s%s, and wins", ErrConflict, a.Module, a.Pos(), linkedNote(a)),
		Fix: "rename one of the two, or remove one module from the workspace (go work edit -dropuse=DIR)",
	}
}
