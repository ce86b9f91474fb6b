package discovery

import (
	"errors"
	"fmt"
	"strings"
)

// Conditions callers can test for with errors.Is on an error returned by
// Find, EntryPoint.Load, Load, Lookup or Discover, or on one of its *Error
// elements.
var (
	// ErrNotLinked: an entry point is declared in the workspace but its
	// code is neither linked into the binary nor loadable dynamically.
	ErrNotLinked = errors.New("declared in the workspace but not linked into this binary")
	// ErrConflict: two modules declare the same entry point, or Discover
	// found an entry point's name already registered by something else.
	ErrConflict = errors.New("conflicting declarations")
)

// An Error is a problem with one line of an entry_points.txt file, one
// entry point, or one workspace file. It says where, what and, when there is
// one, how to fix it.
type Error struct {
	File string // file concerned: an entry_points.txt, go.work or go.mod
	Line int    // line in File, or 0

	// EntryPoint is the entry point concerned, when the problem is one
	// entry point's. Its Group and Name are set; the rest may not be.
	EntryPoint *EntryPoint
	// Group is the group concerned, when the problem is a line of an
	// entry_points.txt in a [group] section that does not parse: it may be
	// that group's entry point, and no other's. Empty otherwise (a problem
	// of an entry point has EntryPoint.Group).
	Group string

	Err error  // what went wrong
	Fix string // what to do about it, if known
}

// Pos returns the position of the problem, "file:line" or "file".
func (e *Error) Pos() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return e.File
}

// Error returns the problem on one line: "file:line: entry point NAME in
// [GROUP] of module PATH: what went wrong; fix: what to do", each part
// present when known.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.Pos())
		b.WriteString(": ")
	}
	if ep := e.EntryPoint; ep != nil {
		fmt.Fprintf(&b, "entry point %s in [%s]", ep.Name, ep.Group)
		if ep.Module != "" {
			fmt.Fprintf(&b, " of module %s", ep.Module)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Unwrap returns what went wrong, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is a list of problems, one per line when printed. It is the
// error returned by ParseFile, Find, Load and Discover; errors.As and
// errors.Is see each element.
type ErrorList []*Error

// Error returns the problems, one per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the elements of the list.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns l as an error, or nil if l is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
