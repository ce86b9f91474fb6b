package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A readmeBlock is a fenced code block of the README.
type readmeBlock struct {
	line int    // line of the opening fence
	lang string // info string: go, sh, ...
	file string // path given by a <!-- file: PATH --> comment just above, if any
	text string
}

// fileComment names the file a code block holds, on the line above it.
var fileComment = regexp.MustCompile(`^<!-- file: (\S+) -->$`)

// readmeBlocks returns the fenced code blocks of the markdown file.
func readmeBlocks(t *testing.T, name string) []readmeBlock {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	var blocks []readmeBlock
	var cur *readmeBlock
	var text strings.Builder
	prev := "" // the last non-blank line outside blocks
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &readmeBlock{line: n, lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
			if m := fileComment.FindStringSubmatch(prev); m != nil {
				cur.file = m[1]
			}
			text.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.text = text.String()
			blocks = append(blocks, *cur)
			cur, prev = nil, ""
		case cur != nil:
			text.WriteString(line)
			text.WriteByte('\n')
		case strings.TrimSpace(line) != "":
			prev = strings.TrimSpace(line)
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s: a code block is not closed", name)
	return blocks
}

// TestReadmeCompiles checks that every Go code block of the README
// compiles. A block preceded by <!-- file: PATH --> is written to PATH in a
// temporary workspace, as the README's walk-through has the reader write it
// (go.mod and entry_points.txt blocks included); every other Go block is a
// file of its own package (with "package snippet" added if it has no
// package clause). Every module is then vetted, test files included.
func TestReadmeCompiles(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	readme := filepath.Join(s.root, "README.md")
	blocks := readmeBlocks(t, readme)
	files := map[string]string{"snippets/go.mod": "module example.com/snippets\n\ngo 1.26.0\n"}
	goBlocks := 0
	for _, b := range blocks {
		switch {
		case b.file != "":
			_, dup := files[b.file]
			require.False(t, dup, "README.md:%d: %s is written twice", b.line, b.file)
			files[b.file] = b.text
		case b.lang == "go":
			src := b.text
			if !regexp.MustCompile(`(?m)^package \w+`).MatchString(src) {
				src = "package snippet\n\n" + src
			}
			files[fmt.Sprintf("snippets/line%d/snippet.go", b.line)] = src
		}
		if b.lang == "go" {
			goBlocks++
		}
	}
	require.GreaterOrEqual(t, goBlocks, 4, "the README's Go blocks were not found")
	s.write(files)
	use := []string{"work", "init", s.root}
	for name := range files {
		if path.Base(name) == "go.mod" {
			use = append(use, "./"+path.Dir(name))
		}
	}
	// A Go file outside every module would be compiled by nothing.
	for _, b := range blocks {
		if b.lang == "go" && b.file != "" {
			_, ok := files[path.Join(strings.SplitN(b.file, "/", 2)[0], "go.mod")]
			assert.True(t, ok, "README.md:%d: %s is in no module of the README: give it a go.mod block", b.line, b.file)
		}
	}
	s.ok(".", "go", use...)
	for _, dir := range use[3:] {
		out, err := s.run(dir, nil, "go", "vet", "./...")
		assert.NoError(t, err, "go vet in %s, from the blocks of %s:\n%s", dir, readme, out)
	}

	// The walk-through's program, once generated, prints what the README
	// shows, and its tests pass.
	if _, ok := files["app/main.go"]; ok {
		s.ok("app", "go", "generate", "./...")
		out := s.ok("app", "go", "run", ".")
		shown := false
		for _, b := range blocks {
			shown = shown || b.lang == "" && b.text == out
		}
		assert.True(t, shown, "%s shows no block with what the walk-through's app prints:\n%s", readme, out)
		s.ok("app", "go", "test", "./...")
	}
}
