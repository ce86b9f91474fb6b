// Package dynamic loads, at run time, the entry points that are declared by
// the modules of the program's Go workspace but not linked into the
// program. Importing it for its side effect installs its loader in package
// discovery:
//
//	import _ "github.com/go-entrypoints/entrypoints/discovery/dynamic"
//
// With it, the development flow needs no generate step: go work use
// ./myhandler, then go run or go test a program that calls
// discovery.Discover, and myhandler is registered. The import can live in a
// program's test files only.
//
// go test caches a test's result by the files of the tested module only:
// after an edit of a handler in another module, go test ./... replays the
// cached result. Run go test -count=1 to run the tests again.
//
// # How it works
//
// For the unlinked entry points of each workspace module, Discover's loader
// writes a main package that refers to their symbols and builds it with go
// build -buildmode=plugin, from the workspace, in the module's directory.
// The main package exists only in the go command's -overlay: nothing is
// written into the module. The plugin is built with the program's own build
// settings, read from runtime/debug.ReadBuildInfo (-race, -msan, -asan,
// -tags, -trimpath, -gcflags, -asmflags, -pgo, GOEXPERIMENT, GOFIPS140,
// GOAMD64 and the like, and the cgo flags), because plugin.Open refuses a
// plugin whose shared packages were compiled differently; -ldflags and
// -cover are not passed. Then it is opened with plugin.Open.
//
// Built plugins are cached in go-entrypoints/plugins under os.UserCacheDir,
// or in the directory named by the environment variable GOENTRYPOINTS_CACHE
// (see CacheEnv), created private (0700). A plugin's cache key is a hash of
// the Go version, GOOS and GOARCH, the build settings, the go.work and
// go.work.sum files, the go.mod and go.sum of every workspace module, the
// sources of the entry points' packages and of the packages they import
// from the workspace's modules (or from modules replaced by directories),
// and the generated main package: an edit is rebuilt, and nothing
// else is. The SHA-256 and the file identity (device, inode, size,
// modification and change times) of each plugin are recorded when it is
// built and checked before it is loaded, so a plugin modified or replaced
// in the cache is rebuilt, not loaded. Processes that need the same plugin
// at once build it once: they take a lock file, and plugins are moved into
// the cache by atomic renames. The compiler's errors of a plugin that does
// not build are cached too, until the sources change. A cached plugin loads
// without the go command. A new plugin replaces those built for the same
// entry points with the same settings from earlier sources; delete the
// directory to reclaim the rest.
//
// # Requirements and costs
//
// Dynamic loading needs what Go plugins need: Linux, macOS or FreeBSD, a
// program built with cgo (CGO_ENABLED=1 and a C compiler) by the gc
// compiler, and, at run time, a go command on PATH, which builds plugins
// with the Go version that built the program (GOTOOLCHAIN set to it: a go
// command of another version switches to it, downloading it if needed, as it
// does when a go.mod asks for a version). The first plugin built by a
// toolchain with a set of settings compiles the standard library for
// plugins, into the go command's build cache, and takes several seconds
// (about 7 s, or 16 s with -race, on two cores); later builds take under a
// second. A cached plugin costs about 0.2 ms on top of plugin.Open, which
// itself takes 2.5 to 3.5 ms for a small handler (see BenchmarkCachedLoad):
// the key is a hash of the sources, and a plugin is hashed in full only
// until its file identity, recorded after it was built, can be trusted. Each
// build is logged by log/slog at level Info, with what is built, why and how
// long it took.
//
// Where a plugin cannot work, discovery.Discover reports each entry point
// with why and what to do, and registers every other one: see ErrUnsupported
// (another OS, a program built with CGO_ENABLED=0), ErrGoCommand, ErrBuild
// (with the compiler's messages), ErrSymbol and ErrMismatch (the workspace
// changed since the program was built, so a package it shares with the
// plugin differs).
//
// # When to prefer go generate
//
// Dynamic loading is for development. A binary that is deployed, run where
// the workspace's sources or the go command are absent, built without cgo,
// or cross-compiled should link its entry points instead: run the
// entrypoints generator (go generate ./...) in its main package. Linked
// entry points are never loaded dynamically, so a program can do both.
package dynamic
