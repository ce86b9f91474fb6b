//go:build unix && !linux

package smallfile

import (
	"strings"
	"syscall"
)

// open opens the file named by the concatenation of name.
func open(name []string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(strings.Join(name, ""), flags, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
