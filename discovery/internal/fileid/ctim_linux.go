package fileid

import "syscall"

// ctim returns the change time of st, which is named Ctimespec elsewhere.
func ctim(st *syscall.Stat_t) *syscall.Timespec { return &st.Ctim }
