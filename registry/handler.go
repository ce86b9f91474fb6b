package registry

import (
	"context"
	"errors"
)

// Handler is the main interface of a rendezvous backend: the service
// through which the nodes of a distributed job find each other. It mirrors
// PyTorch's RendezvousHandler.
//
// Every method that talks to the backend takes a context; implementations
// return promptly, with an error wrapping ErrTimeout, when it is done.
type Handler interface {
	// Backend returns the name of the backend, the name it is
	// registered under.
	Backend() string

	// NextRendezvous blocks until the next round of the rendezvous
	// completes and returns this node's place in it. It fails with an
	// error wrapping ErrClosed if the rendezvous is closed, ErrTimeout if
	// it does not complete in time, ErrConnection if the backend cannot be
	// reached, ErrState if the backend's state is corrupt, and
	// ErrGracefulExit if this node was not admitted and should exit
	// without failure.
	NextRendezvous(ctx context.Context) (Info, error)

	// IsClosed reports whether the rendezvous has been closed.
	IsClosed(ctx context.Context) (bool, error)

	// SetClosed marks the rendezvous closed. Closing ends the job for
	// every node; the other nodes see it eventually.
	SetClosed(ctx context.Context) error

	// NumNodesWaiting returns the number of nodes that arrived after the
	// current round completed and wait to be admitted to the next one.
	// A positive value tells the running nodes to re-rendezvous.
	NumNodesWaiting(ctx context.Context) (int, error)

	// RunID returns the identifier of the run this handler takes part in.
	RunID() string

	// Shutdown releases the resources held by the handler. It reports
	// whether the shutdown succeeded; calling it again is harmless.
	Shutdown(ctx context.Context) (bool, error)
}

// Info is what a completed rendezvous round gives one node.
type Info struct {
	// Store is a key-value store shared by the participants of the
	// round, and only by them.
	Store Store
	// Rank is this node's rank, in [0, WorldSize).
	Rank int
	// WorldSize is the number of nodes admitted to the round.
	WorldSize int
	// Bootstrap is the address published by rank 0 for the job's own
	// store (torchrun's MASTER_ADDR and MASTER_PORT).
	Bootstrap BootstrapInfo
}

// BootstrapInfo is the address of the store hosted by rank 0.
type BootstrapInfo struct {
	Addr string
	Port int
}

// Store is the key-value store a rendezvous round hands to its
// participants.
type Store interface {
	// Set stores value under key.
	Set(ctx context.Context, key string, value []byte) error
	// Get returns the value stored under key, waiting until some
	// participant sets it or ctx is done.
	Get(ctx context.Context, key string) ([]byte, error)
	// Add adds delta to the integer stored under key (absent counts as
	// zero) and returns the new value.
	Add(ctx context.Context, key string, delta int64) (int64, error)
}

// rendezvousError is the type of the sentinel errors below; every one of
// them also matches ErrRendezvous.
type rendezvousError struct{ msg string }

func (e *rendezvousError) Error() string { return e.msg }

func (e *rendezvousError) Is(target error) bool { return target == ErrRendezvous }

// ErrRendezvous is matched, with errors.Is, by every rendezvous error
// below (PyTorch's RendezvousError).
var ErrRendezvous = errors.New("rendezvous error")

// The rendezvous error classes. Handlers wrap them (fmt.Errorf with %w) to
// add detail; callers test for them with errors.Is.
var (
	// ErrClosed: the rendezvous is closed.
	ErrClosed error = &rendezvousError{"rendezvous is closed"}
	// ErrTimeout: the rendezvous did not complete in time, or the
	// caller's context was done.
	ErrTimeout error = &rendezvousError{"rendezvous timed out"}
	// ErrConnection: the rendezvous backend cannot be reached.
	ErrConnection error = &rendezvousError{"rendezvous backend connection failed"}
	// ErrState: the state held by the backend is corrupt.
	ErrState error = &rendezvousError{"rendezvous state is corrupt"}
	// ErrGracefulExit: this node was not admitted and should exit
	// without failure.
	ErrGracefulExit error = &rendezvousError{"node is not part of the rendezvous and exits gracefully"}
)
