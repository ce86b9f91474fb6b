package static

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/registry"
)

// The tests below attack rank 0's store as a stranger on the network
// would, each case of the issue that asked for them, and check that the
// nodes of the job still complete their round.

// job is the nodes of a job whose rounds the tests attack.
type job struct {
	ep    string
	world int
	hs    []registry.Handler
	errs  chan nodeResult
	ctx   context.Context
}

type nodeResult struct {
	rank int
	info registry.Info
	err  error
}

// newJob creates the nodes of a world on a free endpoint, run id "none"
// as torchrun's default, with conf for every node.
func newJob(t *testing.T, world int, conf ...string) *job {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ep := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	j := &job{ep: ep, world: world, errs: make(chan nodeResult, world), ctx: ctx}
	for rank := range world {
		c := map[string]string{"rank": strconv.Itoa(rank)}
		for i := 0; i+1 < len(conf); i += 2 {
			c[conf[i]] = conf[i+1]
		}
		h, err := New(registry.Parameters{Backend: Backend, Endpoint: ep, RunID: "none", MinNodes: world, MaxNodes: world, Config: c})
		require.NoError(t, err)
		j.hs = append(j.hs, h)
	}
	t.Cleanup(func() {
		for i := len(j.hs) - 1; i >= 0; i-- {
			j.hs[i].Shutdown(context.Background())
		}
	})
	return j
}

// start runs NextRendezvous on the nodes of ranks, and waits until rank 0,
// if it is one of them, listens.
func (j *job) start(t *testing.T, ranks ...int) {
	t.Helper()
	for _, rank := range ranks {
		go func() {
			info, err := j.hs[rank].NextRendezvous(j.ctx)
			j.errs <- nodeResult{rank, info, err}
		}()
	}
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", j.ep)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "rank 0 never listened")
	time.Sleep(100 * time.Millisecond) // let the nodes join
}

// complete checks that every node of the job completes the round, with
// its rank and the job's world size.
func (j *job) complete(t *testing.T) {
	t.Helper()
	for range j.world {
		select {
		case r := <-j.errs:
			require.NoError(t, r.err, "rank %d", r.rank)
			assert.Equal(t, r.rank, r.info.Rank)
			assert.Equal(t, j.world, r.info.WorldSize, "rank %d", r.rank)
		case <-j.ctx.Done():
			t.Fatal("the round did not complete")
		}
	}
}

// server returns rank 0's store.
func (j *job) server() *server {
	h := j.hs[0].(*handler)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.server
}

// leave closes the stranger's connection, which holds rank's place, and
// waits until rank 0's store has seen it close.
func (j *job) leave(t *testing.T, r *raw, rank int) {
	t.Helper()
	r.conn.Close()
	srv := j.server()
	require.Eventually(t, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.members[rank] == nil
	}, 10*time.Second, 5*time.Millisecond)
}

// raw is a stranger's connection that has done the handshake.
type raw struct {
	conn net.Conn
	br   *bufio.Reader
	id   uint64
}

// handshakeRaw runs the handshake by hand, with the proof given (nil:
// none), and returns the store's verdict.
func handshakeRaw(t *testing.T, ep string, me hello, claimSecret bool, clientProof []byte) (*raw, hello) {
	t.Helper()
	conn, err := net.Dial("tcp", ep)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(conn)
	me.version, me.nonce, me.secret = protocolVersion, newNonce(), claimSecret
	_, err = conn.Write(me.encode())
	require.NoError(t, err)
	body, err := readFrameLimit(br, maxHelloFrame)
	require.NoError(t, err)
	answer, err := decodeHello(body)
	require.NoError(t, err)
	if answer.refused != "" {
		return nil, answer
	}
	_, err = conn.Write(hello{version: protocolVersion, proof: clientProof}.encode())
	require.NoError(t, err)
	body, err = readFrameLimit(br, maxHelloFrame)
	require.NoError(t, err)
	verdict, err := decodeHello(body)
	require.NoError(t, err)
	return &raw{conn: conn, br: br}, verdict
}

// do sends one request and reads its response.
func (r *raw) do(t *testing.T, req request) response {
	t.Helper()
	r.id++
	req.id = r.id
	_, err := r.conn.Write(req.encode())
	require.NoError(t, err)
	body, err := readFrameLimit(r.br, maxFrame)
	require.NoError(t, err)
	resp, err := decodeResponse(body)
	require.NoError(t, err)
	require.Equal(t, req.id, resp.id)
	return resp
}

func TestAttackHelloAnnouncingAnotherWorld(t *testing.T) {
	j := newJob(t, 2)
	j.start(t, 0)
	// One hello announcing world 3: the stranger is told why and turned
	// away; rank 0's round goes on.
	_, err := dial(j.ctx, j.ep, hello{rank: 1, world: 3, runID: "none"}, nil)
	require.ErrorIs(t, err, registry.ErrState)
	assert.Contains(t, err.Error(), "the node of rank 1 has a world of 3 nodes, rank 0 of 2")
	// Malformed hellos: answered with an error and closed.
	for _, payload := range [][]byte{
		append(binary4(40), bytes.Repeat([]byte{'x'}, 40)...),
		append(binary4(uint32(len(helloMagic)+3)), append(helloMagic, protocolVersion, 0, 0)...),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	} {
		conn, err := net.Dial("tcp", j.ep)
		require.NoError(t, err)
		_, err = conn.Write(payload)
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		answer, err := io.ReadAll(conn)
		require.NoError(t, err, "the store closes the connection")
		assert.Contains(t, string(answer), "malformed hello")
		conn.Close()
	}
	j.start(t, 1)
	j.complete(t)
}

func binary4(n uint32) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }

func TestAttackWritesToTheRendezvousKeys(t *testing.T) {
	// Without a secret a stranger can take the place of a node that has
	// not come yet (rank 2 here): it is then a node, and still cannot
	// write the rendezvous' own keys.
	j := newJob(t, 3)
	j.start(t, 0, 1)
	r, verdict := handshakeRaw(t, j.ep, hello{rank: 2, world: 3, runID: "none"}, false, nil)
	require.Empty(t, verdict.refused)
	round := "static/none/round/0/"
	for _, req := range []request{
		{op: opSet, key: "static/none/closed/signal"},
		{op: opAdd, key: "static/none/closed", delta: 1},
		{op: opAdd, key: round + "rank/1", delta: 1},
		{op: opAdd, key: round + "joined", delta: 1},
		{op: opSet, key: round + "outcome", value: []byte("ok")},
		{op: opSet, key: round + "outcome", value: []byte("fail:stranger")},
		{op: opSet, key: round + "ack/1"},
		{op: opSet, key: round + "lost", value: []byte("x")},
		{op: opSet, key: "static/none/round/0x1/store/k"},
		{op: opSet, key: "static/none/round//store/k"},
	} {
		resp := r.do(t, req)
		require.Equal(t, statusError, resp.status, "%+v", req)
		assert.Contains(t, resp.message, fmt.Sprintf("store key %q belongs to the rendezvous and cannot be written", req.key))
	}
	// Reading a counter does not create it.
	resp := r.do(t, request{op: opAdd, key: round + "outcome"})
	require.Equal(t, statusOK, resp.status)
	_, set := j.server().peek(round + "outcome")
	assert.False(t, set, "reading the outcome must not create it")
	resp = r.do(t, request{op: opAdd, key: round + "joined"})
	assert.Equal(t, int64(2), resp.n, "ranks 0 and 1 joined")
	// Acknowledging a round it did not join is refused too.
	resp = r.do(t, request{op: opAck, key: round})
	assert.Equal(t, statusError, resp.status)
	// The keys of the round's store are open.
	resp = r.do(t, request{op: opSet, key: round + "store/k", value: []byte("v")})
	assert.Equal(t, statusOK, resp.status)
	j.leave(t, r, 2)

	j.start(t, 2)
	j.complete(t)
}

func TestAttackWithASecret(t *testing.T) {
	t.Setenv(SecretEnv, "the job's secret")
	j := newJob(t, 2)
	j.start(t, 0)
	ctx := j.ctx
	me := hello{rank: 1, world: 2, runID: "none"}

	// No secret.
	_, err := dial(ctx, j.ep, me, nil)
	require.ErrorIs(t, err, registry.ErrState)
	assert.Contains(t, err.Error(), "rank 0's store requires the job's secret and the node of rank 1 has none")
	// Another secret: the node finds out that the store does not know
	// its secret, and says so.
	_, err = dial(ctx, j.ep, me, []byte("a guess"))
	require.ErrorIs(t, err, registry.ErrState)
	assert.Contains(t, err.Error(), "does not prove it knows the job's secret")
	// A stranger that claims a secret and sends a made-up proof, or the
	// store's own proof back, or nothing.
	for name, p := range map[string][]byte{"made up": bytes.Repeat([]byte{1}, 32), "none": nil} {
		_, verdict := handshakeRaw(t, j.ep, me, true, p)
		assert.Contains(t, verdict.refused, "the node of rank 1 did not prove it knows the job's secret", name)
	}
	// A stranger that skips the handshake and sends requests.
	conn, err := net.Dial("tcp", j.ep)
	require.NoError(t, err)
	_, err = conn.Write(request{op: opSet, id: 1, key: "static/none/closed/signal"}.encode())
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	answer, err := io.ReadAll(conn)
	require.NoError(t, err)
	assert.Contains(t, string(answer), "malformed hello")
	conn.Close()

	// The real rank 1, which has the secret from the environment, joins
	// through a proxy that records the traffic: the secret never
	// crosses the wire.
	proxy, traffic := recordingProxy(t, j.ep)
	h := j.hs[1].(*handler)
	h.endpoint = proxy
	j.start(t, 1)
	j.complete(t)
	assert.NotContains(t, traffic.String(), "the job's secret")
	assert.Contains(t, traffic.String(), string(helloMagic), "the proxy saw the handshake")
}

// recordingProxy forwards connections to target and records what crosses
// it, both ways.
func recordingProxy(t *testing.T, target string) (string, *syncBuffer) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var buf syncBuffer
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go func() { io.Copy(io.MultiWriter(out, &buf), in); out.Close() }()
			go func() { io.Copy(io.MultiWriter(in, &buf), out); in.Close() }()
		}
	}()
	return ln.Addr().String(), &buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAttackLargeValues(t *testing.T) {
	// Twelve 64 MiB sets, scaled down: a value limit of 1 KiB and a
	// store of 4 KiB.
	j := newJob(t, 3, "max_value_size", "1024", "max_store_size", "4096")
	j.start(t, 0, 1)
	r, verdict := handshakeRaw(t, j.ep, hello{rank: 2, world: 3, runID: "none"}, false, nil)
	require.Empty(t, verdict.refused)
	assert.Equal(t, uint64(1024), verdict.maxValue, "the store tells its limit")
	round := "static/none/round/0/store/"
	var refused []string
	for i := range 12 {
		resp := r.do(t, request{op: opSet, key: round + strconv.Itoa(i), value: make([]byte, 990)})
		if resp.status != statusOK {
			refused = append(refused, resp.message)
		}
	}
	require.Len(t, refused, 8, "four keys and values of about 1020 bytes fit in 4096")
	assert.Contains(t, refused[0], "over its limit of 4096 (config key max_store_size on rank 0)")
	// A value over the limit is refused without the store holding it.
	resp := r.do(t, request{op: opSet, key: round + "big", value: make([]byte, 2048)})
	require.Equal(t, statusError, resp.status)
	assert.Contains(t, resp.message, "value of 2048 bytes exceeds the store's limit of 1024 bytes (config key max_value_size on rank 0)")
	// A request larger than any the store takes is skipped as it is read.
	resp = r.do(t, request{op: opSet, key: round + "big", value: make([]byte, 1<<20)})
	require.Equal(t, statusError, resp.status)
	assert.Contains(t, resp.message, "exceeds the store's limit of 1024 bytes for a value (config key max_value_size on rank 0)")
	// The connection still works.
	resp = r.do(t, request{op: opAdd, key: round + "n", delta: 1})
	assert.Equal(t, statusOK, resp.status)
	assert.LessOrEqual(t, j.server().size, int64(4096+200), "the store holds no more than its limit, and the rendezvous' own keys")
	j.leave(t, r, 2)

	j.start(t, 2)
	j.complete(t)

	// A node's own oversized Set fails at once, on its side.
	c, err := dial(j.ctx, j.ep, hello{rank: 2, world: 3, runID: "none"}, nil)
	if err == nil { // rank 2's place may still be taken; either way is fine here
		defer c.Close()
		err = c.Set(j.ctx, round+"x", make([]byte, 2048))
		assert.ErrorContains(t, err, "value of 2048 bytes exceeds the store's limit of 1024 bytes (config key max_value_size on rank 0)")
	}
}

func TestAttackManyConnections(t *testing.T) {
	// Thousands of connections, scaled down: a limit of 4, and 40 idle
	// connections opened before rank 1 comes.
	j := newJob(t, 2, "max_connections", "4", "handshake_timeout", "30")
	j.start(t, 0)
	var conns []net.Conn
	for range 40 {
		conn, err := net.Dial("tcp", j.ep)
		require.NoError(t, err)
		defer conn.Close()
		conns = append(conns, conn)
	}
	require.Eventually(t, func() bool {
		srv := j.server()
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.serial >= 40
	}, 10*time.Second, 5*time.Millisecond, "the store did not take the connections")
	srv := j.server()
	assert.Eventually(t, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.conns) <= 4
	}, 10*time.Second, 5*time.Millisecond, "the store holds at most its limit of connections, once it has turned the others away")

	j.start(t, 1)
	j.complete(t)

	// The connections turned away were told why.
	var busy int
	for _, conn := range conns {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
		answer, err := io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue // still held: among the last four
		}
		if bytes.Contains(answer, []byte("rank 0's store is busy")) || bytes.Contains(answer, []byte("connections, its limit (config key max_connections on rank 0)")) {
			busy++
		}
	}
	assert.GreaterOrEqual(t, busy, 40-4)
}

func TestAttackSlowHandshake(t *testing.T) {
	j := newJob(t, 2, "handshake_timeout", "1")
	j.start(t, 0)
	conn, err := net.Dial("tcp", j.ep)
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	answer, err := io.ReadAll(conn)
	require.NoError(t, err, "the store closes the connection")
	assert.Contains(t, string(answer), "the handshake did not complete within 1s (config key handshake_timeout on rank 0)")
	assert.Less(t, time.Since(start), 5*time.Second)
	j.start(t, 1)
	j.complete(t)
}

func TestAttackManyWaitingGets(t *testing.T) {
	j := newJob(t, 3)
	j.start(t, 0, 1)
	r, verdict := handshakeRaw(t, j.ep, hello{rank: 2, world: 3, runID: "none"}, false, nil)
	require.Empty(t, verdict.refused)
	for i := range maxGets {
		_, err := r.conn.Write(request{op: opGet, id: uint64(i + 1), key: "never/" + strconv.Itoa(i)}.encode())
		require.NoError(t, err)
	}
	r.id = maxGets
	resp := r.do(t, request{op: opGet, key: "one/more"})
	require.Equal(t, statusError, resp.status)
	assert.Contains(t, resp.message, fmt.Sprintf("this node has %d Gets waiting, the limit", maxGets))
	j.leave(t, r, 2)
	j.start(t, 2)
	j.complete(t)
}
