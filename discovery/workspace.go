package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/mod/modfile"

	"github.com/go-entrypoints/entrypoints/discovery/internal/parallel"
	"github.com/go-entrypoints/entrypoints/discovery/internal/smallfile"
)

// FindWorkspace returns the go.work file in effect for the go command run
// in dir, by the go command's own rules: GOWORK=off disables workspaces, an
// absolute GOWORK names the file, and otherwise the nearest go.work in dir or
// one of its parents is used. GOWORK is read from the environment, else from
// the go command's configuration file (go env -w). It returns "" if no
// workspace is in effect.
func FindWorkspace(dir string) (string, error) {
	switch gowork := goenv("GOWORK"); gowork {
	case "off":
		return "", nil
	case "", "auto":
	default:
		if !filepath.IsAbs(gowork) {
			return "", fmt.Errorf("invalid GOWORK %q: not an absolute path; set it to the absolute path of a go.work file, or to off", gowork)
		}
		return gowork, nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		f := filepath.Join(dir, "go.work")
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			return f, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// goenv returns the value of the go environment variable key: from the
// environment if set there and not empty, else from the file go env -w
// writes, as the go command does.
func goenv(key string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	file := os.Getenv("GOENV")
	if file == "off" {
		return ""
	}
	if file == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return ""
		}
		file = filepath.Join(dir, "go", "env")
	}
	data, err := readFile(file)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k == key {
			return v
		}
	}
	return ""
}

// workspace is a parsed go.work file with the entry points of its modules.
type workspace struct {
	file    string
	modules []wsModule // modules that declare entry points, in use order
	others  []string   // directories of the modules without an entry_points.txt
}

// wsModule is one module used by a workspace.
type wsModule struct {
	path string // module path, from its go.mod; empty if not read
	dir  string // absolute, clean root directory
	line int    // line of its use directive in go.work
	use  string // the directory as the use directive gives it

	eps  []EntryPoint // declared in its entry_points.txt
	errs ErrorList    // problems reading its go.mod or entry_points.txt
	none bool         // it has no entry_points.txt
}

// readWorkspace reads the go.work file, and the entry_points.txt of every
// module it uses, in parallel, with the go.mod of the modules that have one.
// A module that cannot be read is reported and left out; the others are
// returned.
func readWorkspace(file string) (*workspace, ErrorList) {
	data, err := readFile(file)
	if err != nil {
		return nil, ErrorList{{File: file, Err: err, Fix: "point GOWORK or WithWorkspace at an existing go.work file, or set GOWORK=off"}}
	}
	uses, err := parseWorkUses(file, data)
	if err != nil {
		// The error already carries file:line.
		return nil, ErrorList{{Err: err, Fix: "correct the go.work file (go work edit, go work use)"}}
	}
	mods := make([]wsModule, len(uses))
	base := filepath.Dir(file)
	parallel.For(len(mods), func(i int) {
		u := uses[i]
		mods[i] = readModule(wsModule{dir: useDir(base, u.path), line: u.line, use: u.path}, file)
	})
	markMissing(file, mods)
	ws, errs := dedupModules(file, mods)
	return ws, errs
}

// useDir returns the directory that the use directive path names in a
// go.work file in directory base, which is clean: filepath.Join(base, path)
// unless path is absolute. The usual ./dir takes one allocation instead of
// Join's three, for a program's first call of Find on a large workspace.
func useDir(base, path string) string {
	dir := filepath.FromSlash(path)
	if filepath.IsAbs(dir) {
		return filepath.Clean(dir)
	}
	const sep = string(filepath.Separator)
	rest, ok := strings.CutPrefix(dir, "."+sep)
	if ok && rest != "." && filepath.IsLocal(rest) && filepath.Clean(rest) == rest && !strings.HasSuffix(base, sep) {
		return base + sep + rest
	}
	return filepath.Join(base, dir)
}

// readModules reads the modules rooted at dirs, in parallel, as if a
// workspace used them in that order.
func readModules(dirs []string) (*workspace, ErrorList) {
	mods := make([]wsModule, len(dirs))
	parallel.For(len(mods), func(i int) {
		dir, err := filepath.Abs(dirs[i])
		if err != nil {
			mods[i].errs = ErrorList{{File: dirs[i], Err: err}}
			return
		}
		mods[i] = readModule(wsModule{dir: dir}, "")
	})
	return dedupModules("", mods)
}

// dedupModules returns the workspace of the modules that were read, leaving
// out the second use of a module path.
func dedupModules(file string, mods []wsModule) (*workspace, ErrorList) {
	// The modules kept are moved to the front of mods: no copy of the
	// (possibly many) modules is made.
	ws := &workspace{file: file, modules: mods[:0]}
	declaring := 0
	for _, m := range mods {
		if m.path != "" {
			declaring++
		}
	}
	seen := make(map[string]int, declaring) // module path -> line
	var errs ErrorList
	for _, m := range mods {
		errs = append(errs, m.errs...)
		switch {
		case m.none:
			ws.others = append(ws.others, m.dir)
			continue
		case m.path == "":
			continue
		}
		if prev, dup := seen[m.path]; dup {
			errs = append(errs, &Error{File: file, Line: m.line, Err: fmt.Errorf("module %s appears multiple times in the workspace; the use at line %d wins", m.path, prev), Fix: "remove one of the two use directives"})
			continue
		}
		seen[m.path] = m.line
		ws.modules = append(ws.modules, m)
	}
	return ws, errs
}

// uses reports whether the workspace uses the module with the given path.
// It reads the go.mod files of the modules without entry points, which
// readWorkspace skipped, until it finds it.
func (ws *workspace) uses(path string) bool {
	if slices.ContainsFunc(ws.modules, func(m wsModule) bool { return m.path == path }) {
		return true
	}
	var found atomic.Bool
	parallel.For(len(ws.others), func(i int) {
		if found.Load() {
			return
		}
		if p, err := readModulePath(ws.others[i], nil); err == nil && p == path {
			found.Store(true)
		}
	})
	return found.Load()
}

// readModule reads the entry_points.txt of module m and, if it has one, its
// go.mod, for the workspace whose go.work is file (if any). The result's
// path is empty if the module could not be read, and its none field set if
// it has no entry_points.txt: the entry points are all that discovery needs
// of a module, and most modules declare none.
func readModule(m wsModule, file string) wsModule {
	// Both files are read into one buffer on the stack, big enough for
	// most: ParseFile and ModulePath copy what they keep, so reading a
	// workspace allocates in proportion to what its modules declare, not
	// to the size of their files.
	var buf [1024]byte
	epfile := filepath.Join(m.dir, FileName)
	data, err := smallfile.Read(epfile, buf[:0], maxFileSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			m.none = true
		} else {
			m.errs = ErrorList{unreadable(m, file, epfile, err)}
		}
		return m
	}
	// ParseFile copies what it keeps: parse before data is overwritten.
	eps, perr := ParseFile(epfile, data)
	if m.path, err = readModulePath(m.dir, buf[:0]); err != nil {
		e := &Error{File: filepath.Join(m.dir, "go.mod"), Err: err}
		if errors.Is(err, fs.ErrNotExist) {
			e.Err = fmt.Errorf("directory %s declares entry points but has no go.mod", m.dir)
			if file != "" {
				e.File, e.Line, e.Fix = file, m.line, "go work edit -dropuse="+m.use
			}
		} else if errors.Is(err, errNoModule) {
			e.Fix = "add a module line, such as: module example.com/" + filepath.Base(m.dir)
		}
		m.errs = ErrorList{e}
		return m
	}
	for j := range eps {
		eps[j].Module, eps[j].Dir = m.path, m.dir
	}
	m.eps = eps
	if el, ok := perr.(ErrorList); ok {
		m.errs = el
	}
	return m
}

// markMissing records an error for each module of mods, used by the go.work
// file, that has no entry_points.txt because its directory does not exist:
// the go command refuses such a workspace. The directories holding the
// modules are listed, once each, rather than each module's directory
// checked: a large workspace has many modules and few such directories.
func markMissing(file string, mods []wsModule) {
	listed := make(map[string]map[string]bool) // directory -> names in it; nil if it does not exist
	for i := range mods {
		m := &mods[i]
		if !m.none {
			continue
		}
		parent := filepath.Dir(m.dir)
		names, ok := listed[parent]
		if !ok {
			var err error
			names, err = dirNames(parent)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				names = map[string]bool{"": true} // cannot tell: taken as present
			}
			listed[parent] = names
		}
		if names[""] || names[filepath.Base(m.dir)] {
			continue
		}
		m.errs = ErrorList{{File: file, Line: m.line, Err: fmt.Errorf("use %s: the directory does not exist, so the go command builds nothing in this workspace", m.use),
			Fix: "go work edit -dropuse=" + m.use + " (in " + filepath.Dir(file) + "), or restore the directory"}}
	}
}

// dirNames returns the names in directory dir.
func dirNames(dir string) (map[string]bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close() // read only
	list, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(list))
	for _, n := range list {
		names[n] = true
	}
	return names, nil
}

// unreadable returns the error for a module whose entry_points.txt cannot be
// read: the file's own problem if it is there, else the go.work line that
// uses the module.
func unreadable(m wsModule, file, epfile string, err error) *Error {
	if fi, serr := os.Stat(epfile); serr == nil {
		if !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s is not a regular file", FileName)
		}
		return &Error{File: epfile, Err: err, Fix: "make " + FileName + " a file, or remove it"}
	}
	if file == "" {
		return &Error{File: epfile, Err: err}
	}
	return &Error{File: file, Line: m.line, Err: fmt.Errorf("module directory %s: %w", m.use, err),
		Fix: "go work edit -dropuse=" + m.use + ", or make it a module directory"}
}

// errNoModule is the error of a go.mod without a module directive.
var errNoModule = errors.New("no module directive")

// readModulePath returns the module path declared by the go.mod in dir,
// reading it into buf (which may be nil).
func readModulePath(dir string, buf []byte) (string, error) {
	data, err := smallfile.Read(filepath.Join(dir, "go.mod"), buf, maxFileSize)
	if err != nil {
		return "", err
	}
	path := modfile.ModulePath(data)
	if path == "" {
		return "", errNoModule
	}
	return path, nil
}

// readFile reads a small regular file, refusing to read more than
// maxFileSize+1 bytes, so that a device, a pipe or a huge file in the wrong
// place gives an error instead of exhausting memory or blocking.
func readFile(name string) ([]byte, error) {
	return smallfile.Read(name, nil, maxFileSize)
}
