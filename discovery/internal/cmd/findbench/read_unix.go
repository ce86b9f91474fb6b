//go:build unix

package main

import (
	"errors"
	"io/fs"
	"slices"
	"syscall"
)

// readLean reads the named file into *buf with the fewest system calls:
// open, read until end of file, close. It is the floor's way to read, and
// the way discovery reads module files on unix.
func readLean(name string, buf *[]byte) (int, error) {
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	data := (*buf)[:0]
	defer func() { *buf = data[:0] }()
	for {
		if len(data) == cap(data) {
			data = slices.Grow(data, max(512, len(data)))
		}
		n, err := syscall.Read(fd, data[len(data):cap(data)])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return len(data), &fs.PathError{Op: "read", Path: name, Err: err}
		case n == 0:
			return len(data), nil
		}
		data = data[:len(data)+n]
	}
}
