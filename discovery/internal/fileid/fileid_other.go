//go:build !(linux || darwin || freebsd || netbsd)

package fileid

import "io/fs"

// changeTime reports that the change time is not known here.
func changeTime(fs.FileInfo) (ctime int64, dev, ino uint64, ok bool) {
	return 0, 0, 0, false
}
