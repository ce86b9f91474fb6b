package static

import (
	"bufio"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// writeTimeout bounds how long the server waits for a client to take a
// response, so that a stuck client cannot hold the server.
const writeTimeout = 10 * time.Second

// turnAwayTimeout bounds how long the store tries to tell a connection it
// turns away why, before closing it.
const turnAwayTimeout = time.Second

// maxGets bounds the Gets of one connection waiting for their keys: each
// holds a goroutine of the store.
const maxGets = 1024

// maxRefusals is how many of the latest refusals the store keeps, to
// explain a round that times out.
const maxRefusals = 8

// errStoreClosed is what calls on a store that is shutting down get.
var errStoreClosed = fmt.Errorf("static: store is shut down (rank 0 has left the job): %w", registry.ErrConnection)

// limits bound what the store holds, so that a stranger, or a faulty node,
// fails alone instead of taking rank 0 down.
type limits struct {
	conns     int           // connections at once, handshakes included
	handshake time.Duration // from accepting a connection to the end of its handshake
	value     int           // bytes of a value
	store     int64         // bytes of the keys and values that clients set
}

// defaultLimits are the limits of a store of world nodes when the config
// does not set them.
func defaultLimits(world int) limits {
	return limits{conns: world + 64, handshake: 5 * time.Second, value: 64 << 20, store: 256 << 20}
}

// serverConfig is what a server checks of its clients and whom it tells
// about them.
type serverConfig struct {
	// prefix starts every key of the run. Clients may write, with Set
	// and Add, only the keys of the rounds' stores (prefix, "round/N/store/");
	// the rendezvous' own keys change only through opJoin, opAck and
	// opClose. An empty prefix (the store tests) leaves every key open.
	prefix string
	// runID and world are rank 0's: a client of another run or world size
	// is refused. A world of 0 accepts any client.
	runID string
	world int
	// secret, if set, must be proven by every client in the handshake.
	secret []byte
	limits limits
	// conflict, if set, is called when a client that proved the secret
	// is refused for not matching rank 0's world size, or for a rank
	// that is connected already, with the reason: the job is
	// misconfigured and the round cannot complete. Without a secret such
	// a client is refused alone: it may be a stranger.
	conflict func(s *server, reason string)
	// left, if set, is called when the connection of an accepted client
	// closes while the server runs, with the client's rank.
	left func(s *server, rank int)
}

// connState is what the server knows of one connection.
type connState struct {
	conn     net.Conn
	start    time.Time
	token    string // written as the value of the round keys of its rank
	accepted bool   // the handshake is done
	evicted  bool   // turned away to make room for a newer connection
}

// server is the key-value store hosted by rank 0. Its data is kept in
// memory; it answers remote clients over TCP and rank 0 itself directly
// (see local).
type server struct {
	ln  net.Listener
	cfg serverConfig

	mu        sync.Mutex
	data      map[string][]byte
	size      int64                    // bytes of the open keys and their values (see open)
	waiters   map[string]chan struct{} // closed when the key is set
	conns     map[net.Conn]*connState
	members   map[int]net.Conn // accepted clients by rank
	serial    int              // of connections, for their tokens
	refusals  []string         // the latest, for a round that times out
	reserve   *os.File         // a descriptor kept to tell clients the store has run out of them
	fdWarning time.Time        // when running out of descriptors was last logged
	closed    bool
	closing   chan struct{} // closed by Close

	loops   sync.WaitGroup // accept loop and connection loops
	pending sync.WaitGroup // requests being answered
	blocked atomic.Int32   // Gets waiting for their key
}

// listen starts a store listening on addr (host:port).
func listen(addr string, cfg serverConfig) (*server, error) {
	if cfg.limits == (limits{}) {
		cfg.limits = defaultLimits(max(cfg.world, 1))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &server{
		ln:      ln,
		cfg:     cfg,
		data:    make(map[string][]byte),
		waiters: make(map[string]chan struct{}),
		conns:   make(map[net.Conn]*connState),
		members: make(map[int]net.Conn),
		closing: make(chan struct{}),
	}
	// Without the reserve, running out of descriptors only shows as
	// connections that hang; with it, the store tells the clients.
	s.reserve, _ = os.Open(os.DevNull)
	s.loops.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the address the store listens on.
func (s *server) Addr() net.Addr { return s.ln.Addr() }

func (s *server) accept() {
	defer s.loops.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				s.outOfDescriptors(err)
			}
			// A transient failure: back off and try again.
			select {
			case <-time.After(50 * time.Millisecond):
				continue
			case <-s.closing:
				return
			}
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		if len(s.conns) >= s.cfg.limits.conns && !s.evictOldestHandshake() {
			n := len(s.conns)
			s.mu.Unlock()
			s.turnAway(conn, fmt.Sprintf("rank 0's store holds %d connections, its limit (config key max_connections on rank 0); try again later", n), true)
			continue
		}
		s.serial++
		st := &connState{conn: conn, start: time.Now(), token: "conn:" + strconv.Itoa(s.serial)}
		s.conns[conn] = st
		s.loops.Add(1)
		s.mu.Unlock()
		go s.serve(st)
	}
}

// evictOldestHandshake turns away the connection that has been in its
// handshake the longest, to make room for a new one: a stranger holding
// connections open cannot keep the nodes of the job out. It reports
// whether there was one; s.mu is held.
func (s *server) evictOldestHandshake() bool {
	var oldest *connState
	for _, st := range s.conns {
		if !st.accepted && !st.evicted && (oldest == nil || st.start.Before(oldest.start)) {
			oldest = st
		}
	}
	if oldest == nil {
		return false
	}
	oldest.evicted = true
	// Wakes its handshake, which tells it why and closes it. An error
	// means the connection is closed already: nothing is left to wake.
	_ = oldest.conn.SetDeadline(time.Now())
	return true
}

// outOfDescriptors reports that the process has run out of file
// descriptors: in rank 0's log, and to the client waiting to be accepted,
// with the descriptor kept in reserve for that.
func (s *server) outOfDescriptors(err error) {
	s.mu.Lock()
	reserve, warn := s.reserve, time.Since(s.fdWarning) > 10*time.Second
	s.reserve = nil
	if warn {
		s.fdWarning = time.Now()
	}
	n := len(s.conns)
	s.mu.Unlock()
	msg := fmt.Sprintf("rank 0's process is out of file descriptors (%v) with %d store connections; raise its limit (ulimit -n) or lower config key max_connections on rank 0", err, n)
	if warn {
		slog.Warn("static: " + msg)
	}
	if reserve == nil {
		return
	}
	reserve.Close()
	if conn, err := s.ln.Accept(); err == nil {
		s.turnAway(conn, msg, true)
	}
	s.mu.Lock()
	s.reserve, _ = os.Open(os.DevNull)
	s.mu.Unlock()
}

// turnAway tells a connection whose hello was not read why the store
// does not take it, and closes it.
func (s *server) turnAway(conn net.Conn, reason string, retry bool) {
	// The answer is a courtesy: a peer that does not take it within
	// turnAwayTimeout loses it, and an error here means just that.
	_ = conn.SetDeadline(time.Now().Add(turnAwayTimeout))
	_, _ = conn.Write(hello{version: protocolVersion, refused: reason, retry: retry}.encode())
	conn.Close()
}

// serve answers the requests of one client until it goes away or the
// server closes.
func (s *server) serve(cs *connState) {
	defer s.loops.Done()
	conn := cs.conn
	ctx, cancelAll := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex // guards cancels and writes to conn
		cancels = make(map[uint64]context.CancelFunc)
		gets    sync.WaitGroup
	)
	br := bufio.NewReader(conn)
	rank, ok := s.handshake(cs, br)
	defer func() {
		cancelAll()
		gets.Wait()
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		if ok && s.members[rank] == conn {
			delete(s.members, rank)
		}
		closed := s.closed
		s.mu.Unlock()
		if ok && !closed && s.cfg.left != nil {
			s.cfg.left(s, rank)
		}
	}()
	if !ok {
		return
	}
	reply := func(r response) {
		mu.Lock()
		defer mu.Unlock()
		// An error setting the deadline means the connection is
		// closed: the write below fails as well and is handled there.
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := conn.Write(r.encode()); err != nil {
			conn.Close() // the read loop sees it and ends
		}
	}
	limit := uint32(s.cfg.limits.value + maxKey + 64)
	for {
		req, err := readRequest(br, limit)
		var tooLarge *errTooLarge
		if errors.As(err, &tooLarge) {
			reply(response{id: tooLarge.id, status: statusError, message: fmt.Sprintf(
				"request of %d bytes exceeds the store's limit of %d bytes for a value (config key max_value_size on rank 0)", tooLarge.size, s.cfg.limits.value)})
			continue
		}
		if err != nil {
			return // gone, or not our protocol: drop the connection
		}
		if req.op == opCancel {
			mu.Lock()
			if cancel, ok := cancels[req.id]; ok {
				cancel()
			}
			mu.Unlock()
			continue
		}
		// Register the request as pending unless the server is closing;
		// Close waits for pending requests to be answered.
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			reply(response{id: req.id, status: statusClosed, message: errStoreClosed.Error()})
			continue
		}
		s.pending.Add(1)
		s.mu.Unlock()
		if req.op == opGet {
			mu.Lock()
			if len(cancels) >= maxGets {
				mu.Unlock()
				s.pending.Done()
				reply(response{id: req.id, status: statusError, message: fmt.Sprintf("static: store: this node has %d Gets waiting, the limit", maxGets)})
				continue
			}
			gctx, cancel := context.WithCancel(ctx)
			cancels[req.id] = cancel
			mu.Unlock()
			gets.Add(1)
			go func() {
				defer gets.Done()
				defer s.pending.Done()
				v, err := s.get(gctx, req.key)
				mu.Lock()
				delete(cancels, req.id)
				mu.Unlock()
				cancel()
				switch {
				case err == nil:
					reply(response{id: req.id, value: v})
				case errors.Is(err, registry.ErrConnection):
					reply(response{id: req.id, status: statusClosed, message: err.Error()})
				default:
					// Cancelled by the client or the client is gone:
					// nobody waits for an answer.
				}
			}()
			continue
		}
		reply(s.do(req, rank, cs.token))
		s.pending.Done()
	}
}

// do carries out a request other than Get and Cancel for the client of
// rank whose connection has token.
func (s *server) do(req request, rank int, token string) response {
	fail := func(err error) response {
		return response{id: req.id, status: statusError, message: err.Error()}
	}
	switch req.op {
	case opSet:
		if err := s.setOpen(req.key, req.value); err != nil {
			return fail(err)
		}
		return response{id: req.id}
	case opAdd:
		if req.delta == 0 && !s.open(req.key) {
			// Reading a counter of the rendezvous, such as the nodes
			// joined: it is not created.
			n, err := s.count(req.key)
			if err != nil {
				return fail(err)
			}
			return response{id: req.id, n: n}
		}
		n, err := s.addOpen(req.key, req.delta)
		if err != nil {
			return fail(err)
		}
		return response{id: req.id, n: n}
	case opJoin:
		res, outcome, err := s.join(req.key, rank, token)
		if err != nil {
			return fail(err)
		}
		return response{id: req.id, value: outcome, n: int64(res)}
	case opAck:
		if err := s.ack(req.key, rank, token); err != nil {
			return fail(err)
		}
		return response{id: req.id}
	case opClose:
		s.closeRun()
		return response{id: req.id}
	}
	return fail(fmt.Errorf("unknown operation %d", req.op))
}

// handshake runs the store's side of the handshake (see wire.go) and
// registers the client if it is accepted. It reports the client's rank
// and whether it is accepted. A client turned away is told why, unless it
// does not speak the protocol at all.
func (s *server) handshake(cs *connState, br *bufio.Reader) (int, bool) {
	conn := cs.conn
	refuse := func(reason string, retry bool) (int, bool) {
		s.turnAway(conn, reason, retry)
		return 0, false
	}
	const busy = "rank 0's store is busy: a newer connection took the place of this one (config key max_connections on rank 0); try again"
	// Under s.mu, so as not to undo the deadline of an eviction. An
	// error means the connection is closed: the reads below fail.
	s.mu.Lock()
	evicted := cs.evicted
	if !evicted {
		_ = conn.SetDeadline(cs.start.Add(s.cfg.limits.handshake))
	}
	s.mu.Unlock()
	if evicted {
		return refuse(busy, true)
	}
	failed := func(err error) (int, bool) {
		s.mu.Lock()
		evicted := cs.evicted
		s.mu.Unlock()
		var ne net.Error
		switch {
		case evicted:
			return refuse(busy, true)
		case errors.As(err, &ne) && ne.Timeout():
			return refuse(fmt.Sprintf("the handshake did not complete within %v (config key handshake_timeout on rank 0)", s.cfg.limits.handshake), false)
		case errors.Is(err, errMalformed):
			return refuse("malformed hello: this is a static rendezvous store, and the peer does not speak its protocol", false)
		}
		conn.Close()
		return 0, false
	}
	first, err := readFrameLimit(br, maxHelloFrame)
	if err != nil {
		return failed(err)
	}
	h, err := decodeHello(first)
	if err != nil {
		return failed(err)
	}
	if h.version != protocolVersion {
		return refuse(fmt.Sprintf("the store speaks protocol version %d, the node of rank %d version %d; run the same version of the static backend on every node",
			protocolVersion, h.rank, h.version), false)
	}
	secret := len(s.cfg.secret) > 0
	switch {
	case secret && !h.secret:
		return refuse(fmt.Sprintf("rank 0's store requires the job's secret and the node of rank %d has none; give every node the same secret (config key secret or environment variable %s)", h.rank, SecretEnv), false)
	case !secret && h.secret:
		return refuse(fmt.Sprintf("the node of rank %d has a secret and rank 0's store has none; give every node the same secret (config key secret or environment variable %s)", h.rank, SecretEnv), false)
	}
	answer := hello{version: protocolVersion, nonce: newNonce(), secret: secret}
	if secret {
		answer.proof = proof(s.cfg.secret, roleStore, first, answer.nonce)
	}
	if _, err := conn.Write(answer.encode()); err != nil {
		return failed(err)
	}
	body, err := readFrameLimit(br, maxHelloFrame)
	if err != nil {
		return failed(err)
	}
	p, err := decodeHello(body)
	if err != nil {
		return failed(err)
	}
	if secret && !hmac.Equal(p.proof, proof(s.cfg.secret, roleClient, first, answer.nonce)) {
		return refuse(fmt.Sprintf("the node of rank %d did not prove it knows the job's secret; give every node the same secret (config key secret or environment variable %s)", h.rank, SecretEnv), false)
	}
	reason, conflict := s.admit(cs, h)
	if reason != "" {
		if conflict && secret && s.cfg.conflict != nil {
			s.cfg.conflict(s, reason)
		}
		return refuse(reason, false)
	}
	if _, err := conn.Write(hello{version: protocolVersion, maxValue: uint64(s.cfg.limits.value)}.encode()); err != nil {
		s.mu.Lock()
		delete(s.members, int(h.rank))
		s.mu.Unlock()
		return failed(err)
	}
	_ = conn.SetDeadline(time.Time{}) // an error means the connection is closed: the next read fails
	return int(h.rank), true
}

// admit checks the client's hello against rank 0's run, world size and
// the ranks connected, and registers the client as its rank's. It returns
// why the client is refused, if it is, and whether the refusal means the
// job is misconfigured (another world size, a rank given twice) rather
// than that the client is of another job.
func (s *server) admit(cs *connState, h hello) (reason string, conflict bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.cfg.world == 0:
	case h.runID != s.cfg.runID:
		reason = fmt.Sprintf("the node of rank %d is of run %q, rank 0 hosts run %q; give every node the same run id (--rdzv-id)", h.rank, h.runID, s.cfg.runID)
	case int64(h.world) != int64(s.cfg.world):
		reason, conflict = fmt.Sprintf("the node of rank %d has a world of %d nodes, rank 0 of %d; start every node with the same --nnodes", h.rank, h.world, s.cfg.world), true
	case h.rank == 0 || int64(h.rank) >= int64(s.cfg.world):
		reason = fmt.Sprintf("a node connected with rank %d, which rank 0 does not expect; give every other node its own rank in [1, %d)", h.rank, s.cfg.world)
	case s.members[int(h.rank)] != nil:
		reason, conflict = fmt.Sprintf("two nodes joined with rank %d: one is connected already, from %s (a node was restarted while its predecessor was still connected, or two nodes were given the same rank); give every node its own rank in [0, %d)",
			h.rank, s.members[int(h.rank)].RemoteAddr(), s.cfg.world), true
	}
	if reason != "" {
		if len(s.refusals) == maxRefusals {
			s.refusals = s.refusals[1:]
		}
		s.refusals = append(s.refusals, reason)
		return reason, conflict
	}
	cs.accepted = true
	if s.cfg.world != 0 {
		s.members[int(h.rank)] = cs.conn
	}
	return "", false
}

// recentRefusals returns the reasons of the latest refusals.
func (s *server) recentRefusals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refusals...)
}

// open reports whether clients may write key with Set and Add: it is a
// key of a round's store.
func (s *server) open(key string) bool {
	if s.cfg.prefix == "" {
		return true
	}
	rest, ok := strings.CutPrefix(key, s.cfg.prefix+"round/")
	if !ok {
		return false
	}
	n, rest, ok := strings.Cut(rest, "/")
	return ok && n != "" && strings.Trim(n, "0123456789") == "" && strings.HasPrefix(rest, "store/")
}

// errReserved is the error of a client's write to a key of the
// rendezvous itself.
func errReserved(key string) error {
	return fmt.Errorf("store key %q belongs to the rendezvous and cannot be written; write the keys of the store NextRendezvous returns", key)
}

// peek returns the value of key, if it is set, without waiting.
func (s *server) peek(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	return append([]byte(nil), v...), ok
}

// count returns the integer stored under key, 0 if it is absent, without
// creating it.
func (s *server) count(key string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	if !ok {
		return 0, nil
	}
	return parseCount(key, v)
}

func parseCount(key string, v []byte) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("static: store: value of key %q is not an integer; Add works only on keys that Add created", key)
	}
	return n, nil
}

// setIfAbsent stores value under key unless key is set. It returns the
// value kept and whether it is value.
func (s *server) setIfAbsent(key string, value []byte) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setIfAbsentLocked(key, value)
}

func (s *server) setIfAbsentLocked(key string, value []byte) ([]byte, bool) {
	if v, ok := s.data[key]; ok {
		return append([]byte(nil), v...), false
	}
	s.store(key, value)
	return append([]byte(nil), value...), true
}

// set stores value under key.
func (s *server) set(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store(key, value)
}

// store stores a copy of value under key, keeps the size and wakes the
// waiters of key; s.mu is held.
func (s *server) store(key string, value []byte) {
	open := s.open(key)
	if old, ok := s.data[key]; ok && open {
		s.size -= int64(len(key) + len(old))
	}
	s.data[key] = append([]byte(nil), value...)
	if open {
		s.size += int64(len(key) + len(value))
	}
	if ch, ok := s.waiters[key]; ok {
		close(ch)
		delete(s.waiters, key)
	}
}

// fits checks that storing value under key keeps the store within its
// limits; s.mu is held.
func (s *server) fits(key string, value int) error {
	if len(key) > maxKey {
		return fmt.Errorf("static: store: key of %d bytes exceeds the limit of %d", len(key), maxKey)
	}
	if value > s.cfg.limits.value {
		return fmt.Errorf("static: store: value of %d bytes exceeds the store's limit of %d bytes (config key max_value_size on rank 0)", value, s.cfg.limits.value)
	}
	size := s.size + int64(len(key)+value)
	if old, ok := s.data[key]; ok {
		size -= int64(len(key) + len(old))
	}
	if size > s.cfg.limits.store {
		return fmt.Errorf("static: store: setting key %q (%d bytes) would take the store to %d bytes, over its limit of %d (config key max_store_size on rank 0)", key, len(key)+value, size, s.cfg.limits.store)
	}
	return nil
}

// setOpen is a client's Set: only open keys, within the limits.
func (s *server) setOpen(key string, value []byte) error {
	if !s.open(key) {
		return errReserved(key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fits(key, len(value)); err != nil {
		return err
	}
	s.store(key, value)
	return nil
}

// addOpen is a client's Add: only open keys, within the limits.
func (s *server) addOpen(key string, delta int64) (int64, error) {
	if !s.open(key) {
		return 0, errReserved(key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(key, delta, true)
}

// addLocked adds delta to the decimal integer stored under key, absent
// counting as 0. The value is kept in decimal text, as PyTorch's TCPStore
// keeps it, so Get reads it too. s.mu is held.
func (s *server) addLocked(key string, delta int64, limited bool) (int64, error) {
	var n int64
	if v, ok := s.data[key]; ok {
		var err error
		if n, err = parseCount(key, v); err != nil {
			return 0, err
		}
	}
	n += delta
	v := strconv.AppendInt(nil, n, 10)
	if limited {
		if err := s.fits(key, len(v)); err != nil {
			return 0, err
		}
	}
	s.store(key, v)
	return n, nil
}

// join counts the node of rank, whose connection has token, in the round
// whose keys start with round, and marks the round complete if it is the
// last of the world to join. Joining again from the same connection (a
// call abandoned and retried) changes nothing. If a node of this rank has
// joined the round already, join returns joinLate and the round's outcome
// if it has one, or else fails the round and returns joinConflict with
// the failed outcome.
func (s *server) join(round string, rank int, token string) (int, []byte, error) {
	if !s.isRound(round) {
		return 0, nil, fmt.Errorf("static: store: %q is not a round of run %q", round, s.cfg.runID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rk := round + "rank/" + strconv.Itoa(rank)
	if v, ok := s.data[rk]; ok {
		if string(v) == token {
			return joinCounted, nil, nil
		}
		if o, ok := s.data[round+"outcome"]; ok {
			return joinLate, append([]byte(nil), o...), nil
		}
		o, _ := s.setIfAbsentLocked(round+"outcome", []byte(outcomeFail+fmt.Sprintf(
			"two nodes joined with rank %d (a node was restarted while its predecessor was still connected, or two nodes were given the same rank); give every node its own rank in [0, %d)", rank, s.cfg.world)))
		return joinConflict, o, nil
	}
	s.store(rk, []byte(token))
	n, err := s.addLocked(round+"joined", 1, false)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case n > int64(s.cfg.world):
		o, _ := s.setIfAbsentLocked(round+"outcome", []byte(outcomeFail+fmt.Sprintf("%d nodes joined a world of %d; start every node with the same --nnodes", n, s.cfg.world)))
		return joinConflict, o, nil
	case n == int64(s.cfg.world):
		// A failure decided first wins; the nodes read the outcome.
		s.setIfAbsentLocked(round+"outcome", []byte(outcomeOK))
	}
	return joinCounted, nil, nil
}

// ack records that the node of rank, whose connection has token, saw the
// round complete.
func (s *server) ack(round string, rank int, token string) error {
	if !s.isRound(round) {
		return fmt.Errorf("static: store: %q is not a round of run %q", round, s.cfg.runID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.data[round+"rank/"+strconv.Itoa(rank)]; string(v) != token {
		return fmt.Errorf("static: store: the node of rank %d did not join round %s", rank, round)
	}
	s.store(round+"ack/"+strconv.Itoa(rank), nil)
	return nil
}

// closeRun closes the rendezvous: the counter answers IsClosed without
// blocking, the signal wakes the nodes waiting in a round.
func (s *server) closeRun() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The counter holds only what addLocked wrote: it parses.
	_, _ = s.addLocked(s.cfg.prefix+"closed", 1, false)
	s.store(s.cfg.prefix+"closed/signal", nil)
}

// isRound reports whether round is the key prefix of a round of the run.
func (s *server) isRound(round string) bool {
	rest, ok := strings.CutPrefix(round, s.cfg.prefix+"round/")
	n, ok2 := strings.CutSuffix(rest, "/")
	return ok && ok2 && n != "" && len(n) < 10 && strings.Trim(n, "0123456789") == ""
}

// get returns the value of key once it is set. It fails when ctx is done or
// the server closes; a value that is set wins over closing.
func (s *server) get(ctx context.Context, key string) ([]byte, error) {
	for {
		s.mu.Lock()
		if v, ok := s.data[key]; ok {
			s.mu.Unlock()
			return append([]byte(nil), v...), nil
		}
		if s.closed {
			s.mu.Unlock()
			return nil, errStoreClosed
		}
		ch, ok := s.waiters[key]
		if !ok {
			ch = make(chan struct{})
			s.waiters[key] = ch
		}
		s.mu.Unlock()
		s.blocked.Add(1)
		select {
		case <-ch:
		case <-s.closing:
		case <-ctx.Done():
		}
		s.blocked.Add(-1)
		if ctx.Err() != nil {
			return nil, ctxError(ctx, fmt.Sprintf("waiting for store key %q", key))
		}
	}
}

// Close stops the server. Requests already received are answered (a
// waiting Get with the closed error) before the connections are closed,
// unless ctx is done first.
func (s *server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	err := s.ln.Close()

	answered := make(chan struct{})
	go func() {
		s.pending.Wait()
		close(answered)
	}()
	select {
	case <-answered:
	case <-ctx.Done():
	}
	s.mu.Lock()
	for conn := range s.conns {
		conn.Close()
	}
	s.mu.Unlock()
	s.loops.Wait()
	<-answered
	s.mu.Lock()
	if s.reserve != nil {
		s.reserve.Close()
		s.reserve = nil
	}
	s.mu.Unlock()
	return err
}

// local returns the store as rank 0 uses it: directly, without a
// connection.
func (s *server) local() kv { return localStore{s} }

// localToken is the token of rank 0's own round keys.
const localToken = "local"

type localStore struct{ s *server }

func (l localStore) Set(ctx context.Context, key string, value []byte) error {
	if err := l.check(ctx, "setting store key "+strconv.Quote(key)); err != nil {
		return err
	}
	return l.s.setOpen(key, value)
}

func (l localStore) Get(ctx context.Context, key string) ([]byte, error) {
	return l.s.get(ctx, key)
}

func (l localStore) Add(ctx context.Context, key string, delta int64) (int64, error) {
	if err := l.check(ctx, "adding to store key "+strconv.Quote(key)); err != nil {
		return 0, err
	}
	if delta == 0 && !l.s.open(key) {
		return l.s.count(key)
	}
	return l.s.addOpen(key, delta)
}

func (l localStore) Join(ctx context.Context, round string) (int, []byte, error) {
	if err := l.check(ctx, "joining round "+round); err != nil {
		return 0, nil, err
	}
	return l.s.join(round, 0, localToken)
}

// Ack is never called for rank 0, which is the one waiting for the acks.
func (l localStore) Ack(ctx context.Context, round string) error {
	if err := l.check(ctx, "acknowledging round "+round); err != nil {
		return err
	}
	return l.s.ack(round, 0, localToken)
}

func (l localStore) CloseRun(ctx context.Context) error {
	if err := l.check(ctx, "closing the rendezvous"); err != nil {
		return err
	}
	l.s.closeRun()
	return nil
}

func (l localStore) check(ctx context.Context, what string) error {
	if ctx.Err() != nil {
		return ctxError(ctx, what)
	}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.closed {
		return errStoreClosed
	}
	return nil
}

// ctxError is the error for an operation abandoned because ctx is done: it
// wraps registry.ErrTimeout and the context's cause.
func ctxError(ctx context.Context, what string) error {
	return fmt.Errorf("static: %s: %w: %w", what, registry.ErrTimeout, context.Cause(ctx))
}
