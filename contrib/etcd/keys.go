package etcd

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-entrypoints/entrypoints/registry"
)

// keys names the etcd keys of one run. See the README for what each
// holds and who writes it.
type keys struct {
	base string // <prefix>/<run id>/
}

func newKeys(prefix, runID string) keys {
	return keys{base: prefix + "/" + url.PathEscape(runID) + "/"}
}

// closed exists once the run is closed.
func (k keys) closed() string { return k.base + "rdzv/closed" }

// nnodes holds the MinNodes:MaxNodes of the run's nodes, under the lease
// of the node that wrote it.
func (k keys) nnodes() string { return k.base + "rdzv/nnodes" }

// sealed holds the number of the run's last sealed round.
func (k keys) sealed() string { return k.base + "rdzv/sealed" }

func (k keys) round(r int) string { return k.base + "rdzv/round/" + strconv.Itoa(r) + "/" }

// ctl is the prefix of a round's control keys, which waiting nodes watch.
func (k keys) ctl(r int) string { return k.round(r) + "ctl/" }

// seal exists once round r's participants are final: those whose join
// keys exist at the seal's creation revision.
func (k keys) seal(r int) string { return k.ctl(r) + "seal" }

// lastCall exists once round r has MinNodes, under the lease of the node
// that ends the last call; it holds the last call's end in Unix
// milliseconds, or nothing while the round before still runs.
func (k keys) lastCall(r int) string { return k.ctl(r) + "lastcall" }

// joins is the prefix of round r's join keys, one per node.
func (k keys) joins(r int) string { return k.round(r) + "join/" }

// join is node id's join key in round r, under the node's lease. Join
// keys sort as node identifiers do, which gives the ranks.
func (k keys) join(r int, id string) string { return k.joins(r) + url.PathEscape(id) }

// store is the prefix of round r's key-value store.
func (k keys) store(r int) string { return k.base + "store/" + strconv.Itoa(r) + "/" }

// member is what a node publishes in its join key: the address it would
// host the job's store at (rank 0's is the round's bootstrap address) and
// the bounds it was started with.
type member struct {
	Addr string `json:"addr"`
	Port int    `json:"port"`
	Min  int    `json:"min"`
	Max  int    `json:"max"`
}

func (m member) encode() string {
	b, _ := json.Marshal(m) // a struct of strings and ints always encodes
	return string(b)
}

func decodeMember(key string, value []byte) (member, error) {
	var m member
	if err := json.Unmarshal(value, &m); err != nil || m.Port < 0 || m.Port > 65535 {
		return member{}, corrupt(key, value, "a node's address as JSON")
	}
	return m, nil
}

// nnodesValue is how MinNodes:MaxNodes are recorded, as torchrun's
// --nnodes writes them.
func nnodesValue(minNodes, maxNodes int) string {
	return strconv.Itoa(minNodes) + ":" + strconv.Itoa(maxNodes)
}

func parseRound(key string, value []byte) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(string(value)))
	if err != nil || n < 0 {
		return 0, corrupt(key, value, "a round number")
	}
	return n, nil
}

// corrupt is the error for a key whose value this backend did not write.
func corrupt(key string, value []byte, want string) error {
	shown := string(value)
	if len(shown) > 40 {
		shown = shown[:40] + "..."
	}
	return fmt.Errorf("etcd rendezvous: key %s holds %q, not %s; delete the run's keys (etcdctl del --prefix %s) to reset it: %w",
		key, shown, want, key[:strings.Index(key, "/rdzv/")+1], registry.ErrState)
}
