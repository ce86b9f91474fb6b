package registry_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

// The endpoint tests of PyTorch's utils_test.py, ported: the same
// endpoints, the same hosts and ports or the same refusals.

func TestParseEndpointReturnsHostAndPort(t *testing.T) {
	for _, endpoint := range []string{
		"dummy.com:0", "dummy.com:123", "dummy.com:65535",
		"dummy-1.com:0", "dummy-1.com:123", "dummy-1.com:65535",
		"123.123.123.123:0", "123.123.123.123:123", "123.123.123.123:65535",
		"[2001:db8::1]:0", "[2001:db8::1]:123", "[2001:db8::1]:65535",
	} {
		host, port, err := registry.ParseEndpoint(endpoint, 123)
		require.NoError(t, err, endpoint)
		i := strings.LastIndexByte(endpoint, ':')
		wantHost := strings.TrimSuffix(strings.TrimPrefix(endpoint[:i], "["), "]")
		assert.Equal(t, wantHost, host, endpoint)
		assert.Equal(t, endpoint[i+1:], strconv.Itoa(port), endpoint)
	}
}

func TestParseEndpointWithoutPortTakesDefault(t *testing.T) {
	for endpoint, want := range map[string]string{
		"dummy.com": "dummy.com", "dummy-1.com": "dummy-1.com", "123.123.123.123": "123.123.123.123",
		"[2001:db8::1]": "2001:db8::1", "[::1]": "::1",
	} {
		host, port, err := registry.ParseEndpoint(endpoint, 123)
		require.NoError(t, err, endpoint)
		assert.Equal(t, want, host, endpoint)
		assert.Equal(t, 123, port, endpoint)
	}
}

func TestParseEndpointEmptyIsLocalhost(t *testing.T) {
	for _, endpoint := range []string{"", "  ", "\t\n"} {
		host, port, err := registry.ParseEndpoint(endpoint, 123)
		require.NoError(t, err, "%q", endpoint)
		assert.Equal(t, "localhost", host)
		assert.Equal(t, 123, port)
	}
}

func TestParseEndpointRefusesInvalidHost(t *testing.T) {
	for _, endpoint := range []string{"~", "dummy.com :123", "~:123", ":123"} {
		_, _, err := registry.ParseEndpoint(endpoint, 123)
		assert.ErrorContains(t, err, "rendezvous endpoint "+strconv.Quote(endpoint)+" has host", endpoint)
		assert.ErrorContains(t, err, "which is not a host name or IP address", endpoint)
	}
}

func TestParseEndpointRefusesInvalidPort(t *testing.T) {
	for _, endpoint := range []string{
		"dummy.com:", "dummy.com:abc", "dummy.com:-123", "dummy.com:-", // invalid
		"dummy.com:65536", "dummy.com:70000", // too big
	} {
		_, _, err := registry.ParseEndpoint(endpoint, 123)
		assert.ErrorContains(t, err, "rendezvous endpoint "+strconv.Quote(endpoint)+" has port", endpoint)
		assert.ErrorContains(t, err, "give a number from 0 to 65535", endpoint)
	}
}

// What PyTorch's tests leave out: white space, ports as _try_parse_port
// reads them, and IPv6 forms.
func TestParseEndpointEdges(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		host     string
		port     int
		err      string
	}{
		{endpoint: " node0:29400\n", host: "node0", port: 29400},
		{endpoint: "\x1cnode0\x1f", host: "node0", port: -1},
		{endpoint: "node0:00080", host: "node0", port: 80},
		{endpoint: "node_0.example-1.com", host: "node_0.example-1.com", port: -1},
		{endpoint: "nœud.example", host: "nœud.example", port: -1},
		{endpoint: "[::ffff:10.0.0.1]:1", host: "::ffff:10.0.0.1", port: 1},
		{endpoint: "[0000:0000:0000:0000:0000:0000:0000:0001]", host: "0000:0000:0000:0000:0000:0000:0000:0001", port: -1},
		{endpoint: "node0:000080", err: `has port "000080"`},
		{endpoint: "node0: 80", err: `has port " 80"`},
		{endpoint: "node0:+80", err: `has port "+80"`},
		{endpoint: "node0:٨٠", err: `has port "٨٠"`},
		{endpoint: "::1", err: `"::1" is ambiguous: an IPv6 address must be in brackets; write [::1]`},
		{endpoint: "2001:db8::1:2379", err: "is ambiguous"},
		{endpoint: "::", err: `"::" is an IPv6 address without brackets; write [::]`},
		{endpoint: "127.0.0.1:1:2", err: `"127.0.0.1:1:2" has more than one colon`},
		{endpoint: "[etcd:x]:2379", err: `has host "etcd:x" in brackets, which is not an IPv6 address`},
		{endpoint: "[10.0.0.1]:2379", host: "10.0.0.1", port: 2379},
		{endpoint: "[fe80::1%eth0]:2379", err: `has host "fe80::1%eth0"`},
		{endpoint: "[::1", err: `has host "[:"`},
		{endpoint: "[]", err: `has host ""`},
		{endpoint: "[]:80", err: `has host ""`},
		{endpoint: "http://node0:80", err: `has host "http://node0"`},
		{endpoint: "user@node0:80", err: `has host "user@node0"`},
		{endpoint: "node0/x:80", err: `has host "node0/x"`},
	} {
		host, port, err := registry.ParseEndpoint(tt.endpoint, -1)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, "%q", tt.endpoint)
			continue
		}
		require.NoError(t, err, "%q", tt.endpoint)
		assert.Equal(t, tt.host, host, "%q", tt.endpoint)
		assert.Equal(t, tt.port, port, "%q", tt.endpoint)
	}
}
