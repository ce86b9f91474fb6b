// Package smallfile reads small regular files, such as go.work, go.mod and
// entry_points.txt, without blocking on a named pipe and without reading
// more than a limit, so that a pipe, a device or a huge file in the wrong
// place gives an error instead of a hang or an exhausted memory.
//
// Discovery reads up to two files per module of a workspace, most of them in
// a program's first call of Find, in a new process. There, every byte
// allocated is memory the process has never touched, which the kernel
// faults in page by page; so the unix version makes as few system calls and
// allocations as it can (see Read), and a name is given in parts, joined
// on the stack, so that reading a module's files allocates nothing for
// their names. Discovery's speed comparison (findbench) reads its I/O floor
// with it too.
package smallfile

import (
	"bytes"
	"fmt"
	"strings"
)

// Read appends the contents of the regular file named by the concatenation
// of name's parts to buf[:0] and returns the result, which aliases buf if
// it fits; buf may be nil, in which case the result is allocated at the
// file's size. A file of more than limit bytes, or one that is not a
// regular file, is an error. Errors are *fs.PathError for the system's,
// matching fs.ErrNotExist when the file does not exist.
func Read(buf []byte, limit int, name ...string) ([]byte, error) {
	data, ok, _, err := read(buf, limit, "", name)
	if err == nil && !ok {
		return nil, notExist(strings.Join(name, ""))
	}
	return data, err
}

// ReadIfExists is Read, except that a file that does not exist is not an
// error: it returns ok false, and allocates nothing.
func ReadIfExists(buf []byte, limit int, name ...string) (data []byte, ok bool, err error) {
	data, ok, _, err = read(buf, limit, "", name)
	return data, ok, err
}

// ReadHead reads the head of the regular file named by the concatenation of
// name's parts, as Read does, up to the first complete line that begins,
// after blanks, with prefix: a file's head is often read in one system
// call, where reading to its end takes two. whole is true if the result is
// the whole file, and false if reading stopped at such a line, which the
// unix version does as soon as one is read, so that the result may then be
// the whole file too, or end with part of a line. A file of more than limit
// bytes is an error only if its first limit bytes hold no such line.
//
// On unix, a file whose head holds such a line is not checked to be a
// regular file: a named pipe that a writer has filled is read, not
// refused, where checking every file would cost the system call that
// reading the head saves.
func ReadHead(buf []byte, limit int, prefix string, name ...string) (data []byte, whole bool, err error) {
	data, ok, whole, err := read(buf, limit, prefix, name)
	if err == nil && !ok {
		return nil, false, notExist(strings.Join(name, ""))
	}
	return data, whole, err
}

// holdsLine reports whether data holds a complete line, ending in '\n',
// that begins with prefix after blanks.
func holdsLine(data []byte, prefix string) bool {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return false
		}
		if bytes.HasPrefix(bytes.TrimLeft(data[:i], " \t"), []byte(prefix)) {
			return true
		}
		data = data[i+1:]
	}
}

// List calls f with the name of each entry of the directory named by the
// concatenation of dir's parts, other than . and .., in the order the
// system gives them. The name is valid during the call only. On linux, the
// entries are read into buf (which must hold at least one entry: 4 KiB and
// more is best) and the listing allocates nothing. Errors are
// *fs.PathError, matching fs.ErrNotExist when the directory does not
// exist.
func List(buf []byte, f func(name []byte), dir ...string) error {
	return list(buf, f, dir)
}

// notRegular is the error for a file that is not a regular file.
func notRegular(name string) error {
	return fmt.Errorf("%s is not a regular file", name)
}

// tooLarge is the error for a file of more than limit bytes.
func tooLarge(name string, limit int) error {
	return fmt.Errorf("%s is larger than %d bytes", name, limit)
}
