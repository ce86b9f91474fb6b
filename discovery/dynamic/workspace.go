//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/go-entrypoints/entrypoints/discovery"
)

// workspace is what of a go.work file and its modules goes into a plugin's
// cache key.
type workspace struct {
	file    string
	data    []byte         // contents of the go.work file
	sum     []byte         // contents of go.work.sum, if any
	modules []module       // in use order
	missing []*modfile.Use // uses of directories that do not exist
}

// broken returns an error naming the go.work line of the first use of a
// directory that does not exist: the go command builds nothing in such a
// workspace, and the error it gives does not say where the culprit is.
func (ws *workspace) broken() error {
	if len(ws.missing) == 0 {
		return nil
	}
	u := ws.missing[0]
	return &discovery.Error{
		Err: fmt.Errorf("%s:%d: the workspace uses the directory %s, which does not exist, so the go command cannot build in it", ws.file, u.Syntax.Start.Line, u.Path),
		Fix: "go work edit -dropuse=" + u.Path + " (in " + filepath.Dir(ws.file) + "), or restore the directory",
	}
}

// module is one module of a workspace.
type module struct {
	path  string
	dir   string
	gomod []byte
	gosum []byte
}

// readWorkspace reads the go.work file and the go.mod and go.sum of each
// module it uses or replaces with a directory. Modules that cannot be read
// are left out: the go command will report them if they matter.
func readWorkspace(file string) (*workspace, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork(file, data, nil)
	if err != nil {
		return nil, err
	}
	ws := &workspace{file: file, data: data}
	ws.sum, _ = os.ReadFile(file + ".sum")
	base := filepath.Dir(file)
	// Modules replaced by directories, in go.work or in the go.mod of a
	// module it uses, are sources too. The modules used come first, so
	// that they win in moduleOf, as in the go command.
	var replaced []module
	replace := func(base string, reps []*modfile.Replace) {
		for _, r := range reps {
			if r.New.Version == "" && modfile.IsDirectoryPath(r.New.Path) {
				replaced = append(replaced, readModule(r.Old.Path, base, r.New.Path))
			}
		}
	}
	replace(base, wf.Replace)
	for _, u := range wf.Use {
		m := readModule("", base, u.Path)
		if m.gomod == nil {
			if _, err := os.Stat(m.dir); errors.Is(err, fs.ErrNotExist) {
				ws.missing = append(ws.missing, u)
			}
			continue
		}
		ws.modules = append(ws.modules, m)
		if f, err := modfile.Parse(filepath.Join(m.dir, "go.mod"), m.gomod, nil); err == nil {
			replace(m.dir, f.Replace)
		}
	}
	ws.modules = append(ws.modules, replaced...)
	return ws, nil
}

// readModule reads the go.mod and go.sum of the module in the directory
// path, relative to base. Its path is the one given, or else the one its
// go.mod declares.
func readModule(path, base, dir string) module {
	dir = filepath.FromSlash(dir)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(base, dir)
	}
	m := module{path: path, dir: dir}
	m.gomod, _ = os.ReadFile(filepath.Join(dir, "go.mod"))
	m.gosum, _ = os.ReadFile(filepath.Join(dir, "go.sum"))
	if m.path == "" {
		m.path = modfile.ModulePath(m.gomod)
	}
	return m
}

// moduleOf returns the workspace module that provides the package with the
// given import path, or nil if none does.
func (ws *workspace) moduleOf(pkg string) *module {
	var best *module
	for i := range ws.modules {
		m := &ws.modules[i]
		if (pkg == m.path || strings.HasPrefix(pkg, m.path+"/")) && (best == nil || len(m.path) > len(best.path)) {
			best = m
		}
	}
	return best
}

// packageDirs returns the directories of the workspace packages that the
// given packages import, directly or not, including their own, sorted. It
// reads import declarations only, ignoring build constraints, so it may
// return more packages than a build uses, never fewer.
func (ws *workspace) packageDirs(pkgs []string) []string {
	seen := make(map[string]bool)
	var dirs []string
	fset := token.NewFileSet()
	for len(pkgs) > 0 {
		pkg := pkgs[len(pkgs)-1]
		pkgs = pkgs[:len(pkgs)-1]
		if seen[pkg] {
			continue
		}
		seen[pkg] = true
		m := ws.moduleOf(pkg)
		if m == nil {
			continue // the standard library, or a module in the module cache
		}
		dir := filepath.Join(m.dir, filepath.FromSlash(strings.TrimPrefix(pkg, m.path)))
		dirs = append(dirs, dir)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				continue // the build will report it
			}
			for _, imp := range f.Imports {
				if p, err := strconv.Unquote(imp.Path.Value); err == nil {
					pkgs = append(pkgs, p)
				}
			}
		}
	}
	slices.Sort(dirs)
	return dirs
}

// field writes a named, length-prefixed value to h, so that no two
// sequences of fields hash alike.
func field(h io.Writer, name string, value []byte) {
	fmt.Fprintf(h, "%s %d\n", name, len(value))
	h.Write(value) // a hash.Hash never returns an error
}

// hashWorkspace writes to h the go.work, go.work.sum, and every module's
// go.mod and go.sum: together they decide the versions of all dependencies.
func hashWorkspace(h hash.Hash, ws *workspace) {
	field(h, "go.work contents", ws.data)
	field(h, "go.work.sum", ws.sum)
	for _, m := range ws.modules {
		field(h, "module", []byte(m.path))
		field(h, "dir", []byte(m.dir))
		field(h, "go.mod", m.gomod)
		field(h, "go.sum", m.gosum)
	}
}

// hashPackage writes to h the name and contents of every file of the
// package in dir that can be part of a build: its files but test files
// (symbolic links to files included, read through), and
// the files of its subdirectories that hold no package (which it may
// embed). Like the go command, it skips testdata and names starting with .
// or _, and other modules.
func hashPackage(h hash.Hash, dir string) error {
	field(h, "package", []byte(dir))
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return nil // the build will report it
			}
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || holdsPackage(path)) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, "_test.go") {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// The go command compiles a link to a file as the file.
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
				return nil // a link to a directory, or dangling: not read
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		field(h, "file", []byte(filepath.ToSlash(rel)))
		field(h, "contents", data)
		return nil
	})
}

// holdsPackage reports whether dir holds Go files or a go.mod.
func holdsPackage(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if name := e.Name(); !e.IsDir() && (strings.HasSuffix(name, ".go") || name == "go.mod") {
			return true
		}
	}
	return false
}
