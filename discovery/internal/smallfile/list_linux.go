package smallfile

import (
	"encoding/binary"
	"io/fs"
	"strings"
	"syscall"
)

// list calls f with the name of each entry of the directory named by the
// concatenation of dir, reading the entries into buf with getdents64 and
// parsing them in place, so that listing allocates nothing. Measured with
// findbench's workspaces against os.File.Readdirnames, a first call of Find
// on 1,000 modules, one in eight declaring entry points, takes 7.1 ms
// instead of 8.4 (on 10,000, 53 instead of 57); a repeated call 3.2
// instead of 3.5.
func list(buf []byte, f func(name []byte), dir []string) error {
	fd, err := open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC)
	if err != nil {
		return &fs.PathError{Op: "open", Path: strings.Join(dir, ""), Err: err}
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "readdirent", Path: strings.Join(dir, ""), Err: err}
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: d_ino (8 bytes), d_off (8), d_reclen (2),
		// d_type (1), d_name (NUL-terminated).
		const nameOff = 19
		for b := buf[:n]; len(b) >= nameOff; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < nameOff || reclen > len(b) {
				return &fs.PathError{Op: "readdirent", Path: strings.Join(dir, ""), Err: syscall.EIO}
			}
			name := b[nameOff:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			if binary.NativeEndian.Uint64(b[:8]) != 0 && string(name) != "." && string(name) != ".." {
				f(name)
			}
			b = b[reclen:]
		}
	}
}
