package synthws_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
)

func TestShape(t *testing.T) {
	tests := []struct {
		shape     synthws.Shape
		declaring int
	}{
		{synthws.Shape{Modules: 0}, 0},
		{synthws.Shape{Modules: 7}, 7},
		{synthws.Shape{Modules: 7, Every: 1}, 7},
		{synthws.Shape{Modules: 25, Every: 10}, 3},
		{synthws.Shape{Modules: 30, Every: 10}, 3},
		{synthws.Shape{Modules: 31, Every: 10}, 4},
	}
	for _, tt := range tests {
		declaring, inGroup := 0, 0
		for i := range tt.shape.Modules {
			if tt.shape.Declares(i) {
				declaring++
				for _, d := range synthws.Declared(i) {
					if d.Group == synthws.Group {
						inGroup++
					}
				}
			}
		}
		assert.Equal(t, tt.declaring, declaring, "%+v: modules that declare", tt.shape)
		assert.Equal(t, tt.declaring, tt.shape.Declaring(), "%+v", tt.shape)
		assert.Equal(t, 2*tt.declaring, tt.shape.EntryPoints(), "%+v", tt.shape)
		assert.Equal(t, inGroup, tt.shape.EntryPoints(), "%+v: entry points of %s declared", tt.shape, synthws.Group)
	}
}

func TestDeclared(t *testing.T) {
	// 3 entry points in 2 groups, the shape of the speed comparison.
	assert.Equal(t, []synthws.Declaration{
		{Group: synthws.Group, Name: "synth00042", Value: "example.com/synth/m00042:NewHandler", Line: 3, PythonValue: "synth_m00042:new_handler"},
		{Group: synthws.Group, Name: "synth00042-v2", Value: "example.com/synth/m00042:NewHandlerV2", Line: 4, PythonValue: "synth_m00042:new_handler_v2"},
		{Group: synthws.OtherGroup, Name: "synth00042", Value: "example.com/synth/m00042:NewExporter", Line: 7, PythonValue: "synth_m00042:new_exporter"},
	}, synthws.Declared(42))
}

func TestWriteIsReadByFind(t *testing.T) {
	for _, s := range []synthws.Shape{{Modules: 250}, {Modules: 250, Every: 10}} {
		t.Run(fmt.Sprintf("%d-%d", s.Modules, s.Every), func(t *testing.T) {
			dir := t.TempDir()
			ws, err := synthws.Write(dir, s)
			require.NoError(t, err)

			// Modules two folders deep, PerFolder in each first-level folder.
			require.Len(t, ws.Dirs, s.Modules)
			assert.Equal(t, ws.Dirs, synthws.Dirs(dir, s))
			assert.Equal(t, filepath.Join(dir, "d000", "m00000"), ws.Dirs[0])
			assert.Equal(t, filepath.Join(dir, "d000", "m00099"), ws.Dirs[99])
			assert.Equal(t, filepath.Join(dir, "d001", "m00100"), ws.Dirs[100])
			assert.Equal(t, filepath.Join(dir, "d002", "m00249"), ws.Dirs[249])
			top, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range top {
				names = append(names, e.Name())
			}
			assert.Equal(t, []string{"d000", "d001", "d002", "go.work"}, names)

			// go.work uses them in order, in the form go work use writes.
			data, err := os.ReadFile(ws.GoWork)
			require.NoError(t, err)
			wf, err := modfile.ParseWork(ws.GoWork, data, nil)
			require.NoError(t, err)
			require.Len(t, wf.Use, s.Modules)
			for i, u := range wf.Use {
				rel, err := filepath.Rel(dir, ws.Dirs[i])
				require.NoError(t, err)
				assert.Equal(t, "./"+filepath.ToSlash(rel), u.Path)
			}
			assert.Equal(t, string(data), string(modfile.Format(wf.Syntax)), "go.work as the go command formats it")
			assert.True(t, strings.HasPrefix(string(data), "go 1.25.0\n\nuse (\n\t./d000/m00000\n\t./d000/m00001\n"), "%.60s", data)

			// Every module has its go.mod and a Go file declaring every
			// symbol named.
			for i, d := range ws.Dirs {
				mod, err := os.ReadFile(filepath.Join(d, "go.mod"))
				require.NoError(t, err)
				assert.Equal(t, synthws.ModulePath(i), modfile.ModulePath(mod))
				f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(d, filepath.Base(d)+".go"), nil, parser.SkipObjectResolution)
				require.NoError(t, err)
				assert.Equal(t, filepath.Base(d), f.Name.Name)
				var funcs []string
				for _, fd := range f.Decls {
					funcs = append(funcs, fd.(*ast.FuncDecl).Name.Name)
				}
				for _, decl := range synthws.Declared(i) {
					_, sym, _ := strings.Cut(decl.Value, ":")
					assert.Contains(t, funcs, sym, "%s declares %s", f.Name.Name, sym)
				}
			}

			// Find reads every entry point of both groups, at its line.
			eps, err := discovery.Find(discovery.WithWorkspace(ws.GoWork))
			require.NoError(t, err)
			var want, got []string
			for i := range s.Modules {
				if !s.Declares(i) {
					continue
				}
				for _, d := range synthws.Declared(i) {
					want = append(want, fmt.Sprintf("[%s] %s = %s in %s at %s:%d", d.Group, d.Name, d.Value, synthws.ModulePath(i), filepath.Join(ws.Dirs[i], discovery.FileName), d.Line))
				}
			}
			for _, ep := range eps {
				got = append(got, ep.String()+" in "+ep.Module+" at "+ep.Pos())
			}
			assert.Equal(t, want, got)
			assert.Len(t, want, 3*s.Declaring())

			// Find(WithGroup(Group)) returns EntryPoints of them.
			eps, err = discovery.Find(discovery.WithWorkspace(ws.GoWork), discovery.WithGroup(synthws.Group))
			require.NoError(t, err)
			assert.Len(t, eps, s.EntryPoints())
		})
	}
}

func TestWritePython(t *testing.T) {
	dir := t.TempDir()
	s := synthws.Shape{Modules: 12, Every: 5}
	require.NoError(t, synthws.WritePython(dir, s))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, s.Modules)
	var want []string // group name = value, of every entry point
	for i := range s.Modules {
		d := filepath.Join(dir, synthws.PythonDist(i)+"-1.0.dist-info")
		meta, err := os.ReadFile(filepath.Join(d, "METADATA"))
		require.NoError(t, err)
		assert.Contains(t, string(meta), "\nName: "+synthws.PythonDist(i)+"\n")
		eps, err := os.ReadFile(filepath.Join(d, "entry_points.txt"))
		if !s.Declares(i) {
			assert.ErrorIs(t, err, os.ErrNotExist, "module %d", i)
			continue
		}
		require.NoError(t, err)
		n, dist := fmt.Sprintf("synth%05d", i), synthws.PythonDist(i)
		assert.Equal(t, "["+synthws.Group+"]\n"+
			n+" = "+dist+":new_handler\n"+
			n+"-v2 = "+dist+":new_handler_v2\n"+
			"\n["+synthws.OtherGroup+"]\n"+
			n+" = "+dist+":new_exporter\n", string(eps))
		for _, d := range synthws.Declared(i) {
			want = append(want, d.Group+" "+d.Name+" = "+d.PythonValue)
		}
	}
	slices.Sort(want)
	require.Len(t, want, 9)

	// Python itself finds the same entry points, when it is installed.
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not found; not checking with importlib.metadata")
		return
	}
	out, err := exec.Command(python, "-I", "-S", "-c", `import sys
sys.path.insert(0, sys.argv[1])
from importlib.metadata import entry_points
for group in sys.argv[2:]:
    for ep in entry_points(group=group):
        print(ep.group, ep.name, "=", ep.value)
print("count", len(entry_points(group=sys.argv[2])))`, dir, synthws.Group, synthws.OtherGroup).CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.NotEmpty(t, lines)
	assert.Equal(t, fmt.Sprintf("count %d", s.EntryPoints()), lines[len(lines)-1])
	got := lines[:len(lines)-1]
	slices.Sort(got)
	assert.Equal(t, want, got)
}

func TestInvalidShape(t *testing.T) {
	_, err := synthws.Write(t.TempDir(), synthws.Shape{Modules: -1})
	assert.ErrorContains(t, err, "invalid shape")
	assert.ErrorContains(t, synthws.WritePython(t.TempDir(), synthws.Shape{Modules: 1, Every: -2}), "invalid shape")
}

func TestWriteNeedsDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := synthws.Write(missing, synthws.Shape{Modules: 1})
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorIs(t, synthws.WritePython(missing, synthws.Shape{Modules: 1}), os.ErrNotExist)
}
