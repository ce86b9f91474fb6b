package discovery

import (
	"bytes"
	"cmp"
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
	modules []*wsModule // modules that declare entry points, in use order
	// The modules without an entry_points.txt, whose go.mod was not read:
	// directories given, or the use directives of the go.work file, in
	// directory base, whose module was not read (nil in read).
	others []string
	base   string
	used   []workUse
	read   []*wsModule
}

// wsModule is a module used by a workspace that has an entry_points.txt,
// or a problem.
type wsModule struct {
	path string // module path, from its go.mod; empty if not read
	dir  string // absolute, clean root directory
	line int    // line of its use directive in go.work
	use  string // the directory as the use directive gives it

	file  string    // its entry_points.txt
	decls []decl    // the entry points declared there
	errs  ErrorList // problems reading its go.mod or entry_points.txt
}

// entryPoint returns the entry point that m.decls[i] declares.
func (m *wsModule) entryPoint(i int) EntryPoint {
	ep := m.decls[i].entryPoint(m.file)
	ep.Module, ep.Dir = m.path, m.dir
	return ep
}

// sep is the path separator, as a string.
const sep = string(filepath.Separator)

// readWorkspace reads the go.work file, and the entry_points.txt of every
// module it uses, in parallel, with the go.mod of the modules that have one.
// A module that cannot be read is reported and left out; the others are
// returned.
//
// This is the path of a program's first call of Find, in a new process,
// where every byte allocated is memory the kernel faults in (14 µs per 4
// KiB page on the machine the README's figures come from, the cost of a
// dozen system calls): a module without entry points allocates nothing,
// and one with some allocates its entry points, one string for the names of
// its entry_points.txt and directory, one for the file's contents and one
// for its module path.
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
	base := filepath.Dir(file)
	mods := make([]*wsModule, len(uses))
	parallel.For(len(mods), func(i int) {
		u := &uses[i]
		a, b, c := useDirParts(base, u.path)
		mods[i] = readModule(a, b, c, u.line, u.path, file)
	})
	markMissing(file, base, uses, mods)
	ws := &workspace{file: file, base: base, used: uses, read: mods}
	errs := ws.dedup(mods)
	return ws, errs
}

// useDirParts returns the directory that the use directive path names in a
// go.work file in directory base, which is clean (filepath.Join(base, path)
// unless path is absolute), in three parts to concatenate: base, the
// separator and the rest of the usual ./rest, which makes no new string;
// otherwise the directory, "" and "".
func useDirParts(base, path string) (string, string, string) {
	dir := filepath.FromSlash(path)
	if filepath.IsAbs(dir) {
		return filepath.Clean(dir), "", ""
	}
	rest, ok := strings.CutPrefix(dir, "."+sep)
	if ok && rest != "." && filepath.IsLocal(rest) && filepath.Clean(rest) == rest && !strings.HasSuffix(base, sep) {
		return base, sep, rest
	}
	return filepath.Join(base, dir), "", ""
}

// readModules reads the modules rooted at dirs, in parallel, as if a
// workspace used them in that order.
func readModules(dirs []string) (*workspace, ErrorList) {
	mods := make([]*wsModule, len(dirs))
	abs := make([]string, len(dirs))
	parallel.For(len(mods), func(i int) {
		dir, err := filepath.Abs(dirs[i])
		if err != nil {
			mods[i] = &wsModule{errs: ErrorList{{File: dirs[i], Err: err}}}
			return
		}
		abs[i] = dir
		mods[i] = readModule(dir, "", "", 0, "", "")
	})
	ws := new(workspace)
	for i, m := range mods {
		if m == nil {
			ws.others = append(ws.others, abs[i])
		}
	}
	return ws, ws.dedup(mods)
}

// dedup sets the workspace's modules to those of mods that were read,
// leaving out the second use of a module path, and returns the problems of
// mods.
func (ws *workspace) dedup(mods []*wsModule) ErrorList {
	declaring := 0
	for _, m := range mods {
		if m != nil && m.path != "" {
			declaring++
		}
	}
	ws.modules = make([]*wsModule, 0, declaring)
	seen := make(map[string]int, declaring) // module path -> line
	var errs ErrorList
	for _, m := range mods {
		if m == nil {
			continue
		}
		errs = append(errs, m.errs...)
		if m.path == "" {
			continue
		}
		if prev, dup := seen[m.path]; dup {
			errs = append(errs, &Error{File: ws.file, Line: m.line, Err: fmt.Errorf("module %s appears multiple times in the workspace; the use at line %d wins", m.path, prev), Fix: "remove one of the two use directives"})
			continue
		}
		seen[m.path] = m.line
		ws.modules = append(ws.modules, m)
	}
	return errs
}

// uses reports whether the workspace uses the module with the given path.
// It reads the go.mod files of the modules without entry points, which
// readWorkspace skipped, until it finds it.
func (ws *workspace) uses(path string) bool {
	if slices.ContainsFunc(ws.modules, func(m *wsModule) bool { return m.path == path }) {
		return true
	}
	var found atomic.Bool
	n := len(ws.others)
	parallel.For(n+len(ws.used), func(i int) {
		if found.Load() {
			return
		}
		a, b, c := "", "", ""
		switch {
		case i < n:
			a = ws.others[i]
		case ws.read[i-n] == nil:
			a, b, c = useDirParts(ws.base, ws.used[i-n].path)
		default:
			return
		}
		var buf [512]byte
		if p, err := readModulePath(buf[:0], a, b, c); err == nil && p == path {
			found.Store(true)
		}
	})
	return found.Load()
}

// readModule reads the entry_points.txt of the module in directory
// a+b+c and, if it has one, its go.mod, for the workspace whose go.work is
// file (if any), where its use directive is use at line. It returns nil if
// the module has no entry_points.txt: the entry points are all that
// discovery needs of a module, and most modules declare none. The result's
// path is empty if the module could not be read.
func readModule(a, b, c string, line int, use, file string) *wsModule {
	// Both files are read into one buffer on the stack, big enough for
	// most: ParseFile and modfile.ModulePath copy what they keep.
	var buf [1024]byte
	s := sep
	if b == "" && strings.HasSuffix(a, sep) { // a root directory
		s = ""
	}
	data, ok, err := smallfile.ReadIfExists(buf[:0], maxFileSize, a, b, c, s, FileName)
	if err == nil && !ok {
		return nil
	}
	epfile := a + b + c + s + FileName
	m := &wsModule{dir: epfile[:len(epfile)-len(s+FileName)], file: epfile, line: line, use: use}
	if err != nil {
		m.errs = ErrorList{unreadable(m, file, epfile, err)}
		return m
	}
	// parseDecls copies what it keeps: parse before data is overwritten.
	decls, perr := parseDecls(epfile, data)
	if m.path, err = readModulePath(buf[:0], m.dir, "", ""); err != nil {
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
	m.decls, m.errs = decls, perr
	return m
}

// markMissing records an error for each module used by the go.work file
// (in directory base) that has no entry_points.txt (its entry in mods is
// nil) because its directory does not exist: the go command refuses such a
// workspace. The directories holding the modules are listed, once for each
// run of modules under the same directory in use order, rather than each
// module's directory checked: a large workspace has many modules and few
// such directories, and a listing costs less than a system call per module.
func markMissing(file, base string, uses []workUse, mods []*wsModule) {
	type module struct {
		name    string // last element of its directory
		i       int    // index in mods
		present bool
	}
	var (
		run []module // modules without entry_points.txt under one directory
		buf []byte   // directory entries
	)
	for i := 0; i < len(mods); {
		if mods[i] != nil {
			i++
			continue
		}
		parent, _ := splitUse(base, uses[i].path)
		run = run[:0]
		for ; i < len(mods); i++ {
			if mods[i] != nil {
				continue
			}
			p, name := splitUse(base, uses[i].path)
			if p != parent {
				break
			}
			run = append(run, module{name: name, i: i})
		}
		slices.SortFunc(run, func(a, b module) int { return strings.Compare(a.name, b.name) })
		if buf == nil {
			buf = make([]byte, 8<<10)
		}
		err := smallfile.List(buf, func(name []byte) {
			j, ok := slices.BinarySearchFunc(run, name, func(m module, name []byte) int { return compareBytes(m.name, name) })
			for ; ok && j < len(run) && run[j].name == string(name); j++ {
				run[j].present = true
			}
		}, parent[0], parent[1], parent[2])
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue // cannot tell: taken as present
		}
		for _, m := range run {
			if m.present {
				continue
			}
			u := &uses[m.i]
			mods[m.i] = &wsModule{line: u.line, use: u.path, errs: ErrorList{{File: file, Line: u.line, Err: fmt.Errorf("use %s: the directory does not exist, so the go command builds nothing in this workspace", u.path),
				Fix: "go work edit -dropuse=" + u.path + " (in " + filepath.Dir(file) + "), or restore the directory"}}}
		}
	}
}

// splitUse returns the directory holding the module that the use directive
// path names in a go.work file in directory base, in parts to concatenate,
// and the module directory's name in it. The usual ./parent/name makes no
// new string.
func splitUse(base, path string) (parent [3]string, name string) {
	a, b, c := useDirParts(base, path)
	if b == "" { // a is the directory, base joined in already
		return [3]string{filepath.Dir(a)}, filepath.Base(a)
	}
	// c is clean and relative to a.
	k := strings.LastIndex(c, sep)
	if k < 0 {
		return [3]string{a}, c
	}
	return [3]string{a, b, c[:k]}, c[k+1:]
}

// compareBytes compares s and b as strings.Compare does, without
// converting b (which the compiler would allocate).
func compareBytes(s string, b []byte) int {
	for i := range min(len(s), len(b)) {
		if s[i] != b[i] {
			return cmp.Compare(s[i], b[i])
		}
	}
	return cmp.Compare(len(s), len(b))
}

// unreadable returns the error for a module whose entry_points.txt cannot be
// read: the file's own problem if it is there, else the go.work line that
// uses the module.
func unreadable(m *wsModule, file, epfile string, err error) *Error {
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

// readModulePath returns the module path declared by the go.mod in the
// directory a+b+c, reading it into buf (which may be nil). It reads the
// file up to its module directive, usually its first line, and the rest
// only if that line does not declare the path: one read instead of two for
// most files, and the first kilobyte of a large one. Measured with
// findbench's workspaces, whose go.mod files are two lines long, a first
// call of Find on 1,000 modules takes 21.1 ms instead of 22.8 (on 10,000,
// 172 instead of 185), a repeated call 14.2 instead of 15.3.
func readModulePath(buf []byte, a, b, c string) (string, error) {
	data, whole, err := smallfile.ReadHead(buf, maxFileSize, "module", a, b, c, sep, "go.mod")
	if err != nil {
		return "", err
	}
	if !whole {
		// modfile.ModulePath returns the path of the first module
		// directive: in the complete lines of the head, the file's.
		path := modfile.ModulePath(data[:bytes.LastIndexByte(data, '\n')+1])
		if path != "" {
			return path, nil
		}
		if data, err = smallfile.Read(buf, maxFileSize, a, b, c, sep, "go.mod"); err != nil {
			return "", err
		}
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
	return smallfile.Read(nil, maxFileSize, name)
}
