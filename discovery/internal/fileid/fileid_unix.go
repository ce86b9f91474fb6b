//go:build linux || darwin || freebsd || netbsd

package fileid

import (
	"io/fs"
	"syscall"
)

// changeTime returns the time fi's inode last changed, in nanoseconds, and
// its device and inode numbers.
func changeTime(fi fs.FileInfo) (ctime int64, dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0, false
	}
	return ctim(st).Nano(), uint64(st.Dev), uint64(st.Ino), true
}
