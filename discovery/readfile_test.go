package discovery

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadFileInto checks that readFileInto, which readModule uses, gives
// the results and errors of readFile, reusing its buffer across calls.
func TestReadFileInto(t *testing.T) {
	dir := t.TempDir()
	names := []string{filepath.Join(dir, "missing")}
	for _, size := range []int{0, 1, 511, 512, 4095, 4096, 4097, 70000, maxFileSize, maxFileSize + 1, 3 * maxFileSize} {
		name := filepath.Join(dir, strconv.Itoa(size))
		require.NoError(t, os.WriteFile(name, bytes.Repeat([]byte("x\n"), size)[:size], 0o644))
		names = append(names, name)
	}
	var buf []byte
	// Both refuse what is not a regular file, each in its own words.
	for _, name := range []string{dir, "/dev/zero"} {
		if _, err := os.Stat(name); err != nil {
			continue
		}
		_, err := readFile(name)
		assert.Error(t, err, name)
		_, err = readFileInto(name, &buf)
		assert.Error(t, err, name)
	}
	backwards := slices.Clone(names)
	slices.Reverse(backwards)
	for _, order := range [][]string{names, backwards} {
		for _, name := range order {
			want, wantErr := readFile(name)
			got, err := readFileInto(name, &buf)
			if wantErr != nil {
				require.Error(t, err, name)
				if !os.IsNotExist(wantErr) {
					assert.Equal(t, wantErr.Error(), err.Error(), name)
				}
				assert.Equal(t, os.IsNotExist(wantErr), os.IsNotExist(err), name)
				continue
			}
			require.NoError(t, err, name)
			assert.Equal(t, len(want), len(got), name)
			assert.True(t, bytes.Equal(want, got), "%s: contents differ", name)
		}
	}
}
