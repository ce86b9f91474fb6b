//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
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
	refused := []struct {
		name  string
		setup func(t *testing.T) string // returns the cache directory
		want  string                    // in the error
	}{
		{"writable by all", func(t *testing.T) string {
			dir := t.TempDir()
			require.NoError(t, os.Chmod(dir, 0o777))
			return dir
		}, "is writable by other users (mode drwxrwxrwx); fix: chmod go-w"},
		{"group-writable", func(t *testing.T) string {
			dir := t.TempDir()
			require.NoError(t, os.Chmod(dir, 0o770))
			return dir
		}, "is writable by other users (mode drwxrwx---)"},
		{"symbolic link", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "link")
			require.NoError(t, os.Symlink(t.TempDir(), dir))
			return dir
		}, "is a symbolic link"},
		{"under a directory all can write", func(t *testing.T) string {
			parent := t.TempDir()
			require.NoError(t, os.Chmod(parent, 0o777))
			return filepath.Join(parent, "plugins")
		}, "above it is writable by every user (mode drwxrwxrwx), so another user could replace what it holds"},
		{"not a directory", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "file")
			require.NoError(t, os.WriteFile(dir, nil, 0o600))
			return dir
		}, "is not a directory"},
	}
	if os.Geteuid() == 0 {
		// Files of another user, created as root.
		refused = append(refused, []struct {
			name  string
			setup func(t *testing.T) string
			want  string
		}{
			{"owned by another user", func(t *testing.T) string {
				dir := t.TempDir()
				require.NoError(t, os.Chown(dir, nobody, nobody))
				require.NoError(t, os.Chmod(dir, 0o755))
				return dir
			}, "is owned by "},
			{"symbolic link to a directory of another user", func(t *testing.T) string {
				other := t.TempDir()
				require.NoError(t, os.Chown(other, nobody, nobody))
				dir := filepath.Join(t.TempDir(), "link")
				require.NoError(t, os.Symlink(other, dir))
				return dir
			}, "is a symbolic link"},
			{"in a directory of another user", func(t *testing.T) string {
				parent := t.TempDir()
				require.NoError(t, os.Chown(parent, nobody, nobody))
				require.NoError(t, os.Chmod(parent, 0o755))
				return filepath.Join(parent, "plugins")
			}, "above it is owned by "},
			{"in a sticky directory, owned by another user", func(t *testing.T) string {
				parent := t.TempDir()
				require.NoError(t, os.Chmod(parent, 0o777|os.ModeSticky))
				dir := filepath.Join(parent, "plugins")
				require.NoError(t, os.Mkdir(dir, 0o700))
				require.NoError(t, os.Chown(dir, nobody, nobody))
				return dir
			}, "is owned by "},
		}...)
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			t.Setenv(CacheEnv, dir)
			_, err := cacheDir()
			require.ErrorIs(t, err, ErrUntrusted)
			assert.ErrorContains(t, err, "the plugin cache "+dir)
			assert.ErrorContains(t, err, tt.want)
			assert.ErrorContains(t, err, "fix: ")
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				entries, err := os.ReadDir(dir)
				require.NoError(t, err)
				assert.Empty(t, entries, "nothing is written into a refused cache")
			} else {
				assert.NoDirExists(t, dir, "no cache is created in a directory that fails the checks")
			}
		})
	}
	t.Run("in a sticky directory, owned by this user", func(t *testing.T) {
		parent := t.TempDir()
		require.NoError(t, os.Chmod(parent, 0o777|os.ModeSticky))
		dir := filepath.Join(parent, "plugins")
		t.Setenv(CacheEnv, dir)
		got, err := cacheDir()
		require.NoError(t, err)
		assert.Equal(t, dir, got)
	})
	t.Run("through a link to a directory of this user", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "link")
		require.NoError(t, os.Symlink(t.TempDir(), link))
		dir := filepath.Join(link, "plugins")
		t.Setenv(CacheEnv, dir)
		got, err := cacheDir()
		require.NoError(t, err)
		assert.Equal(t, dir, got)
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

// installTest installs a plugin of the given contents under key in dir.
func installTest(t *testing.T, dir, key, contents string) {
	t.Helper()
	built := filepath.Join(t.TempDir(), "plugin.so")
	require.NoError(t, os.WriteFile(built, []byte(contents), 0o700))
	require.NoError(t, install(dir, key, built))
	assert.NoFileExists(t, built, "installing moves the plugin")
}

// replace replaces the file at path with one of the given contents and
// mode, as a program that can write to the directory would.
func replace(t *testing.T, path, contents string, mode os.FileMode) {
	t.Helper()
	tmp := path + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte(contents), mode))
	require.NoError(t, os.Chmod(tmp, mode))
	require.NoError(t, os.Rename(tmp, path))
}

func TestPinInstall(t *testing.T) {
	dir := t.TempDir()
	const key = "0123abcd"
	p, reason := pin(dir, key)
	assert.Nil(t, p)
	assert.Equal(t, reasonMissing, reason)

	installTest(t, dir, key, "a plugin")
	fi, err := os.Stat(soPath(dir, key))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o500), fi.Mode().Perm(), "plugins are read-only")
	p, reason = pin(dir, key)
	require.NotNil(t, p, reason)
	data, err := os.ReadFile(p.path)
	require.NoError(t, err)
	assert.Equal(t, "a plugin", string(data))

	// Replaced after it was checked, the cache entry no longer matters:
	// what is opened is the file checked.
	replace(t, soPath(dir, key), "b plugin", 0o500)
	data, err = os.ReadFile(p.path)
	require.NoError(t, err)
	assert.Equal(t, "a plugin", string(data))
	p.release()
	assert.NoDirExists(t, p.dir)

	tamper := []struct {
		name   string
		reason string
		do     func(t *testing.T)
	}{
		{"modified", reasonTampered, func(t *testing.T) { replace(t, soPath(dir, key), "b plugin", 0o500) }},
		{"truncated", reasonTampered, func(t *testing.T) { replace(t, soPath(dir, key), "a", 0o500) }},
		{"symlink", reasonTampered, func(t *testing.T) {
			other := filepath.Join(t.TempDir(), "other.so")
			require.NoError(t, os.WriteFile(other, []byte("a plugin"), 0o500))
			require.NoError(t, os.Remove(soPath(dir, key)))
			require.NoError(t, os.Symlink(other, soPath(dir, key)))
		}},
		{"writable", reasonForeign, func(t *testing.T) { require.NoError(t, os.Chmod(soPath(dir, key), 0o700)) }},
		{"checksum removed", reasonTampered, func(t *testing.T) { require.NoError(t, os.Remove(sumPath(dir, key))) }},
		{"plugin and record of another entry", reasonTampered, func(t *testing.T) {
			const other = "4567ef01"
			installTest(t, dir, other, "another plugin")
			require.NoError(t, os.Rename(soPath(dir, other), soPath(dir, key)))
			require.NoError(t, os.Rename(sumPath(dir, other), sumPath(dir, key)))
		}},
	}
	if os.Geteuid() == 0 {
		tamper = append(tamper, struct {
			name   string
			reason string
			do     func(t *testing.T)
		}{"owned by another user", reasonForeign, func(t *testing.T) { require.NoError(t, os.Chown(soPath(dir, key), nobody, nobody)) }})
	}
	for _, tt := range tamper {
		t.Run(tt.name, func(t *testing.T) {
			installTest(t, dir, key, "a plugin")
			tt.do(t)
			p, reason := pin(dir, key)
			assert.Nil(t, p)
			assert.Equal(t, tt.reason, reason)
		})
	}
	loads, err := filepath.Glob(filepath.Join(dir, loadDirPrefix+"*"))
	require.NoError(t, err)
	assert.Empty(t, loads, "a plugin that is not loaded is not left pinned")
}

// nobody is the uid and gid of another user, for tests run as root.
const nobody = 65534

func TestPinTrustsOldRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: waits for file times to age")
	}
	dir := t.TempDir()
	const key = "k"
	installTest(t, dir, key, "a plugin")
	first, err := os.ReadFile(sumPath(dir, key))
	require.NoError(t, err)

	// Once the plugin is older than the racy window, a verification
	// records its identity anew, and later ones trust it.
	time.Sleep(racyWindow + 100*time.Millisecond)
	p, _ := pin(dir, key)
	require.NotNil(t, p)
	p.release()
	refreshed, err := os.ReadFile(sumPath(dir, key))
	require.NoError(t, err)
	assert.Equal(t, string(first), string(refreshed), "the identity is unchanged")
	rfi, err := os.Stat(sumPath(dir, key))
	require.NoError(t, err)
	fi, err := os.Stat(soPath(dir, key))
	require.NoError(t, err)
	_, mtime := identity(fi)
	assert.GreaterOrEqual(t, rfi.ModTime().Sub(mtime), racyWindow, "the record was rewritten")
	p, _ = pin(dir, key)
	require.NotNil(t, p)
	p.release()

	// Another file, even of the same size, has another identity.
	replace(t, soPath(dir, key), "b plugin", 0o500)
	p, reason := pin(dir, key)
	assert.Nil(t, p)
	assert.Equal(t, reasonTampered, reason)
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"lin-old.so", "lin-old.so.sha256", "lin-old.lock", "lin-new.so", "lin-new.so.sha256", "lin-new.lock", "lin-nolock.so", "lin-busy.so", "lin-busy.so.sha256", "other-x.so", "other-x.so.sha256"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o600))
	}
	// Another process loads lin-busy.
	unlock, err := lock(context.Background(), dir, "lin-busy", false, nil)
	require.NoError(t, err)
	defer unlock()
	prune(dir, "lin-new")
	left, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	for i := range left {
		left[i] = filepath.Base(left[i])
	}
	assert.ElementsMatch(t, []string{"lin-new.so", "lin-new.so.sha256", "lin-new.lock", "lin-busy.so", "lin-busy.so.sha256", "lin-busy.lock", "other-x.so", "other-x.so.sha256"}, left)
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	stale, fresh := filepath.Join(dir, buildDirPrefix+"1"), filepath.Join(dir, buildDirPrefix+"2")
	staleLoad := filepath.Join(dir, loadDirPrefix+"1")
	for _, d := range []string{stale, fresh, staleLoad} {
		require.NoError(t, os.MkdirAll(filepath.Join(d, "sub"), 0o700))
	}
	old := time.Now().Add(-2 * staleAge)
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, os.Chtimes(staleLoad, old, old))
	removeStale(dir)
	assert.NoDirExists(t, stale)
	assert.NoDirExists(t, staleLoad)
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
	unlock, err := lock(context.Background(), dir, "k", true, nil)
	require.NoError(t, err)

	// Another holder waits, saying for whom, until its context is done.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	var holders []string
	_, err = lock(ctx, dir, "k", false, func(holder string) { holders = append(holders, holder) })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "another process building the same plugin")
	assert.Equal(t, []string{strconv.Itoa(os.Getpid())}, holders, "told once, with the holder's process ID")

	// Other keys are not blocked.
	unlockOther, err := lock(context.Background(), dir, "other", true, nil)
	require.NoError(t, err)
	unlockOther()

	// Released, the lock goes to the waiter.
	got := make(chan error, 1)
	go func() {
		u, err := lock(context.Background(), dir, "k", true, nil)
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

	// Loaders share the lock; a builder waits for them.
	u1, err := lock(context.Background(), dir, "k", false, nil)
	require.NoError(t, err)
	u2, err := lock(context.Background(), dir, "k", false, nil)
	require.NoError(t, err)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = lock(ctx, dir, "k", true, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	u1()
	u2()
}

// TestLockPruned checks that a process waiting for a lock file that is
// pruned meanwhile locks the new lock file, so that two processes never
// both think they hold an entry's lock.
func TestLockPruned(t *testing.T) {
	dir := t.TempDir()
	pruner, err := tryLock(lockPath(dir, "lin-old"))
	require.NoError(t, err)
	got := make(chan func(), 1)
	go func() {
		u, err := lock(context.Background(), dir, "lin-old", false, nil)
		assert.NoError(t, err)
		got <- u
	}()
	time.Sleep(100 * time.Millisecond) // the waiter opened the file
	require.NoError(t, os.Remove(pruner.Name()))
	pruner.Close()
	u := <-got
	defer u()
	assert.FileExists(t, lockPath(dir, "lin-old"))
	_, err = tryLock(lockPath(dir, "lin-old"))
	assert.Error(t, err, "the waiter holds the lock file that is in place")
}
