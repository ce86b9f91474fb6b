//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// cacheDir returns the plugin cache directory, creating it private to the
// user if needed.
func cacheDir() (string, error) {
	dir := os.Getenv(CacheEnv)
	if dir != "" {
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("%s=%q is not an absolute path; set it to an absolute directory, or unset it", CacheEnv, dir)
		}
	} else {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for built plugins: %w; set %s to a private directory", err, CacheEnv)
		}
		if err := os.MkdirAll(filepath.Join(base, "go-entrypoints"), 0o700); err != nil {
			return "", fmt.Errorf("creating the plugin cache: %w; set %s to a private directory", err, CacheEnv)
		}
		dir = filepath.Join(base, "go-entrypoints", "plugins")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the plugin cache: %w; set %s to a private directory", err, CacheEnv)
	}
	// Whoever can write to the cache can run code in this program.
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("the plugin cache %s is writable by other users; make it private (chmod 700) or set %s to a private directory", dir, CacheEnv)
	}
	return dir, nil
}

// A cache entry is three files named after the key: the plugin (key.so),
// the SHA-256 of the plugin written after it was built (key.so.sha256),
// and a lock file taken while building (key.lock).
func soPath(dir, key string) string   { return filepath.Join(dir, key+".so") }
func sumPath(dir, key string) string  { return filepath.Join(dir, key+".so.sha256") }
func lockPath(dir, key string) string { return filepath.Join(dir, key+".lock") }

// Reasons for building a plugin, logged.
const (
	reasonMissing  = "no plugin in the cache for the workspace as it is now"
	reasonTampered = "the cached plugin does not match its recorded checksum (it was modified or truncated)"
)

// verify reports whether the cached plugin for key is present and has the
// checksum recorded when it was built, and if not, why.
func verify(dir, key string) (ok bool, reason string) {
	want, err := os.ReadFile(sumPath(dir, key))
	if err != nil {
		if _, err := os.Lstat(soPath(dir, key)); err == nil {
			return false, reasonTampered
		}
		return false, reasonMissing
	}
	fi, err := os.Lstat(soPath(dir, key))
	if err != nil {
		return false, reasonTampered
	}
	if !fi.Mode().IsRegular() {
		return false, reasonTampered
	}
	got, err := fileSum(soPath(dir, key))
	if err != nil || got != strings.TrimSpace(string(want)) {
		return false, reasonTampered
	}
	return true, ""
}

// fileSum returns the hex SHA-256 of a file.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// install moves a freshly built plugin into the cache under key, then
// records its checksum. Both steps are atomic renames, so that other
// processes see either the old entry or the new one; a reader that sees the
// new plugin with the old checksum rebuilds, under the lock.
func install(dir, key, built string) error {
	sum, err := fileSum(built)
	if err != nil {
		return err
	}
	if err := os.Rename(built, soPath(dir, key)); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, key+".sum-*")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(sum + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), sumPath(dir, key))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// lock takes the exclusive lock of the cache entry for key, waiting for
// another process that builds the same plugin, until ctx is done. Call the
// returned function to release it.
func lock(ctx context.Context, dir, key string) (unlock func(), err error) {
	f, err := os.OpenFile(lockPath(dir, key), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another process building the same plugin: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
