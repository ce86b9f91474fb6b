package static

import (
	"bufio"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// client is a connection to the store hosted by rank 0. It implements
// registry.Store; calls from several goroutines share the connection.
type client struct {
	addr     string
	conn     net.Conn
	br       *bufio.Reader // reads conn; holds what followed the hello
	maxValue int           // the store's limit on values

	wmu sync.Mutex // serialises writes to conn

	mu      sync.Mutex
	pending map[uint64]chan response
	nextID  uint64
	err     error // why the connection is gone; set once

	done chan struct{} // closed when the read loop has ended
}

// errBusy is the error of a store that turns a node away for now: it is
// busy, or out of file descriptors. It wraps no registry sentinel, so that
// dialRetry tries again.
type errBusy struct{ addr, reason string }

func (e *errBusy) Error() string {
	return fmt.Sprintf("static: the store at %s turns this node away for now: %s", e.addr, e.reason)
}

// dial connects to the store at addr, once, and introduces the node with
// me, proving it knows secret if it is not empty. A failure to reach addr,
// or a store that is busy, is returned as is, to be tried again; any
// later failure wraps a registry sentinel: the peer is not a store
// (registry.ErrConnection), or the store refuses this node
// (registry.ErrState).
func dial(ctx context.Context, addr string, me hello, secret []byte) (*client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	maxValue, err := shake(ctx, conn, br, addr, me, secret)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &client{
		addr:     addr,
		conn:     conn,
		br:       br,
		maxValue: maxValue,
		pending:  make(map[uint64]chan response),
		done:     make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// shake runs the node's side of the handshake (see wire.go) within
// handshakeTimeout and returns the store's limit on values.
func shake(ctx context.Context, conn net.Conn, br *bufio.Reader, addr string, me hello, secret []byte) (int, error) {
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// Errors setting deadlines mean the connection is closed: the
	// writes and reads below fail and say so.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	me.version = protocolVersion
	me.nonce = newNonce()
	me.secret = len(secret) > 0
	first := me.encode()
	// exchange sends a frame and reads the store's answer.
	exchange := func(frame []byte) (hello, error) {
		_, err := conn.Write(frame)
		var body []byte
		if err == nil {
			body, err = readFrameLimit(br, maxHelloFrame)
		}
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return hello{}, ctxError(ctx, "handshake with the store at "+addr)
		case errors.As(err, &ne) && ne.Timeout():
			return hello{}, fmt.Errorf("static: the service at %s did not answer the handshake within %v: %w; either it is not a static rendezvous store (check the endpoint, --rdzv-endpoint: it must be where rank 0 hosts the store) or rank 0 is overloaded",
				addr, handshakeTimeout, registry.ErrConnection)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
			return hello{}, fmt.Errorf("static: the service at %s closed the connection during the handshake: %w; either it is not a static rendezvous store or rank 0 is shutting down: check the endpoint (--rdzv-endpoint)",
				addr, registry.ErrConnection)
		case err != nil:
			return hello{}, fmt.Errorf("static: the service at %s is not a static rendezvous store (%v): %w; check the endpoint (--rdzv-endpoint)", addr, err, registry.ErrConnection)
		}
		h, err := decodeHello(body)
		switch {
		case err != nil:
			return hello{}, fmt.Errorf("static: the service at %s is not a static rendezvous store: its answer to the handshake is not the static backend's: %w; check the endpoint (--rdzv-endpoint)", addr, registry.ErrConnection)
		case h.version != protocolVersion:
			return hello{}, fmt.Errorf("static: the store at %s speaks protocol version %d, this node version %d: %w; run the same version of the static backend on every node", addr, h.version, protocolVersion, registry.ErrConnection)
		case h.refused != "" && h.retry:
			return hello{}, &errBusy{addr, h.refused}
		case h.refused != "":
			return hello{}, fmt.Errorf("static: the store at %s refuses this node: %s: %w", addr, h.refused, registry.ErrState)
		}
		return h, nil
	}
	h, err := exchange(first)
	if err != nil {
		return 0, err
	}
	var mine []byte
	if len(secret) > 0 {
		if !h.secret || !hmac.Equal(h.proof, proof(secret, roleStore, first[4:], h.nonce)) {
			return 0, fmt.Errorf("static: the store at %s does not prove it knows the job's secret: %w; give every node the same secret (config key secret or environment variable %s), and check the endpoint (--rdzv-endpoint)",
				addr, registry.ErrState, SecretEnv)
		}
		mine = proof(secret, roleClient, first[4:], h.nonce)
	}
	verdict, err := exchange(hello{version: protocolVersion, proof: mine}.encode())
	if err != nil {
		return 0, err
	}
	_ = conn.SetDeadline(time.Time{})
	if verdict.maxValue == 0 || verdict.maxValue > 1<<30 {
		return 0, fmt.Errorf("static: the store at %s announces a limit of %d bytes on values, which no store sets: %w", addr, verdict.maxValue, registry.ErrConnection)
	}
	return int(verdict.maxValue), nil
}

// dialRetry connects to the store at addr, trying again with growing pauses
// until it succeeds or ctx is done: the other nodes may start before rank 0
// listens, and a busy store may take the node later. A peer that is
// reached but is not a store, or refuses this node, is not tried again.
func dialRetry(ctx context.Context, addr string, me hello, secret []byte) (*client, error) {
	delay := 20 * time.Millisecond
	for {
		c, err := dial(ctx, addr, me, secret)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, registry.ErrRendezvous) {
			return nil, err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, fmt.Errorf("static: cannot connect to the store of rank 0 at %s (%w: %v; last attempt: %w: %v); check that the node with rank 0 runs, with the same endpoint, and has not already failed",
				addr, registry.ErrTimeout, context.Cause(ctx), registry.ErrConnection, err)
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

func (c *client) readLoop() {
	defer close(c.done)
	var err error
	for {
		var body []byte
		if body, err = readFrameLimit(c.br, uint32(c.maxValue+maxKey+64)); err != nil {
			break
		}
		var r response
		if r, err = decodeResponse(body); err != nil {
			break
		}
		c.mu.Lock()
		ch, ok := c.pending[r.id]
		delete(c.pending, r.id)
		c.mu.Unlock()
		if ok {
			ch <- r // buffered
		}
	}
	c.fail(err)
}

// fail records why the connection is gone, closes it and fails every
// waiting call.
func (c *client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = fmt.Errorf("static: connection to the store at %s lost: %w: %v", c.addr, registry.ErrConnection, err)
	}
	c.conn.Close()
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

// Close closes the connection; waiting calls fail.
func (c *client) Close() {
	c.fail(errors.New("client closed"))
	<-c.done
}

func (c *client) write(ctx context.Context, req request) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline := time.Now().Add(writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// An error means the connection is closed: the write fails too.
	_ = c.conn.SetWriteDeadline(deadline)
	_, err := c.conn.Write(req.encode())
	return err
}

// call sends req and waits for its response.
func (c *client) call(ctx context.Context, req request, what string) (response, error) {
	if len(req.value) > c.maxValue {
		return response{}, fmt.Errorf("static: %s: value of %d bytes exceeds the store's limit of %d bytes (config key max_value_size on rank 0)", what, len(req.value), c.maxValue)
	}
	if len(req.key) > maxKey {
		return response{}, fmt.Errorf("static: %s: key of %d bytes exceeds the limit of %d", what, len(req.key), maxKey)
	}
	if ctx.Err() != nil {
		return response{}, ctxError(ctx, what)
	}
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return response{}, fmt.Errorf("static: %s: %w", what, err)
	}
	c.nextID++
	req.id = c.nextID
	c.pending[req.id] = ch
	c.mu.Unlock()

	if err := c.write(ctx, req); err != nil {
		c.fail(err)
		c.mu.Lock()
		err = c.err
		c.mu.Unlock()
		return response{}, fmt.Errorf("static: %s: %w", what, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return response{}, fmt.Errorf("static: %s: %w", what, err)
		}
		switch r.status {
		case statusClosed:
			return response{}, fmt.Errorf("static: %s: %w", what, errStoreClosed)
		case statusError:
			return response{}, fmt.Errorf("static: %s: %s", what, r.message)
		}
		return r, nil
	case <-ctx.Done():
		c.mu.Lock()
		_, waiting := c.pending[req.id]
		delete(c.pending, req.id)
		c.mu.Unlock()
		if waiting && req.op == opGet {
			// Best effort: the server would otherwise keep the
			// Get until the key is set. Bounded by writeTimeout.
			if err := c.write(context.Background(), request{op: opCancel, id: req.id}); err != nil {
				c.fail(err)
			}
		}
		return response{}, ctxError(ctx, what)
	}
}

// Set implements registry.Store.
func (c *client) Set(ctx context.Context, key string, value []byte) error {
	_, err := c.call(ctx, request{op: opSet, key: key, value: value}, "setting store key "+strconv.Quote(key))
	return err
}

// Get implements registry.Store.
func (c *client) Get(ctx context.Context, key string) ([]byte, error) {
	r, err := c.call(ctx, request{op: opGet, key: key}, "waiting for store key "+strconv.Quote(key))
	if err != nil {
		return nil, err
	}
	return r.value, nil
}

// Join counts this node in the round whose keys start with round; see
// server.join.
func (c *client) Join(ctx context.Context, round string) (int, []byte, error) {
	r, err := c.call(ctx, request{op: opJoin, key: round}, "joining round "+round)
	if err != nil {
		return 0, nil, err
	}
	return int(r.n), r.value, nil
}

// Ack tells rank 0 that this node saw the round complete.
func (c *client) Ack(ctx context.Context, round string) error {
	_, err := c.call(ctx, request{op: opAck, key: round}, "acknowledging round "+round)
	return err
}

// CloseRun closes the rendezvous.
func (c *client) CloseRun(ctx context.Context) error {
	_, err := c.call(ctx, request{op: opClose}, "closing the rendezvous")
	return err
}

// Add implements registry.Store.
func (c *client) Add(ctx context.Context, key string, delta int64) (int64, error) {
	r, err := c.call(ctx, request{op: opAdd, key: key, delta: delta}, "adding to store key "+strconv.Quote(key))
	if err != nil {
		return 0, err
	}
	return r.n, nil
}
