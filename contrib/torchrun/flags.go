package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-entrypoints/entrypoints/registry"
)

// defaultStaticEndpoint is where the static backend meets when no
// --rdzv-endpoint is given: torchrun's default master address and port.
const defaultStaticEndpoint = "127.0.0.1:29500"

// maxStandaloneNodes bounds --nnodes with --standalone: every node is a
// goroutine with its own etcd client in this process (1,024 nodes take
// about 400 MB).
const maxStandaloneNodes = 1024

// options are the parsed command line.
type options struct {
	backend    string
	endpoint   string
	runID      string
	conf       map[string]string
	minNodes   int
	maxNodes   int
	localAddr  string
	standalone bool
}

// errUsage marks command-line errors, which exit with status 2.
var errUsage = errors.New("usage error")

const usageText = `usage: torchrun [flags]

torchrun runs the rendezvous of one node of a distributed job, torchrun-style,
and prints the node's rank, the world size and the bootstrap address. The
rendezvous backend is found by discovery.Discover among the modules of the
workspace (or linked into this binary).

  torchrun --nnodes 2 --rdzv-endpoint HOST:29500 --node-rank 0   # static backend, on each node
  torchrun --standalone --nnodes 4                               # a whole job on this machine

flags:
`

// parseFlags parses the command line. Errors wrap errUsage; the usage text
// goes to stderr.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("torchrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		printFlags(fs)
	}
	var (
		o        options
		nnodes   string
		conf     string
		nodeRank = -1
	)
	fs.StringVar(&o.backend, "rdzv-backend", "static", "rendezvous `backend`, a name registered by discovery")
	fs.StringVar(&o.endpoint, "rdzv-endpoint", "", "rendezvous backend `endpoint`, usually host:port (static: where rank 0 hosts the store; default "+defaultStaticEndpoint+")")
	fs.StringVar(&o.runID, "rdzv-id", "none", "run `id`: the nodes of one job share it")
	fs.StringVar(&conf, "rdzv-conf", "", "backend options as `key=value,...`, e.g. join_timeout=60,rank=0")
	fs.StringVar(&nnodes, "nnodes", "1:1", "number of nodes, `N or MIN:MAX`")
	fs.IntVar(&nodeRank, "node-rank", -1, "`rank` of this node for the static backend (sets --rdzv-conf rank)")
	fs.StringVar(&o.localAddr, "local-addr", "", "`address` of this node, if the backend needs it")
	fs.BoolVar(&o.standalone, "standalone", false, "start an embedded etcd and --nnodes local nodes on it: a whole job on this machine")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	bad := func(format string, a ...any) (options, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintf(stderr, "torchrun: %v\n", err)
		fs.Usage()
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q: this command runs the rendezvous only, it does not start workers", fs.Arg(0))
	}
	var err error
	if o.minNodes, o.maxNodes, err = parseNNodes(nnodes); err != nil {
		return bad("%v", err)
	}
	if o.conf, err = registry.ParseConfig(conf); err != nil {
		return bad("--rdzv-conf: %v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["node-rank"] {
		if nodeRank < 0 {
			return bad("--node-rank %d: a rank is not negative", nodeRank)
		}
		r := strconv.Itoa(nodeRank)
		if v, ok := o.conf["rank"]; ok && v != r {
			return bad("--node-rank %d and --rdzv-conf rank=%s disagree; give one", nodeRank, v)
		}
		o.conf["rank"] = r
	}
	if o.standalone {
		if set["rdzv-endpoint"] {
			return bad("--standalone runs its own etcd: do not give --rdzv-endpoint")
		}
		if set["rdzv-backend"] && o.backend != "etcd" {
			return bad("--standalone runs the etcd backend, not %q: drop --rdzv-backend", o.backend)
		}
		if set["node-rank"] {
			return bad("--standalone runs every node of the job: do not give --node-rank")
		}
		if o.maxNodes > maxStandaloneNodes {
			return bad("--standalone runs at most %d nodes, not %d", maxStandaloneNodes, o.maxNodes)
		}
		o.backend = "etcd"
	}
	if o.backend == "static" && o.endpoint == "" {
		o.endpoint = defaultStaticEndpoint
	}
	return o, nil
}

// parseNNodes parses --nnodes: "N" or "MIN:MAX".
func parseNNodes(s string) (minNodes, maxNodes int, err error) {
	lo, hi, ranged := strings.Cut(s, ":")
	minNodes, err1 := strconv.Atoi(strings.TrimSpace(lo))
	maxNodes, err2 := minNodes, error(nil)
	if ranged {
		maxNodes, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("--nnodes %q: want a number of nodes N or a range MIN:MAX, e.g. 4 or 2:4", s)
	case minNodes < 1:
		return 0, 0, fmt.Errorf("--nnodes %q: the number of nodes must be at least 1", s)
	case maxNodes < minNodes:
		return 0, 0, fmt.Errorf("--nnodes %q: MAX must not be less than MIN", s)
	}
	return minNodes, maxNodes, nil
}

// parameters returns the rendezvous parameters of a node.
func (o options) parameters() registry.Parameters {
	conf := make(map[string]string, len(o.conf))
	for k, v := range o.conf {
		conf[k] = v
	}
	return registry.Parameters{
		Backend:   o.backend,
		Endpoint:  o.endpoint,
		RunID:     o.runID,
		MinNodes:  o.minNodes,
		MaxNodes:  o.maxNodes,
		LocalAddr: o.localAddr,
		Config:    conf,
	}
}

// printFlags prints the flags of fs as flag.PrintDefaults does, but with
// two dashes, the way torchrun spells them (the flag package accepts
// both).
func printFlags(fs *flag.FlagSet) {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(&b, " %s", name)
		}
		b.WriteString("\n    \t")
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch f.DefValue {
		case "", "0", "false", "-1": // -1: unset (--node-rank)
		default:
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isString := g.Get().(string); isString {
					fmt.Fprintf(&b, " (default %q)", f.DefValue)
					break
				}
			}
			fmt.Fprintf(&b, " (default %v)", f.DefValue)
		}
		b.WriteString("\n")
	})
	fmt.Fprint(fs.Output(), b.String())
}
