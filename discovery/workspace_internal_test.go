package discovery

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
)

// TestReadModulePathReadsTheHead checks that reading a go.mod up to its
// module directive finds the path that modfile.ModulePath finds in the
// whole file, wherever the directive falls against the reads' boundaries.
func TestReadModulePathReadsTheHead(t *testing.T) {
	dir := t.TempDir()
	pad := func(n int) string { return strings.Repeat("// "+strings.Repeat("x", 60)+"\n", n) }
	cases := []string{
		"module example.com/m\n\ngo 1.26\n",
		"module example.com/m",
		"// comment\nmodule   example.com/m // trailing\n",
		"module \"example.com/quoted\"\n",
		"module `example.com/raw`\n",
		"modulex example.com/not\nmodule example.com/m\n",
		"module\nmodule example.com/m\n",
		"module \"unterminated\nmodule example.com/m\n",
		"go 1.26\n",
		"",
		pad(16) + "module example.com/m\n", // past the first 1 KiB
		pad(16)[:1000] + "\nmodule example.com/split-at-1k\n", // across it
		"module example.com/first\n" + pad(40) + "module example.com/second\n",
		pad(20000) + "module example.com/far\n",   // past the size limit
		"module example.com/first\n" + pad(20000), // a head within it
	}
	for i, text := range cases {
		sub := filepath.Join(dir, strings.Repeat("d", i+1))
		require.NoError(t, os.Mkdir(sub, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(sub, "go.mod"), []byte(text), 0o644))
		for _, buf := range [][]byte{nil, make([]byte, 0, 1024), make([]byte, 0, 7)} {
			got, err := readModulePath(buf, sub, "", "")
			want := modfile.ModulePath([]byte(text))
			switch {
			case len(text) > maxFileSize && want != "" && strings.HasPrefix(text, "module"):
				require.NoError(t, err, "case %d", i)
				assert.Equal(t, want, got, "case %d", i)
			case len(text) > maxFileSize:
				assert.ErrorContains(t, err, "larger than", "case %d", i)
			case want == "":
				assert.ErrorIs(t, err, errNoModule, "case %d", i)
			default:
				require.NoError(t, err, "case %d", i)
				assert.Equal(t, want, got, "case %d: %q", i, text)
			}
		}
	}
}
