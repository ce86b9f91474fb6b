//go:build !unix

package discovery

// readFileInto reads the named file with readFile; buf is unused. The unix
// version reads into *buf with fewer system calls.
func readFileInto(name string, buf *[]byte) ([]byte, error) {
	return readFile(name)
}
