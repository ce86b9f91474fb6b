package main

import (
	"fmt"
	"io"
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
	problems := p.problems
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
not a func or var, and torchrun.handlers values that are not a
func() registry.Creator or a registry.Creator. It prints a summary and exits
with status 0 if there is none, 1 otherwise.`

// count returns "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
