//go:build unix

package discovery

import (
	"fmt"
	"io/fs"
	"slices"
	"syscall"
)

// readFileInto does what readFile does for regular files, results and
// errors included, but reads into *buf, which it grows as needed; the data
// returned aliases *buf. It makes fewer system calls: os.Open readies every
// file for the netpoller (fcntl and epoll_ctl calls, useless for regular
// files), which costs more than reading a small file; and it does not stat
// the file first. Reading a workspace opens two files per module, so this
// halves the time of Find. The file is opened non-blocking, so that a named
// pipe gives an error rather than blocking; only when there is nothing to
// read is the file's type checked, to tell an empty file from a pipe or a
// device.
func readFileInto(name string, buf *[]byte) ([]byte, error) {
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
	data := (*buf)[:0]
	defer func() { *buf = data[:0] }()
	for {
		if len(data) == cap(data) {
			data = slices.Grow(data, max(512, len(data)))
		}
		room := data[len(data):min(cap(data), maxFileSize+1)]
		n, err := syscall.Read(fd, room)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return data, &fs.PathError{Op: "read", Path: name, Err: err}
		case n == 0 && len(data) == 0:
			// Nothing to read: an empty file, or a pipe without a
			// writer or a device such as /dev/null, which are refused.
			var st syscall.Stat_t
			if err := syscall.Fstat(fd, &st); err == nil && st.Mode&syscall.S_IFMT != syscall.S_IFREG {
				return data, fmt.Errorf("%s is not a regular file", name)
			}
			return data, nil
		case n == 0:
			return data, nil
		}
		data = data[:len(data)+n]
		if len(data) > maxFileSize {
			return data, fmt.Errorf("%s is larger than %d bytes", name, maxFileSize)
		}
	}
}
