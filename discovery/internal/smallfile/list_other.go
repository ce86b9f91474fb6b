//go:build !linux

package smallfile

import (
	"os"
	"strings"
)

// list calls f with the name of each entry of the directory named by the
// concatenation of dir.
func list(_ []byte, f func(name []byte), dir []string) error {
	d, err := os.Open(strings.Join(dir, ""))
	if err != nil {
		return err
	}
	defer d.Close() // read only
	names, err := d.Readdirnames(-1)
	for _, n := range names {
		f([]byte(n))
	}
	return err
}
