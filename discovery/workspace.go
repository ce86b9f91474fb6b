package discovery

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/modfile"
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
	modules []wsModule // in use order
}

// wsModule is one module used by a workspace.
type wsModule struct {
	path string // module path, from its go.mod
	dir  string // absolute root directory
	line int    // line of its use directive in go.work

	eps  []EntryPoint // declared in its entry_points.txt
	errs ErrorList    // problems reading its go.mod or entry_points.txt
}

// readWorkspace reads the go.work file, and the go.mod and entry_points.txt
// of every module it uses, in parallel. A module that cannot be read is
// reported and left out; the others are returned.
func readWorkspace(file string) (*workspace, ErrorList) {
	data, err := readFile(file)
	if err != nil {
		return nil, ErrorList{{File: file, Err: err, Fix: "point GOWORK or WithWorkspace at an existing go.work file, or set GOWORK=off"}}
	}
	wf, err := modfile.ParseWork(file, data, nil)
	if err != nil {
		// The error already carries file:line.
		return nil, ErrorList{{Err: err, Fix: "correct the go.work file (go work edit, go work use)"}}
	}
	mods := make([]wsModule, len(wf.Use))
	base := filepath.Dir(file)
	parallel(len(mods), func(i int) {
		u := wf.Use[i]
		dir := filepath.FromSlash(u.Path)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
		mods[i] = readModule(dir, file, u.Syntax.Start.Line, u.Path)
	})
	ws, errs := dedupModules(file, mods)
	return ws, errs
}

// readModules reads the go.mod and entry_points.txt of the modules rooted
// at dirs, in parallel, as if a workspace used them in that order.
func readModules(dirs []string) (*workspace, ErrorList) {
	mods := make([]wsModule, len(dirs))
	parallel(len(mods), func(i int) {
		dir, err := filepath.Abs(dirs[i])
		if err != nil {
			mods[i].errs = ErrorList{{File: dirs[i], Err: err}}
			return
		}
		mods[i] = readModule(dir, "", 0, "")
	})
	return dedupModules("", mods)
}

// dedupModules returns the workspace of the modules that were read, leaving
// out the second use of a module path.
func dedupModules(file string, mods []wsModule) (*workspace, ErrorList) {
	ws := &workspace{file: file, modules: mods[:0]}
	seen := make(map[string]int, len(mods)) // module path -> line
	var errs ErrorList
	for _, m := range mods {
		errs = append(errs, m.errs...)
		if m.path == "" {
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

// readModule reads the go.mod and entry_points.txt of the module rooted at
// dir, used as use at line of the go.work file (if any). The result's path
// is empty if the module could not be read.
func readModule(dir, file string, line int, use string) wsModule {
	m := wsModule{dir: dir, line: line}
	// Both files are read into one pooled buffer: ModulePath and ParseFile
	// copy what they keep.
	buf := readBufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledBuf {
			readBufs.Put(buf)
		}
	}()
	gomod := joinFile(m.dir, "go.mod")
	data, err := readFileInto(gomod, buf)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("directory %s has no go.mod", dir)
		}
		e := &Error{File: gomod, Err: err}
		if file != "" {
			e.File, e.Line, e.Fix = file, line, "go work edit -dropuse="+use
		}
		m.errs = ErrorList{e}
		return m
	}
	if m.path = modfile.ModulePath(data); m.path == "" {
		m.errs = ErrorList{{File: gomod, Err: errors.New("no module directive"), Fix: "add a module line, such as: module example.com/" + filepath.Base(m.dir)}}
		return m
	}
	epfile := joinFile(m.dir, FileName)
	data, err = readFileInto(epfile, buf)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.errs = ErrorList{{File: epfile, Err: err}}
		}
		return m
	}
	m.eps, err = ParseFile(epfile, data)
	for j := range m.eps {
		m.eps[j].Module, m.eps[j].Dir = m.path, m.dir
	}
	if el, ok := err.(ErrorList); ok {
		m.errs = el
	}
	return m
}

// readFile reads a small file, refusing to read more than maxFileSize+1
// bytes, so that a device or a huge file in the wrong place gives an error
// (from ParseFile) instead of exhausting memory.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(data) > maxFileSize {
		err = fmt.Errorf("%s is larger than %d bytes", name, maxFileSize)
	}
	return data, err
}

// joinFile returns filepath.Join(dir, name) for a file name without
// separators, without cleaning dir again when it is an absolute clean path,
// as the module directories of a workspace are.
func joinFile(dir, name string) string {
	if filepath.IsAbs(dir) && !os.IsPathSeparator(dir[len(dir)-1]) && filepath.Clean(dir) == dir {
		return dir + string(filepath.Separator) + name
	}
	return filepath.Join(dir, name)
}

// readBufs holds the buffers that readModule reads files into, so that
// reading a workspace allocates in proportion to what its modules declare,
// not to the size of their files.
var readBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 4096)
	return &b
}}

// maxPooledBuf is the capacity above which a buffer is not kept in readBufs.
const maxPooledBuf = 64 << 10

// parallel calls f(0), ..., f(n-1) on up to GOMAXPROCS goroutines, or
// inline when n is small.
func parallel(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n/16)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}
