package discovery_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"

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

// Greeter is the interface that the plugins of group example.greeters
// implement, in a module of the program's author.
type Greeter interface{ Greet(name string) string }

type english struct{}

func (english) Greet(name string) string { return "Hello, " + name }

type french struct{}

func (french) Greet(name string) string { return "Bonjour, " + name }

// newFrench is a factory: Load calls it.
func newFrench() Greeter { return french{} }

// linkGreeters links two plugins of group example.greeters, as the file
// that entrypoints generate writes does for a workspace whose modules
// declare
//
//	[example.greeters]
//	en = example.com/english:English
//
// and
//
//	[example.greeters]
//	fr = example.com/french:New
var linkGreeters = sync.OnceFunc(func() {
	discovery.Link(
		discovery.Linked{Group: "example.greeters", Name: "en", Value: "example.com/english:English", Module: "example.com/english", Line: 2, Symbol: english{}},
		discovery.Linked{Group: "example.greeters", Name: "fr", Value: "example.com/french:New", Module: "example.com/french", Line: 2, Symbol: newFrench},
	)
})

// A program loads every plugin of a group of its own, each made a Greeter:
// en's value is one, fr's is a factory of one.
func ExampleLoad() {
	linkGreeters()

	greeters, err := discovery.Load[Greeter]("example.greeters")
	if err != nil {
		// Every plugin that failed is named at its file:line; the others
		// are returned.
		log.Print(err)
	}
	for _, g := range greeters {
		fmt.Printf("%s (%s): %s\n", g.Name, g.Pos(), g.Value.Greet("Ada"))
	}
	// Output:
	// en (example.com/english/entry_points.txt:2): Hello, Ada
	// fr (example.com/french/entry_points.txt:2): Bonjour, Ada
}

// A program loads one plugin by name, as chosen by its user.
func ExampleLookup() {
	linkGreeters()

	g, err := discovery.Lookup[Greeter]("example.greeters", "fr")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g.Greet("Ada"))

	_, err = discovery.Lookup[Greeter]("example.greeters", "de")
	fmt.Println(err)
	// Output:
	// Bonjour, Ada
	// no such entry point: group example.greeters has no entry point "de"; it has en, fr
}

// EntryPoint.Load returns the value of an entry point's symbol as it is,
// as Python's EntryPoint.load() does: a factory is not called.
func ExampleEntryPoint_Load() {
	linkGreeters()

	eps, err := discovery.Find(discovery.WithGroup("example.greeters"))
	if err != nil {
		log.Print(err)
	}
	for _, ep := range eps {
		v, err := ep.Load()
		if err != nil {
			log.Print(err)
			continue
		}
		switch v := v.(type) {
		case Greeter:
			fmt.Printf("%s is a Greeter: %s\n", ep.Name, v.Greet("Ada"))
		case func() Greeter:
			fmt.Printf("%s is a factory: %s\n", ep.Name, v().Greet("Ada"))
		}
	}
	// Output:
	// en is a Greeter: Hello, Ada
	// fr is a factory: Bonjour, Ada
}
