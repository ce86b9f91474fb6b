// Package valuerule holds the type part of the rule that makes the value of
// an entry point's symbol a T (see discovery.Load), so that package
// discovery, which applies it, and package discovery/dynamic, which checks
// a loaded handler's type before handing it over, judge types alike.
package valuerule

import "reflect"

// errorType is the type error.
var errorType = reflect.TypeFor[error]()

// IsFactory reports whether typ is the type of a factory of want values:
// a func that is not variadic, takes no parameters, and returns R or
// (R, error), with R assignable to want.
func IsFactory(typ, want reflect.Type) bool {
	if typ.Kind() != reflect.Func || typ.NumIn() != 0 || typ.IsVariadic() {
		return false
	}
	switch typ.NumOut() {
	case 1:
		return typ.Out(0).AssignableTo(want)
	case 2:
		return typ.Out(0).AssignableTo(want) && typ.Out(1) == errorType
	}
	return false
}

// Accepts reports whether a value of type typ can be made a want: it is
// assignable to want, or it is a factory of want values. A nil typ (the
// type of a nil interface) is not accepted.
func Accepts(typ, want reflect.Type) bool {
	return typ != nil && (typ.AssignableTo(want) || IsFactory(typ, want))
}
