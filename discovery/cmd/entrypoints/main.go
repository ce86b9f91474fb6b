// Command entrypoints lists, checks and links the entry points declared by
// the modules of a Go workspace in their entry_points.txt files.
//
// Usage:
//
//	entrypoints list [-json] [-group name] [-workspace go.work]
//	entrypoints generate [-o file] [-group name]... [-workspace go.work]
//	entrypoints check [-workspace go.work]
//
// list prints every entry point with its group, name, value, module,
// version, where it is declared, and its status: linked (a file written by
// entrypoints generate links it), loadable (not linked, but a program loads
// its group and imports discovery/dynamic, which loads it at run time),
// unlinked (not linked, and nothing loads it dynamically: go generate links
// it), stale (a generated file links it with another value) or broken (with
// the reason).
// With -json it prints all of that, and every problem of the workspace, as
// one JSON object.
//
// generate, run by go generate in a program's main package,
//
//	//go:generate go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints generate
//
// writes entrypoints_gen.go, which links every entry point of the
// workspace's modules (outside a workspace, of the main module's build list)
// into the program; with -group, only those of the groups named. It checks
// each symbol first and reports problems at their entry_points.txt line.
//
// check reports every problem of every entry_points.txt of the workspace
// and exits with status 1 if there is any.
//
// Types are checked before the program runs: where the program calls
// discovery.Load[T] or discovery.Lookup[T] with a constant group name (in the
// package in the current directory, or a package of the workspace it
// imports), generate, check and list check every entry point of that group
// against T by the rule Load applies at run time (a value assignable to T, or
// a func() T or func() (T, error) factory), and report a mismatch at its
// entry_points.txt line. A group loaded as two different types is reported
// at both calls.
//
// The workspace is the one the go command would use (GOWORK, then the
// nearest go.work); -workspace names one. Errors go to standard error; the
// exit status is 1 on failure and 2 on bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage: entrypoints <command> [flags]

Commands:
  list       print the entry points of the workspace: group, name, value, module,
             version, where each is declared and whether it is linked, loadable,
             unlinked, stale or broken
             flags: -json (machine-readable), -group NAME, -workspace GO.WORK
  generate   write entrypoints_gen.go in the current package, linking every entry
             point of the workspace into the program; run it from go generate:
             //go:generate go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints generate
             flags: -o FILE, -group NAME (repeatable: link only those groups),
             -workspace GO.WORK
  check      lint every entry_points.txt of the workspace; exit status 1 on problems
             flags: -workspace GO.WORK

The workspace is found as the go command finds it: GOWORK (off disables it),
then the nearest go.work above the current directory. Outside a workspace,
the modules of the main module's build list are read.

Run 'entrypoints <command> -h' for a command's flags.
`

// errUsage marks errors caused by bad usage: exit status 2.
var errUsage = errors.New("bad usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var cmd func([]string, io.Writer, io.Writer) error
	switch args[0] {
	case "list":
		cmd = runList
	case "generate":
		cmd = runGenerate
	case "check":
		cmd = runCheck
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "entrypoints: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "entrypoints %s: %v\n", args[0], err)
		return 1
	}
}

// newFlagSet returns a flag set for a command that reports bad usage as
// errUsage; its usage message gives the synopsis, what the command does,
// and the flags.
func newFlagSet(name, synopsis, doc string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: entrypoints %s\n\n%s\n\nFlags:\n", synopsis, doc)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs, allowing no positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "entrypoints %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}
