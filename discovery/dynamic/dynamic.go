package dynamic

import (
	"errors"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/hooks"
)

// CacheEnv names the environment variable that overrides the directory where
// built plugins are cached. Its value must be an absolute path; the default
// is go-entrypoints/plugins under os.UserCacheDir.
const CacheEnv = "GOENTRYPOINTS_CACHE"

// TrustEnv names the environment variable that lists the workspaces the
// dynamic loader trusts without checking them (see "Trust" in the package
// documentation): absolute paths of go.work files, or of the directories
// holding them, separated by the system's path list separator (: or ;).
// The value * trusts every workspace.
const TrustEnv = "GOENTRYPOINTS_TRUST"

// Conditions callers can test for with errors.Is on an error that
// discovery.Discover reports for an entry point this package could not load.
var (
	// ErrUnsupported: this program cannot load Go plugins at all. Go plugins
	// need Linux, macOS or FreeBSD, the gc compiler, and cgo.
	ErrUnsupported = errors.New("dynamic loading is not supported by this program")
	// ErrGoCommand: there is no go command on PATH, or it is not the
	// version of Go that built this program.
	ErrGoCommand = errors.New("no usable go command")
	// ErrBuild: building the plugin failed; the error holds the go
	// command's output.
	ErrBuild = errors.New("building the entry point's plugin failed")
	// ErrSymbol: the entry point names a symbol that does not exist, is not
	// a func or var, or has a type its group does not accept.
	ErrSymbol = errors.New("bad entry point symbol")
	// ErrMismatch: a package that both this program and the plugin use
	// differs between them, most often because the workspace changed since
	// this program was built.
	ErrMismatch = errors.New("a package differs between this program and the plugin")
	// ErrUntrusted: the workspace or the plugin cache failed the trust
	// checks (see "Trust" in the package documentation); nothing from it
	// was built or loaded.
	ErrUntrusted = errors.New("refused to build or load code from a directory this program does not trust")
)

// Fixes suggested in errors.
const (
	generateFix = "run go generate ./... in the program's main module to link the entry point, then rebuild"
	rebuildFix  = "rebuild the program from the workspace as it is now (go run and go test do that on their next run), or " + generateFix
)

func init() {
	hooks.SetLoader[discovery.EntryPoint](loader{})
}

// loader is the hooks.Loader this package installs.
type loader struct{}

// unsupported returns the same error for every entry point.
func unsupported(eps []discovery.EntryPoint, err error) ([]any, []error) {
	errs := make([]error, len(eps))
	for i := range errs {
		errs[i] = err
	}
	return make([]any, len(eps)), errs
}
