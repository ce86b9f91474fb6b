package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

const listDoc = `List prints the entry points of the workspace (outside a workspace, of the
main module's build list): group, name, value, module, version, where each is
declared, and its status:

	linked     a file written by entrypoints generate links it
	loadable   not linked, but a program loads its group and imports
	           discovery/dynamic, which loads it at run time
	unlinked   not linked, and no program inspected loads it dynamically:
	           go generate ./... in the program's package links it
	stale      a generated file links it with another value: run go generate
	broken     it cannot be linked or loaded; the reason follows the table

The programs inspected are the package in the current directory or, run where
there is no Go package, every main package of the workspace's modules, with
the packages of the workspace they import (test files are not inspected). A
program loads a group where it calls discovery.Load or discovery.Lookup with
the group as a constant (or Discover, for torchrun.handlers); a call whose
group is not a constant, or of EntryPoint.Load, counts as loading every
group. The calls of Load[T] and Lookup[T] are checked as entrypoints check
does: a value that cannot be made a T is broken.

With -json it prints one JSON object with the fields EntryPoints, an array of
objects with the fields Group, Name, Value, Module, Version, Pos, Status,
LinkedBy, LoadedBy, Error and Fix, and Problems, an array of objects with the
fields Pos, File, Line, Group, Name, Module, Error and Fix: lines that do not
parse, conflicts and other problems of the workspace. The exit status is 1
if an entry point is broken or there are problems.`

// listed is one line of list's output.
type listed struct {
	Group    string
	Name     string
	Value    string
	Module   string
	Version  string   // as the table prints it: (devel) for a module of the workspace
	Pos      string   // file:line of the declaration
	Status   string   // linked, loadable, unlinked, stale or broken
	LinkedBy []string `json:",omitempty"` // generated files that link it
	LoadedBy []string `json:",omitempty"` // programs that load it dynamically, if loadable
	Error    string   `json:",omitempty"` // why it is broken or stale
	Fix      string   `json:",omitempty"` // what to do about it
}

// listProblem is a problem of the workspace that is not one listed entry
// point's: a line that does not parse, a conflict, a go.work the go command
// refuses, a group loaded as two types.
type listProblem struct {
	Pos    string // file:line, or file
	File   string
	Line   int    `json:",omitempty"`
	Group  string `json:",omitempty"` // of the entry point or section concerned, if known
	Name   string `json:",omitempty"`
	Module string `json:",omitempty"`
	Error  string
	Fix    string `json:",omitempty"`
}

// listOutput is what list -json prints.
type listOutput struct {
	EntryPoints []listed
	Problems    []listProblem
}

func runList(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list", "list [-json] [-group name] [-workspace go.work]", listDoc, stderr)
	asJSON := fs.Bool("json", false, "print a JSON object, for machines")
	group := fs.String("group", "", "list only the entry points of this group")
	workspace := fs.String("workspace", "", "go.work file to read instead of the one the go command would use")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := loadProject(*workspace)
	if err != nil {
		return err
	}
	if *group != "" {
		p.selectGroups([]string{*group})
	}
	c, err := p.typecheck(p.eps, false)
	if err != nil {
		return err
	}
	linkedBy := p.generatedLinks()
	out := listOutput{EntryPoints: make([]listed, len(p.eps)), Problems: []listProblem{}}
	broken := 0
	for i, ep := range p.eps {
		l := listed{Group: ep.Group, Name: ep.Name, Value: ep.Value, Module: ep.Module, Version: ep.Version, Pos: p.rel(ep.File) + ":" + strconv.Itoa(ep.Line)}
		if l.Version == "" {
			l.Version = "(devel)"
		}
		var stale []string
		for _, ref := range linkedBy[[2]string{ep.Group, ep.Name}] {
			switch {
			case ref.module != ep.Module:
				stale = append(stale, fmt.Sprintf("%s links the one of module %s, which wins in that program", ref.file, ref.module))
			case ref.value == ep.Value:
				l.LinkedBy = append(l.LinkedBy, ref.file)
			default:
				stale = append(stale, fmt.Sprintf("linked as %s by %s", ref.value, ref.file))
			}
		}
		switch {
		case c.errs[i] != nil:
			l.Status, l.Error, l.Fix = "broken", c.errs[i].Err.Error(), c.errs[i].Fix
			broken++
		case len(l.LinkedBy) > 0:
			l.Status = "linked"
		case len(stale) > 0:
			l.Status = "stale"
			l.Error = strings.Join(stale, "; ")
			l.Fix = "go generate ./... in that package links it as declared"
		case len(c.progs.dynamicLoaders(ep.Group)) > 0:
			l.Status, l.LoadedBy = "loadable", c.progs.dynamicLoaders(ep.Group)
		default:
			l.Status = "unlinked"
			l.Fix = "go generate ./... in the program's package links it, or import discovery/dynamic to load it at run time"
		}
		out.EntryPoints[i] = l
	}
	problems := slices.Concat(p.problems, c.problems)
	for _, e := range problems {
		lp := listProblem{Pos: e.Pos(), File: e.File, Line: e.Line, Group: e.Group, Error: e.Err.Error(), Fix: e.Fix}
		if ep := e.EntryPoint; ep != nil {
			lp.Group, lp.Name, lp.Module = ep.Group, ep.Name, ep.Module
		}
		out.Problems = append(out.Problems, lp)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "\t")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printList(stdout, out.EntryPoints)
	}
	for _, e := range problems {
		fmt.Fprintf(stderr, "entrypoints list: %v\n", e)
	}
	if len(problems) > 0 || broken > 0 {
		return fmt.Errorf("%s broken, %s in the workspace (entrypoints check lists them)", count(broken, "entry point"), count(len(problems), "other problem"))
	}
	return nil
}

func printList(w io.Writer, out []listed) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tNAME\tVALUE\tMODULE\tVERSION\tDECLARED AT\tSTATUS")
	for _, l := range out {
		status := l.Status
		switch l.Status {
		case "linked":
			status += " by " + strings.Join(l.LinkedBy, ", ")
		case "stale":
			status += " (" + l.Error + "; fix: " + l.Fix + ")"
		case "loadable":
			status += " (not linked; discovery/dynamic loads it at run time in " + strings.Join(l.LoadedBy, ", ") + "; go generate ./... links it)"
		case "unlinked":
			status += " (" + l.Fix + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Group, l.Name, l.Value, l.Module, l.Version, l.Pos, status)
	}
	tw.Flush()
	for _, l := range out {
		if l.Status == "broken" {
			msg := l.Error
			if l.Fix != "" {
				msg += "; fix: " + l.Fix
			}
			fmt.Fprintf(w, "%s: %s: %s\n", l.Pos, l.Name, msg)
		}
	}
}

// A linkRef is a file written by entrypoints generate that links an entry
// point, and the module and value it links.
type linkRef struct{ file, module, value string }

// generatedLinks finds the files written by entrypoints generate in the
// main modules and returns, for each (group, name, module) they link, the
// files that link it (relative to the workspace) with the module and value
// they link, by (group, name).
func (p *project) generatedLinks() map[[2]string][]linkRef {
	links := make(map[[2]string][]linkRef)
	for _, m := range p.modules {
		if !m.Main || m.Dir == "" {
			continue
		}
		filepath.WalkDir(m.Dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			name := d.Name()
			if d.IsDir() {
				if path != m.Dir && (name == "vendor" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || exists(filepath.Join(path, "go.mod"))) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(name, ".go") && isGenerated(path) {
				for k, value := range linkedIn(path) {
					links[[2]string{k[0], k[1]}] = append(links[[2]string{k[0], k[1]}], linkRef{p.rel(path), k[2], value})
				}
			}
			return nil
		})
	}
	return links
}

// isGenerated reports whether the file starts with the header generate
// writes.
func isGenerated(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line) == generatedHeader
}

// linkedIn returns the value linked for each (group, name, module) by the
// Linked literals of a generated file.
func linkedIn(path string) map[[3]string]string {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil
	}
	keys := make(map[[3]string]string)
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		if sel, ok := lit.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Linked" {
			return true
		}
		fields := make(map[string]string)
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			k, ok1 := kv.Key.(*ast.Ident)
			v, ok2 := kv.Value.(*ast.BasicLit)
			if ok1 && ok2 && v.Kind == token.STRING {
				fields[k.Name], _ = strconv.Unquote(v.Value)
			}
		}
		keys[[3]string{fields["Group"], fields["Name"], fields["Module"]}] = fields["Value"]
		return false
	})
	return keys
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// rel returns path relative to the workspace's directory (outside a
// workspace, the current directory) if it is below it, else path.
func (p *project) rel(path string) string {
	dir := p.dir
	if p.gowork != "" {
		dir = filepath.Dir(p.gowork)
	}
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
