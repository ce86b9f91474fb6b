//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// settings are the go build flags and environment that make a plugin
// loadable by this program: plugin.Open refuses a plugin if a package it
// shares with the program was compiled differently, so every setting that
// changes compiled packages must match the program's own, as recorded in
// its build info.
type settings struct {
	flags []string // go build flags, after "build"
	env   []string // KEY=VALUE pairs that override the environment
	cover bool     // the program was built with -cover
}

// archEnv are the variables that select an architecture's instruction set
// level; the build info records the one that applies.
var archEnv = []string{"GO386", "GOAMD64", "GOARM", "GOARM64", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM"}

// hostSettings derives the settings from the running program's build info.
func hostSettings() (*settings, error) {
	if runtime.Compiler != "gc" {
		return nil, fmt.Errorf("%w: it was compiled with %s, and Go plugins need the gc compiler", ErrUnsupported, runtime.Compiler)
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, errors.New("this program has no build information, so a plugin cannot be built to match it")
	}
	m := make(map[string]string, len(bi.Settings))
	for _, s := range bi.Settings {
		m[s.Key] = s.Value
	}
	return settingsOf(m), nil
}

// settingsOf returns the settings for a program whose build info settings
// are m. Every flag is given explicitly, so that GOFLAGS cannot change it.
//
// -ldflags are not passed: they do not change compiled packages, and some
// (such as -extldflags=-static) cannot build a plugin. -cover is not passed
// either: go test instruments only the packages under test, which a plugin
// does not contain.
func settingsOf(m map[string]string) *settings {
	boolFlag := func(name string) string {
		return fmt.Sprintf("-%s=%t", name, m["-"+name] == "true")
	}
	pgo := m["-pgo"]
	if pgo == "" {
		pgo = "off"
	}
	s := &settings{
		flags: []string{
			"-buildmode=plugin",
			"-buildvcs=false",
			boolFlag("race"), boolFlag("msan"), boolFlag("asan"), boolFlag("trimpath"),
			"-tags=" + m["-tags"],
			"-gcflags=" + m["-gcflags"],
			"-asmflags=" + m["-asmflags"],
			"-pgo=" + pgo,
		},
		cover: m["-cover"] == "true",
		env: []string{
			"GOTOOLCHAIN=" + toolchain(),
			"CGO_ENABLED=1",
			"GOOS=" + runtime.GOOS,
			"GOARCH=" + runtime.GOARCH,
			"GOEXPERIMENT=" + m["GOEXPERIMENT"],
		},
	}
	if v, ok := m["GOFIPS140"]; ok {
		s.env = append(s.env, "GOFIPS140="+v)
	} else {
		s.env = append(s.env, "GOFIPS140=off")
	}
	for _, k := range archEnv {
		if v, ok := m[k]; ok {
			s.env = append(s.env, k+"="+v)
		}
	}
	// Recorded unless the program was built with -trimpath; cgo flags
	// change the cgo packages of the standard library.
	for _, k := range []string{"CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS"} {
		if v, ok := m[k]; ok {
			s.env = append(s.env, k+"="+v)
		}
	}
	return s
}

// toolchain returns the GOTOOLCHAIN setting that selects the Go version
// that built this program, the only one whose plugins it can load: the go
// command on PATH runs it, as it does when a go.work or go.mod asks for it
// (downloading it if it must). A development version of Go can only be the
// local one.
func toolchain() string {
	if v := hostGoVersion(); releaseRE.MatchString(v) {
		return v
	}
	return "local"
}

// releaseRE matches the names of Go releases.
var releaseRE = regexp.MustCompile(`^go1\.\d+(\.\d+)?((rc|beta)\d+)?$`)

// hostGoVersion returns the version of Go that built this program, without
// the experiments that runtime.Version may list after it.
func hostGoVersion() string {
	v, _, _ := strings.Cut(runtime.Version(), " ")
	return v
}

// environ returns the environment of the go command that builds a plugin
// from the workspace gowork: this process's, overridden by s.
func (s *settings) environ(gowork string) []string {
	set := append(s.env[:len(s.env):len(s.env)], "GOWORK="+gowork)
	env := make([]string, 0, len(os.Environ())+len(set))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !overridden(set, k) {
			env = append(env, kv)
		}
	}
	return append(env, set...)
}

func overridden(set []string, key string) bool {
	for _, kv := range set {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}
