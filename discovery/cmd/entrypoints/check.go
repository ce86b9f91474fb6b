package main

import (
	"fmt"
	"io"
)

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "check [-workspace go.work]", stderr)
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
		return fmt.Errorf("%d problems:\n%v", len(problems), problems)
	}
	modules := make(map[string]bool)
	for _, ep := range p.eps {
		modules[ep.Module] = true
	}
	fmt.Fprintf(stdout, "ok: %d entry points in %d modules\n", len(p.eps), len(modules))
	return nil
}
