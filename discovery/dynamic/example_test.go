package dynamic_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/dynamic"
	"github.com/go-entrypoints/entrypoints/registry"
)

// A program, or only its tests, imports the package for its side effect:
//
//	import _ "github.com/go-entrypoints/entrypoints/discovery/dynamic"
//
// Then Discover registers the handlers of every module of the workspace,
// building the ones not linked into the program as a plugin.
func Example() {
	rep, err := discovery.Discover()
	if err != nil {
		// Each failure names its entry point, entry_points.txt:line, the
		// cause and the fix; the other handlers are registered.
		for _, e := range rep.Failed {
			if errors.Is(e, dynamic.ErrUnsupported) {
				log.Printf("link the handlers with go generate ./...: %v", e)
				continue
			}
			log.Print(e)
		}
	}
	h, err := registry.CreateHandler(registry.Parameters{Backend: "myhandler", MinNodes: 1, MaxNodes: 4})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Backend())
}
