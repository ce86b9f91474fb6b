package synthws_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
)

func TestShape(t *testing.T) {
	tests := []struct {
		shape synthws.Shape
		want  int
	}{
		{synthws.Shape{Modules: 0}, 0},
		{synthws.Shape{Modules: 7}, 7},
		{synthws.Shape{Modules: 7, Every: 1}, 7},
		{synthws.Shape{Modules: 25, Every: 10}, 3},
		{synthws.Shape{Modules: 30, Every: 10}, 3},
		{synthws.Shape{Modules: 31, Every: 10}, 4},
	}
	for _, tt := range tests {
		declaring := 0
		for i := range tt.shape.Modules {
			if tt.shape.Declares(i) {
				declaring++
			}
		}
		assert.Equal(t, tt.want, tt.shape.EntryPoints(), "%+v", tt.shape)
		assert.Equal(t, tt.want, declaring, "%+v: modules that declare", tt.shape)
	}
}

func TestWriteIsReadByFind(t *testing.T) {
	for _, s := range []synthws.Shape{{Modules: 40}, {Modules: 25, Every: 10}} {
		t.Run(strconv.Itoa(s.Modules), func(t *testing.T) {
			ws, err := synthws.Write(t.TempDir(), s)
			require.NoError(t, err)
			require.Len(t, ws.Dirs, s.Modules)
			for _, d := range ws.Dirs {
				assert.FileExists(t, filepath.Join(d, "go.mod"))
				assert.FileExists(t, filepath.Join(d, filepath.Base(d)+".go"))
			}

			eps, err := discovery.Find(discovery.WithWorkspace(ws.GoWork))
			require.NoError(t, err)
			var want, got []string
			for i := range s.Modules {
				if s.Declares(i) {
					want = append(want, synthws.Group+" "+synthws.Name(i)+" = "+synthws.Value(i)+" in "+synthws.ModulePath(i)+" at "+filepath.Join(ws.Dirs[i], discovery.FileName)+":3")
				}
			}
			for _, ep := range eps {
				got = append(got, ep.Group+" "+ep.Name+" = "+ep.Value+" in "+ep.Module+" at "+ep.Pos())
			}
			assert.Equal(t, want, got)
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
		assert.Equal(t, "["+synthws.Group+"]\n"+synthws.Name(i)+" = "+synthws.PythonDist(i)+":new_handler\n", string(eps))
	}

	// Python itself finds the same entry points, when it is installed.
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not found; not checking with importlib.metadata")
		return
	}
	out, err := exec.Command(python, "-I", "-S", "-c", `import sys
sys.path.insert(0, sys.argv[1])
from importlib.metadata import entry_points
print(" ".join(sorted(ep.name for ep in entry_points(group=sys.argv[2]))))`, dir, synthws.Group).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, synthws.Name(0)+" "+synthws.Name(5)+" "+synthws.Name(10), strings.TrimSpace(string(out)))
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
