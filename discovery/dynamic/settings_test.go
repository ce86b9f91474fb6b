//go:build (linux || darwin || freebsd) && cgo

package dynamic

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSettingsOf(t *testing.T) {
	tests := []struct {
		name      string
		settings  map[string]string
		flags     []string // flags that must be given
		env       []string // variables that must be set
		never     []string // prefixes of flags that must not be given
		noEnvKeys []string // variables that must not be set
	}{{
		name:     "defaults",
		settings: map[string]string{"-buildmode": "exe", "-compiler": "gc", "CGO_ENABLED": "1", "GOAMD64": "v1"},
		flags:    []string{"-buildmode=plugin", "-buildvcs=false", "-race=false", "-msan=false", "-asan=false", "-trimpath=false", "-tags=", "-gcflags=", "-asmflags=", "-pgo=off"},
		env:      []string{"CGO_ENABLED=1", "GOTOOLCHAIN=" + strings.Fields(runtime.Version())[0], "GOEXPERIMENT=", "GOFIPS140=off", "GOAMD64=v1", "GOOS=" + runtime.GOOS, "GOARCH=" + runtime.GOARCH},
		never:    []string{"-ldflags", "-cover"},
	}, {
		name: "go test -race -trimpath -tags -gcflags -pgo",
		settings: map[string]string{
			"-race": "true", "-trimpath": "true", "-tags": "integration,foo",
			"-gcflags": "all=-N -l", "-asmflags": "all=-trimpath", "-pgo": "/src/app/default.pgo",
		},
		flags:     []string{"-race=true", "-trimpath=true", "-tags=integration,foo", "-gcflags=all=-N -l", "-asmflags=all=-trimpath", "-pgo=/src/app/default.pgo"},
		noEnvKeys: []string{"CGO_CFLAGS"}, // not recorded with -trimpath: the environment's apply
	}, {
		name:     "sanitizers",
		settings: map[string]string{"-msan": "true", "-asan": "true"},
		flags:    []string{"-msan=true", "-asan=true", "-race=false"},
	}, {
		name:     "experiments, FIPS and cgo flags",
		settings: map[string]string{"GOEXPERIMENT": "jsonv2", "GOFIPS140": "v1.0.0", "CGO_CFLAGS": "-O1 -g", "CGO_LDFLAGS": "", "GOARM64": "v8.2"},
		env:      []string{"GOEXPERIMENT=jsonv2", "GOFIPS140=v1.0.0", "CGO_CFLAGS=-O1 -g", "CGO_LDFLAGS=", "GOARM64=v8.2"},
	}, {
		name:     "ldflags and cover are not passed",
		settings: map[string]string{"-ldflags": "-X main.version=1 -extldflags=-static", "-cover": "true"},
		never:    []string{"-ldflags", "-cover"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settingsOf(tt.settings)
			for _, f := range tt.flags {
				assert.Contains(t, s.flags, f)
			}
			for _, e := range tt.env {
				assert.Contains(t, s.env, e)
			}
			for _, f := range s.flags {
				for _, p := range tt.never {
					assert.False(t, strings.HasPrefix(f, p), "flag %s must not be passed", f)
				}
			}
			for _, e := range s.env {
				for _, k := range tt.noEnvKeys {
					assert.False(t, strings.HasPrefix(e, k+"="), "%s must not be set", e)
				}
			}
		})
	}
}

func TestEnviron(t *testing.T) {
	t.Setenv("GOWORK", "/elsewhere/go.work")
	t.Setenv("CGO_ENABLED", "0")
	t.Setenv("GOEXPERIMENT", "something")
	t.Setenv("DYNAMIC_TEST_KEPT", "yes")
	env := settingsOf(map[string]string{}).environ("/ws/go.work")

	values := make(map[string][]string)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		values[k] = append(values[k], v)
	}
	assert.Equal(t, []string{"/ws/go.work"}, values["GOWORK"])
	assert.Equal(t, []string{"1"}, values["CGO_ENABLED"])
	assert.Equal(t, []string{""}, values["GOEXPERIMENT"])
	assert.Equal(t, []string{toolchain()}, values["GOTOOLCHAIN"])
	assert.Equal(t, []string{"yes"}, values["DYNAMIC_TEST_KEPT"])
	assert.Equal(t, []string{os.Getenv("PATH")}, values["PATH"])
}

func TestToolchain(t *testing.T) {
	for v, want := range map[string]bool{
		"go1.26.8": true, "go1.27": true, "go1.27rc1": true, "go1.27beta2": true,
		"devel go1.27-abcdef": false, "go1.26.8 X:jsonv2": false, "": false,
	} {
		assert.Equal(t, want, releaseRE.MatchString(v), v)
	}
}

func TestHostSettings(t *testing.T) {
	s, err := hostSettings()
	require.NoError(t, err)
	// This test binary is a host too: its own flags are the plugin's.
	assert.Contains(t, s.flags, "-buildmode=plugin")
	race := "-race=false"
	if raceEnabled {
		race = "-race=true"
	}
	assert.Contains(t, s.flags, race)
}
