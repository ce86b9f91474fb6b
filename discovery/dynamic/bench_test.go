//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
)

// BenchmarkCachedLoad measures what loading an entry point from the cache
// costs on top of plugin.Open: computing the key (reading the workspace and
// hashing the sources: key) and checking and pinning the plugin (pin).
// This test binary is the host; the plugin holds a handler of a temporary
// module. The metric open-ms is the time of the first load of the plugin
// (key, pin and plugin.Open), which later Loads in the same process do not
// pay again: they compute the key only (Load).
func BenchmarkCachedLoad(b *testing.B) {
	if testing.Short() {
		b.Skip("skipped under -short: builds a plugin")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(b, err)
	dir := b.TempDir()
	files := map[string]string{
		"go.work":            "go 1.26.0\n\nuse (\n\t" + root + "\n\t./h\n)\n",
		"h/go.mod":           "module example.com/h\n\ngo 1.26.0\n",
		"h/entry_points.txt": "[torchrun.handlers]\nh = example.com/h:NewHandler\n",
		"h/h.go": `package h

import "github.com/go-entrypoints/entrypoints/registry"

func NewHandler() registry.Creator {
	return func(registry.Parameters) (registry.Handler, error) { return nil, nil }
}
`,
	}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(b, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(b, os.WriteFile(path, []byte(data), 0o644))
	}
	b.Setenv(CacheEnv, filepath.Join(b.TempDir(), "plugins"))
	gowork := filepath.Join(dir, "go.work")
	eps, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup(discovery.HandlersGroup))
	require.NoError(b, err)
	require.Len(b, eps, 1)

	// Build, then open once, untimed.
	s, err := host()
	require.NoError(b, err)
	cache, err := cacheDir()
	require.NoError(b, err)
	ws, err := readWorkspace(gowork)
	require.NoError(b, err)
	l := &load{ctx: context.Background(), gowork: gowork, settings: s, cache: cache, ws: ws}
	p := newPlan(eps[0].Dir, eps)
	require.NoError(b, p.computeKey(s, ws))
	pn, err := l.build(p, reasonMissing)
	require.NoError(b, err)
	pn.release()
	// As on any later run: the plugin's identity is recorded once it is
	// old enough to be trusted.
	time.Sleep(racyWindow)
	pn, _ = pin(cache, p.key)
	require.NotNil(b, pn)
	pn.release()
	start := time.Now()
	_, err = l.resolve(p)
	require.NoError(b, err)
	opened := time.Since(start)

	b.Run("key", func(b *testing.B) {
		for b.Loop() {
			ws, err := readWorkspace(gowork)
			if err != nil {
				b.Fatal(err)
			}
			if err := newPlan(eps[0].Dir, eps).computeKey(s, ws); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pin", func(b *testing.B) {
		for b.Loop() {
			pn, reason := pin(cache, p.key)
			if pn == nil {
				b.Fatal(reason)
			}
			pn.release()
		}
	})
	b.Run("Load", func(b *testing.B) {
		for b.Loop() {
			_, errs := loader{}.Load(context.Background(), gowork, eps)
			if errs[0] != nil {
				b.Fatal(errs[0])
			}
		}
		b.ReportMetric(float64(opened.Microseconds())/1000, "open-ms")
	})
}
