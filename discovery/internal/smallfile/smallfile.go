// Package smallfile reads small regular files, such as go.work, go.mod and
// entry_points.txt, without blocking on a named pipe and without reading
// more than a limit, so that a pipe, a device or a huge file in the wrong
// place gives an error instead of a hang or an exhausted memory.
//
// Discovery reads two files per module of a workspace, most of them in a
// program's first call of Find, so the unix version makes as few system
// calls as it can (see Read); discovery's speed comparison (findbench)
// reads its I/O floor with it too.
package smallfile

import "fmt"

// notRegular is the error for a file that is not a regular file.
func notRegular(name string) error {
	return fmt.Errorf("%s is not a regular file", name)
}

// tooLarge is the error for a file of more than limit bytes.
func tooLarge(name string, limit int) error {
	return fmt.Errorf("%s is larger than %d bytes", name, limit)
}
