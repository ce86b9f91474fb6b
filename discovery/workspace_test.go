package discovery_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
	"github.com/go-entrypoints/entrypoints/registry"
)

func TestFindWorkspace(t *testing.T) {
	t.Setenv("GOENV", "off") // ignore the user's go env -w settings
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"go.work":          "go 1.26\n",
		"a/b/c/.keep":      "",
		"a/dirgo.work/.k":  "",
		"inner/go.work":    "go 1.26\n",
		"inner/x/y/.keep":  "",
		"a/b/go.work/.dir": "", // a directory named go.work is not a workspace
	})
	for _, tt := range []struct {
		name, gowork, dir, want, err string
	}{
		{name: "nearest in a parent", dir: "a/b/c", want: "go.work"},
		{name: "nearest wins", dir: "inner/x/y", want: "inner/go.work"},
		{name: "in the directory itself", dir: "inner", want: "inner/go.work"},
		{name: "auto is the default", gowork: "auto", dir: "inner/x", want: "inner/go.work"},
		{name: "off", gowork: "off", dir: "inner/x"},
		{name: "absolute path wins over the nearest", gowork: "ABS", dir: "inner/x/y", want: "go.work"},
		{name: "relative path is an error", gowork: "go.work", dir: "a", err: "invalid GOWORK \"go.work\": not an absolute path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gowork := tt.gowork
			if gowork == "ABS" {
				gowork = filepath.Join(root, "go.work")
			}
			t.Setenv("GOWORK", gowork)
			got, err := discovery.FindWorkspace(filepath.Join(root, tt.dir))
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			if tt.want == "" {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, filepath.Join(root, tt.want), got)
			}
		})
	}
	t.Run("GOWORK from go env -w", func(t *testing.T) {
		env := filepath.Join(t.TempDir(), "env")
		require.NoError(t, os.WriteFile(env, []byte("GOPRIVATE=x\nGOWORK=off\n"), 0o644))
		t.Setenv("GOENV", env)
		t.Setenv("GOWORK", "") // empty: the file decides
		got, err := discovery.FindWorkspace(filepath.Join(root, "inner"))
		require.NoError(t, err)
		assert.Empty(t, got)
		t.Setenv("GOWORK", "auto") // the environment wins
		got, err = discovery.FindWorkspace(filepath.Join(root, "inner"))
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(root, "inner", "go.work"), got)
	})
	t.Run("none", func(t *testing.T) {
		t.Setenv("GOWORK", "")
		// The temporary directory may itself sit below a go.work; only
		// check that the answer is not below root.
		got, err := discovery.FindWorkspace(filepath.Join(root, "..", "..", "."))
		require.NoError(t, err)
		assert.NotContains(t, got, root)
	})
}

func TestFindWorkspaceProblems(t *testing.T) {
	defer discovery.ResetLinked()()
	good := module("good", "example.com/good", "[g]\nok = example.com/good:OK\n")
	for _, tt := range []struct {
		name  string
		dirs  []string
		files []map[string]string
		work  string // replaces go.work if set
		want  []string
		errs  []string
	}{
		{
			name:  "directory without go.mod",
			dirs:  []string{"./nogomod", "./good"},
			files: []map[string]string{good, {"nogomod/entry_points.txt": "[g]\nx = example.com/x:X\n"}},
			want:  []string{"[g] ok"},
			errs:  []string{"go.work:4: directory ", "nogomod declares entry points but has no go.mod; fix: go work edit -dropuse=./nogomod"},
		},
		{
			// The go command builds nothing in such a workspace.
			name:  "missing directory",
			dirs:  []string{"./missing", "./good"},
			files: []map[string]string{good},
			want:  []string{"[g] ok"},
			errs:  []string{"go.work:4: use ./missing: the directory does not exist, so the go command builds nothing in this workspace; fix: go work edit -dropuse=./missing (in "},
		},
		{
			name:  "go.mod without module line",
			dirs:  []string{"./nomod", "./good"},
			files: []map[string]string{good, {"nomod/go.mod": "go 1.26\n", "nomod/entry_points.txt": "[g]\nx = example.com/x:X\n"}},
			want:  []string{"[g] ok"},
			errs:  []string{"nomod/go.mod: no module directive; fix: add a module line"},
		},
		{
			name:  "module used twice",
			dirs:  []string{"./good", "./copy"},
			files: []map[string]string{good, module("copy", "example.com/good", "[g]\nother = example.com/good:O\n")},
			want:  []string{"[g] ok"},
			errs:  []string{"go.work:5: module example.com/good appears multiple times in the workspace; the use at line 4 wins"},
		},
		{
			name:  "malformed go.work",
			files: []map[string]string{good},
			work:  "go 1.26\nuse ./good\nbogus directive\n",
			errs:  []string{"go.work:3: unknown directive: bogus"},
		},
		{
			name:  "bad lines in one module, good ones elsewhere",
			dirs:  []string{"./bad", "./good"},
			files: []map[string]string{good, module("bad", "example.com/bad", "[g]\nfine = example.com/bad:Fine\n!!!\n")},
			want:  []string{"[g] fine", "[g] ok"},
			errs:  []string{"bad/entry_points.txt:3: unexpected line \"!!!\""},
		},
		{
			name: "same entry point from two modules: first in use order wins",
			dirs: []string{"./second", "./good"},
			files: []map[string]string{good,
				module("second", "example.com/second", "[g]\nok = example.com/second:OK\n")},
			want: []string{"[g] ok"},
			errs: []string{"good/entry_points.txt:2: entry point ok in [g] of module example.com/good: conflicting declarations: module example.com/second declares it too, at "},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gowork := workspace(t, tt.dirs, tt.files...)
			if tt.work != "" {
				require.NoError(t, os.WriteFile(gowork, []byte(tt.work), 0o644))
			}
			eps, err := discovery.Find(discovery.WithWorkspace(gowork))
			if len(tt.want) == 0 {
				assert.Empty(t, eps)
			} else {
				assert.Equal(t, tt.want, names(eps))
			}
			if len(tt.errs) == 0 {
				require.NoError(t, err)
				return
			}
			var list discovery.ErrorList
			require.ErrorAs(t, err, &list)
			require.Len(t, list, 1, "%v", err)
			for _, want := range tt.errs {
				assert.Contains(t, list[0].Error(), want)
			}
		})
	}
}

func TestFindMetadata(t *testing.T) {
	defer discovery.ResetLinked()()
	gowork := workspace(t, []string{"./m", "./empty"},
		module("m", "example.com/m", "[torchrun.handlers]\nh = example.com/m/sub:New\n[other]\nx = example.com/m:X\n"),
		module("empty", "example.com/empty", ""))
	dir := filepath.Dir(gowork)

	eps, err := discovery.Find(discovery.WithWorkspace(dir)) // a directory holding go.work works too
	require.NoError(t, err)
	require.Len(t, eps, 2)
	assert.Equal(t, discovery.EntryPoint{
		Group: "torchrun.handlers", Name: "h", Value: "example.com/m/sub:New",
		Module: "example.com/m", Dir: filepath.Join(dir, "m"),
		File: filepath.Join(dir, "m", "entry_points.txt"), Line: 2,
	}, eps[0])
	assert.Equal(t, "example.com/m/sub", eps[0].ImportPath())
	assert.Equal(t, "New", eps[0].Symbol())
	assert.Equal(t, "[torchrun.handlers] h = example.com/m/sub:New", eps[0].String())

	eps, err = discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup("other"))
	require.NoError(t, err)
	assert.Equal(t, []string{"[other] x"}, names(eps))
}

func TestFindImplicitWorkspace(t *testing.T) {
	defer discovery.ResetLinked()()
	gowork := workspace(t, []string{"./app", "./m"},
		module("app", "example.com/app", ""),
		module("m", "example.com/m", "[g]\nx = example.com/m:X\n"))
	t.Chdir(filepath.Join(filepath.Dir(gowork), "app"))
	t.Setenv("GOWORK", "")
	t.Setenv("GOENV", "off")

	t.Run("built from the workspace", func(t *testing.T) {
		defer discovery.SetMainModule("example.com/app")()
		eps, err := discovery.Find()
		require.NoError(t, err)
		assert.Equal(t, []string{"[g] x"}, names(eps))
	})
	t.Run("unrelated workspace is ignored", func(t *testing.T) {
		defer discovery.SetMainModule("example.com/deployed")()
		eps, err := discovery.Find()
		require.NoError(t, err)
		assert.Empty(t, eps)
	})
	t.Run("unrelated broken workspace is ignored", func(t *testing.T) {
		defer discovery.SetMainModule("example.com/deployed")()
		require.NoError(t, os.WriteFile(gowork, []byte("this is not a go.work"), 0o644))
		eps, err := discovery.Find()
		require.NoError(t, err)
		assert.Empty(t, eps)
	})
	t.Run("binary built from files: the workspace is ignored, with a warning", func(t *testing.T) {
		defer discovery.SetMainModule("")()
		var logs strings.Builder
		eps, err := discovery.Find(discovery.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		assert.Empty(t, eps)
		assert.Contains(t, logs.String(), "built from a list of .go files")
	})
	t.Run("GOWORK=off", func(t *testing.T) {
		defer discovery.SetMainModule("example.com/app")()
		t.Setenv("GOWORK", "off")
		eps, err := discovery.Find()
		require.NoError(t, err)
		assert.Empty(t, eps)
	})
	t.Run("relative GOWORK", func(t *testing.T) {
		defer discovery.SetMainModule("example.com/app")()
		t.Setenv("GOWORK", "go.work")
		_, err := discovery.Find()
		assert.ErrorContains(t, err, "invalid GOWORK")
	})
}

func FuzzReadWorkspace(f *testing.F) {
	for _, seed := range []string{
		"go 1.26\n\nuse ./m\n",
		"go 1.26\nuse (\n\t./m\n\t./m\n\t./missing\n)\n",
		"go 1.26\nuse ./m\nreplace example.com/x => ./y\ntoolchain go1.26.0\n",
		"use \"./m\" // comment\n",
		"go 1.26\nuse /\nuse ../..\nuse (\n",
		"bogus\n",
	} {
		f.Add([]byte(seed))
	}
	root := f.TempDir()
	writeFiles(f, root, module("m", "example.com/m", "[g]\nx = example.com/m:X\n"))
	gowork := filepath.Join(root, "go.work")
	f.Fuzz(func(t *testing.T, data []byte) {
		require.NoError(t, os.WriteFile(gowork, data, 0o644))
		eps, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup("g"))
		for _, ep := range eps {
			require.Equal(t, "x", ep.Name)
		}
		if err != nil {
			var list discovery.ErrorList
			require.ErrorAs(t, err, &list)
			require.NotEmpty(t, list)
		}
	})
}

func TestFindHostileFiles(t *testing.T) {
	defer discovery.ResetLinked()()
	gowork := workspace(t, []string{"./dev", "./dir", "./good"},
		module("good", "example.com/good", "[g]\nok = example.com/good:OK\n"),
		module("dev", "example.com/dev", ""),
		module("dir", "example.com/dir", ""))
	root := filepath.Dir(gowork)
	// An entry_points.txt that never ends, and one that is a directory.
	require.NoError(t, os.Symlink("/dev/zero", filepath.Join(root, "dev", "entry_points.txt")))
	require.NoError(t, os.Mkdir(filepath.Join(root, "dir", "entry_points.txt"), 0o755))
	eps, err := discovery.Find(discovery.WithWorkspace(gowork))
	assert.Equal(t, []string{"[g] ok"}, names(eps))
	var list discovery.ErrorList
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 2, "%v", err)
	assert.Contains(t, list[0].Error(), "dev/entry_points.txt: entry_points.txt is not a regular file")
	assert.Contains(t, list[1].Error(), "dir/entry_points.txt")
}

func TestFindUnreadableModules(t *testing.T) {
	defer discovery.ResetLinked()()
	gowork := workspace(t, []string{"./afile", "./loop", "./epdir", "./good"},
		module("good", "example.com/good", "[g]\nok = example.com/good:OK\n"),
		module("epdir", "example.com/epdir", ""),
		map[string]string{"afile": "not a directory"})
	root := filepath.Dir(gowork)
	require.NoError(t, os.Symlink("loop", filepath.Join(root, "loop")))
	require.NoError(t, os.Mkdir(filepath.Join(root, "epdir", "entry_points.txt"), 0o755))
	eps, err := discovery.Find(discovery.WithWorkspace(gowork))
	assert.Equal(t, []string{"[g] ok"}, names(eps))
	var list discovery.ErrorList
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 3, "%v", err)
	assert.Contains(t, list[0].Error(), "go.work:4: module directory ./afile: ")
	assert.Contains(t, list[0].Error(), "not a directory; fix: go work edit -dropuse=./afile, or make it a module directory")
	assert.Contains(t, list[1].Error(), "go.work:5: module directory ./loop: ")
	assert.Contains(t, list[1].Error(), "too many levels of symbolic links; fix: go work edit -dropuse=./loop")
	assert.Contains(t, list[2].Error(), "epdir/entry_points.txt: entry_points.txt is not a regular file; fix: make entry_points.txt a file, or remove it")
}

func TestFindNamedPipes(t *testing.T) {
	defer discovery.ResetLinked()()
	gowork := workspace(t, []string{"./pipe", "./good"},
		module("good", "example.com/good", "[g]\nok = example.com/good:OK\n"),
		module("pipe", "example.com/pipe", ""))
	root := filepath.Dir(gowork)
	if err := syscallMkfifo(filepath.Join(root, "pipe", "entry_points.txt")); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	require.NoError(t, syscallMkfifo(filepath.Join(root, "pipe.work")))
	done := make(chan struct{})
	go func() {
		defer close(done)
		eps, err := discovery.Find(discovery.WithWorkspace(gowork))
		assert.Contains(t, names(eps), "[g] ok")
		assert.ErrorContains(t, err, "pipe/entry_points.txt: entry_points.txt is not a regular file")
		_, err = discovery.Find(discovery.WithWorkspace(filepath.Join(root, "pipe.work")))
		assert.ErrorContains(t, err, "pipe.work is not a regular file")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Find blocked on a named pipe")
	}
}

// TestFindBrokenOwnWorkspace checks that a binary's own workspace that
// cannot be read is reported, at its go.work line with the fix, by Find
// and Discover, with a warning, while linked entry points still work.
func TestFindBrokenOwnWorkspace(t *testing.T) {
	defer discovery.ResetLinked()()
	defer discovery.SetMainModule("example.com/app")()
	linkHandler("Factory", fakeFactory)
	t.Setenv("GOWORK", "")
	t.Setenv("GOENV", "off")
	for _, tt := range []struct {
		name, work string
		want       string // the problem, after go.work:
	}{
		{"syntax error", "go 1.26\n\nuse (\n\t./app\n\t./m\n)\nuse \"./x\n", `go.work:7:9: unexpected newline in string; fix: correct the go.work file`},
		{"unknown directive", "go 1.26\n\nuse ./app\nuse ./m\nfrobnicate ./m\n", `go.work:5: unknown directive: frobnicate`},
		{"use of a missing directory", "go 1.26\n\nuse ./app\nuse ./gone\nuse ./m\n", `go.work:4: use ./gone: the directory does not exist, so the go command builds nothing in this workspace; fix: go work edit -dropuse=./gone`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gowork := workspace(t, []string{"./app", "./m"},
				module("app", "example.com/app", ""),
				module("m", "example.com/m", "[g]\nx = example.com/m:X\n"))
			require.NoError(t, os.WriteFile(gowork, []byte(tt.work), 0o644))
			t.Chdir(filepath.Join(filepath.Dir(gowork), "app"))

			var logs strings.Builder
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			eps, err := discovery.Find(discovery.WithLogger(logger))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, names(eps), "[torchrun.handlers] Factory", "linked entry points are still found")
			assert.Contains(t, logs.String(), "level=WARN")
			assert.Contains(t, logs.String(), "the workspace is broken")
			assert.Contains(t, logs.String(), tt.want[:len("go.work:N")])

			logs.Reset()
			r := registry.New()
			rep, err := discovery.Discover(discovery.WithRegistry(r), discovery.WithLogger(logger))
			require.Error(t, err)
			require.NotEmpty(t, rep.Failed)
			assert.Contains(t, rep.Failed.Error(), tt.want)
			assert.Equal(t, []string{"Factory"}, r.Backends(), "linked handlers are still registered")
			assert.Contains(t, logs.String(), tt.want[:len("go.work:N")])
		})
	}
}

// TestFindMissingDirectories checks that every use of a directory that does
// not exist is reported at its go.work line, and no other, however the
// modules are laid out: under the workspace's directory or deeper, by
// absolute paths, with directories listed more than once as use order
// comes back to them, in a directory that does not exist either.
func TestFindMissingDirectories(t *testing.T) {
	dir := t.TempDir()
	for d, files := range map[string]map[string]string{
		"a/m1": {"go.mod": "module example.com/m1\n", "entry_points.txt": "[g]\nm1 = example.com/m1:M\n"},
		"a/m2": {"go.mod": "module example.com/m2\n"},
		"b/m3": {"go.mod": "module example.com/m3\n"},
		"m4":   {"go.mod": "module example.com/m4\n"},
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
		for name, text := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, d, name), []byte(text), 0o644))
		}
	}
	abs := filepath.ToSlash(filepath.Join(dir, "b"))
	gowork := filepath.Join(dir, "go.work")
	require.NoError(t, os.WriteFile(gowork, []byte("go 1.26\n\nuse (\n"+
		"\t./a/m1\n"+ // 4
		"\t./a/gone\n"+ // 5: missing
		"\t./a/m2\n"+ // 6
		"\t./b/m3\n"+ // 7
		"\t./a/gone2\n"+ // 8: missing, a listed again
		"\t./nodir/x\n"+ // 9: missing, and so is its directory
		"\t./m4\n"+ // 10
		"\t./m5\n"+ // 11: missing
		"\t"+abs+"/m3\n"+ // 12
		"\t"+abs+"/gone\n"+ // 13: missing
		"\t./b/../b/m3\n"+ // 14: the same module as line 7, not missing
		")\n"), 0o644))
	eps, err := discovery.Find(discovery.WithWorkspace(gowork))
	assert.Equal(t, []string{"[g] m1"}, names(eps))
	var list discovery.ErrorList
	require.ErrorAs(t, err, &list)
	var lines []int
	for _, e := range list {
		if strings.Contains(e.Error(), "the directory does not exist") {
			lines = append(lines, e.Line)
			assert.Equal(t, gowork, e.File)
		}
	}
	assert.Equal(t, []int{5, 8, 9, 11, 13}, lines, "%v", err)
}

// TestFindRelativeWorkspace checks that a go.work named by a relative path
// finds its modules without entry points where they are, whatever the form
// of their use directives: none is reported missing, and a missing one is.
func TestFindRelativeWorkspace(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, module("ws/m", "example.com/m", "[g]\nm = example.com/m:M\n"))
	writeFiles(t, root, module("ws/n", "example.com/n", ""))
	writeFiles(t, root, module("ws/sub/o", "example.com/o", ""))
	writeFiles(t, root, module("other", "example.com/other", ""))
	writeFiles(t, root, map[string]string{"ws/go.work": "go 1.26\n\nuse (\n" +
		"\t./m\n" + // 4
		"\tn\n" + // 5
		"\t../other\n" + // 6
		"\t./sub/../sub/o\n" + // 7
		"\t../gone\n" + // 8: missing
		")\n"})
	t.Chdir(root)
	eps, err := discovery.Find(discovery.WithWorkspace(filepath.Join("ws", "go.work")))
	assert.Equal(t, []string{"[g] m"}, names(eps))
	var list discovery.ErrorList
	require.ErrorAs(t, err, &list)
	var lines []int
	for _, e := range list {
		lines = append(lines, e.Line)
		assert.Contains(t, e.Error(), "the directory does not exist")
	}
	assert.Equal(t, []int{8}, lines, "%v", err)
}

// TestFindAllocationsPerModule checks that a module without entry points
// costs Find no allocation, and one with entry points a few: in a
// program's first call, every byte allocated is memory the kernel faults
// in. (A buffer that escaped to the heap once cost 1 KiB per module.)
func TestFindAllocationsPerModule(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector moves read buffers to the heap")
	}
	allocs := func(s synthws.Shape) float64 {
		ws, err := synthws.Write(t.TempDir(), s)
		require.NoError(t, err)
		opts := []discovery.Option{discovery.WithWorkspace(ws.GoWork), discovery.WithLogger(slog.New(slog.DiscardHandler))}
		return testing.AllocsPerRun(5, func() {
			if _, err := discovery.Find(opts...); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(synthws.Shape{Modules: 50, Every: 50}), allocs(synthws.Shape{Modules: 450, Every: 450})
	assert.Less(t, large-small, 20.0, "allocations for 400 more modules without entry points (%v and %v in all)", small, large)

	small, large = allocs(synthws.Shape{Modules: 50}), allocs(synthws.Shape{Modules: 450})
	assert.Less(t, (large-small)/400, 8.0, "allocations per module declaring 3 entry points (%v and %v in all)", small, large)
}
