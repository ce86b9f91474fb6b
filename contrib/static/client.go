package static

import (
	"bufio"
	"context"
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
	addr string
	conn net.Conn
	br   *bufio.Reader // reads conn; holds what followed the hello

	wmu sync.Mutex // serialises writes to conn

	mu      sync.Mutex
	pending map[uint64]chan response
	nextID  uint64
	err     error // why the connection is gone; set once

	done chan struct{} // closed when the read loop has ended
}

// dial connects to the store at addr, once, and introduces the node with
// me. A failure to reach addr is returned as is, to be tried again; any
// later failure wraps a registry sentinel: the peer is not a store
// (registry.ErrConnection), or the store refuses this node
// (registry.ErrState).
func dial(ctx context.Context, addr string, me hello) (*client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	if err := shake(ctx, conn, br, addr, me); err != nil {
		conn.Close()
		return nil, err
	}
	c := &client{
		addr:    addr,
		conn:    conn,
		br:      br,
		pending: make(map[uint64]chan response),
		done:    make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// shake sends the node's hello and reads the store's, within
// handshakeTimeout.
func shake(ctx context.Context, conn net.Conn, br *bufio.Reader, addr string, me hello) error {
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	me.version = protocolVersion
	_, err := conn.Write(me.encode())
	var body []byte
	if err == nil {
		body, err = readFrameLimit(br, maxHelloFrame)
	}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return ctxError(ctx, "handshake with the store at "+addr)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("static: the service at %s is not a static rendezvous store: it did not answer the handshake within %v: %w; check the endpoint (--rdzv-endpoint): it must be where rank 0 hosts the store",
			addr, handshakeTimeout, registry.ErrConnection)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("static: the service at %s closed the connection during the handshake: %w; either it is not a static rendezvous store or rank 0 is shutting down: check the endpoint (--rdzv-endpoint)",
			addr, registry.ErrConnection)
	case err != nil:
		return fmt.Errorf("static: the service at %s is not a static rendezvous store (%v): %w; check the endpoint (--rdzv-endpoint)", addr, err, registry.ErrConnection)
	}
	conn.SetDeadline(time.Time{})
	h, err := decodeHello(body)
	switch {
	case err != nil:
		return fmt.Errorf("static: the service at %s is not a static rendezvous store: its answer to the handshake is not the static backend's: %w; check the endpoint (--rdzv-endpoint)", addr, registry.ErrConnection)
	case h.refused != "":
		return fmt.Errorf("static: the store at %s refuses this node: %s: %w", addr, h.refused, registry.ErrState)
	case h.version != protocolVersion:
		return fmt.Errorf("static: the store at %s speaks protocol version %d, this node version %d: %w; run the same version of the static backend on every node", addr, h.version, protocolVersion, registry.ErrConnection)
	}
	return nil
}

// dialRetry connects to the store at addr, trying again with growing pauses
// until it succeeds or ctx is done: the other nodes may start before rank 0
// listens. A peer that is reached but is not a store, or refuses this node,
// is not tried again.
func dialRetry(ctx context.Context, addr string, me hello) (*client, error) {
	delay := 20 * time.Millisecond
	for {
		c, err := dial(ctx, addr, me)
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
		if body, err = readFrame(c.br); err != nil {
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
	c.conn.SetWriteDeadline(deadline)
	_, err := c.conn.Write(req.encode())
	return err
}

// call sends req and waits for its response.
func (c *client) call(ctx context.Context, req request, what string) (response, error) {
	if len(req.key)+len(req.value) > maxFrame-64 {
		return response{}, fmt.Errorf("static: %s: key and value of %d bytes exceed the store's limit of %d", what, len(req.key)+len(req.value), maxFrame-64)
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

// SetIfAbsent stores value under key unless key is set; it returns the
// value kept and whether it is value.
func (c *client) SetIfAbsent(ctx context.Context, key string, value []byte) ([]byte, bool, error) {
	r, err := c.call(ctx, request{op: opSetIfAbsent, key: key, value: value}, "setting store key "+strconv.Quote(key))
	if err != nil {
		return nil, false, err
	}
	return r.value, r.n == 1, nil
}

// Add implements registry.Store.
func (c *client) Add(ctx context.Context, key string, delta int64) (int64, error) {
	r, err := c.call(ctx, request{op: opAdd, key: key, delta: delta}, "adding to store key "+strconv.Quote(key))
	if err != nil {
		return 0, err
	}
	return r.n, nil
}
