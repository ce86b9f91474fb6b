package discovery

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-entrypoints/entrypoints/discovery/internal/fileid"
)

// A program that calls Find or Discover again on the same workspace (a
// long-running agent re-discovering handlers, a test) need not read every
// declaring module's files again: from the second call on a workspace, the
// entry points of each module are kept with the IDs (package fileid) of its
// entry_points.txt and go.mod, and reused while both files keep their IDs:
// two stat calls instead of reading and parsing two files. The first call
// on a workspace reads as if there were no cache, so that a program that
// discovers once pays nothing for it. The go.work file is read every time.

// cachedModule is what the cache keeps of a module that declares entry
// points.
type cachedModule struct {
	ep, mod fileid.ID // of its entry_points.txt and go.mod
	path    string
	eps     []EntryPoint // never modified: find copies what it returns
}

var (
	timeNow = time.Now // replaced by tests

	moduleCache sync.Map // module directory -> *cachedModule
	// seenWorkspaces holds the go.work files read at least once.
	seenWorkspaces sync.Map // go.work path -> struct{}
)

// cacheModules reports whether the modules of the workspace whose go.work is
// file should be read through the cache, and notes that it has been read.
func cacheModules(file string) bool {
	_, seen := seenWorkspaces.LoadOrStore(file, struct{}{})
	return seen
}

// readModuleCached reads module m like readModule, but reuses what the cache
// holds for it if its files have not changed, and refreshes the cache if
// they have.
func readModuleCached(m wsModule, file string) wsModule {
	epfile := filepath.Join(m.dir, FileName)
	epID, err := fileid.Stat(epfile)
	if errors.Is(err, fs.ErrNotExist) {
		moduleCache.Delete(m.dir)
		m.none = true
		return m
	}
	if err != nil {
		return readModule(m, file)
	}
	gomod := filepath.Join(m.dir, "go.mod")
	modID, gerr := fileid.Stat(gomod)
	cached, _ := moduleCache.Load(m.dir)
	if c, _ := cached.(*cachedModule); c != nil && gerr == nil && c.ep == epID && c.mod == modID {
		m.path, m.eps = c.path, c.eps
		return m
	}
	// The IDs were taken before reading: if a file changes in between,
	// the next call sees another ID and reads it again.
	now := timeNow()
	m = readModule(m, file)
	if gerr != nil || len(m.errs) > 0 || m.none || !epID.Trusted(now) || !modID.Trusted(now) {
		moduleCache.Delete(m.dir)
		return m
	}
	moduleCache.Store(m.dir, &cachedModule{ep: epID, mod: modID, path: m.path, eps: m.eps})
	return m
}
