package discovery

import (
	"fmt"
	"reflect"

	"github.com/go-entrypoints/entrypoints/discovery/internal/valuerule"
)

// The rule that makes the value of an entry point's symbol a T. Load,
// Lookup and Discover apply it at run time, with reflect, to the value;
// entrypoints generate and check apply it before the program runs, with
// go/types, to the symbol's declared type. The two must stay in step:
//
//  1. Value. If the value's type is assignable to T (reflect's
//     Type.AssignableTo, go/types' AssignableTo: identical types; identical
//     underlying types where one of the two is not a named type, such as a
//     func(registry.Parameters) (registry.Handler, error) for a
//     registry.Creator; T an interface that the type implements), the
//     value is taken as it is. A nil func, pointer, map, channel or
//     interface is an error.
//  2. Factory. Else, if the value is a func that is not variadic, takes no
//     parameters and returns either one result assignable to T, or two
//     results of which the first is assignable to T and the second is of
//     type error exactly, it is a factory: it is called on each load, and
//     its first result is the value. A nil func, a panic, a non-nil error
//     or a nil first result (a nil pointer in an interface included, as in
//     rule 1) fails the entry point.
//  3. Else the entry point fails with an error naming the symbol's type
//     and T.
//
// Rule 1 comes first: with T = any, or T a func type such as
// func() Exporter, a func is a value, never called.
//
// At run time the value's type is its dynamic type: a var declared with an
// interface type is judged by the type of the value it holds, which can be
// assignable to T where the declared type is not. The generator judges the
// declared type and so refuses such a var; declare it with T, or with a
// type assignable to T.

// as makes v, the value of ep's symbol, a T by the rule above.
func as[T any](ep EntryPoint, v any) (t T, err error) {
	want := reflect.TypeFor[T]()
	sym := symbolName(ep)
	if v == nil {
		return t, fmt.Errorf("%s is nil; want %s", sym, want)
	}
	rv := reflect.ValueOf(v)
	// Fast paths for the common cases, same rule: v is a T (its type is T,
	// or implements interface T), or one of the two factory types of T.
	switch f := v.(type) {
	case T:
		if isNil(rv) {
			return t, fmt.Errorf("%s is a nil %s", sym, rv.Type())
		}
		return f, nil
	case func() T:
		if f == nil {
			return t, fmt.Errorf("%s is a nil %s", sym, rv.Type())
		}
		return callFactory[T](sym, func() (T, error) { return f(), nil })
	case func() (T, error):
		if f == nil {
			return t, fmt.Errorf("%s is a nil %s", sym, rv.Type())
		}
		return callFactory[T](sym, f)
	}
	typ := rv.Type()
	switch {
	case typ.AssignableTo(want):
		if isNil(rv) {
			return t, fmt.Errorf("%s is a nil %s", sym, typ)
		}
		reflect.ValueOf(&t).Elem().Set(rv)
		return t, nil
	case valuerule.IsFactory(typ, want):
		if rv.IsNil() {
			return t, fmt.Errorf("%s is a nil %s", sym, typ)
		}
		return callFactory[T](sym, func() (t T, err error) {
			out := rv.Call(nil)
			if len(out) == 2 && !out[1].IsNil() {
				return t, out[1].Interface().(error)
			}
			if !isNil(out[0]) {
				reflect.ValueOf(&t).Elem().Set(out[0])
			}
			return t, nil
		})
	}
	return t, fmt.Errorf("%s has type %s; want %s, or a func() returning %s or (%s, error)%s", sym, typ, want, want, want, whyNot(typ, want))
}

// whyNot explains, as the compiler would, why typ, or the result of typ if
// it has a factory's shape, does not implement interface want when its
// pointer type does: the mistake of declaring a value where a pointer was
// meant. It returns "" otherwise.
func whyNot(typ, want reflect.Type) string {
	if want.Kind() != reflect.Interface {
		return ""
	}
	if typ.Kind() == reflect.Func && typ.NumIn() == 0 && !typ.IsVariadic() && typ.NumOut() >= 1 && typ.NumOut() <= 2 {
		typ = typ.Out(0)
	}
	if typ.Kind() == reflect.Interface || typ.Kind() == reflect.Pointer || typ.Implements(want) || !reflect.PointerTo(typ).Implements(want) {
		return ""
	}
	for i := range want.NumMethod() {
		if m := want.Method(i); !hasMethod(typ, m.Name) {
			return fmt.Sprintf(" (%s does not implement %s: method %s has pointer receiver; use a *%s)", typ, want, m.Name, typ)
		}
	}
	return ""
}

// hasMethod reports whether typ's method set has a method called name.
func hasMethod(typ reflect.Type, name string) bool {
	_, ok := typ.MethodByName(name)
	return ok
}

// callFactory calls the factory f, named sym, and returns its value.
func callFactory[T any](sym string, f func() (T, error)) (t T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			t, err = zero, fmt.Errorf("%s panicked: %v", sym, p)
		}
	}()
	t, err = f()
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s failed: %w", sym, err)
	}
	v := reflect.ValueOf(&t).Elem()
	if isNil(v) {
		return t, fmt.Errorf("%s gave a nil %s", sym, reflect.TypeFor[T]())
	}
	// A nil pointer in a non-nil interface is as nil as the var of rule 1
	// holding one, which is refused: the factory must fail alike.
	if v.Kind() == reflect.Interface && isNil(v.Elem()) {
		var zero T
		return zero, fmt.Errorf("%s gave a nil %s as a %s", sym, v.Elem().Type(), v.Type())
	}
	return t, nil
}

// isNil reports whether v is a nil func, pointer, map, channel or
// interface. A nil slice is an empty list, and is not nil here.
func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Func, reflect.Pointer, reflect.Map, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// symbolName names ep's symbol in errors: its Symbol, or, for an entry
// point without one (a stand-in), its name.
func symbolName(ep EntryPoint) string {
	if s := ep.Symbol(); s != "" {
		return s
	}
	return ep.Name
}
