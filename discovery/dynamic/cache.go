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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/fileid"
)

// cacheDir returns the plugin cache directory, creating it private to the
// user if needed, after checking that no other user can write to it (see
// checkCache). Nothing is created in a directory that fails the check.
func cacheDir() (string, error) {
	dir := os.Getenv(CacheEnv)
	if dir != "" {
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("%s=%q is not an absolute path; set it to an absolute directory, or unset it", CacheEnv, dir)
		}
		dir = filepath.Clean(dir)
	} else {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for built plugins: %w; set %s to a private directory", err, CacheEnv)
		}
		dir = filepath.Join(base, "go-entrypoints", "plugins")
	}
	if err := checkCache(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the plugin cache: %w; set %s to a private directory", err, CacheEnv)
	}
	// Check again what was created, and that no one replaced it meanwhile.
	if err := checkCache(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// checkCache returns an error if another user than this one, root aside,
// could write to the cache directory dir, or to the part of its path that
// exists: whoever can write to the cache can run code in this program.
// The directory must be owned by this user and writable by no one else,
// and not be a symbolic link; every directory above it must belong to this
// user or root and be writable by no one else, unless it is sticky (as /tmp
// is) and what it holds on the way to dir is this user's. Symbolic links
// above dir are followed, and the directories they lead to are held to the
// same rules.
func checkCache(dir string) error {
	refuse := func(path, why, fix string) error {
		what := "the plugin cache " + dir
		if path != dir {
			what += ": the directory " + path + " above it"
		}
		return &discovery.Error{Err: fmt.Errorf("%w: %s %s", ErrUntrusted, what, why), Fix: fix}
	}
	fix := func(path string) string {
		return "set " + CacheEnv + " to a directory of your own that only you can write to (mode 700), or make " + path + " yours and writable by you alone"
	}
	// The deepest part of the path that exists; the rest will be created
	// private.
	existing := dir
	for {
		_, err := os.Lstat(existing)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return refuse(existing, "cannot be checked: "+err.Error(), fix(existing))
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	if existing == dir {
		fi, err := os.Lstat(dir)
		if err != nil {
			return refuse(dir, "cannot be checked: "+err.Error(), fix(dir))
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return refuse(dir, "is a symbolic link; a cache reached through a link can be switched by whoever owns the link", "set "+CacheEnv+" to the directory the link points to, if it is yours, or to another directory of your own")
		case !fi.IsDir():
			return refuse(dir, "is not a directory", fix(dir))
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || st.Uid != uint32(os.Geteuid()) {
			why := "has no owner this system reports"
			if ok {
				why = "is owned by " + userName(st.Uid) + ", not by you, " + me()
			}
			return refuse(dir, why, "set "+CacheEnv+" to a directory of your own, or remove "+dir+" so that it is created again, private")
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return refuse(dir, fmt.Sprintf("is writable by other users (mode %v)", fi.Mode()), "chmod go-w "+dir+", or set "+CacheEnv+" to a private directory")
		}
	}
	// The directories above, as written and as the links lead.
	base, rest := existing, ""
	if existing == dir {
		base, rest = filepath.Dir(dir), filepath.Base(dir)
	} else {
		rest, _ = filepath.Rel(existing, dir)
	}
	for _, path := range []string{dir, filepath.Join(realPath(base), rest)} {
		child := path
		for parent := filepath.Dir(path); parent != child; child, parent = parent, filepath.Dir(parent) {
			fi, err := os.Lstat(parent)
			if errors.Is(err, fs.ErrNotExist) {
				continue // to be created private, and checked again
			}
			if err != nil {
				return refuse(parent, "cannot be checked: "+err.Error(), fix(parent))
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				continue // checked where it leads, in the second pass
			}
			why := foreign(fi, true)
			if why == "" {
				continue
			}
			if fi.Mode()&fs.ModeSticky != 0 && !strings.HasPrefix(why, "is owned by") {
				// Others can create entries here, but not rename or
				// remove this user's.
				cfi, err := os.Lstat(child)
				if errors.Is(err, fs.ErrNotExist) {
					continue // to be created private, and checked again
				}
				if err == nil && foreign(cfi, false) == "" && cfi.Mode()&fs.ModeSymlink == 0 {
					continue
				}
			}
			return refuse(parent, why+", so another user could replace what it holds", fix(parent))
		}
	}
	return nil
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
	reasonForeign  = "the cached plugin is not a read-only file of yours"
)

// identity describes the file of fi as the system knows it (see package
// fileid): a file whose identity is the one recorded after it was built has
// not changed since, and need not be hashed again, which takes about as long
// as plugin.Open. A record is trusted only if it was written well after the
// file last changed, since file times are coarse. The change time is left
// out: linking the plugin to load it (see pin) changes it.
func identity(fi fs.FileInfo) (id string, mtime time.Time) {
	fid, ok := fileid.Of(fi)
	if !ok {
		return "", time.Time{}
	}
	return fmt.Sprintf("%d %d %d %d", fid.Dev, fid.Ino, fid.Size, fid.ModTime), time.Unix(0, fid.ModTime)
}

// racyWindow is how long after a file changed its identity can be trusted.
const racyWindow = fileid.RacyWindow

// loadDirPrefix starts the name of the private directory, in the cache, that
// holds the link to a plugin being opened.
const loadDirPrefix = "load-"

// A pinned plugin is a hard link, in a directory of its own, to the cached
// plugin file that was checked: plugin.Open opens it by name (it resolves
// its argument with realpath, so a /proc/self/fd name would not do), and no
// one but this user and root can replace a name in that directory. The
// file itself is read-only and this user's. So the bytes loaded are the
// bytes checked, even if the cache entry is replaced or pruned meanwhile.
type pinned struct {
	path string // the link
	dir  string // its directory
}

// release removes the link, which the loaded plugin no longer needs.
func (p *pinned) release() {
	// Leftovers cannot mislead a later load: removeStale removes them.
	_ = os.RemoveAll(p.dir)
}

// pin checks that the cached plugin for key is present, is a read-only file
// of this user, and is the file recorded when it was built (same identity,
// or else same SHA-256), and pins it. If not, it says why.
func pin(dir, key string) (p *pinned, reason string) {
	so, record := soPath(dir, key), sumPath(dir, key)
	fi, err := os.Lstat(so)
	if err != nil {
		return nil, reasonMissing
	}
	rec, err := os.ReadFile(record)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, reasonTampered
	}
	if foreign(fi, false) != "" || fi.Mode().Perm()&0o222 != 0 {
		return nil, reasonForeign
	}
	// The record names its key: a plugin and record copied from another
	// entry (another build of the same handler, say) are not taken.
	recKey, rest, _ := strings.Cut(strings.TrimSpace(string(rec)), " ")
	if recKey != key {
		return nil, reasonTampered
	}
	sum, recID, _ := strings.Cut(rest, " ")

	ldir, err := os.MkdirTemp(dir, loadDirPrefix+"*")
	if err != nil {
		return nil, reasonMissing
	}
	p = &pinned{path: filepath.Join(ldir, "plugin.so"), dir: ldir}
	if err := os.Link(so, p.path); err != nil {
		p.release()
		return nil, reasonMissing
	}
	lfi, err := os.Lstat(p.path)
	if err != nil || !os.SameFile(fi, lfi) || lfi.Size() != fi.Size() || !lfi.ModTime().Equal(fi.ModTime()) {
		p.release()
		return nil, reasonTampered // replaced between the two looks
	}
	id, mtime := identity(fi)
	if id != "" && id == recID {
		if rfi, err := os.Stat(record); err == nil && rfi.ModTime().Sub(mtime) >= racyWindow {
			return p, ""
		}
	}
	if got, err := fileSum(p.path); err != nil || got != sum {
		p.release()
		return nil, reasonTampered
	}
	if id != "" && time.Since(mtime) >= racyWindow {
		// Record the identity now that it can be trusted, so that the
		// next load need not hash the file.
		_ = writeRecord(dir, key, sum+" "+id) // if it fails, the next load hashes again
	}
	return p, ""
}

// fileSum returns the hex SHA-256 of a file.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close() // read only: closing cannot lose data
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// install moves a freshly built plugin into the cache under key, read-only,
// then records its checksum and identity. Both steps are atomic renames, so
// that other processes see either the old entry or the new one; a reader
// that sees the new plugin with the old record rebuilds, under the lock.
func install(dir, key, built string) error {
	sum, err := fileSum(built)
	if err != nil {
		return err
	}
	if err := os.Chmod(built, 0o500); err != nil {
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
		_ = os.Remove(tmp.Name()) // the error returned says more
	}
	return err
}

// prune removes the cache entries of the lineage of key (see
// plan.computeKey) but key's own: the plugins of the same entry points,
// built with the same settings from earlier sources, which key's replaces.
// An entry whose lock another process holds, to build it or to load it, is
// left alone. A program that has one of them open keeps it.
func prune(dir, key string) {
	lineage, _, ok := strings.Cut(key, "-")
	if !ok {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, lineage+"-*"))
	done := map[string]bool{key: true}
	for _, f := range files {
		k, _, _ := strings.Cut(filepath.Base(f), ".") // keys hold no dot
		if done[k] {
			continue
		}
		done[k] = true
		l, err := tryLock(lockPath(dir, k))
		if err != nil {
			continue // in use
		}
		entry, _ := filepath.Glob(filepath.Join(dir, k+".*"))
		for _, path := range entry {
			if path != l.Name() {
				// An entry left in part is rebuilt, or pruned again.
				_ = os.Remove(path)
			}
		}
		_ = os.Remove(l.Name()) // while it is held: see lock
		l.Close()               // releases the lock; nothing was written to it
	}
}

// staleAge is the age after which a build or load directory is left over
// from a process that did not finish.
const staleAge = time.Hour

// removeStale removes the build and load directories that processes which
// did not finish left in the cache.
func removeStale(dir string) {
	for _, prefix := range []string{buildDirPrefix, loadDirPrefix} {
		left, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
		for _, d := range left {
			if fi, err := os.Lstat(d); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > staleAge {
				_ = os.RemoveAll(d) // left for the next build to try again
			}
		}
	}
}

// A cache entry's lock file is locked shared by the processes that load the
// plugin and exclusively by the one that builds it or prunes the entry.
// Whoever removes a lock file holds it: a process that locks a file is
// sure to hold the entry's lock only if the file is still the entry's lock
// file once locked.

// lock takes the lock of the cache entry for key, shared or exclusive,
// waiting for the processes that hold it, until ctx is done. If it must
// wait, it calls waiting once with the process ID that holds the lock
// exclusively, if known. Call the returned function to release the lock.
//
// The errors of closing a lock file are not checked: all it holds is the
// holder's process ID, which only ever informs a log line, and closing
// releases the lock whatever it returns.
func lock(ctx context.Context, dir, key string, exclusive bool, waiting func(holder string)) (unlock func(), err error) {
	path := lockPath(dir, key)
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	told := false
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		for {
			err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
			if err == nil || !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
				break
			}
			if !told && waiting != nil {
				told = true
				holder, _ := os.ReadFile(path)
				waiting(strings.TrimSpace(string(holder)))
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, fmt.Errorf("waiting for another process building the same plugin (lock %s): %w", path, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if fi, err := f.Stat(); err == nil {
			if pfi, err := os.Stat(path); err == nil && os.SameFile(fi, pfi) {
				if exclusive {
					// Tell waiters who they wait for; if it fails,
					// they are told less.
					_ = f.Truncate(0)
					_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
				}
				return func() {
					if exclusive {
						_ = f.Truncate(0)
					}
					f.Close() // releases the lock
				}, nil
			}
		}
		f.Close() // pruned while this process waited: lock the new one
	}
}

// tryLock locks the lock file path exclusively if no process holds it, and
// returns it open.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close() // nothing was written to it
		return nil, err
	}
	return f, nil
}
