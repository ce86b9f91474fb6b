package discovery

import (
	"bytes"
	"strings"

	"golang.org/x/mod/modfile"
)

// A workUse is a use directive of a go.work file.
type workUse struct {
	path string // the directory, as the directive gives it
	line int
}

// parseWorkUses returns the use directives of the go.work file named file,
// whose contents are data, as modfile.ParseWork reads them, with its
// errors.
//
// go.work files as go work init and go work use write them (go, toolchain
// and use lines, use blocks, comments on lines of their own) are read by a
// scan of their lines; anything else is left to modfile.ParseWork. The scan
// is for a program's first call of Find: ParseWork allocates a Line with
// its tokens and comments for every use directive, 7 ms for 1,000 modules
// in a new process and 55 ms for 10,000, against 0.8 and 17 ms for the
// scan.
func parseWorkUses(file string, data []byte) ([]workUse, error) {
	if uses, ok := scanWorkUses(data); ok {
		return uses, nil
	}
	wf, err := modfile.ParseWork(file, data, nil)
	if err != nil {
		return nil, err
	}
	uses := make([]workUse, len(wf.Use))
	for i, u := range wf.Use {
		uses[i] = workUse{path: u.Path, line: u.Syntax.Start.Line}
	}
	return uses, nil
}

// scanWorkUses returns the use directives of a go.work file in the plain
// form its tools write, and false for anything else, including a file that
// modfile.ParseWork would refuse.
func scanWorkUses(data []byte) (uses []workUse, ok bool) {
	// A line per use at most: sized at once, for a program's first call
	// of Find, where every byte allocated is memory faulted in (up to a
	// bound, as blank lines count too).
	uses = make([]workUse, 0, min(bytes.Count(data, []byte("\n"))+1, 1<<14))
	text := string(data)
	var (
		inBlock, sawGo, sawToolchain bool
		line                         int
	)
	for len(text) > 0 {
		line++
		var l string
		l, text, _ = strings.Cut(text, "\n")
		l = strings.Trim(l, " \t")
		if l == "" || strings.HasPrefix(l, "//") {
			continue
		}
		verb, arg, two := strings.Cut(l, " ")
		if !two {
			verb, arg, two = strings.Cut(l, "\t")
		}
		arg = strings.TrimLeft(arg, " \t")
		switch {
		case inBlock && !two && l == ")":
			inBlock = false
		case inBlock && !two && plainToken(l):
			uses = append(uses, workUse{path: l, line: line})
		case !inBlock && verb == "use" && arg == "(":
			inBlock = true
		case inBlock || !two || !plainToken(arg):
			return nil, false
		case verb == "use":
			uses = append(uses, workUse{path: arg, line: line})
		case verb == "go" && !sawGo && plainGoVersion(arg):
			sawGo = true
		case verb == "toolchain" && !sawToolchain && (arg == "default" || arg == "go1" || strings.HasPrefix(arg, "go1.")):
			sawToolchain = true
		default:
			return nil, false
		}
	}
	return uses, !inBlock
}

// plainToken reports whether s is one token of a go.mod or go.work file
// that needs no quoting and holds no comment: letters, digits and
// -._/+~@ only, with no "//" or "/*".
func plainToken(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '+', c == '~', c == '@':
		case c == '/':
			if i+1 < len(s) && (s[i+1] == '/' || s[i+1] == '*') {
				return false
			}
		default:
			return false
		}
	}
	return s != ""
}

// plainGoVersion reports whether v is a release's Go version such as
// 1.25 or 1.25.0, which modfile.GoVersionRE accepts.
func plainGoVersion(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for i, p := range parts {
		if p == "" || p[0] == '0' && (len(p) > 1 || i == 0) {
			return false
		}
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return false
			}
		}
	}
	return true
}
