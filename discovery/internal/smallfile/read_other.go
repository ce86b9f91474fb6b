//go:build !unix

package smallfile

import (
	"bytes"
	"io"
	"os"
)

// Read appends the contents of the named regular file to buf[:0] and
// returns the result; buf may be nil. A file of more than limit bytes, or
// one that is not a regular file, is an error. Errors are *fs.PathError for
// the system's, matching fs.ErrNotExist when the file does not exist.
func Read(name string, buf []byte, limit int) ([]byte, error) {
	// A named pipe would block the open: only regular files are read.
	if fi, err := os.Stat(name); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, notRegular(name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := bytes.NewBuffer(buf[:0])
	if _, err := io.Copy(w, io.LimitReader(f, int64(limit)+1)); err != nil {
		return nil, err
	}
	if w.Len() > limit {
		return nil, tooLarge(name, limit)
	}
	return w.Bytes(), nil
}
