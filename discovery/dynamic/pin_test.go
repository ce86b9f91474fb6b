//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/registry"
)

// TestPluginReplacedAfterCheck builds a real plugin, checks and pins it,
// then replaces the cached file: what is opened is the plugin checked, and
// the next load rebuilds the replaced one.
func TestPluginReplacedAfterCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: builds a plugin with the go command")
	}
	dir := t.TempDir()
	files := map[string]string{
		"h/go.mod":           "module example.com/h\n\ngo 1.26.0\n",
		"h/entry_points.txt": "[torchrun.handlers]\nh = example.com/h:NewHandler\n",
		"h/h.go": `package h

import "github.com/go-entrypoints/entrypoints/registry"

type handler struct{ registry.Handler }

func (handler) RunID() string { return "checked" }

func NewHandler() registry.Creator {
	return func(registry.Parameters) (registry.Handler, error) { return handler{}, nil }
}
`,
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	files["go.work"] = "go 1.26.0\n\nuse (\n\t" + root + "\n\t./h\n)\n"
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	}
	t.Setenv(CacheEnv, filepath.Join(t.TempDir(), "plugins"))
	gowork := filepath.Join(dir, "go.work")
	eps, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup(discovery.HandlersGroup))
	require.NoError(t, err)
	require.Len(t, eps, 1)
	s, err := host()
	require.NoError(t, err)
	cache, err := cacheDir()
	require.NoError(t, err)
	ws, err := readWorkspace(gowork)
	require.NoError(t, err)
	l := &load{ctx: context.Background(), gowork: gowork, settings: s, cache: cache, ws: ws}
	p := newPlan(eps[0].Dir, eps)
	require.NoError(t, p.computeKey(s, ws))
	pn, err := l.build(p, reasonMissing)
	require.NoError(t, err)
	pn.release()

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
