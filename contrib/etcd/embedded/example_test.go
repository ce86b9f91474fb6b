package embedded_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/go-entrypoints/entrypoints/contrib/etcd/embedded"
)

// Start a throw-away etcd server and hand its endpoint to the rendezvous.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "etcd")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	srv, err := embedded.Start(context.Background(), dir)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	fmt.Println(strings.HasPrefix(srv.Endpoint(), "127.0.0.1:"))
	// Output: true
}
