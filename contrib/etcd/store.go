package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
		return s.h.opError(ctx, octx, fmt.Sprintf("store: setting %q", key), err)
	}
	return nil
}

// Get returns the value under key, waiting until it is set or ctx is done.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	k := s.prefix + key
	// The first read fails fast when etcd is unreachable; the watch
	// starts before the second, so that no later put is missed.
	if v, ok, err := s.get(ctx, k); err != nil || ok {
		return v, err
	}
	for {
		wctx, cancel := context.WithCancel(ctx)
		wch := s.h.cli.Watch(wctx, k)
		v, ok, err := s.get(ctx, k)
		if err != nil || ok {
			cancel()
			return v, err
		}
		v, ok = watchPut(wch)
		cancel()
		if ok {
			return v, nil
		}
		if ctx.Err() != nil {
			return nil, s.h.opError(ctx, ctx, fmt.Sprintf("store: waiting for %q", key), ctx.Err())
		}
	}
}

func (s *Store) get(ctx context.Context, k string) ([]byte, bool, error) {
	octx, cancel := s.h.opContext(ctx)
	defer cancel()
	resp, err := s.h.cli.Get(octx, k)
	if err != nil {
		return nil, false, s.h.opError(ctx, octx, fmt.Sprintf("store: getting %q", strings.TrimPrefix(k, s.prefix)), err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return resp.Kvs[0].Value, true, nil
}

// watchPut waits for a put on a watch. It reports false when the watch
// ends without one.
func watchPut(wch clientv3.WatchChan) ([]byte, bool) {
	for resp := range wch {
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
			return 0, s.h.opError(ctx, octx, fmt.Sprintf("store: adding to %q", key), err)
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
