//go:build linux || darwin

package static_test

import "syscall"

// limitFiles lowers this process's limit on open files to n.
func limitFiles(n int) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	l.Cur = uint64(n)
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// canLimitFiles reports whether limitFiles works here.
const canLimitFiles = true
