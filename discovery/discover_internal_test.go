package discovery

import (
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

// TestDiscoverForgetsDroppedRegistries checks that what Discover remembers
// of a registry goes with it: a program (or a benchmark) that discovers
// into a fresh registry each time does not keep them all alive.
func TestDiscoverForgetsDroppedRegistries(t *testing.T) {
	t.Setenv("GOWORK", "off")
	defer ResetLinked()()
	Link(Linked{Group: HandlersGroup, Name: "h", Value: "example.com/h:New", Module: "example.com/h", Line: 2,
		Symbol: registry.Creator(func(registry.Parameters) (registry.Handler, error) { return nil, nil })})
	var keys []weak.Pointer[registry.Registry]
	remembered := func() int {
		registered.Lock()
		defer registered.Unlock()
		n := 0
		for _, k := range keys {
			if _, ok := registered.m[k]; ok {
				n++
			}
		}
		return n
	}

	regs := make([]*registry.Registry, 10)
	for i := range regs {
		regs[i] = registry.New()
		keys = append(keys, weak.Make(regs[i]))
		rep, err := Discover(WithRegistry(regs[i]))
		require.NoError(t, err)
		require.Len(t, rep.Registered, 1)
	}
	require.Equal(t, len(regs), remembered())
	rep, err := Discover(WithRegistry(regs[0]))
	require.NoError(t, err)
	assert.Len(t, rep.Unchanged, 1, "a registry still in use is remembered")

	regs = nil
	for i := 0; i < 200 && remembered() > 0; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	assert.Zero(t, remembered(), "registries dropped by the program are forgotten")
}
