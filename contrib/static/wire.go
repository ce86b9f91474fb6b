package static

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// The store speaks a small binary protocol over one TCP connection per
// client. Every message is a frame: a 4-byte big-endian body length, then
// the body. A request body is an op byte, an 8-byte request id and the op's
// arguments; a response body is the id of the request it answers, a status
// byte and the result. Requests are answered out of order, so a client can
// wait on a key and still use the same connection for other calls.
//
// A connection opens with a handshake of four hello frames, each starting
// with the protocol's magic and version:
//
//  1. client: its rank, world size, run id, a fresh nonce, and whether it
//     has a secret;
//  2. store: a fresh nonce, whether it has a secret and, if it has, its
//     proof (an HMAC-SHA256 keyed by the secret over frame 1 and its
//     nonce); or why it turns the client away at once (busy, another
//     protocol version, secret on one side only);
//  3. client: its proof (the same HMAC with another label), empty without
//     a secret;
//  4. store: its verdict, empty if it accepts the client, and the store's
//     limit on values.
//
// The secret itself never crosses the wire, and a recorded handshake is no
// use to a stranger: both nonces are fresh. A peer that does not answer
// with the magic within handshakeTimeout is not a store.

// maxFrame bounds the size of a frame a client reads, so that a peer that
// is not a store cannot make it allocate without limit. The store bounds
// the requests it reads by its own limits (see serverConfig).
const maxFrame = 64<<20 + maxKey + 64

// maxKey bounds the size of a key.
const maxKey = 64 << 10

// helloMagic opens every hello frame.
var helloMagic = []byte("go-entrypoints/static-rendezvous")

// protocolVersion is the version of this protocol; nodes must agree on it.
const protocolVersion = 2

// maxHelloFrame bounds the size of a hello frame.
const maxHelloFrame = 4 << 10

// nonceSize is the size of the nonces of the handshake.
const nonceSize = 32

// handshakeTimeout bounds how long a client waits for the store's hellos:
// a peer that does not speak the protocol is found out quickly. The store
// has its own bound (config key handshake_timeout).
const handshakeTimeout = 5 * time.Second

// hello is a frame of the handshake. Each of the four frames uses some of
// the fields; the others are zero.
type hello struct {
	version     byte
	rank, world uint32 // the client's
	runID       string // the client's
	nonce       []byte
	secret      bool   // the sender has a secret
	proof       []byte // HMAC of the handshake, if the sender has a secret
	refused     string // the store's answer: why it turns the client away, or empty
	retry       bool   // the store is busy: the client may try again
	maxValue    uint64 // the store's limit on the size of a value
}

func (h hello) encode() []byte {
	b := make([]byte, 4, 4+len(helloMagic)+1+8+4+len(h.runID)+4+len(h.nonce)+1+4+len(h.proof)+4+len(h.refused)+1+8)
	b = append(b, helloMagic...)
	b = append(b, h.version)
	b = binary.BigEndian.AppendUint32(b, h.rank)
	b = binary.BigEndian.AppendUint32(b, h.world)
	b = appendBytes(b, []byte(h.runID))
	b = appendBytes(b, h.nonce)
	b = append(b, boolByte(h.secret))
	b = appendBytes(b, h.proof)
	b = appendBytes(b, []byte(h.refused))
	b = append(b, boolByte(h.retry))
	b = binary.BigEndian.AppendUint64(b, h.maxValue)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// decodeHello decodes a hello frame body. A frame of another protocol
// version decodes as far as its version, so that the mismatch can be
// told.
func decodeHello(body []byte) (hello, error) {
	if !bytes.HasPrefix(body, helloMagic) {
		return hello{}, errMalformed
	}
	d := decoder{b: body[len(helloMagic):]}
	h := hello{version: d.byte()}
	if d.err == nil && h.version != protocolVersion {
		return h, nil
	}
	h.rank = d.uint32()
	h.world = d.uint32()
	h.runID = string(d.bytes())
	h.nonce = d.bytes()
	h.secret = d.byte() != 0
	h.proof = d.bytes()
	h.refused = string(d.bytes())
	h.retry = d.byte() != 0
	h.maxValue = d.uint64()
	return h, d.done()
}

// proof returns the HMAC-SHA256, keyed by secret, of role and the
// handshake so far: the client's first hello and the store's nonce.
func proof(secret []byte, role string, clientHello, storeNonce []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(role))
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(clientHello))))
	m.Write(clientHello)
	m.Write(storeNonce)
	return m.Sum(nil)
}

// The roles whose proofs differ, so that one side's proof cannot be sent
// back as the other's.
const (
	roleStore  = "store"
	roleClient = "client"
)

// newNonce returns a fresh random nonce.
func newNonce() []byte {
	b := make([]byte, nonceSize)
	rand.Read(b) // never fails (crypto/rand)
	return b
}

// op is a store operation.
type op byte

const (
	opSet    op = iota + 1 // key, value
	opGet                  // key; answered once the key is set
	opAdd                  // key, delta
	opCancel               // abandons the waiting Get whose id the request carries
	opJoin                 // key: the round's prefix; counts the client's rank in the round
	opAck                  // key: the round's prefix; the client saw the round complete
	opClose                // closes the rendezvous
)

// The results of opJoin, in the response's n.
const (
	joinCounted  = iota // the node is counted in the round
	joinLate            // the round has a node of this rank already: value is its outcome
	joinConflict        // this node's joining failed the round: value is its outcome
)

// status is the outcome of a request.
type status byte

const (
	statusOK     status = iota // value and n hold the result
	statusClosed               // the store is shutting down
	statusError                // message says what was wrong with the request
)

type request struct {
	op    op
	id    uint64
	key   string
	value []byte
	delta int64
}

type response struct {
	id      uint64
	status  status
	value   []byte
	n       int64
	message string
}

func (r request) encode() []byte {
	b := make([]byte, 4, 4+1+8+4+len(r.key)+4+len(r.value)+8)
	b = append(b, byte(r.op))
	b = binary.BigEndian.AppendUint64(b, r.id)
	switch r.op {
	case opSet:
		b = appendBytes(b, []byte(r.key))
		b = appendBytes(b, r.value)
	case opGet, opJoin, opAck:
		b = appendBytes(b, []byte(r.key))
	case opAdd:
		b = appendBytes(b, []byte(r.key))
		b = binary.BigEndian.AppendUint64(b, uint64(r.delta))
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func (r response) encode() []byte {
	b := make([]byte, 4, 4+8+1+4+len(r.value)+8+len(r.message))
	b = binary.BigEndian.AppendUint64(b, r.id)
	b = append(b, byte(r.status))
	switch r.status {
	case statusOK:
		b = appendBytes(b, r.value)
		b = binary.BigEndian.AppendUint64(b, uint64(r.n))
	default:
		b = appendBytes(b, []byte(r.message))
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func appendBytes(b, p []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

// readFrameLimit reads one frame of at most limit bytes.
func readFrameLimit(r io.Reader, limit uint32) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > limit {
		return nil, fmt.Errorf("frame of %d bytes exceeds the limit of %d: %w", n, limit, errMalformed)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// errTooLarge is returned by readRequest for a request larger than its
// limit, which it skipped.
type errTooLarge struct {
	id   uint64
	size uint32
}

func (e *errTooLarge) Error() string { return fmt.Sprintf("request of %d bytes", e.size) }

// readRequest reads one request frame of at most limit bytes. A larger
// one is skipped, without holding it in memory, and reported as an
// *errTooLarge carrying its id, so that the store can answer it.
func readRequest(r io.Reader, limit uint32) (request, error) {
	var hdr [4 + 1 + 8]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return request{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n <= limit {
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return request{}, err
		}
		return decodeRequest(body)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return request{}, err
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)-9); err != nil {
		return request{}, err
	}
	return request{}, &errTooLarge{id: binary.BigEndian.Uint64(hdr[5:]), size: n}
}

var errMalformed = errors.New("malformed store message; is the peer a static rendezvous store?")

// decoder reads the fields of a frame body; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uint64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errMalformed
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uint32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.err = errMalformed
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errMalformed
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bytes() []byte {
	if d.err != nil || len(d.b) < 4 {
		d.err = errMalformed
		return nil
	}
	n := binary.BigEndian.Uint32(d.b)
	if uint64(n) > uint64(len(d.b)-4) {
		d.err = errMalformed
		return nil
	}
	var v []byte // nil if empty
	if n > 0 {
		v = d.b[4 : 4+n : 4+n]
	}
	d.b = d.b[4+n:]
	return v
}

// done reports the first error, or errMalformed if bytes are left over.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errMalformed
	}
	return d.err
}

func decodeRequest(body []byte) (request, error) {
	d := decoder{b: body}
	r := request{op: op(d.byte()), id: d.uint64()}
	switch r.op {
	case opSet:
		r.key = string(d.bytes())
		r.value = d.bytes()
	case opGet, opJoin, opAck:
		r.key = string(d.bytes())
	case opAdd:
		r.key = string(d.bytes())
		r.delta = int64(d.uint64())
	case opCancel, opClose:
	default:
		d.err = errMalformed
	}
	return r, d.done()
}

func decodeResponse(body []byte) (response, error) {
	d := decoder{b: body}
	r := response{id: d.uint64(), status: status(d.byte())}
	switch r.status {
	case statusOK:
		r.value = d.bytes()
		r.n = int64(d.uint64())
	case statusClosed, statusError:
		r.message = string(d.bytes())
	default:
		d.err = errMalformed
	}
	return r, d.done()
}
