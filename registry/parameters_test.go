package registry_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

func TestParametersValidate(t *testing.T) {
	for _, tt := range []struct {
		name     string
		p        registry.Parameters
		wantErrs []string
	}{
		{name: "valid", p: registry.Parameters{Backend: "b", MinNodes: 1, MaxNodes: 1}},
		{name: "valid range", p: registry.Parameters{Backend: "b", MinNodes: 2, MaxNodes: 8}},
		{name: "empty backend", p: registry.Parameters{MinNodes: 1, MaxNodes: 1}, wantErrs: []string{"backend name is empty"}},
		{name: "min < 1", p: registry.Parameters{Backend: "b", MinNodes: 0, MaxNodes: 1}, wantErrs: []string{"minimum number of nodes (0) must be at least 1"}},
		{name: "negative min", p: registry.Parameters{Backend: "b", MinNodes: -3, MaxNodes: 1}, wantErrs: []string{"minimum number of nodes (-3)"}},
		{name: "max < min", p: registry.Parameters{Backend: "b", MinNodes: 3, MaxNodes: 2}, wantErrs: []string{"maximum number of nodes (2) must not be less than the minimum (3)"}},
		{name: "all wrong", p: registry.Parameters{MinNodes: 0, MaxNodes: -1}, wantErrs: []string{"backend name is empty", "at least 1", "must not be less"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if len(tt.wantErrs) == 0 {
				assert.NoError(t, err)
			}
			for _, want := range tt.wantErrs {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func TestParametersGet(t *testing.T) {
	p := registry.Parameters{Config: map[string]string{"a": "x", "empty": ""}}
	assert.Equal(t, "x", p.Get("a", "d"))
	assert.Equal(t, "", p.Get("empty", "d"))
	assert.Equal(t, "d", p.Get("missing", "d"))
	assert.Equal(t, "d", registry.Parameters{}.Get("a", "d"))
}

func TestParametersGetBool(t *testing.T) {
	for _, v := range []string{"1", "true", "True", "TRUE", "t", "T", "yes", "Yes", "YES", "y", "Y"} {
		got, err := registry.Parameters{Config: map[string]string{"k": v}}.GetBool("k", false)
		require.NoError(t, err, v)
		assert.True(t, got, v)
	}
	for _, v := range []string{"0", "false", "False", "FALSE", "f", "F", "no", "No", "NO", "n", "N"} {
		got, err := registry.Parameters{Config: map[string]string{"k": v}}.GetBool("k", true)
		require.NoError(t, err, v)
		assert.False(t, got, v)
	}
	for _, v := range []string{"", "2", "-1", "01", "tru", "yess", "on", "off", " true", "true ", "1.0", "nope"} {
		_, err := registry.Parameters{Config: map[string]string{"k": v}}.GetBool("k", true)
		assert.ErrorContains(t, err, `rendezvous config option "k" does not represent a valid boolean value`, "%q", v)
	}
	got, err := registry.Parameters{}.GetBool("k", true)
	require.NoError(t, err)
	assert.True(t, got)
}

func TestParametersGetInt(t *testing.T) {
	for v, want := range map[string]int{
		"0": 0, "42": 42, "-7": -7, "+7": 7, " 12 ": 12, "\t3\n": 3, "007": 7, "1_000": 1000, "-1_0": -10,
		"١٢": 12, "\u00a0-٣\u2003": -3, "\x1c5\x1f": 5, "𝟗𝟘": 90, "1_٢": 12,
	} {
		got, err := registry.Parameters{Config: map[string]string{"k": v}}.GetInt("k", -1)
		require.NoError(t, err, "%q", v)
		assert.Equal(t, want, got, "%q", v)
	}
	for _, v := range []string{"", " ", "abc", "1.5", "1e3", "0x10", "1 2", "--1", "+-1", "_1", "1_", "1__0", "99999999999999999999999", "1\u00a0_2", "+", "-", "_", "1_2_"} {
		_, err := registry.Parameters{Config: map[string]string{"k": v}}.GetInt("k", 5)
		assert.ErrorContains(t, err, `rendezvous config option "k" does not represent a valid integer`, "%q", v)
	}
	got, err := registry.Parameters{}.GetInt("k", 5)
	require.NoError(t, err)
	assert.Equal(t, 5, got)
}

func TestParseConfig(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		{in: "", want: map[string]string{}},
		{in: "   ", want: map[string]string{}},
		{in: "k1=v1,k2=v2", want: map[string]string{"k1": "v1", "k2": "v2"}},
		{in: " k1 = v1 , k2=v2 ", want: map[string]string{"k1": "v1", "k2": "v2"}},
		{in: "url=a=b", want: map[string]string{"url": "a=b"}},
		{in: "k=1,k=2", want: map[string]string{"k": "2"}},
		{in: "timeout=30,read_timeout=60,is_host=true", want: map[string]string{"timeout": "30", "read_timeout": "60", "is_host": "true"}},
		{in: "k", err: `option "k" has no value; give k=value`},
		{in: "=v", err: `item 1 ("=v") has no key`},
		{in: "k=", err: `option "k" has no value`},
		{in: "k= ", err: `option "k" has no value`},
		{in: "k=v,", err: `item 2 ("") has no key`},
		{in: "k=v,,j=w", err: "item 2 (\"\") has no key; give key=value items separated by commas"},
	} {
		got, err := registry.ParseConfig(tt.in)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, "%q", tt.in)
			continue
		}
		require.NoError(t, err, "%q", tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
	}
}

// The parameter and config tests of PyTorch's api_test.py and
// utils_test.py, ported: the same inputs are accepted with the same values
// or refused; the messages are this package's.

func TestPyTorchParameters(t *testing.T) {
	p := registry.Parameters{Backend: "dummy_backend", Endpoint: "dummy_endpoint", RunID: "dummy_run_id", MinNodes: 3, MaxNodes: 6,
		Config: map[string]string{"dummy_param": "x"}}
	require.NoError(t, p.Validate())
	assert.Equal(t, "x", p.Get("dummy_param", ""))
	for _, nodes := range [][2]int{{1, 6}, {3, 3}} {
		p.MinNodes, p.MaxNodes = nodes[0], nodes[1]
		assert.NoError(t, p.Validate(), "%v", nodes)
	}
	p.MinNodes, p.MaxNodes = 3, 6

	p.Backend = ""
	assert.ErrorContains(t, p.Validate(), "rendezvous backend name is empty")
	p.Backend = "dummy_backend"
	for _, minNodes := range []int{0, -1, -5} {
		q := p
		q.MinNodes = minNodes
		assert.ErrorContains(t, q.Validate(), "minimum number of nodes ("+strconv.Itoa(minNodes)+") must be at least 1")
	}
	for _, maxNodes := range []int{2, 1, -2} {
		q := p
		q.MaxNodes = maxNodes
		assert.ErrorContains(t, q.Validate(), "maximum number of nodes ("+strconv.Itoa(maxNodes)+") must not be less than the minimum (3)")
	}
}

func TestPyTorchGetters(t *testing.T) {
	with := func(v string) registry.Parameters {
		return registry.Parameters{Backend: "dummy_backend", MinNodes: 3, MaxNodes: 6, Config: map[string]string{"dummy_param": v}}
	}
	none := registry.Parameters{Backend: "dummy_backend", MinNodes: 3, MaxNodes: 6}
	assert.Equal(t, "x", none.Get("dummy_param", "x"))
	b, err := none.GetBool("dummy_param", true)
	assert.True(t, b)
	assert.NoError(t, err)
	n, err := none.GetInt("dummy_param", 5)
	assert.Equal(t, 5, n)
	assert.NoError(t, err)

	for _, v := range []string{"1", "True", "tRue", "T", "t", "yEs", "Y"} {
		b, err := with(v).GetBool("dummy_param", false)
		assert.True(t, b, v)
		assert.NoError(t, err, v)
	}
	for _, v := range []string{"0", "False", "faLse", "F", "f", "nO", "N"} {
		b, err := with(v).GetBool("dummy_param", true)
		assert.False(t, b, v)
		assert.NoError(t, err, v)
	}
	for _, v := range []string{"01", "Flse", "Ture", "g", "4", "_", "truefalse", "2", "-1"} {
		_, err := with(v).GetBool("dummy_param", false)
		assert.ErrorContains(t, err, `rendezvous config option "dummy_param" does not represent a valid boolean value`, v)
	}
	for v, want := range map[string]int{"0": 0, "-10": -10, "5": 5, "  4": 4, "4  ": 4, " 4 ": 4, "-4": -4, "3": 3} {
		n, err := with(v).GetInt("dummy_param", 99)
		assert.Equal(t, want, n, "%q", v)
		assert.NoError(t, err, "%q", v)
	}
	for _, v := range []string{"a", "0a", "3b", "abc"} {
		_, err := with(v).GetInt("dummy_param", 99)
		assert.ErrorContains(t, err, `rendezvous config option "dummy_param" does not represent a valid integer`, v)
	}
}

func TestPyTorchParseConfig(t *testing.T) {
	conf, err := registry.ParseConfig(" b= dummy2  ,c=dummy3=dummy4,  a =dummy1,d=dummy5/dummy6")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "dummy1", "b": "dummy2", "c": "dummy3=dummy4", "d": "dummy5/dummy6"}, conf)

	for _, s := range []string{"", "   "} {
		conf, err := registry.ParseConfig(s)
		require.NoError(t, err, "%q", s)
		assert.Empty(t, conf, "%q", s)
	}
	for _, s := range []string{"a=dummy1,", "a=dummy1,,c=dummy2", "a=dummy1,   ,c=dummy2", "a=dummy1,=  ,c=dummy2",
		"a=dummy1, = ,c=dummy2", "a=dummy1,  =,c=dummy2", " ,  "} {
		_, err := registry.ParseConfig(s)
		assert.ErrorContains(t, err, "has no key; give key=value items separated by commas", "%q", s)
	}
	for _, s := range []string{"b=dummy1,a,c=dummy2", "b=dummy1,c=dummy2,a", "b=dummy1,a=,c=dummy2", "  a "} {
		_, err := registry.ParseConfig(s)
		assert.ErrorContains(t, err, `rendezvous config option "a" has no value`, "%q", s)
	}
}

// TestConfigReadsAsTorchrunPassesIt checks that --rdzv-conf values, once
// parsed, read back through the typed getters as PyTorch reads them.
func TestConfigReadsAsTorchrunPassesIt(t *testing.T) {
	conf, err := registry.ParseConfig("join_timeout= 900 ,is_host=Yes,rank=1_0,name=a=b")
	require.NoError(t, err)
	p := registry.Parameters{Backend: "b", MinNodes: 1, MaxNodes: 1, Config: conf}
	n, err := p.GetInt("join_timeout", 0)
	require.NoError(t, err)
	assert.Equal(t, 900, n)
	b, err := p.GetBool("is_host", false)
	require.NoError(t, err)
	assert.True(t, b)
	n, err = p.GetInt("rank", 0)
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	assert.Equal(t, "a=b", p.Get("name", ""))
}
