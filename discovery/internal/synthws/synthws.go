// Package synthws writes synthetic workspaces for discovery benchmarks: a
// Go workspace of many modules, each with a go.mod, a Go file and, for some,
// an entry_points.txt; and the equivalent Python distributions, a directory
// for sys.path holding one <name>-1.0.dist-info per module, so that
// discovery.Find and Python's importlib.metadata.entry_points can be timed
// on the same shape.
package synthws

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// Group is the group of the entry points that synthetic modules declare.
const Group = "torchrun.handlers"

// A Shape describes a synthetic workspace.
type Shape struct {
	// Modules is the number of modules.
	Modules int
	// Every makes one module in Every declare an entry point (modules 0,
	// Every, 2*Every, ...); the others have no entry_points.txt. Zero or
	// one means that every module declares one.
	Every int
}

// Declares reports whether module i of the shape declares an entry point.
func (s Shape) Declares(i int) bool {
	return s.Every <= 1 || i%s.Every == 0
}

// EntryPoints returns the number of entry points the shape declares.
func (s Shape) EntryPoints() int {
	if s.Every <= 1 {
		return s.Modules
	}
	return (s.Modules + s.Every - 1) / s.Every
}

func (s Shape) check() error {
	if s.Modules < 0 || s.Every < 0 {
		return fmt.Errorf("synthws: invalid shape %+v: want Modules >= 0 and Every >= 0", s)
	}
	return nil
}

// ModulePath returns the path of module i, such as example.com/synth/m00042.
func ModulePath(i int) string { return fmt.Sprintf("example.com/synth/m%05d", i) }

// Name returns the name of the entry point that module i declares, such as
// synth00042.
func Name(i int) string { return fmt.Sprintf("synth%05d", i) }

// Value returns the value of the entry point that module i declares, such
// as example.com/synth/m00042:NewHandler.
func Value(i int) string { return ModulePath(i) + ":NewHandler" }

// A Workspace is a synthetic Go workspace written by Write.
type Workspace struct {
	GoWork string   // the go.work file
	Dirs   []string // module root directories, in use order
	Shape  Shape
}

// Write writes a Go workspace of the given shape in dir, which must exist:
// dir/go.work uses dir/m00000, dir/m00001, ..., each holding a go.mod, a Go
// file declaring NewHandler and, if the shape says it declares one, an
// entry_points.txt with one entry point of group Group.
func Write(dir string, s Shape) (*Workspace, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	ws := &Workspace{GoWork: filepath.Join(dir, "go.work"), Dirs: Dirs(dir, s), Shape: s}
	var work strings.Builder
	work.WriteString("go 1.25.0\n\nuse (\n")
	for _, d := range ws.Dirs {
		fmt.Fprintf(&work, "\t./%s\n", filepath.Base(d))
	}
	work.WriteString(")\n")
	if err := forEach(s.Modules, func(i int) error { return writeModule(ws.Dirs[i], i, s.Declares(i)) }); err != nil {
		return nil, err
	}
	if err := os.WriteFile(ws.GoWork, []byte(work.String()), 0o644); err != nil {
		return nil, fmt.Errorf("synthws: %w", err)
	}
	return ws, nil
}

// Dirs returns the module root directories of a workspace of shape s that
// Write writes in dir, in use order.
func Dirs(dir string, s Shape) []string {
	dirs := make([]string, s.Modules)
	for i := range dirs {
		dirs[i] = filepath.Join(dir, fmt.Sprintf("m%05d", i))
	}
	return dirs
}

func writeModule(dir string, i int, declares bool) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("synthws: %w", err)
	}
	pkg := filepath.Base(dir)
	files := map[string]string{
		"go.mod": fmt.Sprintf("module %s\n\ngo 1.25.0\n", ModulePath(i)),
		pkg + ".go": fmt.Sprintf("// Package %s is a synthetic rendezvous handler module.\npackage %s\n\n"+
			"// NewHandler returns the module's handler creator.\nfunc NewHandler() any { return nil }\n", pkg, pkg),
	}
	if declares {
		files["entry_points.txt"] = fmt.Sprintf("# Synthetic entry point.\n[%s]\n%s = %s\n", Group, Name(i), Value(i))
	}
	return writeFiles(dir, files)
}

// PythonDist returns the distribution name of module i, such as
// synth_m00042.
func PythonDist(i int) string { return fmt.Sprintf("synth_m%05d", i) }

// WritePython writes, in dir, which must exist, the Python distributions
// equivalent to a Go workspace of the given shape: one
// <PythonDist(i)>-1.0.dist-info directory per module holding a METADATA
// file and, if module i declares an entry point, an entry_points.txt
// declaring Name(i) in group Group. dir is then a sys.path entry.
func WritePython(dir string, s Shape) error {
	if err := s.check(); err != nil {
		return err
	}
	return forEach(s.Modules, func(i int) error {
		d := filepath.Join(dir, PythonDist(i)+"-1.0.dist-info")
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("synthws: %w", err)
		}
		files := map[string]string{
			"METADATA": fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n", PythonDist(i)),
		}
		if s.Declares(i) {
			files["entry_points.txt"] = fmt.Sprintf("[%s]\n%s = %s:new_handler\n", Group, Name(i), PythonDist(i))
		}
		return writeFiles(d, files)
	})
}

// forEach calls f(0), ..., f(n-1) on GOMAXPROCS goroutines, as creating
// files is mostly system time, and returns the first error, if any. After an
// error, the calls not yet started are skipped.
func forEach(n int, f func(int) error) error {
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		first atomic.Pointer[error]
	)
	for range min(runtime.GOMAXPROCS(0), max(n, 1)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && first.Load() == nil; i = int(next.Add(1) - 1) {
				if err := f(i); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
	}
	return nil
}

func writeFiles(dir string, files map[string]string) error {
	var errs []error
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("synthws: %w", err)
	}
	return nil
}
