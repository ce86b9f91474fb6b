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
	return st.Ctim.Nano(), uint64(st.Dev), uint64(st.Ino), true
}

func stat(name string) (ID, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(name, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return ID{}, &fs.PathError{Op: "stat", Path: name, Err: err}
		}
		return ID{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Size: st.Size, ModTime: st.Mtim.Nano(), ChangeTime: st.Ctim.Nano()}, nil
	}
}
