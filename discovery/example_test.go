package discovery_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/registry"
)

// A program registers the rendezvous handlers its workspace declares, then
// creates one by name.
func ExampleDiscover() {
	rep, err := discovery.Discover()
	if err != nil {
		// Every failed entry point is named, with its file:line and fix;
		// the others are registered.
		log.Print(err)
	}
	for _, ep := range rep.Registered {
		fmt.Printf("registered %s from %s (%s)\n", ep.Name, ep.Module, ep.Pos())
	}
	h, err := registry.CreateHandler(registry.Parameters{Backend: "testbackend", RunID: "job1", MinNodes: 1, MaxNodes: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Shutdown(context.Background())
}

func ExampleParseFile() {
	eps, err := discovery.ParseFile("entry_points.txt", []byte(`# rendezvous backends
[torchrun.handlers]
myhandler = example.com/myhandler:NewHandler
not an entry point
`))
	for _, ep := range eps {
		fmt.Println(ep.Pos(), ep)
	}
	fmt.Println(err)
	// Output:
	// entry_points.txt:3 [torchrun.handlers] myhandler = example.com/myhandler:NewHandler
	// entry_points.txt:4: unexpected line "not an entry point": want name = importpath:Symbol, a [group] header, a # comment or a blank line
}

func ExampleFind() {
	// A workspace of one module that declares one entry point.
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"go.work":                    "go 1.26\n\nuse ./myhandler\n",
		"myhandler/go.mod":           "module example.com/myhandler\n",
		"myhandler/entry_points.txt": "[torchrun.handlers]\nmyhandler = example.com/myhandler:NewHandler\n",
	}
	for name, data := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}

	eps, err := discovery.Find(discovery.WithWorkspace(filepath.Join(dir, "go.work")), discovery.WithGroup("torchrun.handlers"))
	if err != nil {
		log.Fatal(err)
	}
	for _, ep := range eps {
		fmt.Println(ep.Name, ep.Value, ep.Module, ep.Linked)
	}
	// Output:
	// myhandler example.com/myhandler:NewHandler example.com/myhandler false
}
