package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
)

// ProtocolVersion is the version of the frame protocol this package speaks.
// Peers exchange it in the handshake and refuse a different one.
const ProtocolVersion = 2

// Magic opens every Hello so that a peer that speaks something else is
// recognised at once.
const Magic = "RMTG"

// DefaultMaxFrameSize is the largest frame a peer accepts unless
// configured otherwise: 4 MiB.
const DefaultMaxFrameSize = 4 << 20

// lengthSize is the size of the big-endian length prefix.
const lengthSize = 4

// Errors returned by [Reader.ReadFrame].
var (
	// ErrFrameTooLarge is returned when a length prefix exceeds the limit;
	// it is detected before the body is allocated or read.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrMalformed is returned for a frame whose header does not parse.
	ErrMalformed = errors.New("wire: malformed frame")
)

// Frame is one message on a stream. Which fields are meaningful depends on
// Kind; see PROTOCOL.md.
type Frame struct {
	Kind  Kind
	Flags Flags
	// ID correlates a request with its reply, error, ack and cancel frames.
	// It is chosen by the caller, unique among the caller's outstanding
	// requests on the stream.
	ID uint64
	// Object, Method, Deadline and Meta are sent with KindRequest only.
	Object remoting.ObjectID
	Method string
	// Deadline is the time the caller still waits, 0 for no deadline. It is
	// carried in whole microseconds.
	Deadline time.Duration
	Meta     remoting.Metadata
	// Key names the keyed object Object is the id of (see
	// remoting.KeyID), so that the callee can activate it; empty for
	// other objects. It is sent with KindRequest only, after the metadata,
	// and [FlagKey] says that it is there: AppendFrame sets the flag when
	// Key is not empty.
	Key string
	// Body is the CBOR payload. After ReadFrame it aliases the frame's own
	// buffer, which nothing else uses until [Frame.Release].
	Body []byte

	buf *[]byte // the pooled buffer Body is in; nil if it is not pooled
}

// Release gives the buffer of a frame that ReadFrame returned back for
// later frames and clears Body. The caller must keep nothing that aliases
// Body: what Unmarshal decoded from it is a copy. Releasing a frame twice,
// or one that did not come from ReadFrame, only clears Body.
func (f *Frame) Release() {
	if f.buf != nil {
		putFrameBuffer(f.buf)
		f.buf = nil
	}
	f.Body = nil
}

// Frame buffers of up to maxPooledFrame bytes are pooled in classes of
// powers of two from 256 bytes: a call's request and reply are read into
// buffers that earlier calls gave back, rather than allocated.
const (
	minPooledShift = 8 // 256 bytes
	maxPooledShift = 16
	maxPooledFrame = 1 << maxPooledShift
)

var framePools [maxPooledShift - minPooledShift + 1]sync.Pool

// frameClass returns the index of the smallest class that holds n bytes.
func frameClass(n int) int {
	if n <= 1<<minPooledShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minPooledShift
}

// getFrameBuffer returns a buffer of at least n (at most maxPooledFrame)
// bytes.
func getFrameBuffer(n int) *[]byte {
	c := frameClass(n)
	if pb, ok := framePools[c].Get().(*[]byte); ok {
		return pb
	}
	b := make([]byte, 1<<(c+minPooledShift))
	return &b
}

func putFrameBuffer(pb *[]byte) {
	b := (*pb)[:cap(*pb)]
	*pb = b
	if c := frameClass(len(b)); len(b) == 1<<(c+minPooledShift) {
		framePools[c].Put(pb)
	}
}

// AppendFrame appends the encoding of f (length prefix included) to dst.
// It does not check the size limit: see [CheckSize].
func AppendFrame(dst []byte, f *Frame) []byte {
	return append(AppendFrameHeader(dst, f), f.Body...)
}

// AppendFrameHeader appends the encoding of f without its body, which is
// to follow it: the length prefix counts the body too. See [CheckHeader].
func AppendFrameHeader(dst []byte, f *Frame) []byte {
	start := len(dst)
	flags := f.Flags
	if f.Kind == KindRequest && f.Key != "" {
		flags |= FlagKey
	}
	dst = append(dst, 0, 0, 0, 0, byte(f.Kind), byte(flags))
	dst = binary.AppendUvarint(dst, f.ID)
	if f.Kind == KindRequest {
		dst = append(dst, f.Object[:]...)
		dst = appendString(dst, f.Method)
		var us uint64
		if f.Deadline > 0 {
			us = uint64((f.Deadline + time.Microsecond - 1) / time.Microsecond)
		}
		dst = binary.AppendUvarint(dst, us)
		dst = binary.AppendUvarint(dst, uint64(len(f.Meta)))
		for k, v := range f.Meta {
			dst = appendString(dst, k)
			dst = appendString(dst, v)
		}
		if flags&FlagKey != 0 {
			dst = appendString(dst, f.Key)
		}
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-lengthSize+len(f.Body)))
	return dst
}

// CheckSize returns an error wrapping [ErrFrameTooLarge] if the encoded
// frame at the end of buf (starting at start) exceeds max.
func CheckSize(buf []byte, start, max int) error {
	return checkLength(len(buf)-start-lengthSize, max)
}

// CheckHeader is CheckSize for a frame encoded by [AppendFrameHeader] as
// hdr, to be followed by a body of n bytes.
func CheckHeader(hdr []byte, n, max int) error {
	return checkLength(len(hdr)-lengthSize+n, max)
}

func checkLength(n, max int) error {
	if n > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	return nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Reader reads frames from one stream. It is not safe for concurrent use:
// each stream has one reading goroutine.
//
// A frame's buffer grows with the bytes that have arrived, never with the
// length a prefix claims: a peer that announces a large frame and sends
// little of it costs little.
type Reader struct {
	r   *bufio.Reader
	max int
	// charge, if set, is told of the bytes the Reader holds for a frame
	// being read: +n as its buffer grows, -total once the frame is read
	// (or reading it failed). An error stops the read.
	charge func(delta int) error
	// methods interns method names so that steady traffic allocates no
	// string per request.
	methods map[string]string
}

// maxInterned bounds the method name table of a Reader.
const maxInterned = 1024

// minFrameBuffer is the largest frame read straight into a buffer of its
// size, whatever has arrived of it: the common frames. Larger ones are read
// in chunks of this size as their bytes arrive (see readBody).
const minFrameBuffer = 16 << 10

// NewReader returns a Reader on r that refuses frames larger than max bytes
// (DefaultMaxFrameSize if max <= 0).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxFrameSize
	}
	return &Reader{r: bufio.NewReaderSize(r, 4<<10), max: max, methods: make(map[string]string)}
}

// SetMaxFrameSize changes the limit of later frames: a handshake reads a
// hello under a small limit and raises it once the peer is known.
func (r *Reader) SetMaxFrameSize(max int) {
	if max <= 0 {
		max = DefaultMaxFrameSize
	}
	r.max = max
}

// SetCharge sets the function told of the bytes held for frames being
// read; see [Reader]. Only the reading goroutine may call it.
func (r *Reader) SetCharge(charge func(delta int) error) { r.charge = charge }

// ReadFrame reads the next frame. It returns io.EOF at a clean end of the
// stream between frames, and an error wrapping [ErrFrameTooLarge] or
// [ErrMalformed] for a bad frame, after which the stream is unusable.
func (r *Reader) ReadFrame() (Frame, error) {
	var lb [lengthSize]byte
	if _, err := io.ReadFull(r.r, lb[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return Frame{}, fmt.Errorf("%w: truncated length prefix", ErrMalformed)
		}
		return Frame{}, err
	}
	n := int(binary.BigEndian.Uint32(lb[:]))
	if n > r.max {
		return Frame{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, r.max)
	}
	buf, pb, err := r.readBody(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return Frame{}, fmt.Errorf("%w: truncated frame: want %d bytes", ErrMalformed, n)
		}
		return Frame{}, err
	}
	f, err := r.parse(buf)
	if err != nil {
		if pb != nil {
			putFrameBuffer(pb)
		}
		return Frame{}, err
	}
	f.buf = pb
	return f, nil
}

// readBody reads n bytes. A frame of up to minFrameBuffer bytes is read
// into a pooled buffer of its size, which it returns too. A larger one is
// read into pooled chunks as its bytes arrive, and copied into a buffer of
// its size (pooled up to maxPooledFrame) once it is whole: what it holds
// grows with the bytes received, and it costs one buffer of its size
// rather than a series of doubling ones. What is charged is the chunks,
// which add up to the frame.
func (r *Reader) readBody(n int) ([]byte, *[]byte, error) {
	held := 0
	if r.charge != nil {
		defer func() { r.charge(-held) }()
	}
	if n <= minFrameBuffer {
		if r.charge != nil {
			if err := r.charge(n); err != nil {
				return nil, nil, err
			}
			held = n
		}
		pb := getFrameBuffer(n)
		buf := (*pb)[:n:n]
		if _, err := io.ReadFull(r.r, buf); err != nil {
			putFrameBuffer(pb)
			return nil, nil, err
		}
		return buf, pb, nil
	}
	var chunks []*[]byte
	defer func() {
		for _, c := range chunks {
			chunkPool.Put(c)
		}
	}()
	for got := 0; got < n; {
		k := min(n-got, chunkSize)
		if r.charge != nil {
			if err := r.charge(k); err != nil {
				return nil, nil, err
			}
			held += k
		}
		c := chunkPool.Get().(*[]byte)
		chunks = append(chunks, c)
		m, err := io.ReadFull(r.r, (*c)[:k])
		got += m
		if err != nil {
			return nil, nil, err
		}
	}
	var pb *[]byte
	var buf []byte
	if n <= maxPooledFrame {
		pb = getFrameBuffer(n)
		buf = (*pb)[:n:n]
	} else {
		buf = make([]byte, n)
	}
	for i, c := range chunks {
		copy(buf[i*chunkSize:], *c)
	}
	return buf, pb, nil
}

// chunkSize is the size of the chunks a large frame is read into: a
// frame whose bytes have not arrived holds at most one chunk beyond them.
const chunkSize = minFrameBuffer

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func (r *Reader) parse(buf []byte) (Frame, error) {
	p := parser{buf: buf}
	var f Frame
	f.Kind = Kind(p.byte())
	f.Flags = Flags(p.byte())
	f.ID = p.uvarint()
	if p.err != nil {
		return Frame{}, p.err
	}
	if !f.Kind.Valid() {
		return Frame{}, fmt.Errorf("%w: unknown frame kind %d", ErrMalformed, f.Kind)
	}
	if f.Kind == KindRequest {
		copy(f.Object[:], p.take(len(f.Object)))
		f.Method = r.intern(p.bytes())
		us := p.uvarint()
		if us > uint64(maxDeadline/time.Microsecond) {
			us = uint64(maxDeadline / time.Microsecond)
		}
		f.Deadline = time.Duration(us) * time.Microsecond
		count := p.uvarint()
		if p.err == nil && count > uint64(p.remaining()/2) {
			p.fail("metadata count %d exceeds frame", count)
		}
		if count > 0 && p.err == nil {
			f.Meta = make(remoting.Metadata, count)
			for i := uint64(0); i < count && p.err == nil; i++ {
				k := string(p.bytes())
				f.Meta[k] = string(p.bytes())
			}
		}
		if f.Flags&FlagKey != 0 {
			f.Key = string(p.bytes())
		}
		if p.err != nil {
			return Frame{}, p.err
		}
	}
	f.Body = buf[p.off:]
	return f, nil
}

// maxDeadline caps a received deadline (about 100 years) so that it cannot
// overflow time arithmetic.
const maxDeadline = 100 * 365 * 24 * time.Hour

func (r *Reader) intern(b []byte) string {
	if s, ok := r.methods[string(b)]; ok {
		return s
	}
	s := string(b)
	if r.methods != nil && len(r.methods) < maxInterned {
		r.methods[s] = s
	}
	return s
}

// parser reads header fields from a frame buffer, recording the first error.
type parser struct {
	buf []byte
	off int
	err error
}

func (p *parser) remaining() int { return len(p.buf) - p.off }

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (p *parser) byte() byte {
	if p.err != nil || p.remaining() < 1 {
		p.fail("header truncated at byte %d", p.off)
		return 0
	}
	b := p.buf[p.off]
	p.off++
	return b
}

func (p *parser) uvarint() uint64 {
	if p.err != nil {
		return 0
	}
	v, n := binary.Uvarint(p.buf[p.off:])
	if n <= 0 {
		p.fail("bad varint at byte %d", p.off)
		return 0
	}
	p.off += n
	return v
}

func (p *parser) take(n int) []byte {
	if p.err != nil || n < 0 || p.remaining() < n {
		p.fail("header truncated at byte %d: want %d more bytes", p.off, n)
		return nil
	}
	b := p.buf[p.off : p.off+n]
	p.off += n
	return b
}

func (p *parser) bytes() []byte {
	n := p.uvarint()
	if p.err != nil {
		return nil
	}
	if n > uint64(p.remaining()) {
		p.fail("string of %d bytes exceeds frame", n)
		return nil
	}
	return p.take(int(n))
}
