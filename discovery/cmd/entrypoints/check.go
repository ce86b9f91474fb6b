package main

import (
	"fmt"
	"io"
	"slices"
)

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "check [-workspace go.work]", checkDoc, stderr)
	workspace := fs.String("workspace", "", "go.work file to read instead of the one the go command would use")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := loadProject(*workspace)
	if err != nil {
		return err
	}
	c, err := p.typecheck(p.eps, false)
	if err != nil {
		return err
	}
	problems := slices.Concat(p.problems, c.problems)
	for i := range p.eps {
		if e := c.errs[i]; e != nil {
			problems = append(problems, e)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s:\n%v", count(len(problems), "problem"), problems)
	}
	modules := make(map[string]bool)
	for _, ep := range p.eps {
		modules[ep.Module] = true
	}
	fmt.Fprintf(stdout, "ok: %s in %s\n", count(len(p.eps), "entry point"), count(len(modules), "module"))
	return nil
}

const checkDoc = `Check reads every entry_points.txt of the workspace (outside a workspace, of
the main module's build list) and reports every problem at its file:line:
lines that do not parse, names declared twice, two modules declaring the same
entry point, packages that cannot be loaded, symbols that do not exist or are
not a func or var, torchrun.handlers values that are not a
registry.Creator or a factory of one, and values that cannot be made
the type T a program loads their group as.

A program loads a group as T where it calls discovery.Load[T] or
discovery.Lookup[T] with a constant group name. Check inspects the package in
the current directory and the packages of the workspace it imports or, run
where there is no Go package, every main package of the workspace's modules
and the workspace packages they import (test files are not inspected). A
value can be made a T if it is assignable to T, or is a func with no
parameters returning T or (T, error), which Load calls; a group loaded as two
different types is a problem too.

Check prints a summary and exits with status 0 if there is no problem, 1
otherwise.`

// count returns "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
