package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Store is the key-value store of one round of a run, kept in etcd under
// <prefix>/<run id>/store/<round>/. Get waits with a watch.
type Store struct {
	h      *Handler
	prefix string
}

var _ registry.Store = (*Store)(nil)

// Set stores value under key.
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	octx, cancel := s.h.opContext(ctx)
	defer cancel()
	if _, err := s.h.cli.Put(octx, s.prefix+key, string(value)); err != nil {
		return s.h.opError(ctx, fmt.Sprintf("store: setting %q", key), err)
	}
	return nil
}

// Get returns the value under key, waiting until it is set or ctx is done.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	k := s.prefix + key
	for {
		octx, cancel := s.h.opContext(ctx)
		resp, err := s.h.cli.Get(octx, k)
		cancel()
		if err != nil {
			return nil, s.h.opError(ctx, fmt.Sprintf("store: getting %q", key), err)
		}
		if len(resp.Kvs) > 0 {
			return resp.Kvs[0].Value, nil
		}
		if v, ok := s.watchPut(ctx, k, resp.Header.Revision+1); ok {
			return v, nil
		}
		if ctx.Err() != nil {
			return nil, s.h.opError(ctx, fmt.Sprintf("store: waiting for %q", key), ctx.Err())
		}
	}
}

// watchPut waits for a put of key from revision rev on. It reports false
// when the watch ends without one.
func (s *Store) watchPut(ctx context.Context, key string, rev int64) ([]byte, bool) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for resp := range s.h.cli.Watch(wctx, key, clientv3.WithRev(rev)) {
		if resp.Err() != nil {
			return nil, false
		}
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypePut {
				return ev.Kv.Value, true
			}
		}
	}
	return nil, false
}

// Add adds delta to the integer under key and returns the new value.
func (s *Store) Add(ctx context.Context, key string, delta int64) (int64, error) {
	k := s.prefix + key
	for {
		octx, cancel := s.h.opContext(ctx)
		n, done, err := s.tryAdd(octx, k, delta)
		cancel()
		if err != nil {
			if corrupt := (stateError{}); errors.As(err, &corrupt) {
				return 0, corrupt.err
			}
			return 0, s.h.opError(ctx, fmt.Sprintf("store: adding to %q", key), err)
		}
		if done {
			return n, nil
		}
	}
}

// stateError marks an error that is not etcd's.
type stateError struct{ err error }

func (e stateError) Error() string { return e.err.Error() }

func (s *Store) tryAdd(ctx context.Context, k string, delta int64) (int64, bool, error) {
	resp, err := s.h.cli.Get(ctx, k)
	if err != nil {
		return 0, false, err
	}
	var cur, modRev int64
	if len(resp.Kvs) > 0 {
		cur, err = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
		if err != nil {
			return 0, false, stateError{fmt.Errorf("etcd rendezvous: store: value at key %s is %q, not an integer: %w", k, resp.Kvs[0].Value, registry.ErrState)}
		}
		modRev = resp.Kvs[0].ModRevision
	}
	n := cur + delta
	txn, err := s.h.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(k), "=", modRev)).
		Then(clientv3.OpPut(k, strconv.FormatInt(n, 10))).
		Commit()
	if err != nil {
		return 0, false, err
	}
	return n, txn.Succeeded, nil
}
