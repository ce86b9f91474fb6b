// Package embedded runs a single-member etcd server inside the current
// process, on free loopback ports, for tests and for demonstrations that
// show a whole job on one machine.
//
// The server is tuned for speed, not durability: it does not fsync and it
// elects itself leader quickly. Do not keep data you care about in it.
//
//	srv, err := embedded.Start(ctx, t.TempDir())
//	if err != nil { ... }
//	defer srv.Close()
//	endpoint := srv.Endpoint() // "127.0.0.1:port", the rendezvous endpoint
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// readyTimeout bounds how long Start waits for the server to serve when
// the caller's context has no deadline.
const readyTimeout = 30 * time.Second

// Server is an etcd server running in this process. Its methods are safe
// for concurrent use.
type Server struct {
	dir        string
	clientPort int
	peerPort   int

	mu   sync.Mutex
	etcd *embed.Etcd // nil while stopped
}

// Start starts an etcd server that keeps its data in dir and listens on
// two free loopback ports, one for clients and one for peers. It returns
// once the server serves clients, or with an error when ctx is done first.
func Start(ctx context.Context, dir string) (*Server, error) {
	var lastErr error
	// Free ports are found by binding and releasing them; another process
	// may take one in between, so try a few times.
	for range 5 {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		s := &Server{dir: dir, clientPort: ports[0], peerPort: ports[1]}
		if lastErr = s.start(ctx); lastErr == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// Endpoint returns the address clients connect to, as host:port. It stays
// the same across Restart.
func (s *Server) Endpoint() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))
}

// Dir returns the directory the server keeps its data in.
func (s *Server) Dir() string { return s.dir }

// Close stops the server. Its data and ports are kept for Restart. Calling
// Close on a stopped server does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.etcd == nil {
		return nil
	}
	e := s.etcd
	s.etcd = nil
	e.Close()
	return nil
}

// Restart starts the server again, on the same ports and with the same
// data, after Close. A running server is stopped first. Clients that were
// connected before reconnect by themselves.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Close(); err != nil {
		return err
	}
	return s.start(ctx)
}

func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.etcd != nil {
		return errors.New("embedded etcd: server is already running; call Close first")
	}
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.peerPort))}

	cfg := embed.NewConfig()
	cfg.Name = "embedded"
	cfg.Dir = s.dir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.UnsafeNoFsync = true
	// A single member needs no long election timeout; a short one makes
	// it serve sooner after a start or restart.
	cfg.TickMs = 10
	cfg.ElectionMs = 100

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("embedded etcd: starting server in %s: %w", s.dir, err)
	}
	wait := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}
	select {
	case <-e.Server.ReadyNotify():
		s.etcd = e
		return nil
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("embedded etcd: server in %s failed: %w", s.dir, err)
	case <-wait.Done():
		e.Close()
		return fmt.Errorf("embedded etcd: server in %s not ready: %w", s.dir, wait.Err())
	}
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("embedded etcd: finding a free loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
