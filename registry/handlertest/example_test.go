package handlertest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
	"github.com/go-entrypoints/entrypoints/registry/handlertest"
)

// A backend author checks their backend in a test. Here the backend is the
// in-memory one of this package's tests; a real one would be created from
// params with its own constructor, such as etcd.New(params).
func ExampleCheck() {
	backend := newMemNet(faults{})
	newHandler := func(node int, params registry.Parameters) (registry.Handler, error) {
		return backend.newHandler(node, params)
	}
	err := handlertest.Check(context.Background(), newHandler, handlertest.Options{
		Params:       registry.Parameters{Backend: "mem", MinNodes: 2, MaxNodes: 4},
		Nodes:        3,
		RoundTimeout: 10 * time.Second,
	})
	fmt.Println("conforms:", err == nil)
	// Output: conforms: true
}
