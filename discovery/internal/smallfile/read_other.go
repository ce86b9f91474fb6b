//go:build !unix

package smallfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
)

// read reads the file named by the concatenation of name; ok is false if it
// does not exist. It reads the whole file: prefix only makes a file of more
// than limit bytes acceptable (whole is then false).
func read(buf []byte, limit int, prefix string, name []string) (data []byte, ok, whole bool, err error) {
	file := strings.Join(name, "")
	// A named pipe would block the open: only regular files are read.
	if fi, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return nil, false, false, nil
	} else if err != nil {
		return nil, false, false, err
	} else if !fi.Mode().IsRegular() {
		return nil, false, false, notRegular(file)
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, err
	}
	defer f.Close()
	w := bytes.NewBuffer(buf[:0])
	if _, err := io.Copy(w, io.LimitReader(f, int64(limit)+1)); err != nil {
		return nil, false, false, err
	}
	if w.Len() > limit {
		if prefix != "" && holdsLine(w.Bytes()[:limit], prefix) {
			return w.Bytes()[:limit], true, false, nil
		}
		return nil, false, false, tooLarge(file, limit)
	}
	return w.Bytes(), true, true, nil
}

// notExist is the error of Read for a file that does not exist.
func notExist(name string) error {
	return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
