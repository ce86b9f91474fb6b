package fileid_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery/internal/fileid"
)

func stat(t *testing.T, name string) fileid.ID {
	t.Helper()
	fi, err := os.Stat(name)
	require.NoError(t, err)
	id, ok := fileid.Of(fi)
	if !ok {
		t.Skipf("file change times are not known on %s", runtime.GOOS)
	}
	return id
}

func TestOf(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(name, []byte("one"), 0o644))
	a := stat(t, name)
	assert.Equal(t, a, stat(t, name), "an unchanged file keeps its ID")

	// A rewrite of the same size with the modification time put back
	// still changes the change time.
	old := time.Unix(0, a.ModTime)
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, os.WriteFile(name, []byte("two"), 0o644))
	require.NoError(t, os.Chtimes(name, old, old))
	b := stat(t, name)
	assert.Equal(t, a.ModTime, b.ModTime)
	assert.NotEqual(t, a, b)

	// A file replaced by another gets another inode.
	other := filepath.Join(filepath.Dir(name), "g")
	require.NoError(t, os.WriteFile(other, []byte("two"), 0o644))
	require.NoError(t, os.Rename(other, name))
	assert.NotEqual(t, b.Ino, stat(t, name).Ino)
}

func TestTrusted(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(name, []byte("x"), 0o644))
	id := stat(t, name)
	assert.False(t, id.Trusted(time.Now()), "a file that just changed")
	assert.True(t, id.Trusted(time.Now().Add(fileid.RacyWindow+time.Second)))
}
