package discovery_test

import (
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/registry"
)

func TestParseFile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "line group name value"
		errs []string // substrings of each error, in order, with its line
	}{
		{
			name: "python shape",
			in:   "# comment\n[torchrun.handlers]\nmyhandler = example.com/myhandler:NewHandler\n\n[other.group]\nx=example.com/x/v2:Var\n",
			want: []string{"3 torchrun.handlers myhandler example.com/myhandler:NewHandler", "6 other.group x example.com/x/v2:Var"},
		},
		{
			name: "crlf, bom, indentation and spaces",
			in:   "\ufeff[torchrun.handlers]\r\n   a.b-c_d   =   example.com/m:F  \r\n\t# indented comment\r\n",
			want: []string{"2 torchrun.handlers a.b-c_d example.com/m:F"},
		},
		{
			name: "empty file",
			in:   "",
		},
		{
			name: "bad line does not hide the good ones",
			in:   "[g]\ngood1 = example.com/m:A\nthis is not valid\ngood2 = example.com/m:B\n",
			want: []string{"2 g good1 example.com/m:A", "4 g good2 example.com/m:B"},
			errs: []string{`:3: unexpected line "this is not valid": want name = importpath:Symbol`},
		},
		{
			name: "entry before any group",
			in:   "a = example.com/m:A\n[g]\nb = example.com/m:B\n",
			want: []string{"3 g b example.com/m:B"},
			errs: []string{`:1: entry point "a" is not in a group`},
		},
		{
			name: "invalid groups",
			in:   "[torchrun..handlers]\na = example.com/m:A\n[ok]\n[unclosed\n[sp ace]\n[]\n[ padded ]\n",
			errs: []string{":1: invalid group header", `:2: entry point "a" is not in a group`, ":4: invalid group header", ":5: invalid group header", ":6: invalid group header", ":7: invalid group header"},
		},
		{
			name: "invalid names and values",
			in: "[g]\n" +
				"bad name = example.com/m:A\n" +
				"= example.com/m:A\n" +
				"nocolon = example.com/m\n" +
				"nosym = example.com/m:\n" +
				"nopath = :Sym\n" +
				"unexported = example.com/m:newHandler\n" +
				"dotted = example.com/m:A.B\n" +
				"badpath = example.com/../m:A\n" +
				"extras = example.com/m:A [extra]\n",
			errs: []string{
				`:2: invalid entry point name "bad name"`,
				`:3: invalid entry point name ""`,
				`:4: entry point nocolon: invalid value "example.com/m": want importpath:Symbol`,
				`:5: entry point nosym: invalid value`,
				`:6: entry point nopath: invalid value`,
				`:7: entry point unexported: invalid symbol "newHandler"`,
				`:8: entry point dotted: invalid symbol "A.B"`,
				`:9: entry point badpath: invalid import path`,
				`:10: entry point extras: invalid symbol "A [extra]"`,
			},
		},
		{
			name: "name declared twice in a group",
			in:   "[g]\na = example.com/m:A\n[h]\na = example.com/m:A\n[g]\na = example.com/m:B\n",
			want: []string{"2 g a example.com/m:A", "4 h a example.com/m:A"},
			errs: []string{":6: entry point a is declared twice in group [g]; the first is at line 2"},
		},
		{
			name: "names are case-sensitive",
			in:   "[g]\na = example.com/m:A\nA = example.com/m:A\n",
			want: []string{"2 g a example.com/m:A", "3 g A example.com/m:A"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps, err := discovery.ParseFile("m/entry_points.txt", []byte(tt.in))
			var got []string
			for _, ep := range eps {
				assert.Equal(t, "m/entry_points.txt", ep.File)
				got = append(got, strings.Join([]string{itoa(ep.Line), ep.Group, ep.Name, ep.Value}, " "))
			}
			assert.Equal(t, tt.want, got)
			if len(tt.errs) == 0 {
				assert.NoError(t, err)
				return
			}
			var list discovery.ErrorList
			require.True(t, errors.As(err, &list), "error %v is not an ErrorList", err)
			require.Len(t, list, len(tt.errs), "errors: %v", err)
			for i, want := range tt.errs {
				assert.Contains(t, list[i].Error(), "m/entry_points.txt"+want)
			}
		})
	}
}

func TestParseFileHostile(t *testing.T) {
	t.Run("huge file", func(t *testing.T) {
		eps, err := discovery.ParseFile("f", []byte(strings.Repeat("# x\n", 1<<19)))
		assert.Empty(t, eps)
		assert.ErrorContains(t, err, "more than the 1048576 allowed")
	})
	t.Run("many bad lines are counted, and the good ones after them found", func(t *testing.T) {
		eps, err := discovery.ParseFile("f", []byte(strings.Repeat("garbage\n", 1000)+"[g]\ngood = example.com/m:Good\n"))
		var list discovery.ErrorList
		require.ErrorAs(t, err, &list)
		assert.Len(t, list, 11)
		assert.Equal(t, "f:11: and 990 more errors from this line on", list[10].Error())
		require.Len(t, eps, 1)
		assert.Equal(t, "good", eps[0].Name)
	})
	t.Run("memory follows the entry points, not the '=' signs", func(t *testing.T) {
		// A comment line of '=', as a banner or a base64 blob holds them:
		// no entry point, and a megabyte at most.
		data := []byte("# " + strings.Repeat("=", 1<<20-3) + "\n")
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		eps, err := discovery.ParseFile("f", data)
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		assert.Empty(t, eps)
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4*len(data)), "bytes allocated to parse %d bytes declaring nothing", len(data))
	})
	t.Run("very long import path", func(t *testing.T) {
		_, err := discovery.ParseFile("f", []byte("[g]\nlong = example.com/"+strings.Repeat("a", 50000)+":A\n"))
		assert.ErrorContains(t, err, "f:2: entry point long: import path")
		assert.ErrorContains(t, err, "is 50012 bytes long, more than the 1024 allowed")
	})
	t.Run("long and binary values are quoted and shortened", func(t *testing.T) {
		_, err := discovery.ParseFile("f", []byte("[g]\n"+strings.Repeat("\x00\xff", 500)+"\n"))
		require.Error(t, err)
		assert.Less(t, len(err.Error()), 600)
		assert.NotContains(t, err.Error(), "\x00")
	})
}

func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"",
		"[torchrun.handlers]\nmyhandler = example.com/myhandler:NewHandler\n",
		"# c\n[a.b]\nx = e.com/m:A\n[c]\ny=e.com/m/v2:B\r\n",
		"[g]\na = b\n= \n[\n]\n[g]\na = e.com/m:A\na = e.com/m:A\n",
		"\ufeff[g]\n\x00=\xff:\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		eps, err := discovery.ParseFile("f", data)
		seen := make(map[[2]string]bool)
		for _, ep := range eps {
			require.NotEmpty(t, ep.Group)
			require.NotEmpty(t, ep.Name)
			require.NotEmpty(t, ep.ImportPath())
			require.NotEmpty(t, ep.Symbol())
			require.Positive(t, ep.Line)
			key := [2]string{ep.Group, ep.Name}
			require.False(t, seen[key], "duplicate %v", key)
			seen[key] = true
			// A parsed entry point reparses to itself.
			again, err := discovery.ParseFile("f", []byte("["+ep.Group+"]\n"+ep.Name+" = "+ep.Value+"\n"))
			require.NoError(t, err)
			require.Len(t, again, 1)
			require.Equal(t, ep.Value, again[0].Value)
		}
		if err != nil {
			var list discovery.ErrorList
			require.ErrorAs(t, err, &list)
			require.NotEmpty(t, list)
			for _, e := range list {
				require.Contains(t, e.Error(), "f:")
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestParseFileErrorGroups checks that a line that does not parse is the
// problem of the group whose section it is in, and of no group in
// particular when its section is not known.
func TestParseFileErrorGroups(t *testing.T) {
	_, err := discovery.ParseFile("f", []byte("[a]\nbad line\n[!!]\nx = example.com/x:X\n[b]\nn = example.com/x:\n\nok = example.com/x:OK\n"))
	var list discovery.ErrorList
	require.ErrorAs(t, err, &list)
	var got []string
	for _, e := range list {
		got = append(got, strconv.Itoa(e.Line)+" ["+e.Group+"]")
	}
	assert.Equal(t, []string{"2 [a]", "3 []", "4 []", "6 [b]"}, got)
}

// TestFindGroupProblems checks that a line that does not parse in one
// group's section is a problem of that group's calls only: Find with
// WithGroup, Load, Lookup and Discover of another group do not report it;
// a line of no known group is reported to all.
func TestFindGroupProblems(t *testing.T) {
	defer discovery.ResetLinked()()
	gowork := workspace(t, []string{"./ws"}, module("ws", "example.com/ws",
		"[test.exporters]\nbad line\n[torchrun.handlers]\nh = example.com/ws:H\n"))
	_, err := discovery.Find(discovery.WithWorkspace(gowork))
	assert.ErrorContains(t, err, "bad line", "every group's problems, without WithGroup")
	_, err = discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup("test.exporters"))
	assert.ErrorContains(t, err, "bad line")
	_, err = discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup("torchrun.handlers"))
	assert.NoError(t, err)
	_, err = discovery.Load[any]("test.exporters", discovery.WithWorkspace(gowork))
	assert.ErrorContains(t, err, "bad line")
	_, err = discovery.Lookup[any]("test.other", "x", discovery.WithWorkspace(gowork))
	assert.NotContains(t, err.Error(), "bad line")
	rep, err := discovery.Discover(discovery.WithWorkspace(gowork), discovery.WithRegistry(registry.New()), discovery.WithLogger(slog.New(slog.DiscardHandler)))
	require.Error(t, err, "h is declared but not linked")
	for _, e := range rep.Failed {
		assert.NotContains(t, e.Error(), "bad line")
	}

	// A line after a header that does not parse is of no known group.
	unknown := workspace(t, []string{"./ws"}, module("ws", "example.com/ws",
		"[bad header\nx = example.com/ws:X\n[torchrun.handlers]\nh = example.com/ws:H\n"))
	_, err = discovery.Find(discovery.WithWorkspace(unknown), discovery.WithGroup("torchrun.handlers"))
	assert.ErrorContains(t, err, "invalid group header")
	assert.ErrorContains(t, err, "is not in a group")
}
