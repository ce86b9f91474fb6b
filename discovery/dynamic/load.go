//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"plugin"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
	"github.com/go-entrypoints/entrypoints/discovery/internal/valuerule"
	"github.com/go-entrypoints/entrypoints/registry"
)

// host returns the settings of the running program, computed once.
var host = sync.OnceValues(hostSettings)

// Load builds, or finds in the cache, one plugin per module for the entry
// points of that module, loads it and returns the entry points' values.
func (loader) Load(ctx context.Context, gowork string, eps []discovery.EntryPoint) ([]any, []error) {
	s, err := host()
	if err != nil {
		return unsupported(eps, &discovery.Error{Err: err, Fix: generateFix})
	}
	cache, err := cacheDir()
	if err != nil {
		if errors.Is(err, ErrUntrusted) {
			hooks.Logger(ctx).Warn("discovery/dynamic: " + err.Error())
		}
		return unsupported(eps, err)
	}
	ws, err := readWorkspace(gowork)
	if err != nil {
		return unsupported(eps, &discovery.Error{Err: fmt.Errorf("reading the workspace: %w", err), Fix: "correct the go.work file"})
	}
	if err := ws.broken(); err != nil {
		return unsupported(eps, err)
	}
	if !trusted(ctx, gowork) {
		if err := checkWorkspace(ws); err != nil {
			hooks.Logger(ctx).Warn("discovery/dynamic: " + err.Error())
			return unsupported(eps, err)
		}
	}
	l := &load{ctx: ctx, gowork: gowork, settings: s, cache: cache, ws: ws}

	values, errs := make([]any, len(eps)), make([]error, len(eps))
	var dirs []string
	byDir := make(map[string][]int)
	for i, ep := range eps {
		if ep.Dir == "" {
			errs[i] = &discovery.Error{Err: fmt.Errorf("the sources of module %s are not on this machine", ep.Module), Fix: generateFix}
			continue
		}
		if byDir[ep.Dir] == nil {
			dirs = append(dirs, ep.Dir)
		}
		byDir[ep.Dir] = append(byDir[ep.Dir], i)
	}
	for _, dir := range dirs {
		idx := byDir[dir]
		sub := make([]discovery.EntryPoint, len(idx))
		for j, i := range idx {
			sub[j] = eps[i]
		}
		vals, es := l.module(dir, sub, true)
		for j, i := range idx {
			values[i], errs[i] = vals[j], es[j]
		}
	}
	return values, errs
}

// A load is one call of Load.
type load struct {
	ctx      context.Context
	gowork   string
	settings *settings
	cache    string
	ws       *workspace
}

// module loads entry points declared by the module at dir, with one plugin
// if it builds. Entry points whose symbols do not compile are reported and
// left out of the plugin; if it still does not build and split is set, each
// entry point is tried in a plugin of its own, so that a package that does
// not compile fails only the entry points that need it.
func (l *load) module(dir string, eps []discovery.EntryPoint, split bool) ([]any, []error) {
	values, errs := make([]any, len(eps)), make([]error, len(eps))
	live := make([]int, len(eps))
	for i := range live {
		live[i] = i
	}
	for len(live) > 0 {
		sub := make([]discovery.EntryPoint, len(live))
		for j, i := range live {
			sub[j] = eps[i]
		}
		p := newPlan(dir, sub)
		pl, err := l.resolve(p)
		var be *buildError
		switch {
		case errors.As(err, &be) && len(be.symbols) > 0:
			var rest []int
			for j, i := range live {
				if msg, bad := be.symbols[j]; bad {
					errs[i] = symbolError(eps[i], msg)
				} else {
					rest = append(rest, i)
				}
			}
			live = rest
			continue
		case be != nil && split && len(live) > 1:
			for _, i := range live {
				v, e := l.module(dir, eps[i:i+1], false)
				values[i], errs[i] = v[0], e[0]
			}
			return values, errs
		case be != nil:
			err = &discovery.Error{
				Err: fmt.Errorf("%w (go build in %s):\n\t%s", ErrBuild, dir, strings.ReplaceAll(be.output, "\n", "\n\t")),
				Fix: "correct the module's sources, or remove the module from the workspace (go work edit -dropuse=" + usePath(l.gowork, dir) + ")",
			}
		}
		if err != nil {
			for _, i := range live {
				errs[i] = err
			}
			return values, errs
		}
		vals, es := entryValues(pl, p, soPath(l.cache, p.key))
		for j, i := range live {
			values[i], errs[i] = vals[j], es[j]
		}
		return values, errs
	}
	return values, errs
}

// opened holds the plugins this process opened, by key: plugin.Open
// refuses to open a plugin a second time under another name.
var opened sync.Map

// resolve returns the plugin of p, opened, building it first if the cache
// does not hold a verified one.
func (l *load) resolve(p *plan) (*plugin.Plugin, error) {
	if err := p.computeKey(l.settings, l.ws); err != nil {
		return nil, err
	}
	if pl, ok := opened.Load(p.key); ok {
		return pl.(*plugin.Plugin), nil
	}
	pn, reason, err := l.cached(p)
	if err == nil && pn == nil {
		pn, err = l.build(p, reason)
	}
	if err != nil {
		return nil, err
	}
	pl, err := openPinned(pn)
	if err != nil {
		return nil, openError(err, l.settings)
	}
	opened.Store(p.key, pl)
	return pl, nil
}

// openPinned opens the pinned plugin pn, and releases the pin, which the
// open plugin no longer needs.
func openPinned(pn *pinned) (*plugin.Plugin, error) {
	defer pn.release()
	return plugin.Open(pn.path)
}

// cached returns the plugin of p, pinned, if the cache holds a verified one,
// else why not. It returns the compiler's errors if the plugin did not build
// from the same sources before.
func (l *load) cached(p *plan) (*pinned, string, error) {
	unlock, err := lock(l.ctx, l.cache, p.key, false, l.waiting(p))
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	pn, reason := pin(l.cache, p.key)
	if pn != nil {
		return pn, "", nil
	}
	if output, err := os.ReadFile(errPath(l.cache, p.key)); err == nil {
		return nil, "", p.parseBuildError(string(output)) // it failed, and nothing changed since
	}
	return nil, reason, nil
}

// waiting returns the function that logs that this process waits for
// another one that holds the lock of the plugin of p.
func (l *load) waiting(p *plan) func(holder string) {
	return func(holder string) {
		if holder == "" {
			holder = "another process"
		} else {
			holder = "process " + holder
		}
		hooks.Logger(l.ctx).Info("discovery/dynamic: waiting for "+holder+", which builds or loads the same plugin",
			"module", p.eps[0].Module, "entry_points", p.names(), "lock", lockPath(l.cache, p.key))
	}
}

// build builds the plugin of p, which the cache lacks for reason, under the
// entry's exclusive lock, unless another process built it meanwhile, and
// returns it pinned.
func (l *load) build(p *plan, reason string) (*pinned, error) {
	gobin, err := goCommand(l.ctx, l.settings)
	if err != nil {
		return nil, err
	}
	unlock, err := lock(l.ctx, l.cache, p.key, true, l.waiting(p))
	if err != nil {
		return nil, err
	}
	defer unlock()
	pn, why := pin(l.cache, p.key)
	if pn != nil {
		return pn, nil // another process built it while this one waited
	}
	if output, err := os.ReadFile(errPath(l.cache, p.key)); err == nil {
		return nil, p.parseBuildError(string(output)) // another process failed to
	}
	if why != reasonMissing {
		reason = why
	}
	so := soPath(l.cache, p.key)
	if fi, err := os.Lstat(so); err == nil && fi.IsDir() {
		if err := os.RemoveAll(so); err != nil {
			return nil, fmt.Errorf("removing the directory %s that stands in the way of the plugin: %w", so, err)
		}
	}
	removeStale(l.cache)
	tmp, err := os.MkdirTemp(l.cache, buildDirPrefix+"*")
	if err != nil {
		return nil, err
	}
	// If it cannot be removed now, removeStale does it later.
	defer func() { _ = os.RemoveAll(tmp) }()
	log := hooks.Logger(l.ctx)
	log.Info("discovery/dynamic: building a plugin for entry points not linked into this program",
		"module", p.eps[0].Module, "entry_points", p.names(), "reason", reason, "dir", p.dir,
		"note", "the first plugin built by a Go version with a set of build settings takes tens of seconds, as it compiles the standard library for plugins; later ones take about a second")
	start := time.Now()
	built := filepath.Join(tmp, "plugin.so")
	if err := p.build(l.ctx, gobin, l.settings, l.gowork, tmp, built); err != nil {
		var be *buildError
		if errors.As(err, &be) && compilerErrorsOnly(be.output) {
			_ = writeFile(l.cache, errPath(l.cache, p.key), be.output) // if it fails, the next load builds again
		}
		return nil, err
	}
	if err := install(l.cache, p.key, built); err != nil {
		return nil, fmt.Errorf("caching the built plugin: %w", err)
	}
	prune(l.cache, p.key)
	attrs := []any{
		"module", p.eps[0].Module, "entry_points", p.names(),
		"reason", reason, "took", time.Since(start).Round(time.Millisecond), "plugin", so,
	}
	if testing.Testing() {
		attrs = append(attrs, "note", testCacheNote)
	}
	log.Info("discovery/dynamic: built a plugin for entry points not linked into this program", attrs...)
	if pn, why = pin(l.cache, p.key); pn == nil {
		return nil, fmt.Errorf("the plugin built in the cache at %s cannot be loaded: %s", so, why)
	}
	return pn, nil
}

// names returns the names of the entry points of p, comma-separated.
func (p *plan) names() string {
	names := make([]string, len(p.eps))
	for i, ep := range p.eps {
		names[i] = ep.Name
	}
	return strings.Join(names, ",")
}

// testCacheNote is logged with builds in test binaries: go test replays a
// cached result, with this line, unless a file of the tested module changed.
const testCacheNote = "go test reuses cached results when only other modules change; run go test -count=1 after editing a handler"

// entryValues returns the values of the entry points of p from its plugin pl,
// cached at so.
func entryValues(pl *plugin.Plugin, p *plan, so string) ([]any, []error) {
	values, errs := make([]any, len(p.eps)), make([]error, len(p.eps))
	for i, ep := range p.eps {
		sym, err := pl.Lookup(varName(i))
		if err != nil {
			errs[i] = fmt.Errorf("the plugin %s lacks %s: %w", so, varName(i), err)
			continue
		}
		ptr, ok := sym.(*any)
		if !ok {
			errs[i] = fmt.Errorf("the plugin %s has %s of type %T, want *any", so, varName(i), sym)
			continue
		}
		v := *ptr
		if ep.Group == discovery.HandlersGroup && !isHandlerValue(v) {
			errs[i] = &discovery.Error{
				Err: fmt.Errorf("%w: %s has type %T, but a [%s] entry point must be a registry.Creator, or a func() returning a registry.Creator or (registry.Creator, error)", ErrSymbol, ep.Value, v, ep.Group),
				Fix: "give " + ep.Symbol() + " one of those types, or point the entry point at a symbol that has one",
			}
			continue
		}
		values[i] = v
	}
	return values, errs
}

// isHandlerValue reports whether v is of a type that discovery accepts for
// a rendezvous handler entry point: by discovery's rule, a value assignable
// to registry.Creator or a factory of one.
func isHandlerValue(v any) bool {
	return valuerule.Accepts(reflect.TypeOf(v), reflect.TypeFor[registry.Creator]())
}

// openError explains an error of plugin.Open of a plugin built with s.
func openError(err error, s *settings) error {
	const mismatch = "plugin was built with a different version of package "
	_, pkg, ok := strings.Cut(err.Error(), mismatch)
	if !ok {
		return &discovery.Error{Err: fmt.Errorf("loading the plugin: %w", err), Fix: generateFix}
	}
	pkg, _, _ = strings.Cut(pkg, " ")
	if first, _, _ := strings.Cut(pkg, "/"); !strings.Contains(first, ".") {
		// A package of the standard library: the plugin was not built
		// like this program.
		why, fix := "they were built with different settings", "rebuild the program, or "+generateFix
		if s.cover {
			why = "this program was built with -cover, and -coverpkg instruments packages that the build information does not list"
			fix = "run without -coverpkg, or " + generateFix
		}
		return &discovery.Error{
			Err: fmt.Errorf("%w: package %s of the standard library: %s (%v)", ErrMismatch, pkg, why, err),
			Fix: fix,
		}
	}
	return &discovery.Error{
		Err: fmt.Errorf("%w: package %s: the workspace changed since this program was built (%v)", ErrMismatch, pkg, err),
		Fix: rebuildFix,
	}
}

// symbolError reports that the compiler rejected the symbol of ep.
func symbolError(ep discovery.EntryPoint, msg string) error {
	return &discovery.Error{
		Err: fmt.Errorf("%w: %s: %s", ErrSymbol, ep.Value, msg),
		Fix: "declare an exported func or var " + ep.Symbol() + " in package " + ep.ImportPath() + ", or correct the entry point in " + discovery.FileName,
	}
}

// usePath returns the directory dir as go work use writes it in the go.work
// file gowork, the form go work edit -dropuse needs: relative to the
// workspace, starting with ./ or ../, or absolute if it lies elsewhere.
func usePath(gowork, dir string) string {
	rel, err := filepath.Rel(filepath.Dir(gowork), dir)
	if err != nil || filepath.IsAbs(rel) {
		return dir
	}
	rel = filepath.ToSlash(rel)
	if rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	return rel
}
