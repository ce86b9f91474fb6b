package static_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/contrib/static"
	"github.com/go-entrypoints/entrypoints/registry"
)

// The multi-process tests run this test binary again as the nodes of a
// job: with STATIC_TEST_NODE set, TestMain runs one node instead of the
// tests.
const nodeEnv = "STATIC_TEST_NODE"

// Exit statuses of a node process.
const (
	exitFailed     = 3
	exitConnection = 4
)

// nodeResult is what a node process prints on success.
type nodeResult struct {
	Rank, World int
	Addr        string
	Port        int
	Peers       []string // the value every node set in the store, by rank
}

func TestMain(m *testing.M) {
	if os.Getenv(nodeEnv) != "" {
		os.Exit(runNode())
	}
	os.Exit(m.Run())
}

// runNode is one node of a job: it rendezvouses, exchanges a value with
// every other node through the store, prints its nodeResult and leaves.
func runNode() int {
	rank, _ := strconv.Atoi(os.Getenv("STATIC_RANK"))
	world, _ := strconv.Atoi(os.Getenv("STATIC_WORLD"))
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "node:", err)
		if errors.Is(err, registry.ErrConnection) {
			return exitConnection
		}
		return exitFailed
	}
	if n, _ := strconv.Atoi(os.Getenv("STATIC_NOFILE")); n > 0 {
		if err := limitFiles(n); err != nil {
			return fail(err)
		}
	}
	conf, err := registry.ParseConfig(os.Getenv("STATIC_CONF"))
	if err != nil {
		return fail(err)
	}
	conf["rank"] = strconv.Itoa(rank)
	if _, ok := conf["join_timeout"]; !ok {
		conf["join_timeout"] = "30"
	}
	h, err := static.New(registry.Parameters{
		Backend:  static.Backend,
		Endpoint: os.Getenv("STATIC_ENDPOINT"),
		RunID:    "proc",
		MinNodes: world,
		MaxNodes: world,
		Config:   conf,
	})
	if err != nil {
		return fail(err)
	}
	defer h.Shutdown(context.Background())
	ctx := context.Background()
	go func() {
		// IsClosed returns once the node is connected (rank 0: once its
		// store listens); NextRendezvous joins right after.
		if _, err := h.IsClosed(ctx); err == nil {
			fmt.Fprintln(os.Stderr, connectedLine)
		}
	}()
	info, err := h.NextRendezvous(ctx)
	if err != nil {
		return fail(err)
	}
	res := nodeResult{Rank: info.Rank, World: info.WorldSize, Addr: info.Bootstrap.Addr, Port: info.Bootstrap.Port}
	if err := info.Store.Set(ctx, "pid/"+strconv.Itoa(info.Rank), []byte(fmt.Sprint("node ", info.Rank, " pid ", os.Getpid()))); err != nil {
		return fail(err)
	}
	for r := range info.WorldSize {
		v, err := info.Store.Get(ctx, "pid/"+strconv.Itoa(r))
		if err != nil {
			return fail(err)
		}
		res.Peers = append(res.Peers, string(v))
	}
	// Rank 0 hosts the store: it stays until every other node is done.
	if info.Rank != 0 {
		if err := info.Store.Set(ctx, "left/"+strconv.Itoa(info.Rank), nil); err != nil {
			return fail(err)
		}
	} else {
		for r := 1; r < info.WorldSize; r++ {
			if _, err := info.Store.Get(ctx, "left/"+strconv.Itoa(r)); err != nil {
				return fail(err)
			}
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return fail(err)
	}
	return 0
}

// connectedLine is what a node process prints on stderr once it is
// connected to the store.
const connectedLine = "node: connected"

type nodeProc struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
}

// lockedBuffer is a buffer that a process writes while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Bytes() []byte { return []byte(l.String()) }

// startNode starts this test binary as the node of rank in a world, with
// env added to its environment.
func startNode(t *testing.T, endpoint string, rank, world int, env ...string) *nodeProc {
	t.Helper()
	p := &nodeProc{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	p.cmd.Env = append(append(os.Environ(),
		nodeEnv+"=1",
		"STATIC_ENDPOINT="+endpoint,
		"STATIC_RANK="+strconv.Itoa(rank),
		"STATIC_WORLD="+strconv.Itoa(world),
	), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// wait waits for the process to exit, at most d.
func (p *nodeProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("node did not exit within %v; stderr:\n%s", d, p.stderr.String())
		return -1
	}
}

func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const world = 4
	ep := freeEndpoint(t)
	host, portStr, _ := net.SplitHostPort(ep)
	port, _ := strconv.Atoi(portStr)
	// Start the highest rank first: the others must wait for rank 0.
	procs := make([]*nodeProc, world)
	for rank := world - 1; rank >= 0; rank-- {
		procs[rank] = startNode(t, ep, rank, world)
		time.Sleep(50 * time.Millisecond)
	}
	var want []string
	for rank := range world {
		want = append(want, fmt.Sprint("node ", rank, " pid ", procs[rank].cmd.Process.Pid))
	}
	for rank, p := range procs {
		code := p.wait(t, 60*time.Second)
		require.Equal(t, 0, code, "rank %d stderr:\n%s", rank, p.stderr.String())
		var res nodeResult
		require.NoError(t, json.Unmarshal(p.stdout.Bytes(), &res), "rank %d stdout: %q", rank, p.stdout.String())
		assert.Equal(t, nodeResult{Rank: rank, World: world, Addr: host, Port: port, Peers: want}, res)
	}
}

// startWaitingRound starts ranks 0 and 1 of a world of three whose third
// node never comes, and returns once rank 1 waits in the round.
func startWaitingRound(t *testing.T) (p0, p1 *nodeProc) {
	t.Helper()
	ep := freeEndpoint(t)
	p0 = startNode(t, ep, 0, 3)
	p1 = startNode(t, ep, 1, 3)
	for _, p := range []*nodeProc{p0, p1} {
		require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), connectedLine) },
			30*time.Second, 10*time.Millisecond, "a node never connected; stderr:\n%s", p.stderr.String())
	}
	time.Sleep(200 * time.Millisecond) // let rank 1 join, which follows connecting
	return p0, p1
}

func TestProcessesRankZeroKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	// A world of three where the third node never comes: rank 0 is killed
	// while rank 1 waits in the round.
	p0, p1 := startWaitingRound(t)
	require.NoError(t, p0.cmd.Process.Kill())
	p0.wait(t, 10*time.Second)
	start := time.Now()
	code := p1.wait(t, 10*time.Second)
	assert.Equal(t, exitConnection, code, "rank 1 should fail with a connection error; stderr:\n%s", p1.stderr.String())
	assert.Contains(t, p1.stderr.String(), "connection to the store")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestProcessesRankOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	// A world of three: rank 1 is killed while it waits in the round for
	// rank 2. Rank 0 fails at once, without waiting for join_timeout, and
	// says which node left.
	p0, p1 := startWaitingRound(t)
	require.NoError(t, p1.cmd.Process.Kill())
	p1.wait(t, 10*time.Second)
	start := time.Now()
	code := p0.wait(t, 10*time.Second)
	assert.Equal(t, exitFailed, code, "rank 0 should fail with a state error; stderr:\n%s", p0.stderr.String())
	assert.Contains(t, p0.stderr.String(), "the node of rank 1 left during round 0")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestProcessesRankZeroOutOfDescriptors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	if !canLimitFiles {
		t.Skip("cannot limit open files on this system")
	}
	// Rank 0 may hold 40 open files; strangers open 100 connections.
	// The connections it cannot accept are told why, rank 0 logs it, and
	// once the strangers are gone the job completes its round.
	ep := freeEndpoint(t)
	p0 := startNode(t, ep, 0, 2, "STATIC_NOFILE=40", "STATIC_CONF=max_connections=1000,handshake_timeout=60")
	require.Eventually(t, func() bool { return strings.Contains(p0.stderr.String(), connectedLine) },
		30*time.Second, 10*time.Millisecond, "rank 0 never listened; stderr:\n%s", p0.stderr.String())
	var conns []net.Conn
	for range 100 {
		conn, err := net.Dial("tcp", ep)
		require.NoError(t, err)
		defer conn.Close()
		conns = append(conns, conn)
	}
	// The connections accepted wait in their handshake; the others are
	// turned away, one every 50 ms.
	var told atomic.Int32
	var wg sync.WaitGroup
	for _, conn := range conns {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		wg.Go(func() {
			answer, _ := io.ReadAll(conn)
			if bytes.Contains(answer, []byte("rank 0's process is out of file descriptors")) {
				told.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Positive(t, told.Load(), "no connection was told that rank 0 is out of file descriptors")
	assert.Contains(t, p0.stderr.String(), "static: rank 0's process is out of file descriptors")
	assert.Contains(t, p0.stderr.String(), "raise its limit (ulimit -n) or lower config key max_connections on rank 0")
	for _, conn := range conns {
		conn.Close()
	}
	p1 := startNode(t, ep, 1, 2)
	for rank, p := range []*nodeProc{p0, p1} {
		require.Equal(t, 0, p.wait(t, 60*time.Second), "rank %d stderr:\n%s", rank, p.stderr.String())
	}
}
