package etcd

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseEndpoints checks the client URLs made of endpoints read as
// PyTorch's etcd backends read them (default port, bracketed IPv6, empty
// meaning localhost).
func TestParseEndpoints(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		secure   bool
		want     []string
	}{
		{"", false, []string{"http://localhost:2379"}},
		{"  ", true, []string{"https://localhost:2379"}},
		{"etcd-0", false, []string{"http://etcd-0:2379"}},
		{"[2001:db8::1]", false, []string{"http://[2001:db8::1]:2379"}},
		{"[::1]:123", false, []string{"http://[::1]:123"}},
		{" etcd-0:2380 , https://etcd-1/", true, []string{"https://etcd-0:2380", "https://etcd-1:2379"}},
		{"http://10.0.0.1:1,[::1]", false, []string{"http://10.0.0.1:1", "http://[::1]:2379"}},
	} {
		got, err := parseEndpoints(tt.endpoint, tt.secure)
		require.NoError(t, err, "%q", tt.endpoint)
		assert.Equal(t, tt.want, got, "%q", tt.endpoint)
	}
}
