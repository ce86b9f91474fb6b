//go:build unix

package smallfile

import (
	"io/fs"
	"slices"
	"syscall"
)

// Read appends the contents of the named regular file to buf[:0] and
// returns the result, which aliases buf if it fits; buf may be nil. A file
// of more than limit bytes, or one that is not a regular file, is an
// error. Errors are *fs.PathError for the system's, matching fs.ErrNotExist
// when the file does not exist.
//
// It calls open, read until the end and close, and nothing else: os.Open
// would also register each file with the netpoller (an epoll_ctl call that
// fails for regular files, and in a new process the creation of the poller
// itself), and os.ReadFile would add a stat; in a program's first call of
// Find on 1,000 modules, that is a third of the time. The file is opened
// non-blocking, so that a named pipe gives an error rather than blocking;
// only when there is nothing to read is the file's type checked, to tell an
// empty file from a pipe or a device.
func Read(name string, buf []byte, limit int) ([]byte, error) {
	var (
		fd  int
		err error
	)
	for {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	data := buf[:0]
	for {
		if len(data) == cap(data) {
			data = slices.Grow(data, max(512, len(data)))
		}
		n, err := syscall.Read(fd, data[len(data):min(cap(data), limit+1)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: name, Err: err}
		case n == 0 && len(data) == 0:
			// Nothing to read: an empty file, or a pipe without a
			// writer or a device such as /dev/null, which are refused.
			var st syscall.Stat_t
			if err := syscall.Fstat(fd, &st); err == nil && st.Mode&syscall.S_IFMT != syscall.S_IFREG {
				return nil, notRegular(name)
			}
			return data, nil
		case n == 0:
			return data, nil
		}
		data = data[:len(data)+n]
		if len(data) > limit {
			return nil, tooLarge(name, limit)
		}
	}
}
