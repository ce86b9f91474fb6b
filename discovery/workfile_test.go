package discovery

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
)

// workFiles are go.work files for parseWorkUses: the first ones in the
// forms the go command writes, which the scan reads; the others left to
// modfile.ParseWork, valid or not.
var workFiles = []struct {
	text    string
	scanned bool
}{
	{"", true},
	{"go 1.25.0\n", true},
	{"go 1.25.0\n\nuse ./a\n", true},
	{"go 1.25\ntoolchain go1.26.1\n\nuse (\n\t./a\n\t./b/c\n\t../d\n\t/abs/e\n)\n", true},
	{"// A workspace.\ngo 1.26.0\n\nuse (\n\t// the main module\n\t.\n\n\t./x-y_z.v2+1~@3\n)\nuse ./last\n", true},
	{"use\t./tab\n  use   ./spaces  \n", true},
	{"use (\n)\n", true},
	{"use (\nuse\n)\n", true},

	{"go 1.25.0\nuse ./a // trailing comment\n", false},
	{"use \"./quoted dir\"\n", false},
	{"use `./raw`\n", false},
	{"go 1.25.0\r\nuse ./a\r\n", false},
	{"go 1.21rc1\nuse ./a\n", false},
	{"godebug default=go1.21\nuse ./a\n", false},
	{"replace example.com/a => ./a\nuse ./a\n", false},
	{"use ./a/*b\n", false},
	{"use ./ä\n", false},
	{"use ./a//b\n", false},
	{"use (./a)\n", false},
	{"use ( // block\n./a\n)\n", false},

	{"go 1.25.0\ngo 1.26.0\n", false},
	{"toolchain go1.25\ntoolchain go1.26\n", false},
	{"toolchain banana\n", false},
	{"go 01.25\n", false},
	{"go 1.025\n", false},
	{"go 1\n", false},
	{"go 1.2.3.4\n", false},
	{"use ./a ./b\n", false},
	{"use\n", false},
	{"use (\n./a ./b\n)\n", false},
	{"use (\n./a\n", false},
	{")\n", false},
	{"module example.com/m\n", false},
	{"use (\n\t./a\n)\n)\n", false},
}

// TestParseWorkUses checks that parseWorkUses returns what
// modfile.ParseWork finds, whether it scans the file or not.
func TestParseWorkUses(t *testing.T) {
	for _, f := range workFiles {
		_, scanned := scanWorkUses([]byte(f.text))
		assert.Equal(t, f.scanned, scanned, "scanned %q", f.text)
		checkWorkUses(t, []byte(f.text))
	}
}

// FuzzParseWorkUses checks that the scan agrees with modfile.ParseWork.
func FuzzParseWorkUses(f *testing.F) {
	for _, w := range workFiles {
		f.Add([]byte(w.text))
	}
	f.Fuzz(checkWorkUses)
}

func checkWorkUses(t *testing.T, data []byte) {
	got, err := parseWorkUses("go.work", data)
	wf, werr := modfile.ParseWork("go.work", data, nil)
	if werr != nil {
		require.Error(t, err, "%q: ParseWork fails with %v", data, werr)
		assert.Equal(t, werr.Error(), err.Error(), "%q", data)
		return
	}
	require.NoError(t, err, "%q", data)
	want := []workUse{}
	for _, u := range wf.Use {
		want = append(want, workUse{path: u.Path, line: u.Syntax.Start.Line})
	}
	if got == nil {
		got = []workUse{}
	}
	assert.Equal(t, want, got, "%q", data)
}

func TestUseDirParts(t *testing.T) {
	useDir := func(base, path string) string {
		a, b, c := useDirParts(base, path)
		return a + b + c
	}
	for _, base := range []string{"/ws", "/", "/a/b"} {
		for _, path := range []string{".", "./", "./m", "./m/", "./m/../n", "./m//n", "./.", "./..", "./../x", "./..x", "./.x", "m", "../m", "/abs/m", "/abs/../m", ".//m", "./m/./n"} {
			want := filepath.Join(base, filepath.FromSlash(path))
			if filepath.IsAbs(path) {
				want = filepath.Clean(path)
			}
			assert.Equal(t, want, useDir(base, path), "base %s, use %s", base, path)
		}
	}
}
