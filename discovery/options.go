package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-entrypoints/entrypoints/registry"
)

// An Option configures Find, EntryPoint.Load, Load, Lookup or Discover.
// Not every option applies to every call; giving one to a call it does not
// apply to is an error, never silently ignored:
//
//	option          Find  EntryPoint.Load  Load, Lookup  Discover
//	WithWorkspace   yes   yes              yes           yes
//	WithModules     yes   no               yes           yes
//	WithGroup       yes   no               same group    HandlersGroup
//	WithRegistry    no    no               no            yes
//	WithLogger      yes   yes              yes           yes
//	WithContext     no    yes              yes           yes
//
// WithWorkspace and WithModules exclude each other.
type Option func(*config)

// config is what the options of one call set.
type config struct {
	workspace string   // go.work named by WithWorkspace, or ""
	modules   []string // module roots named by WithModules
	group     string   // only entry points of this group, or all if ""
	registry  *registry.Registry
	logger    *slog.Logger
	ctx       context.Context

	given options // the options given
}

// options is a set of options, one bit each.
type options uint8

const (
	withWorkspace options = 1 << iota
	withModules
	withGroup
	withRegistry
	withLogger
	withContext
)

// optionNames names the options, in bit order.
var optionNames = [...]string{"WithWorkspace", "WithModules", "WithGroup", "WithRegistry", "WithLogger", "WithContext"}

// names returns the names of the options of o.
func (o options) names() []string {
	var names []string
	for i, n := range optionNames {
		if o&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// A call is one of the functions that take options, with the options that
// apply to it.
type call struct {
	name    string
	applies options
	why     string // why the others do not apply
}

var (
	callFind = call{"Find", withWorkspace | withModules | withGroup | withLogger,
		"Find reads metadata only: it loads and registers nothing"}
	callEntryPointLoad = call{"EntryPoint.Load", withWorkspace | withLogger | withContext,
		"EntryPoint.Load loads the one entry point it is called on, from the workspace in effect or the one WithWorkspace names"}
	callLoad = call{"Load", withWorkspace | withModules | withGroup | withLogger | withContext,
		"Load takes its group as an argument and registers nothing"}
	callLookup = call{"Lookup", callLoad.applies,
		"Lookup takes its group as an argument and registers nothing"}
	callDiscover = call{"Discover", withWorkspace | withModules | withGroup | withRegistry | withLogger | withContext,
		"Discover registers the entry points of group " + HandlersGroup}
)

// newConfig applies opts for call k, whose group is group ("" for calls not
// bound to one), and reports an option that does not apply to it.
func newConfig(k call, group string, opts []Option) (*config, error) {
	c := &config{registry: registry.Default, ctx: context.Background()}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("discovery.%s: option %d is nil", k.name, i+1)
		}
		o(c)
	}
	if extra := c.given &^ k.applies; extra != 0 {
		return nil, fmt.Errorf("discovery.%s: option %s does not apply: %s; remove it (%s takes %s)", k.name, extra.names()[0], k.why, k.name, strings.Join(k.applies.names(), ", "))
	}
	if c.given&withWorkspace != 0 && c.given&withModules != 0 {
		return nil, fmt.Errorf("discovery.%s: options WithWorkspace and WithModules exclude each other: entry points come from a workspace or from a list of modules; give one", k.name)
	}
	if c.given&withWorkspace != 0 && c.workspace == "" {
		return nil, fmt.Errorf("discovery.%s: WithWorkspace(\"\"): name a go.work file or its directory, or omit the option for the workspace in effect", k.name)
	}
	if c.given&withGroup != 0 && !isGroup(c.group) {
		return nil, fmt.Errorf("discovery.%s: WithGroup(%q): invalid group name: want one or more word runs joined by dots, such as myapp.exporters", k.name, c.group)
	}
	if group != "" {
		if c.given&withGroup != 0 && c.group != group {
			return nil, fmt.Errorf("discovery.%s: option WithGroup(%q) contradicts group %q: %s; remove it", k.name, c.group, group, k.why)
		}
		c.group = group
	}
	if c.ctx == nil {
		return nil, fmt.Errorf("discovery.%s: WithContext(nil); pass context.Background() or a context of the caller", k.name)
	}
	if c.given&withRegistry != 0 && c.registry == nil {
		return nil, fmt.Errorf("discovery.%s: WithRegistry(nil); pass a registry from registry.New, or registry.Default", k.name)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}

// WithWorkspace names the go.work file to read, or a directory holding one,
// instead of the one the go command would use. The named workspace is read
// even if the running binary was not built from it. Given to
// EntryPoint.Load, it names the workspace the dynamic loader builds from.
// An empty path is an error: omit the option for the workspace in effect.
func WithWorkspace(path string) Option {
	return func(c *config) { c.workspace = path; c.given |= withWorkspace }
}

// WithModules makes Find, Load, Lookup and Discover read the entry points
// of the modules rooted at dirs, in that order, instead of a workspace's
// (with no dirs, of no module: only linked entry points are found).
// The entrypoints command uses it outside workspace mode, for the modules of
// the build list. Entry points found this way are loaded only if linked.
func WithModules(dirs ...string) Option {
	if dirs == nil {
		dirs = []string{} // no module, not the workspace in effect
	}
	return func(c *config) { c.modules = dirs; c.given |= withModules }
}

// WithGroup restricts Find to the entry points of one group. Load and
// Lookup take the group as an argument, and Discover always uses
// HandlersGroup: given to them, WithGroup must name that same group. A
// name that is not a valid group name, such as "", is an error.
func WithGroup(group string) Option {
	return func(c *config) { c.group = group; c.given |= withGroup }
}

// WithRegistry makes Discover register handlers in r instead of
// registry.Default. It applies to Discover only.
func WithRegistry(r *registry.Registry) Option {
	return func(c *config) { c.registry = r; c.given |= withRegistry }
}

// WithLogger sets the logger that warnings and failures are reported to,
// instead of slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l; c.given |= withLogger }
}

// WithContext sets the context that bounds loading entry points (a dynamic
// loader may build code). The default is context.Background(). It does not
// apply to Find, which loads nothing.
func WithContext(ctx context.Context) Option {
	return func(c *config) { c.ctx = ctx; c.given |= withContext }
}
