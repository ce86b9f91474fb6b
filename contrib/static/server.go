package static

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// writeTimeout bounds how long the server waits for a client to take a
// response, so that a stuck client cannot hold the server.
const writeTimeout = 10 * time.Second

// errStoreClosed is what calls on a store that is shutting down get.
var errStoreClosed = fmt.Errorf("static: store is shut down (rank 0 has left the job): %w", registry.ErrConnection)

// serverConfig is what a server checks of its clients and whom it tells
// about them.
type serverConfig struct {
	// runID and world are rank 0's: a client of another run or world size
	// is refused. A world of 0 accepts any client.
	runID string
	world int
	// refused, if set, is called when a client is refused for not
	// matching runID and world, with the reason.
	refused func(s *server, reason string)
	// left, if set, is called when the connection of an accepted client
	// closes while the server runs, with the client's rank.
	left func(s *server, rank int)
}

// server is the key-value store hosted by rank 0. Its data is kept in
// memory; it answers remote clients over TCP and rank 0 itself directly
// (see local).
type server struct {
	ln  net.Listener
	cfg serverConfig

	mu      sync.Mutex
	data    map[string][]byte
	waiters map[string]chan struct{} // closed when the key is set
	conns   map[net.Conn]struct{}
	closed  bool
	closing chan struct{} // closed by Close

	loops   sync.WaitGroup // accept loop and connection loops
	pending sync.WaitGroup // requests being answered
	blocked atomic.Int32   // Gets waiting for their key
}

// listen starts a store listening on addr (host:port).
func listen(addr string, cfg serverConfig) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &server{
		ln:      ln,
		cfg:     cfg,
		data:    make(map[string][]byte),
		waiters: make(map[string]chan struct{}),
		conns:   make(map[net.Conn]struct{}),
		closing: make(chan struct{}),
	}
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
			// A transient failure, such as running out of file
			// descriptors: back off and try again.
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
		s.conns[conn] = struct{}{}
		s.loops.Add(1)
		s.mu.Unlock()
		go s.serve(conn)
	}
}

// serve answers the requests of one client until it goes away or the
// server closes.
func (s *server) serve(conn net.Conn) {
	defer s.loops.Done()
	ctx, cancelAll := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex // guards cancels and writes to conn
		cancels = make(map[uint64]context.CancelFunc)
		gets    sync.WaitGroup
	)
	br := bufio.NewReader(conn)
	rank, ok := s.handshake(conn, br)
	defer func() {
		cancelAll()
		gets.Wait()
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
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
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := conn.Write(r.encode()); err != nil {
			conn.Close() // the read loop sees it and ends
		}
	}
	for {
		body, err := readFrame(br)
		if err != nil {
			return
		}
		req, err := decodeRequest(body)
		if err != nil {
			return // not our protocol: drop the connection
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
		switch req.op {
		case opSet:
			s.set(req.key, req.value)
			reply(response{id: req.id})
			s.pending.Done()
		case opSetIfAbsent:
			v, set := s.setIfAbsent(req.key, req.value)
			r := response{id: req.id, value: v}
			if set {
				r.n = 1
			}
			reply(r)
			s.pending.Done()
		case opAdd:
			n, err := s.add(req.key, req.delta)
			if err != nil {
				reply(response{id: req.id, status: statusError, message: err.Error()})
			} else {
				reply(response{id: req.id, n: n})
			}
			s.pending.Done()
		case opGet:
			gctx, cancel := context.WithCancel(ctx)
			mu.Lock()
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
		}
	}
}

// handshake reads the client's hello and answers it. It reports the
// client's rank and whether it is accepted.
func (s *server) handshake(conn net.Conn, br *bufio.Reader) (int, bool) {
	conn.SetDeadline(time.Now().Add(handshakeTimeout))
	body, err := readFrameLimit(br, maxHelloFrame)
	if err != nil {
		return 0, false
	}
	h, err := decodeHello(body)
	if err != nil {
		return 0, false // not our protocol: drop the connection
	}
	var refused string
	switch {
	case h.version != protocolVersion:
		refused = fmt.Sprintf("the store speaks protocol version %d, the node of rank %d version %d; run the same version of the static backend on every node",
			protocolVersion, h.rank, h.version)
	case s.cfg.world == 0:
	case h.runID != s.cfg.runID:
		refused = fmt.Sprintf("the node of rank %d is of run %q, rank 0 hosts run %q; give every node the same run id (--rdzv-id)", h.rank, h.runID, s.cfg.runID)
	case int64(h.world) != int64(s.cfg.world):
		refused = fmt.Sprintf("the node of rank %d has a world of %d nodes, rank 0 of %d; start every node with the same --nnodes", h.rank, h.world, s.cfg.world)
	case h.rank == 0 || int64(h.rank) >= int64(s.cfg.world):
		refused = fmt.Sprintf("a node connected with rank %d, which rank 0 does not expect; give every other node its own rank in [1, %d)", h.rank, s.cfg.world)
	}
	if refused != "" && h.version == protocolVersion && s.cfg.world != 0 && h.runID == s.cfg.runID && s.cfg.refused != nil {
		s.cfg.refused(s, refused)
	}
	_, err = conn.Write(hello{version: protocolVersion, refused: refused}.encode())
	conn.SetDeadline(time.Time{})
	return int(h.rank), err == nil && refused == ""
}

// peek returns the value of key, if it is set, without waiting.
func (s *server) peek(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	return append([]byte(nil), v...), ok
}

// setIfAbsent stores value under key unless key is set. It returns the
// value kept and whether it is value.
func (s *server) setIfAbsent(key string, value []byte) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.data[key]; ok {
		return append([]byte(nil), v...), false
	}
	s.data[key] = append([]byte(nil), value...)
	s.wake(key)
	return append([]byte(nil), value...), true
}

func (s *server) set(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = append([]byte(nil), value...)
	s.wake(key)
}

// add adds delta to the decimal integer stored under key. The value is kept
// in decimal text, as PyTorch's TCPStore keeps it, so Get reads it too.
func (s *server) add(key string, delta int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	if v, ok := s.data[key]; ok {
		var err error
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return 0, fmt.Errorf("static: store: value of key %q is not an integer; Add works only on keys that Add created", key)
		}
	}
	n += delta
	s.data[key] = strconv.AppendInt(nil, n, 10)
	s.wake(key)
	return n, nil
}

// wake releases the waiters of key; s.mu is held.
func (s *server) wake(key string) {
	if ch, ok := s.waiters[key]; ok {
		close(ch)
		delete(s.waiters, key)
	}
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
	return err
}

// local returns the store as rank 0 uses it: directly, without a
// connection.
func (s *server) local() kv { return localStore{s} }

type localStore struct{ s *server }

func (l localStore) Set(ctx context.Context, key string, value []byte) error {
	if err := l.check(ctx, "setting store key "+strconv.Quote(key)); err != nil {
		return err
	}
	l.s.set(key, value)
	return nil
}

func (l localStore) Get(ctx context.Context, key string) ([]byte, error) {
	return l.s.get(ctx, key)
}

func (l localStore) SetIfAbsent(ctx context.Context, key string, value []byte) ([]byte, bool, error) {
	if err := l.check(ctx, "setting store key "+strconv.Quote(key)); err != nil {
		return nil, false, err
	}
	v, set := l.s.setIfAbsent(key, value)
	return v, set, nil
}

func (l localStore) Add(ctx context.Context, key string, delta int64) (int64, error) {
	if err := l.check(ctx, "adding to store key "+strconv.Quote(key)); err != nil {
		return 0, err
	}
	return l.s.add(key, delta)
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
