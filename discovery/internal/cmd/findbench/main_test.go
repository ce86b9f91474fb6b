package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
)

func TestRunPrintsTable(t *testing.T) {
	python := "python3"
	if _, err := exec.LookPath(python); err != nil {
		t.Log("python3 not found; timing Go only")
		python = ""
	}
	shapes := []synthws.Shape{{Modules: 40}, {Modules: 40, Every: 10}}
	var out strings.Builder
	require.NoError(t, run(&out, shapes, python, 10*time.Millisecond))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 13, "header, blank, table header, 2 rows, blank, first-call title, blank, table header, 2 rows, blank, footer:\n%s", out.String())
	assert.Contains(t, lines[0], "GOMAXPROCS=")
	row := `^\s*40\s+%s\s+\S+s\s+\S+s\s+\S+s\s+%s\s+[0-9.]+x\s+%s\s+\S+s\s+[0-9]+\s+[0-9.]+$`
	pyTime, pyRatio := `\S+s`, `[0-9.]+x`
	if python == "" {
		pyTime, pyRatio = "-", "-"
	}
	for i, declaring := range []string{"all", "1 in 10"} {
		re := regexp.MustCompile(fmt.Sprintf(row, declaring, pyTime, pyRatio))
		assert.Regexp(t, re, lines[3+i])
	}
	first := `^\s*40\s+%s\s+\S+s\s+\S+s\s+%s\s+[0-9.]+x\s+%s$`
	for i, declaring := range []string{"all", "1 in 10"} {
		re := regexp.MustCompile(fmt.Sprintf(first, declaring, pyTime, pyRatio))
		assert.Regexp(t, re, lines[9+i])
	}
	assert.Regexp(t, `^medians of 7 warm calls of each \(9 first calls\), interleaved`, lines[12])
}

func TestRunFailsWithoutPython(t *testing.T) {
	err := run(new(strings.Builder), []synthws.Shape{{Modules: 1}}, "no-such-python-interpreter", time.Millisecond)
	assert.ErrorContains(t, err, "-python ''")
}
