package static_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/contrib/static"
	"github.com/go-entrypoints/entrypoints/registry"
)

// The tests of PyTorch's static_rendezvous_test.py, ported.

func TestPyTorchStaticRendezvous(t *testing.T) {
	p := func(endpoint string, conf map[string]string) registry.Parameters {
		return registry.Parameters{Backend: "static", Endpoint: endpoint, RunID: "test_id", MinNodes: 1, MaxNodes: 1, Config: conf}
	}
	rank0 := map[string]string{"rank": "0"}
	for name, tt := range map[string]struct {
		params registry.Parameters
		err    string
	}{
		"missing port":            {p("localhost", rank0), `endpoint "localhost" has no port`},
		"empty endpoint":          {p("", rank0), "endpoint is empty"},
		"IPv6 address, no rank":   {p("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:90", nil), `config key "rank" is not set`},
		"IPv6 localhost, no rank": {p("[::1]:90", nil), `config key "rank" is not set`},
	} {
		_, err := static.New(tt.params)
		assert.ErrorContains(t, err, tt.err, name)
	}

	// get_backend, with PyTorch's name for the join timeout.
	h, err := static.New(p("localhost:123", map[string]string{"rank": "0", "timeout": "60"}))
	require.NoError(t, err)
	assert.Equal(t, "static", h.Backend())
	_, err = h.Shutdown(context.Background())
	require.NoError(t, err)

	// Two rendezvous calls in a row on a world of one.
	h, err = static.New(p(freeEndpoint(t), rank0))
	require.NoError(t, err)
	defer h.Shutdown(context.Background())
	for range 2 {
		info, err := h.NextRendezvous(context.Background())
		require.NoError(t, err)
		assert.NotNil(t, info.Store)
		assert.Equal(t, 0, info.Rank)
		assert.Equal(t, 1, info.WorldSize)
	}
}
