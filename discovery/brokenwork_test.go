package discovery

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClaimsModule(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"app/go.mod":   "module example.com/app\n",
		"other/go.mod": "module example.com/other\n",
	} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	}
	for _, tt := range []struct {
		work string
		want bool
	}{
		{"go 1.26\n\nuse ./app\n\nfoo bar\n", true},
		{"go 1.26\n\nuse (\n\t./other\n\t\"./app\" // the app\n)\nreplace (\n", true},
		{"go 1.26\nuse(./app)\n\"unterminated\n", true},
		{"go 1.26\n\nuse ./other\n\nfoo bar\n", false},
		{"go 1.26\n\nreplace example.com/x => ./app\nfoo\n", false},
		{"go 1.26\n\nuse " + filepath.Join(dir, "app") + "\n)\n", true},
	} {
		file := filepath.Join(dir, "go.work")
		require.NoError(t, os.WriteFile(file, []byte(tt.work), 0o644))
		assert.Equal(t, tt.want, claimsModule(file, "example.com/app"), tt.work)
	}
}
