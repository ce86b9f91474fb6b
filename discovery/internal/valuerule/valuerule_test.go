package valuerule

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

type creator func(int) (string, error)

func TestAccepts(t *testing.T) {
	want := reflect.TypeFor[creator]()
	tests := []struct {
		name string
		v    any
		ok   bool
	}{
		{"named value", creator(nil), true},
		{"unnamed func of the same signature", func(int) (string, error) { return "", nil }, true},
		{"factory", func() creator { return nil }, true},
		{"factory of an unnamed func", func() func(int) (string, error) { return nil }, true},
		{"factory with error", func() (creator, error) { return nil, nil }, true},
		{"factory with another second result", func() (creator, bool) { return nil, false }, false},
		{"variadic factory", func(...int) creator { return nil }, false},
		{"factory with a parameter", func(int) creator { return nil }, false},
		{"other func", func() int { return 0 }, false},
		{"string", "a string", false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.ok, Accepts(reflect.TypeOf(tt.v), want))
		})
	}
	stringer := reflect.TypeFor[fmt.Stringer]()
	assert.False(t, Accepts(reflect.TypeFor[error](), stringer))
	assert.True(t, Accepts(reflect.TypeOf(func() (fmt.Stringer, error) { return nil, errors.New("x") }), stringer))
}
