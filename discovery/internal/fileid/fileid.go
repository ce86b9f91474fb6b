// Package fileid tells whether a file has changed since it was last looked
// at, from what the system records of it, without reading it.
//
// Writing to a file, replacing it or truncating it changes its ID (device,
// inode, size, modification and change times), and no system call sets the
// change time back. File times are coarse, though: a change made within the
// same clock tick as the previous one can leave them as they were. Like
// Git's index and the go command's build cache, callers trust an ID only if
// it was taken well after the file last changed (see Trusted).
package fileid

import (
	"io/fs"
	"time"
)

// An ID identifies the state of a file.
type ID struct {
	Dev, Ino   uint64
	Size       int64
	ModTime    int64 // nanoseconds since the epoch
	ChangeTime int64 // nanoseconds since the epoch
}

// RacyWindow is how long after a file last changed its ID can be trusted.
const RacyWindow = 2 * time.Second

// Of returns the ID of the file fi describes. ok is false on systems where
// the change time is not known; callers then cannot trust IDs at all.
func Of(fi fs.FileInfo) (id ID, ok bool) {
	ctime, dev, ino, ok := changeTime(fi)
	if !ok {
		return ID{}, false
	}
	return ID{Dev: dev, Ino: ino, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), ChangeTime: ctime}, true
}

// Trusted reports whether id, taken at time now, can be trusted to change
// when the file changes: the file last changed at least RacyWindow earlier.
func (id ID) Trusted(now time.Time) bool {
	last := time.Unix(0, max(id.ModTime, id.ChangeTime))
	return now.Sub(last) >= RacyWindow
}
