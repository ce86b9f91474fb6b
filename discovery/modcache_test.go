package discovery

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestModuleCache checks that repeated Find calls on a workspace reuse what
// they read of unchanged modules, and see every change.
func TestModuleCache(t *testing.T) {
	// Files written by the test are trusted as if they were old.
	timeNow = func() time.Time { return time.Now().Add(time.Minute) }
	defer func() { timeNow = time.Now }()
	defer ResetLinked()()

	root := t.TempDir()
	dir := filepath.Join(root, "m")
	write := func(name, data string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	write("go.mod", "module example.com/m\n")
	write(FileName, "[g]\na = example.com/m:A\n")
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\nuse ./m\n"), 0o644))
	find := func() []string {
		t.Helper()
		eps, err := Find(WithWorkspace(root))
		require.NoError(t, err)
		var out []string
		for _, ep := range eps {
			out = append(out, ep.Module+" "+ep.Name+" "+ep.Value)
		}
		return out
	}
	cached := func() *cachedModule {
		c, _ := moduleCache.Load(dir)
		m, _ := c.(*cachedModule)
		return m
	}

	assert.Equal(t, []string{"example.com/m a example.com/m:A"}, find())
	assert.Nil(t, cached(), "the first call on a workspace does not fill the cache")
	assert.Equal(t, []string{"example.com/m a example.com/m:A"}, find())
	c := cached()
	require.NotNil(t, c, "the second call fills it")
	assert.Equal(t, []string{"example.com/m a example.com/m:A"}, find())
	assert.Same(t, c, cached(), "the third call uses it")

	// A rewrite of the same size is seen.
	write(FileName, "[g]\nb = example.com/m:B\n")
	assert.Equal(t, []string{"example.com/m b example.com/m:B"}, find())
	assert.NotSame(t, c, cached())

	// So is a new module path.
	write("go.mod", "module example.com/n\n")
	assert.Equal(t, []string{"example.com/n b example.com/m:B"}, find())

	// A broken file is read, reported and not cached.
	write(FileName, "[g]\nb = example.com/m:B\n!!!\n")
	_, err := Find(WithWorkspace(root))
	assert.ErrorContains(t, err, `unexpected line "!!!"`)
	assert.Nil(t, cached())
	_, err = Find(WithWorkspace(root))
	assert.ErrorContains(t, err, `unexpected line "!!!"`)

	// And a removed one.
	require.NoError(t, os.Remove(filepath.Join(dir, FileName)))
	assert.Empty(t, find())
	assert.Nil(t, cached())
}

// TestModuleCacheRacyFiles checks that files changed within the racy
// window are not cached: their IDs could miss the next change.
func TestModuleCacheRacyFiles(t *testing.T) {
	defer ResetLinked()()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "m"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "m", "go.mod"), []byte("module example.com/m\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "m", FileName), []byte("[g]\na = example.com/m:A\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\nuse ./m\n"), 0o644))
	for range 3 {
		_, err := Find(WithWorkspace(root))
		require.NoError(t, err)
	}
	_, ok := moduleCache.Load(filepath.Join(root, "m"))
	assert.False(t, ok)
}
