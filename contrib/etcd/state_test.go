package etcd

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ids(ms []member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestStateTransitions(t *testing.T) {
	b := bounds{min: 2, max: 3, lastCall: time.Second}
	now := time.Unix(1000, 0)
	var s state

	assert.True(t, s.join(member{ID: "b"}, b, now))
	assert.Zero(t, s.Deadline, "below the minimum there is no last call")
	assert.True(t, s.join(member{ID: "a"}, b, now))
	assert.Equal(t, now.Add(time.Second).UnixMilli(), s.Deadline, "the minimum opens the last call")
	assert.False(t, s.join(member{ID: "a"}, b, now), "a participant waits during the last call")
	assert.True(t, s.join(member{ID: "a"}, b, now.Add(time.Second)), "the last call's end completes the round")
	require.True(t, s.Complete)
	assert.Equal(t, []string{"a", "b"}, ids(s.Participants), "ranks follow sorted ids")

	assert.True(t, s.join(member{ID: "c"}, b, now), "a late node waits")
	assert.Equal(t, []string{"c"}, ids(s.Wait))

	// The running nodes re-rendezvous: the last to leave starts the next
	// round with the waiting node in it.
	assert.True(t, s.leave("a", b, now))
	assert.True(t, s.join(member{ID: "a"}, b, now))
	assert.Equal(t, []string{"c", "a"}, ids(s.Wait))
	assert.True(t, s.leave("b", b, now))
	assert.Equal(t, 1, s.Round)
	assert.False(t, s.Complete)
	assert.True(t, s.join(member{ID: "b"}, b, now))
	require.True(t, s.Complete, "the maximum completes the round at once")
	assert.Equal(t, []string{"a", "b", "c"}, ids(s.Participants))

	// A full round makes later nodes redundant; they wait, uncounted,
	// until a participant dies.
	assert.True(t, s.join(member{ID: "d"}, b, now))
	assert.Empty(t, s.Wait)
	assert.Equal(t, []string{"d"}, ids(s.Redundant))
	assert.True(t, s.removeDead(map[string]bool{"a": true, "b": true, "d": true}, b, now))
	assert.Equal(t, []string{"a", "b"}, ids(s.Participants))
	assert.Equal(t, []string{"d"}, ids(s.Wait), "a place freed: the redundant node now counts")
}

func TestStateDeadlineClearedBelowMinimum(t *testing.T) {
	b := bounds{min: 2, max: 4, lastCall: time.Second}
	now := time.Unix(1000, 0)
	var s state
	s.join(member{ID: "a"}, b, now)
	s.join(member{ID: "b"}, b, now)
	require.NotZero(t, s.Deadline)
	assert.True(t, s.removeDead(map[string]bool{"a": true}, b, now))
	assert.Zero(t, s.Deadline)
	assert.False(t, s.join(member{ID: "a"}, b, now.Add(time.Hour)), "one node cannot complete a round of at least two")
}

func TestDecodeStateRejectsGarbage(t *testing.T) {
	_, err := decodeState("/k", []byte("{"))
	assert.ErrorContains(t, err, "etcdctl del /k")
	_, err = decodeState("/k", []byte(`{"round":-1}`))
	assert.ErrorContains(t, err, "inconsistent")
	s, err := decodeState("/k", nil)
	require.NoError(t, err)
	assert.Zero(t, s.Round)
}
