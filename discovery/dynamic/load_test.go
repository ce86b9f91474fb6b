//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/registry"
)

func TestOpenError(t *testing.T) {
	const open = `plugin.Open("/cache/k"): `
	plain := settingsOf(map[string]string{})
	cover := settingsOf(map[string]string{"-cover": "true"})
	tests := []struct {
		name     string
		err      string
		s        *settings
		sentinel error
		want     []string
	}{{
		name:     "workspace package",
		err:      open + "plugin was built with a different version of package example.com/shared/util",
		s:        plain,
		sentinel: ErrMismatch,
		want:     []string{"package example.com/shared/util: the workspace changed since this program was built", "fix: rebuild the program", "go generate ./..."},
	}, {
		name:     "standard library",
		err:      open + "plugin was built with a different version of package internal/goarch",
		s:        plain,
		sentinel: ErrMismatch,
		want:     []string{"package internal/goarch of the standard library: they were built with different settings"},
	}, {
		name:     "standard library under -coverpkg",
		err:      open + "plugin was built with a different version of package internal/goarch",
		s:        cover,
		sentinel: ErrMismatch,
		want:     []string{"-coverpkg", "fix: run without -coverpkg"},
	}, {
		name: "other",
		err:  open + "realpath failed",
		s:    plain,
		want: []string{"loading the plugin: " + open + "realpath failed", "go generate ./..."},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := openError(errors.New(tt.err), tt.s)
			var de *discovery.Error
			assert.ErrorAs(t, err, &de)
			if tt.sentinel != nil {
				assert.ErrorIs(t, err, tt.sentinel)
			}
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestIsHandlerValue(t *testing.T) {
	// The types discovery accepts for a handler entry point.
	assert.True(t, isHandlerValue(func() registry.Creator { return nil }))
	assert.True(t, isHandlerValue(registry.Creator(nil)))
	assert.True(t, isHandlerValue(func() (registry.Creator, error) { return nil, nil }))
	assert.True(t, isHandlerValue(func(registry.Parameters) (registry.Handler, error) { return nil, nil }))
	assert.True(t, isHandlerValue(func() func(registry.Parameters) (registry.Handler, error) { return nil }))
	assert.False(t, isHandlerValue(func() int { return 0 }))
	assert.False(t, isHandlerValue("a string"))
	assert.False(t, isHandlerValue(nil))
}
