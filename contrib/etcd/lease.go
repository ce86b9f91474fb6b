package etcd

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ensureLive gives the node a lease on first use, and starts the loop
// that keeps it.
func (h *Handler) ensureLive(ctx context.Context) error {
	if h.currentLease() == 0 {
		if err := h.renew(ctx); err != nil {
			return err
		}
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

func (h *Handler) currentLease() clientv3.LeaseID {
	h.leaseMu.Lock()
	defer h.leaseMu.Unlock()
	return h.lease
}

// renew makes sure the node holds a live lease, granting a new one if the
// old one expired (etcd was unreachable for longer than its TTL). The
// node's keys went with the old lease; a waiting NextRendezvous is told
// through leaseChanged, and joins again.
func (h *Handler) renew(ctx context.Context) error {
	h.leaseMu.Lock()
	defer h.leaseMu.Unlock()
	octx, cancel := h.opContext(ctx)
	defer cancel()
	if h.lease != 0 {
		_, err := h.cli.KeepAliveOnce(octx, h.lease)
		if err == nil {
			return nil
		}
		if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return h.opError(ctx, octx, "renewing the node's lease", err)
		}
	}
	resp, err := h.cli.Grant(octx, h.cfg.leaseTTL())
	if err != nil {
		return h.opError(ctx, octx, "granting the node's lease", err)
	}
	replaced := h.lease != 0
	h.lease = resp.ID
	if replaced {
		select {
		case h.leaseChanged <- struct{}{}:
		default:
		}
	}
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
		octx, cancel := context.WithTimeout(ctx, h.cfg.keepAlive)
		_, err := h.cli.KeepAliveOnce(octx, h.currentLease())
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
