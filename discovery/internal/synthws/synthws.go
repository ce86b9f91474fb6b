// Package synthws writes synthetic workspaces for discovery benchmarks, of
// the shape the speed comparison with Python is specified on: a Go workspace
// of modules two folders deep, each with a go.mod, a Go file and, for the
// modules that declare entry points, an entry_points.txt declaring 3 entry
// points in 2 groups; and the equivalent Python distributions, a directory
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

// Group is the group that Find and Python are asked for: each declaring
// module declares two entry points in it.
const Group = "torchrun.handlers"

// OtherGroup is the second group of the declaring modules: each declares
// one entry point in it, which a search for Group reads and leaves out.
const OtherGroup = "synth.exporters"

// groupPerModule is the number of entry points of Group that a declaring
// module declares (see Declared).
const groupPerModule = 2

// PerFolder is the number of modules in each first-level folder of a
// workspace: module i lives in folder i/PerFolder (see Dirs).
const PerFolder = 100

// A Shape describes a synthetic workspace.
type Shape struct {
	// Modules is the number of modules.
	Modules int
	// Every makes one module in Every declare entry points (modules 0,
	// Every, 2*Every, ...); the others have no entry_points.txt. Zero or
	// one means that every module declares them.
	Every int
}

// Declares reports whether module i of the shape declares entry points.
func (s Shape) Declares(i int) bool {
	return s.Every <= 1 || i%s.Every == 0
}

// Declaring returns the number of modules of the shape that declare entry
// points.
func (s Shape) Declaring() int {
	if s.Every <= 1 {
		return s.Modules
	}
	return (s.Modules + s.Every - 1) / s.Every
}

// EntryPoints returns the number of entry points of group Group that the
// shape declares: the number that Find(WithGroup(Group)) returns, and
// Python's entry_points(group=Group), two per declaring module. The
// entry points of OtherGroup are not counted.
func (s Shape) EntryPoints() int {
	return s.Declaring() * groupPerModule
}

func (s Shape) check() error {
	if s.Modules < 0 || s.Every < 0 {
		return fmt.Errorf("synthws: invalid shape %+v: want Modules >= 0 and Every >= 0", s)
	}
	return nil
}

// ModulePath returns the path of module i, such as example.com/synth/m00042.
func ModulePath(i int) string { return fmt.Sprintf("example.com/synth/m%05d", i) }

// PythonDist returns the distribution name of module i, such as
// synth_m00042.
func PythonDist(i int) string { return fmt.Sprintf("synth_m%05d", i) }

// A Declaration is an entry point that a declaring module declares, in its
// Go and its Python form.
type Declaration struct {
	Group string // Group or OtherGroup
	Name  string // such as synth00042
	Value string // in the Go module, such as example.com/synth/m00042:NewHandler
	Line  int    // line in the Go module's entry_points.txt

	PythonValue string // in the Python distribution, such as synth_m00042:new_handler
}

// Declared returns the entry points that module i declares if the shape
// says it declares any, in file order: two in Group, then one in
// OtherGroup. The Python distribution declares the same, in the same order.
func Declared(i int) []Declaration {
	name, mod, dist := fmt.Sprintf("synth%05d", i), ModulePath(i), PythonDist(i)
	return []Declaration{
		{Group: Group, Name: name, Value: mod + ":NewHandler", Line: 3, PythonValue: dist + ":new_handler"},
		{Group: Group, Name: name + "-v2", Value: mod + ":NewHandlerV2", Line: 4, PythonValue: dist + ":new_handler_v2"},
		{Group: OtherGroup, Name: name, Value: mod + ":NewExporter", Line: 7, PythonValue: dist + ":new_exporter"},
	}
}

// entryPointsFile returns the text of an entry_points.txt declaring decls,
// with value giving each one's value, after the given header.
func entryPointsFile(header string, decls []Declaration, value func(Declaration) string) string {
	var b strings.Builder
	b.WriteString(header)
	group := ""
	for _, d := range decls {
		if d.Group != group {
			if group != "" {
				b.WriteString("\n")
			}
			group = d.Group
			fmt.Fprintf(&b, "[%s]\n", group)
		}
		fmt.Fprintf(&b, "%s = %s\n", d.Name, value(d))
	}
	return b.String()
}

// A Workspace is a synthetic Go workspace written by Write.
type Workspace struct {
	GoWork string   // the go.work file
	Dirs   []string // module root directories, in use order
	Shape  Shape
}

// Write writes a Go workspace of the given shape in dir, which must exist:
// dir/go.work uses ./d000/m00000, ..., ./d000/m00099, ./d001/m00100, ...,
// PerFolder modules per first-level folder, each holding a go.mod, a Go
// file declaring the symbols of Declared(i) and, if the shape says it
// declares entry points, an entry_points.txt declaring Declared(i).
func Write(dir string, s Shape) (*Workspace, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	ws := &Workspace{GoWork: filepath.Join(dir, "go.work"), Dirs: Dirs(dir, s), Shape: s}
	var work strings.Builder
	work.WriteString("go 1.25.0\n\nuse (\n")
	for i := range s.Modules {
		fmt.Fprintf(&work, "\t./%s\n", rel(i))
	}
	work.WriteString(")\n")
	for f := 0; f*PerFolder < s.Modules; f++ {
		if err := os.Mkdir(filepath.Join(dir, folder(f*PerFolder)), 0o755); err != nil {
			return nil, fmt.Errorf("synthws: %w", err)
		}
	}
	if err := forEach(s.Modules, func(i int) error { return writeModule(ws.Dirs[i], i, s.Declares(i)) }); err != nil {
		return nil, err
	}
	if err := os.WriteFile(ws.GoWork, []byte(work.String()), 0o644); err != nil {
		return nil, fmt.Errorf("synthws: %w", err)
	}
	return ws, nil
}

// Dirs returns the module root directories of a workspace of shape s that
// Write writes in dir, in use order: module i is dir/d<i/PerFolder>/m<i>,
// such as dir/d000/m00042 and dir/d001/m00142.
func Dirs(dir string, s Shape) []string {
	dirs := make([]string, s.Modules)
	for i := range dirs {
		dirs[i] = filepath.Join(dir, filepath.FromSlash(rel(i)))
	}
	return dirs
}

// folder returns the first-level folder of module i, such as d001.
func folder(i int) string { return fmt.Sprintf("d%03d", i/PerFolder) }

// rel returns the directory of module i relative to the workspace, with
// slashes, such as d001/m00142.
func rel(i int) string { return fmt.Sprintf("%s/m%05d", folder(i), i) }

func writeModule(dir string, i int, declares bool) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("synthws: %w", err)
	}
	pkg := filepath.Base(dir)
	decls := Declared(i)
	var src strings.Builder
	fmt.Fprintf(&src, "// Package %s is a synthetic rendezvous handler module.\npackage %s\n", pkg, pkg)
	for _, d := range decls {
		_, sym, _ := strings.Cut(d.Value, ":")
		fmt.Fprintf(&src, "\n// %s is the symbol of an entry point of group %s.\nfunc %s() any { return nil }\n", sym, d.Group, sym)
	}
	files := map[string]string{
		"go.mod":    fmt.Sprintf("module %s\n\ngo 1.25.0\n", ModulePath(i)),
		pkg + ".go": src.String(),
	}
	if declares {
		files["entry_points.txt"] = entryPointsFile("# Synthetic entry points.\n", decls, func(d Declaration) string { return d.Value })
	}
	return writeFiles(dir, files)
}

// WritePython writes, in dir, which must exist, the Python distributions
// equivalent to a Go workspace of the given shape: one
// <PythonDist(i)>-1.0.dist-info directory per module, side by side (Python
// has no nesting), holding a METADATA file and, if module i declares entry
// points, an entry_points.txt declaring Declared(i) with their Python
// values. dir is then a sys.path entry.
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
			files["entry_points.txt"] = entryPointsFile("", Declared(i), func(d Declaration) string { return d.PythonValue })
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
