package static

import (
	"bytes"
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
// The first frame each way is a hello: the protocol's magic and version,
// then, from the client, its rank, world size and run id, and from the
// server, why it refuses the client (empty if it accepts it). A peer that
// does not answer with the magic within handshakeTimeout is not a store.

// maxFrame bounds the size of a frame, so that a peer that is not a store
// client cannot make the other side allocate without limit.
const maxFrame = 64 << 20

// helloMagic opens every hello frame.
var helloMagic = []byte("go-entrypoints/static-rendezvous")

// protocolVersion is the version of this protocol; nodes must agree on it.
const protocolVersion = 1

// maxHelloFrame bounds the size of a hello frame.
const maxHelloFrame = 4 << 10

// handshakeTimeout bounds how long a client waits for the server's hello,
// and the server for the client's: a peer that does not speak the
// protocol is found out quickly.
const handshakeTimeout = 5 * time.Second

// hello is the first message each way on a connection.
type hello struct {
	version     byte
	rank, world uint32 // the client's
	runID       string // the client's
	refused     string // the server's answer: why it refuses the client, or empty
}

func (h hello) encode() []byte {
	b := make([]byte, 4, 4+len(helloMagic)+1+8+4+len(h.runID)+4+len(h.refused))
	b = append(b, helloMagic...)
	b = append(b, h.version)
	b = binary.BigEndian.AppendUint32(b, h.rank)
	b = binary.BigEndian.AppendUint32(b, h.world)
	b = appendBytes(b, []byte(h.runID))
	b = appendBytes(b, []byte(h.refused))
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func decodeHello(body []byte) (hello, error) {
	if !bytes.HasPrefix(body, helloMagic) {
		return hello{}, errMalformed
	}
	d := decoder{b: body[len(helloMagic):]}
	h := hello{version: d.byte()}
	h.rank = d.uint32()
	h.world = d.uint32()
	h.runID = string(d.bytes())
	h.refused = string(d.bytes())
	return h, d.done()
}

// op is a store operation.
type op byte

const (
	opSet         op = iota + 1 // key, value
	opGet                       // key; answered once the key is set
	opAdd                       // key, delta
	opCancel                    // abandons the waiting Get whose id the request carries
	opSetIfAbsent               // key, value; the response holds the value kept, n is 1 if it is this one
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
	case opSet, opSetIfAbsent:
		b = appendBytes(b, []byte(r.key))
		b = appendBytes(b, r.value)
	case opGet:
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

// readFrame reads one frame and returns its body.
func readFrame(r io.Reader) ([]byte, error) { return readFrameLimit(r, maxFrame) }

// readFrameLimit reads one frame of at most limit bytes.
func readFrameLimit(r io.Reader, limit uint32) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > limit {
		return nil, fmt.Errorf("frame of %d bytes exceeds the limit of %d; is the peer a static rendezvous store?", n, limit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return body, nil
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
	v := d.b[4 : 4+n : 4+n]
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
	case opSet, opSetIfAbsent:
		r.key = string(d.bytes())
		r.value = d.bytes()
	case opGet:
		r.key = string(d.bytes())
	case opAdd:
		r.key = string(d.bytes())
		r.delta = int64(d.uint64())
	case opCancel:
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
