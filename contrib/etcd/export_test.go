package etcd

// Kill makes h die as a crashed node would: its keep-alives stop and its
// connection closes, without leaving the run or revoking its lease.
func Kill(h *Handler) {
	h.mu.Lock()
	h.shut, h.shutOK = true, true
	h.mu.Unlock()
	h.stopKeepAlive()
	_ = h.closeClient()
}
