//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
)

// trustFix says how to trust a workspace that the checks refuse.
func trustFix(gowork string) string {
	return "if you trust this workspace and everyone who can write to it, set " + TrustEnv + "=" + gowork +
		" (or name it with discovery.WithWorkspace); otherwise " + generateFix
}

// untrusted returns the error of a workspace the checks refuse.
func untrusted(gowork, why, fix string) error {
	return &discovery.Error{
		Err: fmt.Errorf("%w: workspace %s: %s; nothing from it is built or loaded", ErrUntrusted, gowork, why),
		Fix: fix,
	}
}

// trusted reports whether the user trusts the workspace gowork explicitly,
// so that it is not checked: the program named it (discovery.WithWorkspace)
// rather than finding it where it runs, or the environment variable
// TrustEnv lists it.
func trusted(ctx context.Context, gowork string) bool {
	return hooks.ExplicitWorkspace(ctx) || trustedByEnv(gowork)
}

// trustedByEnv reports whether the environment variable TrustEnv lists the
// workspace gowork (its go.work file or directory), or is "*".
func trustedByEnv(gowork string) bool {
	for _, t := range filepath.SplitList(os.Getenv(TrustEnv)) {
		if t == "*" {
			return true
		}
		if t == "" || !filepath.IsAbs(t) {
			continue
		}
		t = filepath.Clean(t)
		if t == gowork || filepath.Join(t, "go.work") == gowork {
			return true
		}
	}
	return false
}

// checkWorkspace returns nil if the dynamic loader may build and load code
// from the workspace ws: this program was built from it (the directory of
// its main module is the one the workspace uses for that module), and its
// go.work and module directories belong to the user running the program
// or to root and cannot be written by other users. This is the stance of
// git's safe.directory: code in a directory another user controls, or in a
// checkout that merely claims this program's module path, is not run.
func checkWorkspace(ws *workspace) error {
	gowork := ws.file
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return untrusted(gowork, "this program has no build information, so whether it was built from the workspace cannot be checked", trustFix(gowork))
	}
	src, pkg, found := mainSource(bi)
	if !found {
		return untrusted(gowork, "whether this program was built from this workspace cannot be checked: it records no source directory of its main module, as when it is built with -trimpath",
			"build it without -trimpath; "+trustFix(gowork))
	}
	var main *module
	for i := range ws.modules {
		if ws.modules[i].path == bi.Main.Path && ws.modules[i].gomod != nil {
			main = &ws.modules[i]
			break
		}
	}
	if main == nil {
		return untrusted(gowork, fmt.Sprintf("the workspace does not use the module %s that this program was built from", bi.Main.Path), trustFix(gowork))
	}
	if !builtFrom(main.dir, filepath.Dir(src), pkg, bi.Main.Path) && !builtFrom(realPath(main.dir), realPath(filepath.Dir(src)), pkg, bi.Main.Path) {
		return untrusted(gowork, fmt.Sprintf("this program was built from %s, but the workspace's module %s is %s: a workspace that merely declares the program's module path is not the one it was built from",
			filepath.Dir(src), bi.Main.Path, main.dir), trustFix(gowork))
	}
	// What the go command reads to build a plugin: the go.work file and
	// the directories of the modules whose packages it compiles.
	paths := []string{gowork, filepath.Dir(gowork)}
	for _, m := range ws.modules {
		if m.gomod != nil {
			paths = append(paths, m.dir)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return untrusted(gowork, err.Error(), trustFix(gowork))
		}
		if why := foreign(fi, true); why != "" {
			return untrusted(gowork, fmt.Sprintf("%s %s; expected it to belong to you (%s) or root and to be writable by no one else", p, why, me()),
				"make it yours (chown) and not writable by others (chmod go-w); "+trustFix(gowork))
		}
	}
	return nil
}

// builtFrom reports whether srcDir, the directory of package pkg of the
// main module modPath, lies in the module directory dir.
func builtFrom(dir, srcDir, pkg, modPath string) bool {
	rel, err := filepath.Rel(dir, srcDir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false
	}
	if pkg == "main" {
		return true // a main package can be any directory of the module
	}
	want := strings.TrimPrefix(strings.TrimPrefix(pkg, modPath), "/")
	if want == "" {
		want = "."
	}
	return filepath.ToSlash(rel) == want
}

// realPath returns path with its symbolic links resolved, or path itself if
// they cannot be: the go command records the directory it was run in as the
// shell gave it.
func realPath(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}

// mainSource returns the name of a source file of the running program's
// main module, as the compiler recorded it, and the path of its package
// ("main" for a main package). It looks for a function of the main module
// on this goroutine's stack (the code that called discovery), then on the
// stacks of all goroutines (goroutine 1 runs main.main). found is false if
// none has an absolute file name, as in a program built with -trimpath.
func mainSource(bi *debug.BuildInfo) (file, pkg string, found bool) {
	inMain := func(fn, file string) (string, bool) {
		// An external test package (package x_test) lies in the
		// directory of the package it tests.
		p := strings.TrimSuffix(funcPackage(fn), "_test")
		return p, filepath.IsAbs(file) && p != "" && ofMainModule(bi, p)
	}
	pcs := make([]uintptr, 128)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	for {
		f, more := frames.Next()
		if p, ok := inMain(f.Function, f.File); ok {
			return f.File, p, true
		}
		if !more {
			break
		}
	}
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 8<<20 {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	// Each frame is a line naming the function, then a tab and the file:line.
	lines := strings.Split(string(buf), "\n")
	for i := 0; i+1 < len(lines); i++ {
		fn, next := lines[i], lines[i+1]
		if fn == "" || strings.HasPrefix(fn, "\t") || strings.HasPrefix(fn, "goroutine ") || !strings.HasPrefix(next, "\t") {
			continue
		}
		fn = strings.TrimPrefix(fn, "created by ")
		if j := strings.LastIndexByte(fn, '('); j > 0 && strings.HasSuffix(fn, ")") {
			fn = fn[:j]
		}
		fn, _, _ = strings.Cut(fn, " in goroutine ")
		file, _, _ := strings.Cut(strings.TrimPrefix(next, "\t"), " +0x")
		if k := strings.LastIndexByte(file, ':'); k > 0 {
			file = file[:k]
		}
		if p, ok := inMain(fn, file); ok {
			return file, p, true
		}
	}
	return "", "", false
}

// funcPackage returns the path of the package of the function named fn, as
// runtime.Frame.Function gives it.
func funcPackage(fn string) string {
	if i := strings.IndexByte(fn, '['); i >= 0 {
		fn = fn[:i] // type arguments may hold slashes and dots
	}
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	// The linker escapes the dots of a package path's last element.
	return strings.ReplaceAll(fn[:slash+1+dot], "%2e", ".")
}

// ofMainModule reports whether the package pkg belongs to the main module:
// it is a main package, or the main module is the module with the longest
// path that is a prefix of pkg.
func ofMainModule(bi *debug.BuildInfo, pkg string) bool {
	if pkg == "main" {
		return true
	}
	within := func(mod string) bool { return mod != "" && (pkg == mod || strings.HasPrefix(pkg, mod+"/")) }
	if !within(bi.Main.Path) {
		return false
	}
	for _, d := range bi.Deps {
		if len(d.Path) > len(bi.Main.Path) && within(d.Path) {
			return false
		}
	}
	return true
}

// foreign says why a file or directory described by fi may not be trusted
// by this process: it belongs to another user than this one and root, or
// another user can write to it. It returns "" if it can be trusted. With
// rootOK, a file owned by root is trusted too.
//
// A group-writable file is trusted if its group is this user's private
// group (the group of the user's own name that is its primary group), the
// default of systems that give each user a group of their own and a umask
// of 002.
func foreign(fi fs.FileInfo, rootOK bool) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "has no owner this system reports"
	}
	uid := uint32(os.Geteuid())
	if st.Uid != uid && (!rootOK || st.Uid != 0) {
		return fmt.Sprintf("is owned by %s", userName(st.Uid))
	}
	perm := fi.Mode().Perm()
	switch {
	case perm&0o002 != 0:
		return fmt.Sprintf("is writable by every user (mode %v)", fi.Mode())
	case perm&0o020 != 0 && !privateGroup(st.Gid):
		return fmt.Sprintf("is writable by the group %s (mode %v)", groupName(st.Gid), fi.Mode())
	}
	return ""
}

// me describes the user running this process.
func me() string {
	return userName(uint32(os.Geteuid()))
}

// userName describes the user uid: its name and uid.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return fmt.Sprintf("user %s (uid %s)", u.Username, id)
	}
	return "uid " + id
}

// groupName describes the group gid: its name and gid.
func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return fmt.Sprintf("%s (gid %s)", g.Name, id)
	}
	return "gid " + id
}

// privateGroup reports whether gid is this user's private group: its
// primary group, named like the user.
func privateGroup(gid uint32) bool {
	return gid == uint32(os.Getegid()) && userPrivateGroup()
}

// userPrivateGroup reports whether this user's primary group bears its name.
var userPrivateGroup = sync.OnceValue(func() bool {
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		return false
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	return err == nil && g.Name == u.Username
})
