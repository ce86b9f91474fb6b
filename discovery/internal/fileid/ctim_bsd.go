//go:build darwin || freebsd || netbsd

package fileid

import "syscall"

// ctim returns the change time of st, which is named Ctim on Linux.
func ctim(st *syscall.Stat_t) *syscall.Timespec { return &st.Ctimespec }
