package dynamic_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linkedApp returns the files of the app module with myhandler linked into
// it, by hand, as the generator would.
func linkedApp(v string) map[string]string {
	files := appModule(v)
	for name, data := range handlerModule(v, "myhandler", "v1", myhandlerEPs, "", "") {
		files[name] = data
	}
	files["app/link.go"] = `package main

import (
	"github.com/go-entrypoints/entrypoints/discovery"
	"example.com/myhandler"
)

func init() {
	discovery.Link(discovery.Linked{
		Group: discovery.HandlersGroup, Name: "myhandler", Value: "example.com/myhandler:NewHandler",
		Module: "example.com/myhandler", Line: 2, Symbol: myhandler.NewHandler,
	})
}
`
	return files
}

// plantedWorkspace writes, in dir, a checkout such as an attacker would
// publish: a go.work that uses a module merely declaring the app's module
// path, and a module whose package's init writes the file marker.
func plantedWorkspace(t *testing.T, dir, v, marker string) {
	t.Helper()
	files := map[string]string{
		"go.work":                   "go " + v + "\n\nuse (\n\t./evil/app\n\t./evil/pwn\n)\n",
		"evil/app/go.mod":           "module example.com/app\n\ngo " + v + "\n",
		"evil/pwn/go.mod":           "module example.com/pwn\n\ngo " + v + "\n",
		"evil/pwn/entry_points.txt": "[torchrun.handlers]\npwn = example.com/pwn:NewHandler\n",
		"evil/pwn/pwn.go": `package pwn

import "os"

func init() { os.WriteFile(` + "`" + marker + "`" + `, []byte("pwned"), 0o644) }

var NewHandler = 1
`,
	}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	}
}

// TestPlantedWorkspace runs a program built elsewhere from inside a
// checkout whose go.work claims the program's module path: nothing of the
// checkout is built or run, the program keeps its linked handler, and it
// says why the workspace was refused and how to trust it.
func TestPlantedWorkspace(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	w := newWorkspace(t, linkedApp(v), "app", "myhandler")
	exe := filepath.Join(t.TempDir(), "app")
	w.mustRun("app", nil, "go", "build", "-o", exe, ".")

	checkout := t.TempDir()
	marker := filepath.Join(t.TempDir(), "pwned")
	plantedWorkspace(t, checkout, v, marker)
	run := func(env ...string) string {
		t.Helper()
		// Run from the checkout, finding its go.work as the go command
		// would: GOWORK is not set.
		rel, err := filepath.Rel(w.dir, checkout)
		require.NoError(t, err)
		out, err := w.run(rel, append([]string{"GOWORK="}, env...), exe, "myhandler")
		require.NoError(t, err, out)
		return out
	}

	out := run()
	assert.Contains(t, out, "registered myhandler linked=true")
	assert.Contains(t, out, "handler myhandler v1")
	assert.Regexp(t, `failed pwn is=\[ErrUntrusted\]: `+regexp.QuoteMeta(filepath.Join(checkout, "evil", "pwn", "entry_points.txt"))+`:2: .*refused to build or load code from a directory this program does not trust: workspace `+
		regexp.QuoteMeta(filepath.Join(checkout, "go.work"))+`: this program was built from `+regexp.QuoteMeta(w.path("app"))+`, but the workspace's module example.com/app is `+
		regexp.QuoteMeta(filepath.Join(checkout, "evil", "app"))+`.*; nothing from it is built or loaded; fix: if you trust this workspace and everyone who can write to it, set GOENTRYPOINTS_TRUST=`, out)
	assert.Contains(t, out, "WARN discovery/dynamic: ", "the refusal is logged")
	assert.NotContains(t, out, built)
	assert.NoFileExists(t, marker, "the planted init ran")
	assert.Empty(t, w.plugins(), "nothing was built")

	// Trusted explicitly, the workspace is used: the switch works, and
	// this is what the checks prevented.
	out = run("GOENTRYPOINTS_TRUST=" + filepath.Join(checkout, "go.work"))
	assert.Contains(t, out, built)
	assert.FileExists(t, marker)
}

// TestForeignWorkspace checks that a workspace whose files another user
// owns or can write is refused, even when the program was built from it.
func TestForeignWorkspace(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	files := appModule(v)
	for name, data := range handlerModule(v, "myhandler", "v1", myhandlerEPs, "", "") {
		files[name] = data
	}
	w := newWorkspace(t, files, "app", "myhandler")
	exe := filepath.Join(t.TempDir(), "app")
	w.mustRun("app", nil, "go", "build", "-o", exe, ".")

	cases := []struct {
		name string
		do   func(t *testing.T) (undo func())
		want string
	}{
		{"module writable by all", func(t *testing.T) func() {
			require.NoError(t, os.Chmod(w.path("myhandler"), 0o777))
			return func() { require.NoError(t, os.Chmod(w.path("myhandler"), 0o755)) }
		}, regexp.QuoteMeta(w.path("myhandler")) + ` is writable by every user \(mode drwxrwxrwx\); expected it to belong to you \(.*\) or root and to be writable by no one else; nothing from it is built or loaded; fix: make it yours \(chown\) and not writable by others \(chmod go-w\)`},
		{"go.work writable by all", func(t *testing.T) func() {
			require.NoError(t, os.Chmod(w.path("go.work"), 0o666))
			return func() { require.NoError(t, os.Chmod(w.path("go.work"), 0o644)) }
		}, regexp.QuoteMeta(w.path("go.work")) + ` is writable by every user`},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, []struct {
			name string
			do   func(t *testing.T) (undo func())
			want string
		}{
			{"module of another user", func(t *testing.T) func() {
				require.NoError(t, os.Chown(w.path("myhandler"), nobody, nobody))
				return func() { require.NoError(t, os.Chown(w.path("myhandler"), 0, 0)) }
			}, regexp.QuoteMeta(w.path("myhandler")) + ` is owned by (user nobody \(uid 65534\)|uid 65534); expected it to belong to you`},
			{"module writable by another group", func(t *testing.T) func() {
				require.NoError(t, os.Chown(w.path("myhandler"), 0, nobody))
				require.NoError(t, os.Chmod(w.path("myhandler"), 0o775))
				return func() {
					require.NoError(t, os.Chown(w.path("myhandler"), 0, 0))
					require.NoError(t, os.Chmod(w.path("myhandler"), 0o755))
				}
			}, regexp.QuoteMeta(w.path("myhandler")) + ` is writable by the group .*65534.* \(mode drwxrwxr-x\)`},
		}...)
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			undo := tt.do(t)
			defer undo()
			out, err := w.run("app", nil, exe, "myhandler")
			require.Error(t, err)
			assert.Regexp(t, `failed myhandler is=\[ErrUntrusted\]: .*`+tt.want, out)
			assert.NotContains(t, out, built)
		})
	}
	// As it was, the workspace is trusted.
	out := w.mustRun("app", nil, exe, "myhandler")
	assert.Contains(t, out, "handler myhandler v1")
}

// nobody is the uid and gid of another user, for tests run as root.
const nobody = 65534

// TestForeignCache checks that a plugin cache another user could write to
// is refused, with nothing written into it, and that the program keeps its
// linked handler.
func TestForeignCache(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	files := linkedApp(v)
	files["myhandler/entry_points.txt"] += "other = example.com/myhandler:NewOther\n"
	files["myhandler/handler.go"] += "\n// NewOther is another entry point.\nfunc NewOther() registry.Creator { return NewHandler() }\n"
	w := newWorkspace(t, files, "app", "myhandler")
	exe := filepath.Join(t.TempDir(), "app")
	w.mustRun("app", nil, "go", "build", "-o", exe, ".")

	cases := []struct {
		name  string
		cache func(t *testing.T) string
		want  string
	}{
		{"group-writable", func(t *testing.T) string {
			dir := t.TempDir()
			require.NoError(t, os.Chmod(dir, 0o770))
			return dir
		}, `is writable by other users \(mode drwxrwx---\); fix: chmod go-w`},
		{"symbolic link", func(t *testing.T) string {
			link := filepath.Join(t.TempDir(), "cache")
			require.NoError(t, os.Symlink(t.TempDir(), link))
			return link
		}, `is a symbolic link`},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, []struct {
			name  string
			cache func(t *testing.T) string
			want  string
		}{
			{"owned by another user", func(t *testing.T) string {
				dir := t.TempDir()
				require.NoError(t, os.Chmod(dir, 0o755))
				require.NoError(t, os.Chown(dir, nobody, nobody))
				return dir
			}, `is owned by (user nobody \(uid 65534\)|uid 65534), not by you, .*; fix: set GOENTRYPOINTS_CACHE to a directory of your own`},
			{"symbolic link to one owned by another user", func(t *testing.T) string {
				dir := t.TempDir()
				require.NoError(t, os.Chmod(dir, 0o755))
				require.NoError(t, os.Chown(dir, nobody, nobody))
				link := filepath.Join(t.TempDir(), "cache")
				require.NoError(t, os.Symlink(dir, link))
				return link
			}, `is a symbolic link`},
		}...)
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			cache := tt.cache(t)
			out, err := w.run("app", []string{"GOENTRYPOINTS_CACHE=" + cache}, exe, "myhandler", "other")
			require.Error(t, err)
			assert.Contains(t, out, "handler myhandler v1")
			assert.Regexp(t, `failed other is=\[ErrUntrusted\]: .*the plugin cache `+regexp.QuoteMeta(cache)+` `+tt.want, out)
			assert.NotContains(t, out, built)
			entries, err := os.ReadDir(cache)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing is written into a refused cache")
		})
	}
}

// TestBrokenWorkspace runs a program in its own workspace after a module
// directory it uses was removed: the go command builds nothing there. The
// program keeps its linked handler; the workspace problem and the entry
// point the loader cannot build name the go.work line of the missing
// directory, not the healthy module.
func TestBrokenWorkspace(t *testing.T) {
	requirePlugins(t)
	v := goVersion(t)
	files := linkedApp(v)
	files["myhandler/entry_points.txt"] += "other = example.com/myhandler:NewOther\n"
	files["myhandler/handler.go"] += "\n// NewOther is another entry point.\nfunc NewOther() registry.Creator { return NewHandler() }\n"
	files["gone/go.mod"] = "module example.com/gone\n\ngo " + v + "\n"
	w := newWorkspace(t, files, "app", "myhandler", "gone")
	exe := filepath.Join(t.TempDir(), "app")
	w.mustRun("app", nil, "go", "build", "-o", exe, ".")
	require.NoError(t, os.RemoveAll(w.path("gone")))

	out, err := w.run("app", nil, exe, "myhandler")
	require.NoError(t, err, out)
	assert.Contains(t, out, "registered myhandler linked=true")
	assert.Contains(t, out, "handler myhandler v1")
	gowork := regexp.QuoteMeta(w.path("go.work"))
	assert.Regexp(t, `failed - is=\[\]: `+gowork+`:7: use ./gone: the directory does not exist, so the go command builds nothing in this workspace; fix: go work edit -dropuse=./gone`, out)
	assert.Regexp(t, `failed other is=\[\]: .*myhandler/entry_points.txt:3: .*`+gowork+`:7: the workspace uses the directory ./gone, which does not exist, so the go command cannot build in it; fix: go work edit -dropuse=./gone`, out)
	assert.NotContains(t, out, "-dropuse=./myhandler")
	assert.NotContains(t, out, built)
}
