//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCacheDir(t *testing.T) {
	t.Run("created private", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "plugins")
		t.Setenv(CacheEnv, dir)
		got, err := cacheDir()
		require.NoError(t, err)
		assert.Equal(t, dir, got)
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	})
	t.Run("relative", func(t *testing.T) {
		t.Setenv(CacheEnv, "plugins")
		_, err := cacheDir()
		assert.ErrorContains(t, err, "not an absolute path")
	})
	t.Run("writable by others", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.Chmod(dir, 0o777))
		t.Setenv(CacheEnv, dir)
		_, err := cacheDir()
		assert.ErrorContains(t, err, "writable by other users")
	})
	t.Run("default", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv(CacheEnv, "")
		t.Setenv("XDG_CACHE_HOME", home) // linux and freebsd
		t.Setenv("HOME", home)           // darwin
		got, err := cacheDir()
		require.NoError(t, err)
		assert.Equal(t, "plugins", filepath.Base(got))
		assert.Equal(t, "go-entrypoints", filepath.Base(filepath.Dir(got)))
		for _, d := range []string{got, filepath.Dir(got)} {
			fi, err := os.Stat(d)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), d)
		}
	})
}

func TestVerifyInstall(t *testing.T) {
	dir := t.TempDir()
	const key = "0123abcd"
	ok, reason := verify(dir, key)
	assert.False(t, ok)
	assert.Equal(t, reasonMissing, reason)

	built := filepath.Join(t.TempDir(), "plugin.so")
	require.NoError(t, os.WriteFile(built, []byte("a plugin"), 0o600))
	require.NoError(t, install(dir, key, built))
	ok, _ = verify(dir, key)
	assert.True(t, ok)
	assert.NoFileExists(t, built, "installing moves the plugin")

	tamper := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"modified", func(t *testing.T) { require.NoError(t, os.WriteFile(soPath(dir, key), []byte("b plugin"), 0o600)) }},
		{"truncated", func(t *testing.T) { require.NoError(t, os.Truncate(soPath(dir, key), 1)) }},
		{"symlink", func(t *testing.T) {
			other := filepath.Join(t.TempDir(), "other.so")
			require.NoError(t, os.WriteFile(other, []byte("a plugin"), 0o600))
			require.NoError(t, os.Remove(soPath(dir, key)))
			require.NoError(t, os.Symlink(other, soPath(dir, key)))
		}},
		{"checksum removed", func(t *testing.T) { require.NoError(t, os.Remove(sumPath(dir, key))) }},
		{"plugin and record of another entry", func(t *testing.T) {
			const other = "4567ef01"
			built := filepath.Join(t.TempDir(), "other.so")
			require.NoError(t, os.WriteFile(built, []byte("another plugin"), 0o600))
			require.NoError(t, install(dir, other, built))
			require.NoError(t, os.Rename(soPath(dir, other), soPath(dir, key)))
			require.NoError(t, os.Rename(sumPath(dir, other), sumPath(dir, key)))
		}},
	}
	for _, tt := range tamper {
		t.Run(tt.name, func(t *testing.T) {
			built := filepath.Join(t.TempDir(), "plugin.so")
			require.NoError(t, os.WriteFile(built, []byte("a plugin"), 0o600))
			require.NoError(t, install(dir, key, built))
			tt.do(t)
			ok, reason := verify(dir, key)
			assert.False(t, ok)
			assert.Equal(t, reasonTampered, reason)
		})
	}
}

func TestVerifyTrustsOldRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: waits for file times to age")
	}
	dir := t.TempDir()
	const key = "k"
	built := filepath.Join(t.TempDir(), "plugin.so")
	require.NoError(t, os.WriteFile(built, []byte("a plugin"), 0o600))
	require.NoError(t, install(dir, key, built))
	first, err := os.ReadFile(sumPath(dir, key))
	require.NoError(t, err)

	// Once the plugin is older than the racy window, a verification
	// records its identity anew, and later ones trust it.
	time.Sleep(racyWindow + 100*time.Millisecond)
	ok, _ := verify(dir, key)
	require.True(t, ok)
	refreshed, err := os.ReadFile(sumPath(dir, key))
	require.NoError(t, err)
	assert.Equal(t, string(first), string(refreshed), "the identity is unchanged")
	rfi, err := os.Stat(sumPath(dir, key))
	require.NoError(t, err)
	fi, err := os.Stat(soPath(dir, key))
	require.NoError(t, err)
	_, ctime := identity(fi)
	assert.GreaterOrEqual(t, rfi.ModTime().Sub(ctime), racyWindow, "the record was rewritten")
	ok, _ = verify(dir, key)
	assert.True(t, ok)

	// A change, even of the same size, changes the identity.
	require.NoError(t, os.WriteFile(soPath(dir, key), []byte("b plugin"), 0o600))
	ok, reason := verify(dir, key)
	assert.False(t, ok)
	assert.Equal(t, reasonTampered, reason)
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"lin-old.so", "lin-old.so.sha256", "lin-old.lock", "lin-new.so", "lin-new.so.sha256", "lin-new.lock", "other-x.so", "other-x.so.sha256"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o600))
	}
	prune(dir, "lin-new")
	left, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	for i := range left {
		left[i] = filepath.Base(left[i])
	}
	assert.ElementsMatch(t, []string{"lin-new.so", "lin-new.so.sha256", "lin-new.lock", "other-x.so", "other-x.so.sha256"}, left)
}

func TestRemoveStaleBuilds(t *testing.T) {
	dir := t.TempDir()
	stale, fresh := filepath.Join(dir, buildDirPrefix+"1"), filepath.Join(dir, buildDirPrefix+"2")
	for _, d := range []string{stale, fresh} {
		require.NoError(t, os.MkdirAll(filepath.Join(d, "sub"), 0o700))
	}
	old := time.Now().Add(-2 * staleBuild)
	require.NoError(t, os.Chtimes(stale, old, old))
	removeStaleBuilds(dir)
	assert.NoDirExists(t, stale)
	assert.DirExists(t, fresh)
}

func TestCompilerErrorsOnly(t *testing.T) {
	tests := map[string]bool{
		"# example.com/h\n./h.go:3:9: undefined: x\n": true,
		"# example.com/h\n./h.go:3:9: cannot use x (variable of type int) as string value in return statement\n\thave int\n\twant string\n": true,
		"# example.com/h/.entrypoints_plugin_0123\n../../cache/build-1/main.go:9:20: undefined: p0.Missing\n":                               true,
		"./h.go:3:9: too many errors\n": true,
		"go: downloading example.com/dep v1.0.0\n# example.com/h\n./h.go:3:9: undefined: x\n":                         false,
		"go: example.com/dep@v1.0.0: reading https://proxy.golang.org/example.com/dep/@v/v1.0.0.mod: 404 Not Found\n": false,
		"# runtime/cgo\ncgo: C compiler \"gcc\" not found: exec: \"gcc\": executable file not found in $PATH\n":       false,
		"": false,
	}
	for output, want := range tests {
		assert.Equal(t, want, compilerErrorsOnly(output), output)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lock(context.Background(), dir, "k")
	require.NoError(t, err)

	// Another holder waits, until its context is done.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err = lock(ctx, dir, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "another process building the same plugin")

	// Other keys are not blocked.
	unlockOther, err := lock(context.Background(), dir, "other")
	require.NoError(t, err)
	unlockOther()

	// Released, the lock goes to the waiter.
	got := make(chan error, 1)
	go func() {
		u, err := lock(context.Background(), dir, "k")
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case <-got:
		t.Fatal("the lock was taken twice")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter did not get the lock")
	}
}
