package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-entrypoints/entrypoints/discovery"
)

// project is what the commands work on: the modules of the workspace, or
// outside a workspace those of the main module's build list, and the entry
// points they declare.
type project struct {
	dir      string // directory the command runs in
	gowork   string // go.work in effect, or "" outside a workspace
	modules  []goModule
	eps      []discovery.EntryPoint
	problems discovery.ErrorList
	broken   error // why the go command cannot load the workspace, if it cannot
}

// goModule is a module as go list -m -json prints it.
type goModule struct {
	Path    string
	Version string
	Dir     string
	Main    bool
}

// loadProject reads the project of the current directory. workspace, if
// set, names the go.work file (or its directory) to use.
func loadProject(workspace string) (*project, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	p := &project{dir: dir}
	if workspace != "" {
		if p.gowork, err = filepath.Abs(workspace); err != nil {
			return nil, err
		}
		if fi, err := os.Stat(p.gowork); err == nil && fi.IsDir() {
			p.gowork = filepath.Join(p.gowork, "go.work")
		}
	} else if p.gowork, err = discovery.FindWorkspace(dir); err != nil {
		return nil, err
	}

	var found, listErr error
	if p.gowork != "" {
		// The problems Find meets are reported below, not logged.
		p.eps, found = discovery.Find(discovery.WithWorkspace(p.gowork), discovery.WithLogger(quiet))
		p.modules, listErr = p.goListModules()
	} else {
		if p.modules, err = p.goListModules("all"); err != nil {
			return nil, err
		}
		// Only modules with an entry_points.txt are read: the build list
		// may hold hundreds of modules, some without a go.mod.
		dirs := make([]string, 0, len(p.modules))
		version := make(map[string]string)
		for _, m := range p.modules {
			if m.Dir != "" && exists(filepath.Join(m.Dir, discovery.FileName)) {
				dirs = append(dirs, m.Dir)
				version[m.Path] = m.Version
			}
		}
		p.eps, found = discovery.Find(discovery.WithModules(dirs...), discovery.WithLogger(quiet))
		for i := range p.eps {
			p.eps[i].Version = version[p.eps[i].Module]
		}
	}
	if el, ok := found.(discovery.ErrorList); ok {
		p.problems = el
	} else if found != nil {
		p.problems = discovery.ErrorList{{Err: found}}
	}
	if listErr != nil {
		if broken := workProblems(p.problems, p.gowork); len(broken) > 0 {
			// The go command refuses the workspace for what Find
			// found at a go.work line: that is the one message.
			return nil, broken
		}
		// The go command refuses the workspace: nothing can be built or
		// checked in it until that is fixed.
		p.problems = append(p.problems, &discovery.Error{File: p.gowork, Err: listErr, Fix: "correct the go.work file"})
		p.broken = listErr
	}
	return p, nil
}

// quiet is a logger that discards what it is given.
var quiet = slog.New(slog.DiscardHandler)

// workProblems returns the problems of the go.work file gowork itself, at
// its lines.
func workProblems(problems discovery.ErrorList, gowork string) discovery.ErrorList {
	var work discovery.ErrorList
	for _, e := range problems {
		if e.EntryPoint == nil && (e.File == gowork || e.File == "" && strings.HasPrefix(e.Err.Error(), gowork+":")) {
			work = append(work, e)
		}
	}
	return work
}

// env returns the environment for go commands run for p.
func (p *project) env() []string {
	gowork := p.gowork
	if gowork == "" {
		gowork = "off"
	}
	return append(os.Environ(), "GOWORK="+gowork)
}

// goListModules runs go list -m -json with args in p's directory.
func (p *project) goListModules(args ...string) ([]goModule, error) {
	cmd := exec.Command("go", append([]string{"list", "-m", "-json"}, args...)...)
	cmd.Dir, cmd.Env = p.dir, p.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m: %v\n%s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var mods []goModule
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m goModule
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return mods, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list -m: %v", err)
		}
		mods = append(mods, m)
	}
}

// selectGroups keeps only the entry points of groups, and the problems that
// are not another group's, if groups are given.
func (p *project) selectGroups(groups []string) {
	if len(groups) == 0 {
		return
	}
	var eps []discovery.EntryPoint
	for _, ep := range p.eps {
		if slices.Contains(groups, ep.Group) {
			eps = append(eps, ep)
		}
	}
	var problems discovery.ErrorList
	for _, e := range p.problems {
		if e.EntryPoint == nil || slices.Contains(groups, e.EntryPoint.Group) {
			problems = append(problems, e)
		}
	}
	p.eps, p.problems = eps, problems
}
