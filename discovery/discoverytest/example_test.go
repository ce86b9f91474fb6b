package discoverytest_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/discoverytest"
)

// Greeter is the type a program loads the plugins of group example.greeters
// as.
type Greeter interface{ Greet(name string) string }

// A test checks the plugins that the workspace declares. Here a workspace
// of one module declares en; this test binary neither links it nor imports
// discovery/dynamic, so Check reports it as not linked, at its line, with
// the fix.
func ExampleCheck() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"go.work":                  "go 1.26\n\nuse ./english\n",
		"english/go.mod":           "module example.com/english\n",
		"english/entry_points.txt": "[example.greeters]\nen = example.com/english:English\n",
	}
	for name, data := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}

	err = discoverytest.Check[Greeter]("example.greeters", discovery.WithWorkspace(filepath.Join(dir, "go.work")))
	var problems discovery.ErrorList
	if errors.As(err, &problems) {
		for _, e := range problems {
			rel, _ := filepath.Rel(dir, e.File)
			fmt.Printf("%s:%d: %s: not linked: %v\n", filepath.ToSlash(rel), e.Line, e.EntryPoint.Name, errors.Is(e, discovery.ErrNotLinked))
		}
	}
	// Output:
	// english/entry_points.txt:2: en: not linked: true
}
