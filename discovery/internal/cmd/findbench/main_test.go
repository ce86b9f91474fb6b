package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
)

// TestMain lets the test binary serve as findbench's child processes.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunPrintsTables(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of processes; skipped with -short")
	}
	python := "python3"
	if _, err := exec.LookPath(python); err != nil {
		t.Log("python3 not found; timing Go only")
		python = ""
	}
	self, err := os.Executable()
	require.NoError(t, err)
	var out strings.Builder
	require.NoError(t, run(&out, options{
		shapes: []synthws.Shape{{Modules: 150}, {Modules: 150, Every: 8}},
		python: python, samples: 1, target: 10 * time.Millisecond, self: self,
	}))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 13, "header, blank, title, blank, table header, 2 rows, blank, title, blank, table header, 2 rows:\n%s", out.String())
	assert.Contains(t, lines[0], "GOMAXPROCS=")
	assert.Equal(t, "First call in a new process (medians of 1, interleaved)", lines[2])
	assert.Regexp(t, `^Warm calls in a running process \(medians of 7 to \d+, interleaved\)|^Warm calls in a running process \(medians of 7, interleaved\)`, lines[8])
	pyTime, pyRatio := `\S+s`, `[0-9.]+x`
	if python == "" {
		pyTime, pyRatio = "-", "-"
	}
	first := `^\s*150\s+%s\s+\S+s\s+\S+s\s+%s\s+[0-9.]+x\s+%s$`
	warm := `^\s*150\s+%s\s+\S+s\s+\S+s\s+%s\s+[0-9.]+x\s+%s\s+[0-9]+\s+[0-9.]+$`
	for i, declaring := range []string{"all", "1 in 8"} {
		assert.Regexp(t, regexp.MustCompile(fmt.Sprintf(first, declaring, pyTime, pyRatio)), lines[5+i])
		assert.Regexp(t, regexp.MustCompile(fmt.Sprintf(warm, declaring, pyTime, pyRatio)), lines[11+i])
	}
}

// TestFloorReadsWhatFindReads checks that the floor reads the files Find
// reads: go.work, the entry_points.txt of each module it uses and, for the
// modules that have one, go.mod.
func TestFloorReadsWhatFindReads(t *testing.T) {
	for _, s := range []synthws.Shape{{Modules: 150}, {Modules: 150, Every: 8}} {
		dir := t.TempDir()
		ws, err := synthws.Write(dir, s)
		require.NoError(t, err)
		data, err := os.ReadFile(ws.GoWork)
		require.NoError(t, err)
		wf, err := modfile.ParseWork(ws.GoWork, data, nil)
		require.NoError(t, err)

		fl := newFloor(dir, s)
		assert.Equal(t, ws.GoWork, fl.gowork)
		require.Len(t, fl.files, len(wf.Use))
		size := int64(len(data))
		for i, u := range wf.Use {
			mod := filepath.Join(dir, filepath.FromSlash(u.Path))
			assert.Equal(t, [2]string{filepath.Join(mod, discovery.FileName), filepath.Join(mod, "go.mod")}, fl.files[i])
			if fi, err := os.Stat(fl.files[i][0]); err == nil {
				gomod, err := os.Stat(fl.files[i][1])
				require.NoError(t, err)
				size += fi.Size() + gomod.Size()
			}
		}
		_, err = fl.time()
		require.NoError(t, err)
		assert.Equal(t, size, fl.n.Load(), "%+v: bytes read", s)

		// Find finds what the shape declares there.
		_, err = timeFind(ws.GoWork, s.EntryPoints())
		assert.NoError(t, err)
	}
}

func TestRunFailsWithoutPython(t *testing.T) {
	err := run(new(strings.Builder), options{shapes: []synthws.Shape{{Modules: 1}}, python: "no-such-python-interpreter", samples: 1})
	assert.ErrorContains(t, err, "-python ''")
}

func TestChildErrors(t *testing.T) {
	var out strings.Builder
	assert.ErrorContains(t, child(&out, "find", []string{"dir"}), "want 3 arguments")
	assert.ErrorContains(t, child(&out, "sing", []string{t.TempDir(), "1", "1"}), `unknown mode "sing"`)
	assert.ErrorContains(t, child(&out, "find", []string{t.TempDir(), "1", "1"}), "go.work")
	assert.Empty(t, out.String())
}
