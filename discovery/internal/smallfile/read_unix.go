//go:build unix

package smallfile

import (
	"io/fs"
	"slices"
	"strings"
	"syscall"
)

// read reads the file named by the concatenation of name, up to the end or,
// if prefix is not empty, to the first complete line that begins with it
// (whole is false if it stopped there); ok is false if the file does not
// exist.
//
// It calls open, read until the end and close, and nothing else: os.Open
// would also register each file with the netpoller (an epoll_ctl call that
// fails for regular files, and in a new process the creation of the poller
// itself), and os.ReadFile would add a stat. Measured with findbench's
// workspaces against the !unix version (os.Stat, os.Open, io.Copy), a
// program's first call of Find on 1,000 modules declaring entry points
// takes 21 ms instead of 48, a repeated call 14 ms instead of 32.
//
// The file is opened non-blocking, so that a named pipe gives an error
// rather than blocking; only when there is nothing to read, or no buffer
// was given, is the file's type checked, to tell an empty file from a pipe
// or a device and to size the buffer.
func read(buf []byte, limit int, prefix string, name []string) (data []byte, ok, whole bool, err error) {
	fd, err := open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK)
	if err == syscall.ENOENT {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, &fs.PathError{Op: "open", Path: strings.Join(name, ""), Err: err}
	}
	defer syscall.Close(fd)
	data = buf[:0]
	if cap(data) == 0 {
		// One allocation at the file's size rather than a growing buffer:
		// in a new process, every byte allocated is a page fault's share.
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Size > 0 {
			data = make([]byte, 0, min(st.Size, int64(limit))+1)
		}
	}
	for {
		if len(data) == cap(data) {
			data = slices.Grow(data, max(512, len(data)))
		}
		n, err := syscall.Read(fd, data[len(data):min(cap(data), limit+1)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, false, false, &fs.PathError{Op: "read", Path: strings.Join(name, ""), Err: err}
		case n == 0 && len(data) == 0:
			// Nothing to read: an empty file, or a pipe without a
			// writer or a device such as /dev/null, which are refused.
			var st syscall.Stat_t
			if err := syscall.Fstat(fd, &st); err == nil && st.Mode&syscall.S_IFMT != syscall.S_IFREG {
				return nil, false, false, notRegular(strings.Join(name, ""))
			}
			return data, true, true, nil
		case n == 0:
			return data, true, true, nil
		}
		data = data[:len(data)+n]
		if prefix != "" && holdsLine(data[:min(len(data), limit)], prefix) {
			return data[:min(len(data), limit)], true, false, nil
		}
		if len(data) > limit {
			return nil, false, false, tooLarge(strings.Join(name, ""), limit)
		}
	}
}

// notExist is the error of Read for a file that does not exist.
func notExist(name string) error {
	return &fs.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
}
