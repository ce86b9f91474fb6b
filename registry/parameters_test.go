package registry_test

import (
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
	} {
		got, err := registry.Parameters{Config: map[string]string{"k": v}}.GetInt("k", -1)
		require.NoError(t, err, "%q", v)
		assert.Equal(t, want, got, "%q", v)
	}
	for _, v := range []string{"", " ", "abc", "1.5", "1e3", "0x10", "1 2", "--1", "+-1", "_1", "1_", "1__0", "99999999999999999999999", "١٢"} {
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
		{in: "k", err: `"k" is not of the form key=value`},
		{in: "=v", err: "empty key"},
		{in: "k=", err: "empty value"},
		{in: "k= ", err: "empty value"},
		{in: "k=v,", err: `"" is not of the form key=value`},
		{in: "k=v,,j=w", err: "not of the form key=value"},
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
