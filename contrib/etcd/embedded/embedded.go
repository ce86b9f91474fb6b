// Package embedded runs a single-member etcd server inside the current
// process, on free loopback ports, for tests and for demonstrations that
// show a whole job on one machine.
//
// The server binds its ports itself (port 0, read back once it listens),
// so no other process can take a port between its choice and its use.
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
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// readyTimeout bounds how long Start waits for the server to serve when
// the caller's context has no deadline.
const readyTimeout = 30 * time.Second

// bindRetry is the pause before Restart tries again to bind a client port
// that was in use.
const bindRetry = 50 * time.Millisecond

// Server is an etcd server running in this process. Its methods are safe
// for concurrent use.
type Server struct {
	dir        string
	clientPort int // 0 until the first start has bound one

	mu   sync.Mutex
	etcd *embed.Etcd // nil while stopped
}

// Start starts an etcd server that keeps its data in dir and listens on
// two loopback ports the system chooses, one for clients and one for
// peers. It returns once the server serves clients, or with an error when
// ctx is done first.
func Start(ctx context.Context, dir string) (*Server, error) {
	s := &Server{dir: dir}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
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

// Restart starts the server again, on the same client port and with the
// same data, after Close. A running server is stopped first. Clients that
// were connected before reconnect by themselves. Should another socket
// hold the client port for a moment (a client's outgoing connection may
// be given it once it is free), Restart tries again until ctx is done.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Close(); err != nil {
		return err
	}
	for {
		err := s.start(ctx)
		if !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
		t := time.NewTimer(bindRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.etcd != nil {
		return errors.New("embedded etcd: server is already running; call Close first")
	}
	// Port 0 makes the system choose a free port as etcd binds it; the
	// client port is kept across restarts, the peer port (unused by a
	// single member) is chosen anew.
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:0"}

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
		if len(e.Clients) == 0 {
			e.Close()
			return fmt.Errorf("embedded etcd: server in %s listens on no client port", s.dir)
		}
		if s.clientPort == 0 {
			s.clientPort = e.Clients[0].Addr().(*net.TCPAddr).Port
		}
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
