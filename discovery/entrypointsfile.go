package discovery

import (
	"bytes"
	"fmt"
	"go/token"
	"strings"

	"golang.org/x/mod/module"
)

// FileName is the name of the file, at a module's root, that declares the
// module's entry points.
const FileName = "entry_points.txt"

// maxFileSize bounds the entry_points.txt files read, so that a stray huge
// file gives an error instead of exhausting memory.
const maxFileSize = 1 << 20

// maxImportPath bounds the length of import paths: the go command cannot
// load packages by paths much longer, and no module has them.
const maxImportPath = 1024

// maxFileErrors bounds the errors reported for one file.
const maxFileErrors = 10

// isGroup reports whether g is a valid group name: words of ASCII letters,
// digits and '_' joined by dots, the regexp ^\w+(\.\w+)*$.
func isGroup(g string) bool {
	word := 0 // length of the current word
	for i := 0; i < len(g); i++ {
		switch c := g[i]; {
		case c == '.':
			if word == 0 {
				return false
			}
			word = 0
		case isWordByte(c):
			word++
		default:
			return false
		}
	}
	return word > 0
}

// isName reports whether name is a valid entry point name: ASCII letters,
// digits, '_', '.' and '-', the regexp ^[A-Za-z0-9_.-]+$.
func isName(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isWordByte(c) && c != '.' && c != '-' {
			return false
		}
	}
	return name != ""
}

// isWordByte reports whether c is an ASCII letter, digit or '_' (\w).
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// maxPresized bounds the entry points ParseFile makes room for before it
// finds them.
const maxPresized = 32

// seenMapMin is the number of entry points in a file from which ParseFile
// looks for duplicates in a map rather than in the entry points themselves:
// most files declare one or two.
const seenMapMin = 8

// ParseFile parses the contents of an entry_points.txt file. The file name
// is used in positions and errors only. It returns every well-formed entry
// point, in file order, and an error listing the lines that are not: one bad
// line does not hide the good ones. The entry points' Module, Version and
// Dir fields are left empty.
//
// The format is that of Python's entry_points.txt:
//
//	# comment
//	[torchrun.handlers]
//	myhandler = example.com/myhandler:NewHandler
func ParseFile(file string, data []byte) ([]EntryPoint, error) {
	decls, errs := parseDecls(file, data)
	eps := make([]EntryPoint, len(decls))
	for i, d := range decls {
		eps[i] = d.entryPoint(file)
	}
	if len(errs) > 0 {
		return eps, errs
	}
	return eps, nil
}

// A decl is an entry point as its entry_points.txt declares it: what
// ParseFile returns, without the fields of the file and module, which are
// the same for every entry point of a file. Find keeps the entry points of
// the modules it reads so until it makes its result, for a program's first
// call, where every byte allocated is memory faulted in.
type decl struct {
	group, name, value string
	line               int
}

// entryPoint returns the entry point that d declares in file.
func (d *decl) entryPoint(file string) EntryPoint {
	return EntryPoint{Group: d.group, Name: d.name, Value: d.value, File: file, Line: d.line}
}

// parseDecls parses the entry_points.txt file whose contents are data, as
// ParseFile does. The strings it returns share one copy of data.
func parseDecls(file string, data []byte) ([]decl, ErrorList) {
	var (
		eps   []decl
		errs  ErrorList
		group string
		seen  map[[2]string]int // (group, name) -> line, once there are seenMapMin
		path  string            // import path last checked, which the next line often repeats
	)
	// Past maxFileErrors, errors are counted, not kept: parsing goes on,
	// so that the good lines after many bad ones are still found.
	more, firstMore := 0, 0
	fail := func(line int, format string, args ...any) {
		if len(errs) < maxFileErrors {
			// The group of the section the line is in, if any: a
			// problem of that group's, not of every group's.
			errs = append(errs, &Error{File: file, Line: line, Group: group, Err: fmt.Errorf(format, args...)})
			return
		}
		if more == 0 {
			firstMore = line
		}
		more++
	}
	if len(data) > maxFileSize {
		fail(0, "file is %d bytes, more than the %d allowed; an entry_points.txt holds a few lines of name = importpath:Symbol", len(data), maxFileSize)
		return nil, errs
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	// Every entry point's line holds a '=': counting them sizes eps at
	// once, as in a program's first call of Find every byte allocated,
	// growth's copies included, is memory faulted in. Comments may hold
	// '=' too: past a file's usual few entry points, eps grows.
	eps = make([]decl, 0, min(bytes.Count(data, []byte("=")), maxPresized))
	line := 0
	for raw := range strings.SplitSeq(string(data), "\n") {
		line++
		text := strings.TrimSpace(raw)
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
			continue
		case strings.HasPrefix(text, "["):
			g, ok := strings.CutSuffix(text, "]")
			g = strings.TrimPrefix(g, "[")
			if !ok || !isGroup(g) {
				group = "" // the lines below are of no known group
				fail(line, "invalid group header %s: want [group], where group is words joined by dots, such as [torchrun.handlers]", quote(text))
				continue
			}
			group = g
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		if !ok {
			fail(line, "unexpected line %s: want name = importpath:Symbol, a [group] header, a # comment or a blank line", quote(text))
			continue
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if group == "" {
			fail(line, "entry point %s is not in a group: put a valid [group] header, such as [torchrun.handlers], above it", quote(name))
			continue
		}
		if !isName(name) {
			fail(line, "invalid entry point name %s: want letters, digits, '_', '.' or '-'", quote(name))
			continue
		}
		if err := checkValue(value, path); err != nil {
			fail(line, "entry point %s: %v", name, err)
			continue
		}
		path, _, _ = strings.Cut(value, ":")
		key := [2]string{group, name}
		prev, dup := seen[key]
		if seen == nil {
			for _, ep := range eps {
				if ep.group == group && ep.name == name {
					prev, dup = ep.line, true
					break
				}
			}
		}
		if dup {
			fail(line, "entry point %s is declared twice in group [%s]; the first is at line %d: remove or rename one", name, group, prev)
			continue
		}
		eps = append(eps, decl{group: group, name: name, value: value, line: line})
		switch {
		case seen != nil:
			seen[key] = line
		case len(eps) == seenMapMin:
			seen = make(map[[2]string]int)
			for _, ep := range eps {
				seen[[2]string{ep.group, ep.name}] = ep.line
			}
		}
	}
	if more > 0 {
		errs = append(errs, &Error{File: file, Line: firstMore, Err: fmt.Errorf("and %d more errors from this line on", more)})
	}
	return eps, errs
}

// checkValue checks an entry point's value, importpath:Symbol, but not its
// import path if it is checked, one already found valid.
func checkValue(value, checked string) error {
	path, sym, ok := strings.Cut(value, ":")
	if !ok || path == "" || sym == "" {
		return fmt.Errorf("invalid value %s: want importpath:Symbol, such as example.com/myhandler:NewHandler", quote(value))
	}
	if path != checked {
		if len(path) > maxImportPath {
			return fmt.Errorf("import path %s is %d bytes long, more than the %d allowed", quote(path), len(path), maxImportPath)
		}
		if err := module.CheckImportPath(path); err != nil {
			return fmt.Errorf("invalid import path in %s: %v", quote(value), err)
		}
	}
	if !token.IsIdentifier(sym) || !token.IsExported(sym) {
		return fmt.Errorf("invalid symbol %s in %s: want an exported package-level identifier (func or var), such as NewHandler", quote(sym), quote(value))
	}
	return nil
}

// quote quotes s for an error message, shortening it if it is long, so that
// hostile input cannot flood the output.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}
