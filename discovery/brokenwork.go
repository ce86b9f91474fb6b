package discovery

import (
	"path/filepath"
	"strconv"
	"strings"
)

// claimsModule reports whether the go.work file, which does not parse, uses
// a directory whose go.mod declares the module path main, as far as a
// line-by-line reading of its use directives can tell: whether it is the
// workspace of a binary whose main module is main, whose problems that
// binary must report rather than ignore.
func claimsModule(file, main string) bool {
	data, err := readFile(file)
	if err != nil {
		return false
	}
	base := filepath.Dir(file)
	claims := func(path string) bool {
		if p, err := strconv.Unquote(path); err == nil {
			path = p
		}
		dir := filepath.FromSlash(path)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
		p, err := readModulePath(nil, dir, "", "")
		return err == nil && p == main
	}
	inUse := false
	for line := range strings.Lines(string(data)) {
		line, _, _ = strings.Cut(line, "//")
		toks := strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(line))
	line:
		for i := 0; i < len(toks); i++ {
			switch t := toks[i]; {
			case inUse && t == ")":
				inUse = false
			case inUse:
				if claims(t) {
					return true
				}
			case t == "use" && i+1 < len(toks) && toks[i+1] == "(":
				inUse = true
				i++
			case t == "use" && i+1 < len(toks):
				if claims(toks[i+1]) {
					return true
				}
				break line
			default:
				break line // another directive
			}
		}
	}
	return false
}
