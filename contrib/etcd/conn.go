package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// unreachableAfter is how long etcd may stay unreachable before requests
// fail at once instead of waiting out read_timeout (half read_timeout
// when that is shorter, so that requests fail with the cause rather than
// by timing out). It covers a connection attempt and a retry.
const unreachableAfter = 2 * time.Second

// diagnoseTimeout bounds the request that asks gRPC why it has no
// connection.
const diagnoseTimeout = time.Second

// errUnreachable marks the cause of requests cancelled because etcd has
// been unreachable for a while.
var errUnreachable = errors.New("etcd is unreachable")

// reachability follows the client's connection to etcd. Once etcd has
// been unreachable for grace, down is cancelled with the reason as its
// cause, and requests under way fail with that reason; requests made
// while it is down get grace of their own. When the connection is back,
// down is replaced.
type reachability struct {
	grace time.Duration

	mu     sync.Mutex
	down   context.Context
	cancel context.CancelCauseFunc
}

func newReachability(grace time.Duration) *reachability {
	r := &reachability{grace: grace}
	r.down, r.cancel = context.WithCancelCause(context.Background())
	return r
}

// current returns the context that is cancelled when etcd turns out to be
// unreachable.
func (r *reachability) current() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down
}

// setDown cancels current requests with err as the cause.
func (r *reachability) setDown(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancel(err)
}

// setUp lets requests wait for etcd again.
func (r *reachability) setUp() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down.Err() != nil {
		r.down, r.cancel = context.WithCancelCause(context.Background())
	}
}

// watchConn follows the state of conn until ctx is done or conn is
// closed, and marks etcd unreachable once conn has been connecting or
// failing for grace.
func (r *reachability) watchConn(ctx context.Context, conn *grpc.ClientConn) {
	var since time.Time // when the connection was last lost, zero while it is up
	for {
		state := conn.GetState()
		switch state {
		case connectivity.Shutdown:
			return
		case connectivity.Ready, connectivity.Idle:
			// An idle connection is one without requests, not a failed
			// one; the next request reconnects it.
			since = time.Time{}
			r.setUp()
		default:
			if since.IsZero() {
				since = time.Now()
			}
		}
		wait, cancel := ctx, context.CancelFunc(func() {})
		if !since.IsZero() && r.current().Err() == nil {
			wait, cancel = context.WithDeadline(ctx, since.Add(r.grace))
		}
		changed := conn.WaitForStateChange(wait, state)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if !changed {
			if err := diagnose(ctx, conn); err != nil {
				r.setDown(err)
			}
		}
	}
}

// diagnose asks gRPC, by a request that does not wait for a connection,
// why it has none. It returns nil if etcd answers after all.
func diagnose(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	_, err := pb.NewMaintenanceClient(conn).Status(ctx, &pb.StatusRequest{}, grpc.WaitForReady(false))
	if err == nil || (status.Code(err) != codes.Unavailable && ctx.Err() == nil) {
		// etcd answered, if only to refuse the request.
		return nil
	}
	if ctx.Err() != nil {
		// Still connecting: slow (a loaded server accepting a thousand
		// clients at once), not failed. Requests wait, each bounded by
		// read_timeout, until the attempt succeeds or fails.
		return nil
	}
	return fmt.Errorf("%w: %s", errUnreachable, status.Convert(err).Message())
}
