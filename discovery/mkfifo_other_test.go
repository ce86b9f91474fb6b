//go:build !unix

package discovery_test

import "errors"

func syscallMkfifo(string) error { return errors.New("unsupported") }
