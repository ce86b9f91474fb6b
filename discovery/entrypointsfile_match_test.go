package discovery

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The grammar of group and entry point names, as the pinned format states
// it. ParseFile checks names with isGroup and isName, which must agree.
var (
	groupRE = regexp.MustCompile(`^\w+(\.\w+)*$`)
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

func TestIsGroupIsNameMatchRegexps(t *testing.T) {
	cases := []string{"", ".", "a", "a.", ".a", "a..b", "a.b", "torchrun.handlers", "x_1.Y_2.z", "a-b", "a b", "é", "a.é", "\xff",
		"my-handler", "my.handler", "-", "_", "a\n", "a$", "[a]"}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ09_.-[] \t=#\xffé"
	for range 20000 {
		b := make([]byte, r.IntN(7))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		require.Equal(t, groupRE.MatchString(s), isGroup(s), "isGroup(%q)", s)
		require.Equal(t, nameRE.MatchString(s), isName(s), "isName(%q)", s)
	}
}

func FuzzIsGroupIsName(f *testing.F) {
	for _, s := range []string{"torchrun.handlers", "a..b", "my-handler", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if groupRE.MatchString(s) != isGroup(s) || nameRE.MatchString(s) != isName(s) {
			t.Errorf("%q: regexps say group %v name %v; isGroup %v, isName %v", s, groupRE.MatchString(s), nameRE.MatchString(s), isGroup(s), isName(s))
		}
	})
}

// TestParseFileDuplicatesManyEntryPoints checks duplicates in files long
// enough that ParseFile switches from scanning to a map.
func TestParseFileDuplicatesManyEntryPoints(t *testing.T) {
	var b strings.Builder
	b.WriteString("[g]\n")          // line 1
	for i := range 2 * seenMapMin { // lines 2 to 2*seenMapMin+1
		fmt.Fprintf(&b, "n%d = example.com/m:F\n", i)
		if i == 2 {
			b.WriteString("n0 = example.com/m:G\n") // a duplicate before the switch
		}
	}
	b.WriteString("n1 = example.com/m:G\n")      // a duplicate after it
	b.WriteString("[h]\nn1 = example.com/m:G\n") // another group: no duplicate
	eps, err := ParseFile("f", []byte(b.String()))

	var got []string
	for _, ep := range eps {
		got = append(got, fmt.Sprintf("%d %s %s", ep.Line, ep.Group, ep.Name))
	}
	var want []string
	for i := range 2 * seenMapMin {
		line := i + 2
		if i > 2 {
			line++
		}
		want = append(want, fmt.Sprintf("%d g n%d", line, i))
	}
	dupLine := 2*seenMapMin + 3
	want = append(want, fmt.Sprintf("%d h n1", dupLine+2))
	assert.Equal(t, want, got)
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf("f:5: entry point n0 is declared twice in group [g]; the first is at line 2: remove or rename one\n"+
		"f:%d: entry point n1 is declared twice in group [g]; the first is at line 3: remove or rename one", dupLine), err.Error())
}
