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
// the Go version, GOOS and GOARCH, the build settings, the environment the
// go command reads (GOFLAGS, CC, the cgo flags), the go.work and
// go.work.sum files, the go.mod and go.sum of every workspace module, the
// sources of the entry points' packages and of the packages they import
// from the workspace's modules (or from modules replaced by directories),
// symbolic links to files included, and the generated main package: an
// edit is rebuilt, and nothing else is. Plugins are written read-only. The
// SHA-256 and the file identity (device, inode, size, modification time)
// of each plugin are recorded when it is built and checked before it is
// loaded, so a plugin modified, truncated or replaced in the cache by
// accident is rebuilt, not loaded. The checksum is not a signature: it
// guards against accidents, not against someone who can write to the cache,
// who could rewrite the record too; the ownership checks below keep
// everyone but the user and root from writing there. The plugin checked is
// the one loaded: it is hard-linked into a directory of its own before it
// is checked, and opened there. Processes that need the same plugin at
// once build it once: they take a lock file, exclusive to build and shared
// to load, and a process that waits for another logs which one it waits
// for; plugins are moved into the cache by atomic renames. The compiler's
// errors of a plugin that does not build are cached too, until the sources
// change. A cached plugin loads without the go command. A new plugin
// replaces those built for the same entry points with the same settings
// from earlier sources, except those another process is building or
// loading; delete the directory to reclaim the rest.
//
// # Trust
//
// Reading entry points runs nothing; building and loading a plugin runs the
// code of the workspace's modules in this program. So the loader acts only
// on a workspace this program was built from on this machine, whose files
// belong to the user running it, and on a cache no one else can write to,
// as git does with safe.directory since CVE-2022-24765:
//
//   - The workspace's module of the program's own module path must be the
//     directory the program was built from, as the compiler recorded it in
//     the program: a checkout whose go.work merely uses a go.mod declaring
//     that module path is not it. A program built with -trimpath records
//     no directory, so its workspace is never trusted implicitly.
//   - The go.work file, its directory and the directory of every module it
//     uses must belong to the user running the program, or to root, and be
//     writable by no other user (a group-writable one is accepted if the
//     group is the user's private group: its primary group, of its name).
//   - The cache directory must belong to the user, be writable by no one
//     else and not be a symbolic link, and every directory above it must
//     belong to the user or root and be writable by no one else, unless it
//     is sticky (as /tmp is) and what it holds on the way is the user's.
//
// A workspace or cache that fails is refused: the entry points it would
// provide fail with ErrUntrusted, saying why, what was expected and how to
// trust it, the refusal is logged as a warning, nothing from it is built
// or loaded, and nothing is written into a refused cache. Linked entry
// points work as always. To trust a workspace explicitly, name it in the
// program with discovery.WithWorkspace, or list it in the environment
// variable GOENTRYPOINTS_TRUST (see TrustEnv). Metadata (discovery.Find, entrypoints list) is read from any
// workspace: it runs nothing.
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
// second. A cached plugin costs, on top of plugin.Open, the key (a hash of
// the sources) and checking and pinning the plugin (a hard link in a
// private directory); a plugin is hashed in full only until its file
// identity, recorded after it was built, can be trusted. Measured in one
// run on a busy two-core machine (BenchmarkCachedLoad): the key 1.3 to
// 2.4 ms, pinning 0.8 to 1.2 ms, a first load with plugin.Open 45 ms. Each
// build is logged by log/slog at level Info when it starts, with what is
// built and why, and when it ends, with how long it took.
//
// Where a plugin cannot work, discovery.Discover reports each entry point
// with why and what to do, and registers every other one: see ErrUnsupported
// (another OS, a program built with CGO_ENABLED=0), ErrGoCommand, ErrBuild
// (with the compiler's messages), ErrSymbol, ErrMismatch (the workspace
// changed since the program was built, so a package it shares with the
// plugin differs) and ErrUntrusted (see Trust).
//
// # When to prefer go generate
//
// Dynamic loading is for development. A binary that is deployed, run where
// the workspace's sources or the go command are absent, built without cgo,
// or cross-compiled should link its entry points instead: run the
// entrypoints generator (go generate ./...) in its main package. Linked
// entry points are never loaded dynamically, so a program can do both.
package dynamic
