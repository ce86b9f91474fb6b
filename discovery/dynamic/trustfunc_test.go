//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFuncPackage(t *testing.T) {
	for fn, want := range map[string]string{
		"main.main":                                    "main",
		"main.run.func1":                               "main",
		"example.com/app.TestHandlers":                 "example.com/app",
		"example.com/app/cmd/tool.(*T).Run":            "example.com/app/cmd/tool",
		"gopkg.in/yaml%2ev3.Unmarshal":                 "gopkg.in/yaml.v3",
		"example.com/app.F[go.shape.struct { a/b.T }]": "example.com/app",
		"example.com/app_test.TestX":                   "example.com/app_test",
	} {
		assert.Equal(t, want, funcPackage(fn), fn)
	}
}

func TestOfMainModule(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "example.com/app"},
		Deps: []*debug.Module{{Path: "example.com/app/contrib"}, {Path: "example.com/other"}},
	}
	for pkg, want := range map[string]bool{
		"main":                       true,
		"example.com/app":            true,
		"example.com/app/internal/x": true,
		"example.com/app/contrib":    false, // a module of its own
		"example.com/app/contrib/x":  false,
		"example.com/apps":           false,
		"example.com/other":          false,
	} {
		assert.Equal(t, want, ofMainModule(bi, pkg), pkg)
	}
}

func TestBuiltFrom(t *testing.T) {
	for _, tt := range []struct {
		dir, srcDir, pkg string
		want             bool
	}{
		{"/ws/app", "/ws/app", "example.com/app", true},
		{"/ws/app", "/ws/app/cmd/tool", "example.com/app/cmd/tool", true},
		{"/ws/app", "/ws/app/cmd/tool", "main", true},
		{"/ws/app", "/ws/app/other", "example.com/app/cmd/tool", false},
		{"/ws/evil/app", "/home/me/app", "main", false},
		{"/ws/evil/app", "/home/me/app", "example.com/app", false},
		{"/ws/app", "/ws", "main", false},
	} {
		assert.Equal(t, tt.want, builtFrom(tt.dir, tt.srcDir, tt.pkg, "example.com/app"), "%+v", tt)
	}
}
