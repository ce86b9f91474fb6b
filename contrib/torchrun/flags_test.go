package main

import (
	"bytes"
	"errors"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	defaults := options{
		backend: "static", endpoint: defaultStaticEndpoint, runID: "none",
		conf: map[string]string{}, minNodes: 1, maxNodes: 1,
	}
	with := func(f func(*options)) options {
		o := defaults
		o.conf = map[string]string{}
		f(&o)
		return o
	}
	tests := []struct {
		name string
		args []string
		want options
	}{
		{"defaults", nil, defaults},
		{"nnodes N", []string{"--nnodes", "4"}, with(func(o *options) { o.minNodes, o.maxNodes = 4, 4 })},
		{"nnodes MIN:MAX", []string{"--nnodes=2:8"}, with(func(o *options) { o.minNodes, o.maxNodes = 2, 8 })},
		{"single dash", []string{"-nnodes", "3"}, with(func(o *options) { o.minNodes, o.maxNodes = 3, 3 })},
		{"all rdzv flags", []string{
			"--rdzv-backend", "etcd", "--rdzv-endpoint", "host:2379", "--rdzv-id", "job7",
			"--rdzv-conf", "join_timeout=60, last_call_timeout = 5", "--local-addr", "node3",
		}, with(func(o *options) {
			o.backend, o.endpoint, o.runID, o.localAddr = "etcd", "host:2379", "job7", "node3"
			o.conf = map[string]string{"join_timeout": "60", "last_call_timeout": "5"}
		})},
		{"static endpoint kept", []string{"--rdzv-endpoint", "h:1"}, with(func(o *options) { o.endpoint = "h:1" })},
		{"node rank", []string{"--node-rank", "2", "--nnodes", "3"}, with(func(o *options) {
			o.minNodes, o.maxNodes = 3, 3
			o.conf = map[string]string{"rank": "2"}
		})},
		{"node rank agrees with conf", []string{"--node-rank", "1", "--rdzv-conf", "rank=1"}, with(func(o *options) {
			o.conf = map[string]string{"rank": "1"}
		})},
		{"standalone", []string{"--standalone", "--nnodes", "4"}, with(func(o *options) {
			o.standalone, o.backend, o.endpoint = true, "etcd", ""
			o.minNodes, o.maxNodes = 4, 4
		})},
		{"standalone etcd named", []string{"--standalone", "--rdzv-backend", "etcd"}, with(func(o *options) {
			o.standalone, o.backend, o.endpoint = true, "etcd", ""
		})},
		{"unknown backend is not a usage error", []string{"--rdzv-backend", "nosuch"}, with(func(o *options) {
			o.backend, o.endpoint = "nosuch", ""
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, err := parseFlags(tt.args, &stderr)
			require.NoError(t, err, stderr.String())
			assert.Equal(t, tt.want, got)
			assert.Empty(t, stderr.String())
		})
	}
}

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--nproc-per-node", "2"}, "flag provided but not defined"},
		{"nnodes word", []string{"--nnodes", "four"}, "want a number of nodes N or a range MIN:MAX"},
		{"nnodes empty max", []string{"--nnodes", "2:"}, "want a number of nodes"},
		{"nnodes zero", []string{"--nnodes", "0"}, "at least 1"},
		{"nnodes negative", []string{"--nnodes", "-3:4"}, "at least 1"},
		{"nnodes reversed", []string{"--nnodes", "4:2"}, "MAX must not be less than MIN"},
		{"nnodes three parts", []string{"--nnodes", "1:2:3"}, "want a number of nodes"},
		{"conf without =", []string{"--rdzv-conf", "rank"}, `option "rank" has no value; give rank=value`},
		{"conf empty value", []string{"--rdzv-conf", "rank="}, `option "rank" has no value`},
		{"node rank negative", []string{"--node-rank", "-2"}, "not negative"},
		{"node rank word", []string{"--node-rank", "x"}, "invalid value"},
		{"node rank disagrees", []string{"--node-rank", "1", "--rdzv-conf", "rank=0"}, "disagree"},
		{"positional", []string{"train.py"}, "does not start workers"},
		{"standalone endpoint", []string{"--standalone", "--rdzv-endpoint", "h:1"}, "do not give --rdzv-endpoint"},
		{"standalone static", []string{"--standalone", "--rdzv-backend", "static"}, "drop --rdzv-backend"},
		{"standalone node rank", []string{"--standalone", "--node-rank", "0"}, "do not give --node-rank"},
		{"standalone too many nodes", []string{"--standalone", "--nnodes", "1025"}, "at most 1024 nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, err := parseFlags(tt.args, &stderr)
			require.ErrorIs(t, err, errUsage)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, stderr.String(), tt.want)
			assert.Contains(t, stderr.String(), "usage: torchrun", "the usage goes to stderr")
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"--help"}, &stderr)
	require.True(t, errors.Is(err, flag.ErrHelp))
	out := stderr.String()
	assert.Contains(t, out, "--standalone --nnodes 4")
	for _, want := range []string{
		"\n  --rdzv-backend backend\n",
		`rendezvous backend, a name registered by discovery (default "static")`,
		"\n  --nnodes N or MIN:MAX\n",
		"\n  --node-rank rank\n",
		"\n  --standalone\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotRegexp(t, `(?m)^  -[a-z]`, out, "flags are printed with two dashes, as the docs spell them")
}

func TestPlural(t *testing.T) {
	assert.Equal(t, "1 node", plural(1, "node"))
	assert.Equal(t, "0 nodes", plural(0, "node"))
	assert.Equal(t, "4 nodes", plural(4, "node"))
}
