package etcd

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// member is a node as the shared state records it. Every node publishes
// the address it would host the job's store at; rank 0's is the bootstrap
// address of the round.
type member struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
	Port int    `json:"port"`
}

// state is the rendezvous state of one run, stored as JSON under one key
// and changed only by compare-and-swap on that key's revision. It follows
// PyTorch's dynamic rendezvous: a round forms, completes and runs; nodes
// that arrive while it runs wait for the next one.
type state struct {
	// Round is the number of the round forming or running.
	Round int `json:"round"`
	// Complete is set when the round's participants are final.
	Complete bool `json:"complete"`
	// Closed ends the run for every node.
	Closed bool `json:"closed,omitempty"`
	// Deadline, in Unix milliseconds, ends the last-call window of a
	// forming round that has reached the minimum number of nodes.
	Deadline int64 `json:"deadline,omitempty"`
	// Participants of the round; sorted by ID once complete, which gives
	// the ranks.
	Participants []member `json:"participants"`
	// Wait holds nodes that arrived while a round ran and that the next
	// round has room for: NumNodesWaiting counts them.
	Wait []member `json:"wait,omitempty"`
	// Redundant holds nodes that arrived while a full round ran.
	Redundant []member `json:"redundant,omitempty"`
}

// decodeState reads the state stored at key; no value is the initial state.
func decodeState(key string, value []byte) (state, error) {
	var s state
	if len(value) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(value, &s); err != nil {
		return state{}, fmt.Errorf("etcd rendezvous: state at key %s is not valid JSON (%v); delete the key (etcdctl del %s) to reset the run: %w", key, err, key, registry.ErrState)
	}
	if s.Round < 0 || len(s.Participants) > 1<<20 {
		return state{}, fmt.Errorf("etcd rendezvous: state at key %s is inconsistent (round %d); delete the key (etcdctl del %s) to reset the run: %w", key, s.Round, key, registry.ErrState)
	}
	return s, nil
}

func (s *state) encode() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("etcd rendezvous: encoding state: %w", err)
	}
	return string(b), nil
}

func (s *state) clone() state {
	c := *s
	c.Participants = slices.Clone(s.Participants)
	c.Wait = slices.Clone(s.Wait)
	c.Redundant = slices.Clone(s.Redundant)
	return c
}

func indexOf(ms []member, id string) int {
	return slices.IndexFunc(ms, func(m member) bool { return m.ID == id })
}

func removeID(ms []member, id string) ([]member, bool) {
	i := indexOf(ms, id)
	if i < 0 {
		return ms, false
	}
	return slices.Delete(ms, i, i+1), true
}

// holds reports whether m, with its port, is in any list of the state.
func (s *state) holds(m member) bool {
	for _, ms := range [][]member{s.Participants, s.Wait, s.Redundant} {
		if i := indexOf(ms, m.ID); i >= 0 && ms[i].Port == m.Port {
			return true
		}
	}
	return false
}

// bounds are the settings the state transitions depend on.
type bounds struct {
	min, max int
	lastCall time.Duration
}

// removeDead drops every node that is not in alive. It reports whether
// the state changed.
func (s *state) removeDead(alive map[string]bool, b bounds, now time.Time) bool {
	changed, partRemoved := false, false
	keep := func(ms []member, isPart bool) []member {
		return slices.DeleteFunc(ms, func(m member) bool {
			dead := !alive[m.ID]
			if dead {
				changed = true
				partRemoved = partRemoved || isPart
			}
			return dead
		})
	}
	s.Participants = keep(s.Participants, true)
	s.Wait = keep(s.Wait, false)
	s.Redundant = keep(s.Redundant, false)
	if partRemoved {
		s.afterParticipantRemoved(b, now)
	}
	return changed
}

// leave removes node id from every list: what a node does first on each
// NextRendezvous, and when it gives up or shuts down.
func (s *state) leave(id string, b bounds, now time.Time) bool {
	var inPart, inWait, inRed bool
	s.Participants, inPart = removeID(s.Participants, id)
	s.Wait, inWait = removeID(s.Wait, id)
	s.Redundant, inRed = removeID(s.Redundant, id)
	if inPart {
		s.afterParticipantRemoved(b, now)
	}
	return inPart || inWait || inRed
}

// afterParticipantRemoved keeps the state consistent once a participant
// has gone. A running round that has lost every participant is over: the
// next one starts with the nodes that were waiting for it. A forming round
// that fell below the minimum loses its last-call deadline.
func (s *state) afterParticipantRemoved(b bounds, now time.Time) {
	if s.Complete {
		if len(s.Participants) > 0 {
			// Room in the running round: redundant nodes now wait for the
			// next one and count, so that the survivors re-rendezvous.
			if len(s.Participants) < b.max {
				s.Wait = append(s.Wait, s.Redundant...)
				s.Redundant = nil
			}
			return
		}
		s.Round++
		s.Complete = false
		s.Deadline = 0
		waiting := append(s.Wait, s.Redundant...)
		s.Wait, s.Redundant = nil, nil
		for _, m := range waiting {
			s.admit(m, b, now)
		}
		return
	}
	if len(s.Participants) < b.min {
		s.Deadline = 0
	}
}

// admit adds m to the forming round, or to a waiting list once the round
// is complete.
func (s *state) admit(m member, b bounds, now time.Time) {
	if s.Complete {
		if len(s.Participants) < b.max {
			s.Wait = append(s.Wait, m)
		} else {
			s.Redundant = append(s.Redundant, m)
		}
		return
	}
	s.Participants = append(s.Participants, m)
	if len(s.Participants) == b.min {
		s.Deadline = now.Add(b.lastCall).UnixMilli()
	}
	if len(s.Participants) >= b.max {
		s.complete()
	}
}

// complete fixes the participants of the forming round and their ranks.
func (s *state) complete() {
	s.Complete = true
	s.Deadline = 0
	slices.SortFunc(s.Participants, func(a, b member) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// join moves node m toward a complete round it is part of. It reports
// whether the state changed.
func (s *state) join(m member, b bounds, now time.Time) bool {
	isPart := indexOf(s.Participants, m.ID) >= 0
	switch {
	case s.Complete && isPart:
		return false
	case s.Complete:
		if indexOf(s.Wait, m.ID) >= 0 || indexOf(s.Redundant, m.ID) >= 0 {
			return false
		}
		s.admit(m, b, now)
		return true
	case isPart:
		if len(s.Participants) >= b.min && s.Deadline != 0 && now.UnixMilli() >= s.Deadline {
			s.complete()
			return true
		}
		return false
	default:
		s.Wait, _ = removeID(s.Wait, m.ID)
		s.Redundant, _ = removeID(s.Redundant, m.ID)
		s.admit(m, b, now)
		return true
	}
}
