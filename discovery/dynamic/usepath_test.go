//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-entrypoints/entrypoints/discovery"
)

func TestUsePath(t *testing.T) {
	for _, tt := range []struct{ dir, want string }{
		{"/ws/redisx", "./redisx"},
		{"/ws/a/b", "./a/b"},
		{"/ws", "."},
		{"/other/x", "../other/x"},
	} {
		assert.Equal(t, tt.want, usePath("/ws/go.work", tt.dir), tt.dir)
	}
}

func TestParseBuildErrorKeepsContinuationLines(t *testing.T) {
	p := &plan{
		eps:    []discovery.EntryPoint{{Value: "example.org/doesnotexist:X"}},
		epLine: map[int]int{}, impLine: map[int][]int{7: {0}}, alias: []string{"ep0"},
	}
	be := p.parseBuildError("# example.com/h\n" +
		virtualPrefix + "0a1b/main.go:7:2: no required module provides package example.org/doesnotexist; to add it:\n" +
		"\tgo get example.org/doesnotexist\n")
	assert.Equal(t, "no required module provides package example.org/doesnotexist; to add it: go get example.org/doesnotexist", be.symbols[0])
}
