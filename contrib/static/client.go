package static

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// client is a connection to the store hosted by rank 0. It implements
// registry.Store; calls from several goroutines share the connection.
type client struct {
	addr string
	conn net.Conn

	wmu sync.Mutex // serialises writes to conn

	mu      sync.Mutex
	pending map[uint64]chan response
	nextID  uint64
	err     error // why the connection is gone; set once

	done chan struct{} // closed when the read loop has ended
}

// dial connects to the store at addr, once.
func dial(ctx context.Context, addr string) (*client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &client{
		addr:    addr,
		conn:    conn,
		pending: make(map[uint64]chan response),
		done:    make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// dialRetry connects to the store at addr, trying again with growing pauses
// until it succeeds or ctx is done: the other nodes may start before rank 0
// listens.
func dialRetry(ctx context.Context, addr string) (*client, error) {
	delay := 20 * time.Millisecond
	for {
		c, err := dial(ctx, addr)
		if err == nil {
			return c, nil
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, fmt.Errorf("static: cannot connect to the store of rank 0 at %s (%w: %v; last attempt: %w: %v); check that the node with rank 0 runs with the same endpoint",
				addr, registry.ErrTimeout, context.Cause(ctx), registry.ErrConnection, err)
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

func (c *client) readLoop() {
	defer close(c.done)
	br := bufio.NewReader(c.conn)
	var err error
	for {
		var body []byte
		if body, err = readFrame(br); err != nil {
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

// Add implements registry.Store.
func (c *client) Add(ctx context.Context, key string, delta int64) (int64, error) {
	r, err := c.call(ctx, request{op: opAdd, key: key, delta: delta}, "adding to store key "+strconv.Quote(key))
	if err != nil {
		return 0, err
	}
	return r.n, nil
}
