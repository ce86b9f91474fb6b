package registry_test

import (
	"fmt"

	"github.com/go-entrypoints/entrypoints/registry"
)

func ExampleRegistry_CreateHandler() {
	r := registry.New()
	if err := r.Register("dummy", createDummy); err != nil {
		panic(err)
	}
	h, err := r.CreateHandler(registry.Parameters{Backend: "dummy", RunID: "job1", MinNodes: 1, MaxNodes: 4})
	fmt.Println(h.Backend(), err)

	_, err = r.CreateHandler(registry.Parameters{Backend: "etcd", MinNodes: 1, MaxNodes: 4})
	fmt.Println(err != nil)
	// Output:
	// dummy <nil>
	// true
}

func ExampleParseConfig() {
	conf, err := registry.ParseConfig("join_timeout=900, last_call_timeout=30")
	if err != nil {
		panic(err)
	}
	p := registry.Parameters{Backend: "etcd", MinNodes: 1, MaxNodes: 4, Config: conf}
	timeout, err := p.GetInt("join_timeout", 600)
	fmt.Println(timeout, err)
	// Output: 900 <nil>
}
