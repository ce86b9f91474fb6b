//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"fmt"
	"go/parser"
	"go/token"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

// workspace is what of a go.work file and its modules goes into a plugin's
// cache key.
type workspace struct {
	file    string
	data    []byte   // contents of the go.work file
	sum     []byte   // contents of go.work.sum, if any
	modules []module // in use order
}

// module is one module of a workspace.
type module struct {
	path  string
	dir   string
	gomod []byte
	gosum []byte
}

// readWorkspace reads the go.work file and the go.mod and go.sum of each
// module it uses. Modules that cannot be read are left out: the go command
// will report them if they matter.
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
	for _, u := range wf.Use {
		dir := filepath.FromSlash(u.Path)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			continue
		}
		m := module{path: modfile.ModulePath(gomod), dir: dir, gomod: gomod}
		m.gosum, _ = os.ReadFile(filepath.Join(dir, "go.sum"))
		ws.modules = append(ws.modules, m)
	}
	return ws, nil
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

// imported returns the workspace modules whose packages the given packages
// import, directly or not, including their own modules, in use order. It
// reads import declarations only, ignoring build constraints, so it may
// return more modules than a build uses, never fewer.
func (ws *workspace) imported(pkgs []string) []*module {
	seen := make(map[string]bool)
	mods := make(map[*module]bool)
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
			continue
		}
		mods[m] = true
		dir := filepath.Join(m.dir, filepath.FromSlash(strings.TrimPrefix(pkg, m.path)))
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
	var out []*module
	for i := range ws.modules {
		if mods[&ws.modules[i]] {
			out = append(out, &ws.modules[i])
		}
	}
	return out
}

// field writes a named, length-prefixed value to h, so that no two
// sequences of fields hash alike.
func field(h io.Writer, name string, value []byte) {
	fmt.Fprintf(h, "%s %d\n", name, len(value))
	h.Write(value)
}

// hashWorkspace writes to h the go.work, go.work.sum, and every module's
// go.mod and go.sum: together they decide the versions of all dependencies.
func hashWorkspace(h hash.Hash, ws *workspace) {
	field(h, "go.work", []byte(ws.file))
	field(h, "go.work contents", ws.data)
	field(h, "go.work.sum", ws.sum)
	for _, m := range ws.modules {
		field(h, "module", []byte(m.path))
		field(h, "dir", []byte(m.dir))
		field(h, "go.mod", m.gomod)
		field(h, "go.sum", m.gosum)
	}
}

// hashTree writes to h the name and contents of every file of the module
// rooted at root that can be part of a build: it skips test files and the
// directories the go command ignores (testdata, names starting with . or
// _) or that belong to other modules.
func hashTree(h hash.Hash, root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path == root {
				return nil
			}
			if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		field(h, "file", []byte(filepath.ToSlash(rel)))
		field(h, "contents", data)
		return nil
	})
}
