package static_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/contrib/static"
	"github.com/go-entrypoints/entrypoints/registry"
	"github.com/go-entrypoints/entrypoints/registry/handlertest"
)

func TestConformance(t *testing.T) {
	for name, secret := range map[string]string{"without a secret": "", "with a secret": "s3cret"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// Node i has rank i. The scenarios run one after another, each
			// with a rank 0 of its own hosting the store at the same
			// endpoint. The world is fixed, so the late-joiner scenario does
			// not apply (handlertest skips it when Nodes equals MaxNodes).
			err := handlertest.Check(ctx, func(node int, p registry.Parameters) (registry.Handler, error) {
				p.Config = map[string]string{"rank": strconv.Itoa(node)}
				if secret != "" {
					p.Config["secret"] = secret
				}
				return static.New(p)
			}, handlertest.Options{
				Params: registry.Parameters{Backend: static.Backend, Endpoint: freeEndpoint(t), MinNodes: 3, MaxNodes: 3},
			})
			require.NoError(t, err)
		})
	}
}
