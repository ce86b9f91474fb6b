package smallfile_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery/internal/smallfile"
)

const limit = 1 << 16

// TestRead checks that Read returns what os.ReadFile does for files up to
// the limit, reusing the buffer it is given, and refuses larger ones.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	var buf []byte
	for _, size := range []int{0, 1, 511, 512, 513, 4095, 4096, 4097, limit, limit + 1, 3 * limit} {
		name := filepath.Join(dir, strconv.Itoa(size))
		require.NoError(t, os.WriteFile(name, bytes.Repeat([]byte("x\n"), size)[:size], 0o644))
		for _, b := range [][]byte{nil, buf, make([]byte, 7, 16)} {
			got, err := smallfile.Read(b, limit, name)
			if size > limit {
				assert.EqualError(t, err, name+" is larger than "+strconv.Itoa(limit)+" bytes")
				continue
			}
			require.NoError(t, err, name)
			want, err := os.ReadFile(name)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(want, got), "%s: contents differ", name)
			if cap(b) > size && size > 0 {
				assert.Same(t, &b[:1][0], &got[0], "%s: the buffer given is reused", name)
			}
			buf = got
		}
	}
}

// TestReadParts checks that a name given in parts is their concatenation,
// also when it is too long to be joined on the stack, and that a missing
// file is an error of Read and not of ReadIfExists.
func TestReadParts(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("d", 200)
	sub := filepath.Join(dir, long, long, long)
	require.NoError(t, os.MkdirAll(sub, 0o755))
	for _, d := range []string{dir, sub} {
		require.NoError(t, os.WriteFile(filepath.Join(d, "f.txt"), []byte("hello"), 0o644))
		got, err := smallfile.Read(nil, limit, d, string(filepath.Separator), "f", ".txt")
		require.NoError(t, err)
		assert.Equal(t, "hello", string(got))
		got, ok, err := smallfile.ReadIfExists(make([]byte, 0, 8), limit, d, string(filepath.Separator), "f.txt")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "hello", string(got))

		_, ok, err = smallfile.ReadIfExists(nil, limit, d, string(filepath.Separator), "missing")
		assert.NoError(t, err)
		assert.False(t, ok)
		_, err = smallfile.Read(nil, limit, d, string(filepath.Separator), "missing")
		assert.ErrorIs(t, err, fs.ErrNotExist)
		var pe *fs.PathError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, filepath.Join(d, "missing"), pe.Path)
	}
	_, err := smallfile.Read(nil, limit, dir, "/f.txt\x00")
	assert.Error(t, err, "a name holding a NUL")
}

// TestReadHuge checks that a file of more than 2 GiB is refused as too
// large, also on 32-bit systems, where opening it needs O_LARGEFILE.
func TestReadHuge(t *testing.T) {
	name := filepath.Join(t.TempDir(), "huge")
	f, err := os.Create(name)
	require.NoError(t, err)
	defer f.Close()
	if err := f.Truncate(3 << 30); err != nil {
		t.Skip("no sparse file of 3 GiB here:", err)
	}
	for _, buf := range [][]byte{nil, make([]byte, 0, 64)} {
		_, err = smallfile.Read(buf, limit, name)
		assert.EqualError(t, err, name+" is larger than "+strconv.Itoa(limit)+" bytes")
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := smallfile.Read(nil, limit, filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var pe *fs.PathError
	assert.ErrorAs(t, err, &pe)

	_, err = smallfile.Read(nil, limit, dir)
	assert.Error(t, err, "a directory")
	_, _, err = smallfile.ReadIfExists(nil, limit, dir)
	assert.Error(t, err, "a directory")

	if _, err := os.Stat(os.DevNull); err == nil {
		_, err = smallfile.Read(nil, limit, os.DevNull)
		assert.EqualError(t, err, os.DevNull+" is not a regular file")
	}
}

// TestReadIfExistsAllocations checks that ReadIfExists allocates nothing,
// for a missing file or for one that fits the buffer given.
func TestReadIfExistsAllocations(t *testing.T) {
	if runtime.GOOS != "linux" || raceEnabled {
		t.Skip("names are joined on the stack on linux only, and the race detector moves them to the heap")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644))
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok, err := smallfile.ReadIfExists(buf, limit, dir, "/missing"); ok || err != nil {
			t.Fatal(ok, err)
		}
		if _, ok, err := smallfile.ReadIfExists(buf, limit, dir, "/f"); !ok || err != nil {
			t.Fatal(ok, err)
		}
	})
	assert.Zero(t, allocs)
}

// TestList checks that List lists what os.ReadDir does, in a directory of
// more entries than its buffer holds at once, and allocates nothing.
func TestList(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 300 {
		name := fmt.Sprintf("entry-%03d%s", i, strings.Repeat("x", i%40))
		want = append(want, name)
		if i%3 == 0 {
			require.NoError(t, os.Mkdir(filepath.Join(dir, name), 0o755))
		} else {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
		}
	}
	buf := make([]byte, 4096)
	var got []string
	require.NoError(t, smallfile.List(buf, func(name []byte) { got = append(got, string(name)) }, dir, "/", "."))
	assert.ElementsMatch(t, want, got)

	err := smallfile.List(buf, func([]byte) { t.Error("called") }, dir, "/missing")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	err = smallfile.List(buf, func([]byte) { t.Error("called") }, dir, "/", want[1])
	assert.Error(t, err, "a file")

	if runtime.GOOS == "linux" && !raceEnabled {
		n := 0
		allocs := testing.AllocsPerRun(20, func() {
			n = 0
			if err := smallfile.List(buf, func([]byte) { n++ }, dir); err != nil {
				t.Fatal(err)
			}
		})
		assert.Equal(t, 300, n)
		assert.Zero(t, allocs)
	}
}

// TestReadHead checks that ReadHead stops at the first complete line with
// the prefix, even in a file larger than the limit, and reads to the end
// otherwise.
func TestReadHead(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	text := "// comment\n  module x\n" + strings.Repeat("x", 3*limit)
	require.NoError(t, os.WriteFile(name, []byte(text), 0o644))
	for _, buf := range [][]byte{nil, make([]byte, 0, 8), make([]byte, 0, 64)} {
		got, whole, err := smallfile.ReadHead(buf, limit, "module", name)
		require.NoError(t, err)
		assert.False(t, whole)
		assert.True(t, strings.HasPrefix(text, string(got)) && len(got) >= len("// comment\n  module x\n"), "%q", got)
		assert.LessOrEqual(t, len(got), limit)
	}

	_, _, err := smallfile.ReadHead(nil, limit, "nowhere", name)
	assert.EqualError(t, err, name+" is larger than "+strconv.Itoa(limit)+" bytes")

	for _, text := range []string{"no newline", "module x", "modul\nmodule", "x\n"} {
		short := filepath.Join(t.TempDir(), "short")
		require.NoError(t, os.WriteFile(short, []byte(text), 0o644))
		got, whole, err := smallfile.ReadHead(nil, limit, "module", short)
		require.NoError(t, err)
		assert.True(t, whole, "%q", text)
		assert.Equal(t, text, string(got))
	}

	_, _, err = smallfile.ReadHead(nil, limit, "module", name+"-missing")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	// The buffer given stays the caller's: reading into it allocates
	// nothing (a predicate function would make it escape).
	if runtime.GOOS == "linux" && !raceEnabled {
		short := filepath.Join(t.TempDir(), "go.mod")
		require.NoError(t, os.WriteFile(short, []byte("module x\n\ngo 1.26\n"), 0o644))
		allocs := testing.AllocsPerRun(50, func() {
			var b [512]byte
			if _, _, err := smallfile.ReadHead(b[:0], limit, "module", short); err != nil {
				t.Fatal(err)
			}
			if _, _, err := smallfile.ReadIfExists(b[:0], limit, short); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs)
	}
}
