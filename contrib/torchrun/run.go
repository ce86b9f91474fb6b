package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-entrypoints/entrypoints/contrib/etcd/embedded"
	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/registry"
)

// defaultCloseTimeout is the shutdown budget when --rdzv-conf gives no
// close_timeout: PyTorch's default close timeout.
const defaultCloseTimeout = 30 * time.Second

// shutdownTimeout bounds the shutdown of the handlers: the close_timeout
// of --rdzv-conf, read as the backends read it (whole seconds, or a Go
// duration such as 500ms), as PyTorch's agent bounds its shutdown by it.
// A value the backend would refuse never gets here.
func (o options) shutdownTimeout() time.Duration {
	raw, ok := o.conf["close_timeout"]
	if !ok {
		return defaultCloseTimeout
	}
	raw = strings.TrimSpace(raw)
	if n, err := strconv.Atoi(raw); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if d, err := time.ParseDuration(raw); err == nil && d > 0 {
		return d
	}
	return defaultCloseTimeout
}

// progress prints one line per phase of the command, with the time the
// phase took.
type progress struct{ w io.Writer }

func (p progress) done(phase string, start time.Time, format string, a ...any) {
	line := fmt.Sprintf("torchrun: %-10s %9s  %s", phase, formatDuration(time.Since(start)), fmt.Sprintf(format, a...))
	fmt.Fprintln(p.w, strings.TrimRight(line, " "))
}

func formatDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// discover registers the backends declared by entry points and returns the
// names of all registered backends. An entry point that cannot be
// registered is reported on stderr and skipped, as PyTorch does.
func discover(p progress, stderr io.Writer) []string {
	start := time.Now()
	_, err := discovery.Discover(discovery.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Fprintf(stderr, "torchrun: warning: some rendezvous backends were not registered:\n%v\n", err)
	}
	backends := registry.Backends()
	list := "none"
	if len(backends) > 0 {
		list = strings.Join(backends, ", ")
	}
	p.done("discover", start, "backends: %s", list)
	return backends
}

// plural returns n and noun, with an s unless n is 1: "1 node", "4 nodes".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// result prints what a node got from the rendezvous.
func result(info registry.Info) string {
	return fmt.Sprintf("rank=%d world_size=%d master_addr=%s master_port=%d",
		info.Rank, info.WorldSize, info.Bootstrap.Addr, info.Bootstrap.Port)
}

// runNode runs the rendezvous of this node.
func runNode(ctx context.Context, o options, stdout, stderr io.Writer) error {
	p := progress{stderr}
	discover(p, stderr)
	h, err := registry.CreateHandler(o.parameters())
	if err != nil {
		return err
	}
	start := time.Now()
	info, rdzvErr := h.NextRendezvous(ctx)
	if rdzvErr == nil {
		p.done("rendezvous", start, "backend %s, run id %s, endpoint %s", o.backend, o.runID, o.endpoint)
		fmt.Fprintln(stdout, result(info))
	}
	start = time.Now()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout())
	defer cancel()
	_, shutErr := h.Shutdown(sctx)
	if rdzvErr != nil {
		return fmt.Errorf("rendezvous (backend %s, run id %s): %w", o.backend, o.runID, rdzvErr)
	}
	if shutErr != nil {
		return fmt.Errorf("shutting down the %s handler: %w", o.backend, shutErr)
	}
	p.done("shutdown", start, "")
	return nil
}

// runStandalone runs a whole job on this machine: an embedded etcd and
// --nnodes nodes on the etcd backend, in this process.
func runStandalone(ctx context.Context, o options, stdout, stderr io.Writer) error {
	n := o.maxNodes
	p := progress{stderr}
	discover(p, stderr)

	start := time.Now()
	dir, err := os.MkdirTemp("", "torchrun-etcd-")
	if err != nil {
		return fmt.Errorf("creating the data directory of the embedded etcd: %w", err)
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(ctx, dir)
	if err != nil {
		return err
	}
	defer srv.Close()
	p.done("start etcd", start, "endpoint %s", srv.Endpoint())

	params := o.parameters()
	params.Endpoint = srv.Endpoint()
	hs := make([]registry.Handler, 0, n)
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout())
		defer cancel()
		errs := make([]error, len(hs))
		var wg sync.WaitGroup
		for i, h := range hs {
			wg.Go(func() {
				if _, err := h.Shutdown(sctx); err != nil {
					errs[i] = fmt.Errorf("node %d: shutdown: %w", i, err)
				}
			})
		}
		wg.Wait()
		hs = nil
		return errors.Join(errs...)
	}
	defer shutdown()
	for range n {
		h, err := registry.CreateHandler(params)
		if err != nil {
			return err
		}
		hs = append(hs, h)
	}

	start = time.Now()
	infos, err := rendezvous(ctx, hs)
	if err != nil {
		return err
	}
	p.done("rendezvous", start, "%s on backend %s, run id %s; ranks, world size, bootstrap address and store agree", plural(n, "node"), o.backend, o.runID)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return infos[a].Rank - infos[b].Rank })
	for _, i := range order {
		fmt.Fprintf(stdout, "node %d: %s\n", i, result(infos[i]))
	}

	start = time.Now()
	err = shutdown()
	if cerr := srv.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("stopping the embedded etcd: %w", cerr))
	}
	if err != nil {
		return err
	}
	p.done("shutdown", start, "%s and etcd", plural(n, "node"))
	return nil
}

// rendezvous runs one round on every handler at once, checks that the
// nodes agree (distinct ranks 0..n-1, one world size, one bootstrap
// address) and that their store is shared, and returns the infos by node.
func rendezvous(ctx context.Context, hs []registry.Handler) ([]registry.Info, error) {
	infos := make([]registry.Info, len(hs))
	errs := make([]error, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() {
			info, err := h.NextRendezvous(ctx)
			if err != nil {
				errs[i] = fmt.Errorf("node %d: rendezvous: %w", i, err)
				return
			}
			infos[i] = info
			// Every node publishes a value and reads its neighbour's:
			// the round's store is shared.
			key := func(rank int) string { return fmt.Sprintf("torchrun/hello/%d", rank) }
			if err := info.Store.Set(ctx, key(info.Rank), []byte(fmt.Sprint(i))); err != nil {
				errs[i] = fmt.Errorf("node %d: store: %w", i, err)
				return
			}
			if _, err := info.Store.Get(ctx, key((info.Rank+1)%info.WorldSize)); err != nil {
				errs[i] = fmt.Errorf("node %d: store: %w", i, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	seen := make([]bool, len(hs))
	for i, info := range infos {
		if info.WorldSize != len(hs) || info.Rank < 0 || info.Rank >= len(hs) || seen[info.Rank] {
			return nil, fmt.Errorf("%w: node %d got rank %d of a world of %d, with %d nodes started", registry.ErrState, i, info.Rank, info.WorldSize, len(hs))
		}
		seen[info.Rank] = true
		if info.Bootstrap != infos[0].Bootstrap {
			return nil, fmt.Errorf("%w: node %d got bootstrap address %v, node 0 got %v", registry.ErrState, i, info.Bootstrap, infos[0].Bootstrap)
		}
	}
	return infos, nil
}
