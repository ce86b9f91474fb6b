package smallfile_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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
			got, err := smallfile.Read(name, b, limit)
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

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := smallfile.Read(filepath.Join(dir, "missing"), nil, limit)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var pe *fs.PathError
	assert.ErrorAs(t, err, &pe)

	_, err = smallfile.Read(dir, nil, limit)
	assert.Error(t, err, "a directory")

	if _, err := os.Stat(os.DevNull); err == nil {
		_, err = smallfile.Read(os.DevNull, nil, limit)
		assert.EqualError(t, err, os.DevNull+" is not a regular file")
	}
}
