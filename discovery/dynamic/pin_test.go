//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

// TestPluginReplacedAfterCheck builds a real plugin, checks and pins it,
// then replaces the cached file: what is opened is the plugin checked, and
// the next load rebuilds the replaced one.
func TestPluginReplacedAfterCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: builds a plugin with the go command")
	}
	b := buildHandler(t, `package h

import "github.com/go-entrypoints/entrypoints/registry"

type handler struct{ registry.Handler }

func (handler) RunID() string { return "checked" }

func NewHandler() registry.Creator {
	return func(registry.Parameters) (registry.Handler, error) { return handler{}, nil }
}
`)
	cache, p := b.cache, b.p

	// Checked and pinned; then someone replaces the cached plugin.
	pn, reason := pin(cache, p.key)
	require.NotNil(t, pn, reason)
	replace(t, soPath(cache, p.key), "not the plugin that was checked", 0o500)
	pl, err := openPinned(pn)
	require.NoError(t, err, "the plugin opened is the one checked, not the replacement")
	vals, errs := entryValues(pl, p, soPath(cache, p.key))
	require.NoError(t, errs[0])
	h, err := vals[0].(func() registry.Creator)()(registry.Parameters{})
	require.NoError(t, err)
	assert.Equal(t, "checked", h.RunID())
	assert.NoDirExists(t, pn.dir, "the pin is released once the plugin is open")

	// The replacement is not loaded by the next program: it is rebuilt.
	pn, reason = pin(cache, p.key)
	assert.Nil(t, pn)
	assert.Equal(t, reasonTampered, reason)
}
