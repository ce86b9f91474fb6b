package discovery_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
)

// writeFiles writes files (path relative to dir -> contents) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	}
}

// module returns the files of a module with the given path and
// entry_points.txt (none if eps is empty), under dir.
func module(dir, path, eps string) map[string]string {
	files := map[string]string{dir + "/go.mod": "module " + path + "\n\ngo 1.26\n"}
	if eps != "" {
		files[dir+"/entry_points.txt"] = eps
	}
	return files
}

// workspace writes a go.work using dirs, and the given files, in a new
// temporary directory, and returns the go.work path.
func workspace(t testing.TB, dirs []string, files ...map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		writeFiles(t, root, f)
	}
	work := "go 1.26\n\nuse (\n"
	for _, d := range dirs {
		work += "\t" + d + "\n"
	}
	work += ")\n"
	writeFiles(t, root, map[string]string{"go.work": work})
	return filepath.Join(root, "go.work")
}

// names returns "[group] name" of each entry point.
func names(eps []discovery.EntryPoint) []string {
	out := make([]string, len(eps))
	for i, ep := range eps {
		out[i] = "[" + ep.Group + "] " + ep.Name
	}
	return out
}

// repoRoot returns the repository's root directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for !strings.HasSuffix(dir, string(filepath.Separator)) {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("repository root not found")
	return ""
}
