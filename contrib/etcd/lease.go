package etcd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ensureLive gives the node a lease and an alive key on first use, and
// starts the loop that keeps them.
func (h *Handler) ensureLive(ctx context.Context) error {
	h.leaseMu.Lock()
	has := h.lease != 0
	h.leaseMu.Unlock()
	if has {
		return nil
	}
	if err := h.renew(ctx); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shut || h.kaDone != nil {
		return nil
	}
	kctx, stop := context.WithCancel(context.Background())
	h.kaStop, h.kaDone = stop, make(chan struct{})
	go h.keepAlive(kctx, h.kaDone)
	return nil
}

// renew makes sure the node's alive key exists under a live lease,
// granting a new lease if the old one expired.
func (h *Handler) renew(ctx context.Context) error {
	h.leaseMu.Lock()
	defer h.leaseMu.Unlock()
	octx, cancel := h.opContext(ctx)
	defer cancel()
	lease := h.lease
	if lease != 0 {
		if _, err := h.cli.KeepAliveOnce(octx, lease); errors.Is(err, rpctypes.ErrLeaseNotFound) {
			lease = 0
		} else if err != nil {
			return h.opError(ctx, octx, "renewing the node's lease", err)
		}
	}
	if lease == 0 {
		resp, err := h.cli.Grant(octx, h.cfg.leaseTTL())
		if err != nil {
			return h.opError(ctx, octx, "granting the node's lease", err)
		}
		lease = resp.ID
	}
	key := h.alivePrefix + url.PathEscape(h.self.ID)
	if _, err := h.cli.Put(octx, key, "", clientv3.WithLease(lease)); err != nil {
		return h.opError(ctx, octx, fmt.Sprintf("writing the node's alive key %s", key), err)
	}
	h.lease = lease
	return nil
}

// keepAlive refreshes the lease every keep_alive_interval until ctx is
// done. When etcd is unreachable it keeps trying; when the lease has
// expired meanwhile it takes a new one, and the other nodes see the node
// come back.
func (h *Handler) keepAlive(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(h.cfg.keepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.leaseMu.Lock()
		lease := h.lease
		h.leaseMu.Unlock()
		octx, cancel := context.WithTimeout(ctx, h.cfg.keepAlive)
		_, err := h.cli.KeepAliveOnce(octx, lease)
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			// A failure here is retried at the next tick.
			_ = h.renew(ctx)
		}
	}
}

// stopKeepAlive stops the keep-alive loop and waits for it to end.
func (h *Handler) stopKeepAlive() {
	h.mu.Lock()
	stop, done := h.kaStop, h.kaDone
	h.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
