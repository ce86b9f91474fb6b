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

func ExampleParseEndpoint() {
	for _, endpoint := range []string{"node0.example.com:29400", "[2001:db8::1]", "", "~:123"} {
		host, port, err := registry.ParseEndpoint(endpoint, 2379)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(host, port)
	}
	// Output:
	// node0.example.com 29400
	// 2001:db8::1 2379
	// localhost 2379
	// error: rendezvous endpoint "~:123" has host "~", which is not a host name or IP address (letters, digits, "_", ".", "-" and ":" only); give host:port, as in node0.example.com:29400, 10.0.0.1:29400 or [2001:db8::1]:29400
}
