//go:build !((linux || darwin || freebsd) && cgo)

package dynamic

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-entrypoints/entrypoints/discovery"
)

func TestLoadUnsupported(t *testing.T) {
	eps := []discovery.EntryPoint{{Group: discovery.HandlersGroup, Name: "a"}, {Group: discovery.HandlersGroup, Name: "b"}}
	values, errs := loader{}.Load(context.Background(), "/ws/go.work", eps)
	assert.Len(t, values, len(eps))
	assert.Len(t, errs, len(eps))
	for i := range eps {
		assert.Nil(t, values[i])
		assert.ErrorIs(t, errs[i], ErrUnsupported)
		assert.ErrorContains(t, errs[i], "go generate ./...")
		switch runtime.GOOS {
		case "linux", "darwin", "freebsd":
			assert.ErrorContains(t, errs[i], "CGO_ENABLED=1")
		default:
			assert.ErrorContains(t, errs[i], runtime.GOOS)
		}
	}
}
