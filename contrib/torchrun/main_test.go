package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

// With runMainEnv set, the test binary runs the command itself, with the
// arguments that follow "--": the tests run it as a user would, in its own
// process.
const runMainEnv = "TORCHRUN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) != "" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		os.Args = append([]string{"torchrun"}, args...)
		main()
	}
	os.Exit(m.Run())
}

// command returns the command running torchrun with args in a process.
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

func freeEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

var (
	phaseLine = regexp.MustCompile(`(?m)^torchrun: (discover|start etcd|rendezvous|shutdown) +[0-9.]+m?s($|  )`)
	nodeLine  = regexp.MustCompile(`(?m)^node (\d+): rank=(\d+) world_size=(\d+) master_addr=(\S+) master_port=(\d+)$`)
)

func TestStandalone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--standalone", "--nnodes", "4"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr:\n%s", stderr.String())

	// One progress line per phase, in order, each with its time.
	var phases []string
	for _, m := range phaseLine.FindAllStringSubmatch(stderr.String(), -1) {
		phases = append(phases, m[1])
	}
	assert.Equal(t, []string{"discover", "start etcd", "rendezvous", "shutdown"}, phases, "stderr:\n%s", stderr.String())
	assert.Regexp(t, `backends: .*\betcd\b.*\bstatic\b`, stderr.String(), "the backends come from discovery")

	// One line per node, by rank: ranks 0..3 of 4, one bootstrap address.
	lines := nodeLine.FindAllStringSubmatch(stdout.String(), -1)
	require.Len(t, lines, 4, "stdout:\n%s", stdout.String())
	nodes := map[string]bool{}
	for rank, m := range lines {
		nodes[m[1]] = true
		assert.Equal(t, strconv.Itoa(rank), m[2])
		assert.Equal(t, "4", m[3])
		assert.Equal(t, lines[0][4:], m[4:], "every node sees rank 0's bootstrap address")
	}
	assert.Len(t, nodes, 4, "each node once")
}

func TestStandaloneOneNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--standalone", "--nnodes", "1"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr:\n%s", stderr.String())
	assert.Regexp(t, `(?m)^torchrun: rendezvous .*  1 node on backend etcd,`, stderr.String())
	assert.Regexp(t, `(?m)^torchrun: shutdown .*  1 node and etcd$`, stderr.String())
	assert.Regexp(t, `(?m)^node 0: rank=0 world_size=1 `, stdout.String())
}

func TestStandaloneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	cmd := command("--standalone", "--nnodes", "3", "--rdzv-id", "proc")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr:\n%s", stderr.String())
	assert.Len(t, nodeLine.FindAllString(stdout.String(), -1), 3, stdout.String())
	assert.Len(t, phaseLine.FindAllString(stderr.String(), -1), 4, stderr.String())
	assert.Contains(t, stderr.String(), "run id proc")
}

func TestStaticJob(t *testing.T) {
	// Two nodes of a static job, as two runs of the command.
	ep := freeEndpoint(t)
	host, port, _ := net.SplitHostPort(ep)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outs := make([]bytes.Buffer, 2)
	errs := make([]bytes.Buffer, 2)
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for rank := range 2 {
		wg.Go(func() {
			codes[rank] = run(ctx, []string{"--nnodes", "2", "--rdzv-endpoint", ep, "--node-rank", strconv.Itoa(rank), "--rdzv-id", "job"}, &outs[rank], &errs[rank])
		})
	}
	wg.Wait()
	for rank := range 2 {
		require.Equal(t, 0, codes[rank], "rank %d stderr:\n%s", rank, errs[rank].String())
		assert.Equal(t, fmt.Sprintf("rank=%d world_size=2 master_addr=%s master_port=%s\n", rank, host, port), outs[rank].String())
		assert.Contains(t, errs[rank].String(), "backend static, run id job")
	}
}

func TestStaticJobProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ep := freeEndpoint(t)
	host, port, _ := net.SplitHostPort(ep)
	const world = 3
	cmds := make([]*exec.Cmd, world)
	outs := make([]bytes.Buffer, world)
	errs := make([]bytes.Buffer, world)
	// Highest rank first: the others wait for rank 0 to listen.
	for rank := world - 1; rank >= 0; rank-- {
		cmds[rank] = command("--nnodes", strconv.Itoa(world), "--rdzv-endpoint", ep, "--rdzv-conf", "rank="+strconv.Itoa(rank)+",join_timeout=60")
		cmds[rank].Stdout, cmds[rank].Stderr = &outs[rank], &errs[rank]
		require.NoError(t, cmds[rank].Start())
	}
	for rank, cmd := range cmds {
		require.NoError(t, cmd.Wait(), "rank %d stderr:\n%s", rank, errs[rank].String())
		assert.Equal(t, fmt.Sprintf("rank=%d world_size=%d master_addr=%s master_port=%s\n", rank, world, host, port), outs[rank].String())
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"unknown backend", []string{"--rdzv-backend", "nosuch"}, 1,
			[]string{`unknown rendezvous backend "nosuch"`, "registered: etcd, ", " static, "}},
		{"static with a range", []string{"--nnodes", "1:2", "--rdzv-conf", "rank=0"}, 1,
			[]string{"fixed number of nodes"}},
		{"static without rank", []string{"--nnodes", "2"}, 1,
			[]string{`config key "rank" is not set`}},
		{"static timeout", []string{"--nnodes", "2", "--node-rank", "1", "--rdzv-conf", "join_timeout=1", "--rdzv-endpoint", "127.0.0.1:1"}, 1,
			[]string{"rendezvous timed out", "cannot connect"}},
		{"bad nnodes", []string{"--nnodes", "x"}, 2, []string{"--nnodes", "usage: torchrun"}},
		{"unknown flag", []string{"--nproc_per_node", "8"}, 2, []string{"flag provided but not defined", "usage: torchrun"}},
		{"help", []string{"--help"}, 0, []string{"usage: torchrun"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			assert.Equal(t, tt.code, code, "stderr:\n%s", stderr.String())
			for _, s := range tt.stderr {
				assert.Contains(t, stderr.String(), s)
			}
			assert.Empty(t, stdout.String())
			if tt.code == 1 {
				assert.True(t, strings.HasPrefix(lastLine(stderr.String()), "torchrun: "), "errors are prefixed with the command name")
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// hangingHandler completes its rendezvous at once and never finishes
// shutting down: only its context ends Shutdown.
type hangingHandler struct{}

func (hangingHandler) Backend() string { return "hangingshutdown" }
func (hangingHandler) NextRendezvous(context.Context) (registry.Info, error) {
	return registry.Info{WorldSize: 1, Bootstrap: registry.BootstrapInfo{Addr: "127.0.0.1", Port: 1}}, nil
}
func (hangingHandler) IsClosed(context.Context) (bool, error)       { return false, nil }
func (hangingHandler) SetClosed(context.Context) error              { return nil }
func (hangingHandler) NumNodesWaiting(context.Context) (int, error) { return 0, nil }
func (hangingHandler) RunID() string                                { return "none" }
func (hangingHandler) Shutdown(ctx context.Context) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

func TestShutdownBudgetFollowsCloseTimeout(t *testing.T) {
	require.NoError(t, registry.Register("hangingshutdown", func(registry.Parameters) (registry.Handler, error) {
		return hangingHandler{}, nil
	}))
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"--rdzv-backend", "hangingshutdown", "--rdzv-conf", "close_timeout=1500ms"}, &stdout, &stderr)
	took := time.Since(start)
	assert.Equal(t, 1, code, "stderr:\n%s", stderr.String())
	assert.Contains(t, stderr.String(), "shutting down the hangingshutdown handler: context deadline exceeded")
	assert.GreaterOrEqual(t, took, 1500*time.Millisecond, "the handler had close_timeout to shut down")
	assert.Less(t, took, 10*time.Second, "the budget is close_timeout, not a fixed one")

	for conf, want := range map[string]time.Duration{"": 30 * time.Second, "7": 7 * time.Second, "2m": 2 * time.Minute, " 3 ": 3 * time.Second} {
		o := options{conf: map[string]string{}}
		if conf != "" {
			o.conf["close_timeout"] = conf
		}
		assert.Equal(t, want, o.shutdownTimeout(), "close_timeout=%q", conf)
	}
}
