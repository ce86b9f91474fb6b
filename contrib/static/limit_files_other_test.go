//go:build !linux && !darwin

package static_test

import "errors"

func limitFiles(int) error { return errors.New("cannot limit open files on this system") }

const canLimitFiles = false
