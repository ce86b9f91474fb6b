//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/go-entrypoints/entrypoints/discovery/internal/fileid"
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

// A cache entry is files named after the key: the plugin (key.so); its
// record (key.so.sha256), written after the plugin was built, which holds
// its SHA-256 and the identity of the file (see identity); a lock file taken
// while building (key.lock); or, instead of the plugin, the compiler's
// errors if it did not build (key.err).
func soPath(dir, key string) string   { return filepath.Join(dir, key+".so") }
func sumPath(dir, key string) string  { return filepath.Join(dir, key+".so.sha256") }
func lockPath(dir, key string) string { return filepath.Join(dir, key+".lock") }
func errPath(dir, key string) string  { return filepath.Join(dir, key+".err") }

// compilerErrorLineRE matches the lines of the compiler's output: package
// headers, errors at file:line, and their continuation lines.
var compilerErrorLineRE = regexp.MustCompile(`^(#\s|\t|\S+\.go:\d+(:\d+)?: )`)

// compilerErrorsOnly reports whether the output of a failed build holds
// only the compiler's errors about the sources, which the cache key
// covers: the same build would fail again. Other failures, such as a
// module that could not be downloaded, may not.
func compilerErrorsOnly(output string) bool {
	for _, l := range strings.Split(strings.TrimSpace(output), "\n") {
		if l != "" && !compilerErrorLineRE.MatchString(l) {
			return false
		}
	}
	return output != ""
}

// Reasons for building a plugin, logged.
const (
	reasonMissing  = "no plugin in the cache for the workspace as it is now"
	reasonTampered = "the cached plugin does not match its recorded checksum (it was modified or truncated)"
)

// identity describes the file of fi as the system knows it (see package
// fileid): a file whose identity is the one recorded after it was built has
// not changed since, and need not be hashed again, which takes about as long
// as plugin.Open. A record is trusted only if it was written well after the
// file last changed, since file times are coarse.
func identity(fi fs.FileInfo) (id string, ctime time.Time) {
	fid, ok := fileid.Of(fi)
	if !ok {
		return "", time.Time{}
	}
	return fmt.Sprintf("%d %d %d %d %d", fid.Dev, fid.Ino, fid.Size, fid.ModTime, fid.ChangeTime), time.Unix(0, fid.ChangeTime)
}

// racyWindow is how long after a file changed its identity can be trusted.
const racyWindow = fileid.RacyWindow

// verify reports whether the cached plugin for key is present and is the
// file recorded when it was built: same identity, or else same SHA-256. If
// not, it says why.
func verify(dir, key string) (ok bool, reason string) {
	so, record := soPath(dir, key), sumPath(dir, key)
	fi, err := os.Lstat(so)
	if err != nil {
		return false, reasonMissing
	}
	rec, err := os.ReadFile(record)
	if err != nil || !fi.Mode().IsRegular() {
		return false, reasonTampered
	}
	// The record names its key: a plugin and record copied from another
	// entry (another build of the same handler, say) are not taken.
	recKey, rest, _ := strings.Cut(strings.TrimSpace(string(rec)), " ")
	if recKey != key {
		return false, reasonTampered
	}
	sum, recID, _ := strings.Cut(rest, " ")
	id, ctime := identity(fi)
	if id != "" && id == recID {
		if rfi, err := os.Stat(record); err == nil && rfi.ModTime().Sub(ctime) >= racyWindow {
			return true, ""
		}
	}
	if got, err := fileSum(so); err != nil || got != sum {
		return false, reasonTampered
	}
	if id != "" && time.Since(ctime) >= racyWindow {
		// Record the identity now that it can be trusted, so that the
		// next load need not hash the file.
		_ = writeRecord(dir, key, sum+" "+id) // if it fails, the next load hashes again
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
// records its checksum and identity. Both steps are atomic renames, so that
// other processes see either the old entry or the new one; a reader that
// sees the new plugin with the old record rebuilds, under the lock.
func install(dir, key, built string) error {
	sum, err := fileSum(built)
	if err != nil {
		return err
	}
	so := soPath(dir, key)
	if err := os.Rename(built, so); err != nil {
		return err
	}
	fi, err := os.Lstat(so)
	if err != nil {
		return err
	}
	id, _ := identity(fi)
	return writeRecord(dir, key, sum+" "+id)
}

// writeRecord atomically replaces the record of the plugin for key: the key,
// then the plugin's checksum and identity.
func writeRecord(dir, key, record string) error {
	return writeFile(dir, sumPath(dir, key), key+" "+record+"\n")
}

// writeFile atomically replaces the file at path, in the cache dir, with
// data.
func writeFile(dir, path, data string) error {
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// prune removes the cache entries of the lineage of key (see
// plan.computeKey) but key's own: the plugins of the same entry points,
// built with the same settings from earlier sources, which key's replaces.
// A program that has one of them open keeps it.
func prune(dir, key string) {
	lineage, _, ok := strings.Cut(key, "-")
	if !ok {
		return
	}
	old, _ := filepath.Glob(filepath.Join(dir, lineage+"-*"))
	for _, f := range old {
		if !strings.HasPrefix(filepath.Base(f), key) {
			os.Remove(f)
		}
	}
}

// staleBuild is the age after which a build directory is left over from a
// process that did not finish.
const staleBuild = time.Hour

// removeStaleBuilds removes the build directories that processes which
// did not finish left in the cache.
func removeStaleBuilds(dir string) {
	builds, _ := filepath.Glob(filepath.Join(dir, buildDirPrefix+"*"))
	for _, b := range builds {
		if fi, err := os.Lstat(b); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > staleBuild {
			os.RemoveAll(b)
		}
	}
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
