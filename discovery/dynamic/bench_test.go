//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	bh := buildHandler(b, `package h

import "github.com/go-entrypoints/entrypoints/registry"

func NewHandler() registry.Creator {
	return func(registry.Parameters) (registry.Handler, error) { return nil, nil }
}
`)
	gowork, eps, s, cache, l, p := bh.gowork, bh.eps, bh.s, bh.cache, bh.l, bh.p

	// As on any later run: the plugin's identity is recorded once it is
	// old enough to be trusted.
	time.Sleep(racyWindow)
	pn, _ := pin(cache, p.key)
	require.NotNil(b, pn)
	pn.release()
	start := time.Now()
	_, err := l.resolve(p)
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
