//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
)

// builtHandler is a workspace of one handler module, h, whose plugin has
// been built into a private cache.
type builtHandler struct {
	gowork string
	eps    []discovery.EntryPoint
	s      *settings
	cache  string
	l      *load
	p      *plan
}

// buildHandler writes a workspace using this repository's root module and
// a module example.com/h whose h.go is source and whose entry point h is
// h.NewHandler, then builds its plugin as the loader would.
func buildHandler(tb testing.TB, source string) *builtHandler {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(tb, err)
	dir := tb.TempDir()
	files := map[string]string{
		"go.work":            "go 1.26.0\n\nuse (\n\t" + root + "\n\t./h\n)\n",
		"h/go.mod":           "module example.com/h\n\ngo 1.26.0\n",
		"h/entry_points.txt": "[torchrun.handlers]\nh = example.com/h:NewHandler\n",
		"h/h.go":             source,
	}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(tb, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(tb, os.WriteFile(path, []byte(data), 0o644))
	}
	tb.Setenv(CacheEnv, filepath.Join(tb.TempDir(), "plugins"))
	b := &builtHandler{gowork: filepath.Join(dir, "go.work")}
	b.eps, err = discovery.Find(discovery.WithWorkspace(b.gowork), discovery.WithGroup(discovery.HandlersGroup))
	require.NoError(tb, err)
	require.Len(tb, b.eps, 1)
	b.s, err = host()
	require.NoError(tb, err)
	b.cache, err = cacheDir()
	require.NoError(tb, err)
	ws, err := readWorkspace(b.gowork)
	require.NoError(tb, err)
	b.l = &load{ctx: context.Background(), gowork: b.gowork, settings: b.s, cache: b.cache, ws: ws}
	b.p = newPlan(b.eps[0].Dir, b.eps)
	require.NoError(tb, b.p.computeKey(b.s, ws))
	pn, err := b.l.build(b.p, reasonMissing)
	require.NoError(tb, err)
	pn.release()
	return b
}
