//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
)

// keyWorkspace writes a workspace of three modules: a declares the entry
// point, and its package imports b/lib; c is not imported.
func keyWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.work":            "go 1.26\n\nuse (\n\t./a\n\t./b\n\t./c\n)\n",
		"a/go.mod":           "module example.com/a\n\ngo 1.26\n",
		"a/a.go":             "package a\n\nimport (\n\t\"fmt\"\n\t\"example.com/b/lib\"\n)\n\nvar New = fmt.Sprint(lib.X)\n",
		"a/a_test.go":        "package a\n",
		"a/static/page.html": "<p>embedded</p>\n",
		"a/testdata/x.txt":   "test data\n",
		"a/.hidden/x.txt":    "hidden\n",
		"a/sub/sub.go":       "package sub\n",
		"b/go.mod":           "module example.com/b\n\ngo 1.26\n",
		"b/lib/lib.go":       "package lib\n\nconst X = 1\n",
		"b/other/other.go":   "package other\n",
		"c/go.mod":           "module example.com/c\n\ngo 1.26\n",
		"c/c.go":             "package c\n",
		// b replaces example.com/d, outside the workspace, by a directory.
		"d/go.mod":     "module example.com/d\n\ngo 1.26\n",
		"d/lib/lib.go": "package lib\n\nconst Y = 1\n",
		// A source file of a is a link to a file kept elsewhere.
		"shared/linked.go": "package a\n\nconst L = 1\n",
	}
	files["b/go.mod"] += "\nrequire example.com/d v0.0.0\n\nreplace example.com/d => ../d\n"
	files["b/lib/lib.go"] = "package lib\n\nimport dlib \"example.com/d/lib\"\n\nconst X = dlib.Y\n"
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	}
	require.NoError(t, os.Symlink(filepath.Join("..", "shared", "linked.go"), filepath.Join(dir, "a", "linked.go")))
	return dir
}

// keyOf returns the cache key of the plugin of a's entry point.
func keyOf(t *testing.T, dir string, s *settings) string {
	t.Helper()
	ws, err := readWorkspace(filepath.Join(dir, "go.work"))
	require.NoError(t, err)
	eps := []discovery.EntryPoint{{Group: discovery.HandlersGroup, Name: "a", Value: "example.com/a:New", Module: "example.com/a", Dir: filepath.Join(dir, "a")}}
	p := newPlan(eps[0].Dir, eps)
	require.NoError(t, p.computeKey(s, ws))
	return p.key
}

func TestKey(t *testing.T) {
	base := settingsOf(map[string]string{})
	tests := []struct {
		name    string
		edit    func(t *testing.T, dir string)
		changes bool
	}{
		{"nothing", func(*testing.T, string) {}, false},
		{"entry point's package", write("a/a.go", "package a\n\nvar New = 2\n"), true},
		{"file added to the package", write("a/more.go", "package a\n"), true},
		{"file embeddable by the package", write("a/static/page.html", "<p>changed</p>\n"), true},
		{"imported package of another module", write("b/lib/lib.go", "package lib\n\nimport dlib \"example.com/d/lib\"\n\nconst X = dlib.Y + 1\n"), true},
		{"imported package of a module replaced by a directory", write("d/lib/lib.go", "package lib\n\nconst Y = 2\n"), true},
		{"go.mod of a module not imported", write("c/go.mod", "module example.com/c\n\ngo 1.26\n\nrequire golang.org/x/mod v0.1.0\n"), true},
		{"go.sum", write("b/go.sum", "golang.org/x/mod v0.1.0 h1:x=\n"), true},
		{"go.work", write("go.work", "go 1.26\n\nuse (\n\t./a\n\t./b\n\t./c\n)\n\n// comment\n"), true},
		{"go.work.sum", write("go.work.sum", "golang.org/x/mod v0.1.0 h1:x=\n"), true},
		{"source file reached through a link", write("shared/linked.go", "package a\n\nconst L = 2\n"), true},
		{"test file", write("a/a_test.go", "package a\n\nvar T = 1\n"), false},
		{"testdata", write("a/testdata/x.txt", "changed\n"), false},
		{"hidden directory", write("a/.hidden/x.txt", "changed\n"), false},
		{"package not imported, same module", write("a/sub/sub.go", "package sub\n\nvar S = 1\n"), false},
		{"package not imported, imported module", write("b/other/other.go", "package other\n\nvar O = 1\n"), false},
		{"source of a module not imported", write("c/c.go", "package c\n\nvar C = 1\n"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := keyWorkspace(t)
			before := keyOf(t, dir, base)
			tt.edit(t, dir)
			after := keyOf(t, dir, base)
			if tt.changes {
				assert.NotEqual(t, before, after)
			} else {
				assert.Equal(t, before, after)
			}
			assert.Equal(t, lineage(before), lineage(after), "an edit keeps the lineage")
		})
	}

	t.Run("settings", func(t *testing.T) {
		dir := keyWorkspace(t)
		race := settingsOf(map[string]string{"-race": "true"})
		assert.NotEqual(t, lineage(keyOf(t, dir, base)), lineage(keyOf(t, dir, race)))
	})
	// The go command reads these too: another value is another lineage.
	for k, v := range map[string]string{"GOFLAGS": "-mod=mod", "CC": "clang"} {
		t.Run(k, func(t *testing.T) {
			dir := keyWorkspace(t)
			t.Setenv(k, "")
			before := keyOf(t, dir, base)
			t.Setenv(k, v)
			assert.NotEqual(t, lineage(before), lineage(keyOf(t, dir, base)))
		})
	}
}

// lineage returns the lineage part of a key.
func lineage(key string) string {
	l, _, _ := strings.Cut(key, "-")
	return l
}

// write returns an edit that writes a file of the workspace.
func write(name, data string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(data), 0o644))
	}
}
