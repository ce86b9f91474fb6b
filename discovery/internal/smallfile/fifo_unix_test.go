//go:build unix

package smallfile_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery/internal/smallfile"
)

// TestReadPipe checks that a named pipe with no writer is refused at once
// instead of blocking the open.
func TestReadPipe(t *testing.T) {
	name := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(name, 0o644))
	_, err := smallfile.Read(nil, limit, name)
	assert.EqualError(t, err, name+" is not a regular file")
}
