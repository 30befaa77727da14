package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// yamux header layout: version(1) type(1) flags(2) stream(4) length(4).
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
	yamuxTypeWindow = 1
	yamuxTypePing   = 2
	yamuxFlagSYN    = 1
	yamuxFlagFIN    = 4
)

// Limits on what a peer may make yamux do, enforced by guard. yamux v0.1.2
// starts a goroutine for every ping it answers and does a little work for
// every frame, so without them a peer can make this end work without bound.
const (
	// pingRate and pingBurst bound the pings a peer may send: a
	// keepalive is one per KeepAliveInterval.
	pingRate  = 4
	pingBurst = 16
	// emptyRate and emptyBurst bound the frames that carry no data
	// (window updates, resets, empty data frames) that a peer may send
	// beyond those that this end's writes earn it: a reading peer sends a
	// window update for every half window it reads, so each creditBytes
	// written allow one more.
	emptyRate   = 100
	emptyBurst  = 1000
	creditBytes = 16 << 10
	// openRate bounds the streams a peer opens per second; the burst is
	// twice the session's stream limit.
	openRate = 16
	// maxHandshakeData bounds the bytes of yamux data a peer may send
	// before the handshake has succeeded: a hello and a little slack.
	maxHandshakeData = 2 * maxHandshakeFrame
)

// Errors with which guard ends a session; the session closes at once.
var (
	errPingFlood      = errors.New("transport: peer sends pings faster than allowed")
	errFrameFlood     = errors.New("transport: peer sends window updates or empty frames faster than allowed")
	errOpenFlood      = errors.New("transport: peer opens streams faster than allowed")
	errEarlyData      = errors.New("transport: peer sent more than a hello before the handshake")
	errHandshakeLimit = errors.New("transport: peer opened more than one stream before the handshake")
)

// guard is the net.Conn under a yamux session. On the way in it reads the
// yamux frame headers the peer sends and enforces what yamux does not:
// it rate-limits pings, window updates and stream opens, allows only a
// hello's worth of data before the handshake, and cuts every data frame
// into the parts that have arrived, so that yamux (which allocates a
// frame's claimed length up front) holds only bytes that were received.
// yamux reads through a 4 KiB buffer, so the rest of a large frame is read
// into a pooled buffer of bigRead bytes instead (charged to the session's
// budget while the read waits for the peer), and handed on as one part per
// read: a 1 MiB frame is 16 system calls and yamux frames rather than 256.
// A peer that breaks a limit gets an error from Read, which ends the
// session. On the way out it joins each yamux data header with its body
// into one write and bounds every write by a deadline.
//
// yamux reads with one goroutine (its receive loop) and writes with one
// (its send loop); the read and the write state are each owned by one of
// them.
type guard struct {
	net.Conn
	log func(err error)

	// open is set once the handshake has succeeded.
	open atomic.Bool

	// Read side.
	held    [yamuxHeaderSize]byte // a partial header held back from yamux
	nheld   int
	left    uint32                // bytes of the current data frame still to come
	cont    [yamuxHeaderSize]byte // header for the rest of that frame
	fin     bool                  // the frame carries FIN, sent on its last part
	early   int                   // data bytes received before the handshake
	opened  int                   // streams the peer opened before the handshake
	pings   bucket
	empties bucket
	opens   bucket
	spent   int64 // credits of written bytes used up
	rerr    error // an error to return after the bytes already read
	small   []byte
	nsmall  int
	// The rest of a large data frame is read into big, a pooled buffer,
	// many times the size of yamux's reads; yamux is handed the part read
	// with one header, and big[off:off+npass] is what it has not taken yet.
	// meter (nil in tests) is charged for big while a read into it waits.
	big   *[]byte
	off   int
	npass int
	meter *meter

	// written counts the bytes written, read by the read side.
	written atomic.Int64

	// Write side.
	writeTimeout time.Duration
	deadline     time.Time // the write deadline set on Conn
	hdr          [yamuxHeaderSize]byte
	pending      bool
	arr          [2][]byte
	bufs         net.Buffers
}

func newGuard(c net.Conn, maxStreams int, writeTimeout time.Duration, m *meter, log func(error)) *guard {
	now := time.Now()
	g := &guard{Conn: c, log: log, writeTimeout: writeTimeout, meter: m}
	g.pings = bucket{tokens: pingBurst, burst: pingBurst, rate: pingRate, last: now}
	g.empties = bucket{tokens: emptyBurst, burst: emptyBurst, rate: emptyRate, last: now}
	ob := float64(2 * maxStreams)
	g.opens = bucket{tokens: ob, burst: ob, rate: openRate, last: now}
	return g
}

// minRead is the smallest buffer Read works in place; yamux reads through
// a 4 KiB bufio.Reader, so smaller reads go through g.small.
const minRead = 64

// Read reads from the connection and passes on what the limits allow.
func (g *guard) Read(p []byte) (int, error) {
	if len(p) < minRead || g.nsmall > 0 {
		return g.readSmall(p)
	}
	if g.npass > 0 {
		return g.pass(p), nil
	}
	for {
		if g.rerr != nil {
			return 0, g.rerr
		}
		if g.left > uint32(len(p)-yamuxHeaderSize) && g.open.Load() {
			// The rest of the frame does not fit in p: read it into big.
			if n, ok := g.readLarge(p); ok {
				return n, nil
			}
		}
		start := 0
		if g.left > 0 {
			start = yamuxHeaderSize // room for the header of the next part
		} else {
			start = copy(p, g.held[:g.nheld])
			g.nheld = 0
		}
		n, err := g.Conn.Read(p[start:])
		if err != nil {
			g.rerr = err
		}
		if n == 0 {
			if start > 0 && g.left == 0 {
				g.nheld = copy(g.held[:], p[:start])
			}
			if err != nil {
				return 0, err
			}
			continue
		}
		total, ferr := g.filter(p, start, start+n)
		if ferr != nil {
			g.rerr = ferr
			g.log(ferr)
			return 0, ferr
		}
		if total > 0 {
			return total, nil
		}
	}
}

// bigRead is the size of the buffers that the rest of a large data frame
// is read into: one system call and one yamux frame for up to this many
// bytes, where reading through yamux's 4 KiB buffer took sixteen of each.
const bigRead = 64 << 10

var bigPool = sync.Pool{New: func() any { b := make([]byte, bigRead); return &b }}

// readLarge reads what has arrived of the rest of the current data frame,
// up to bigRead bytes, into big, and hands yamux that part: its header,
// and what fits in p of its data, the rest to follow from pass. It
// reports false, having read nothing, if the session's budget has no room
// for big, or if nothing was read (g.rerr then says why).
//
// big is charged to the session's budget only while the read waits for
// the peer. Once it returns, big holds bytes that have arrived, which
// yamux takes in the reads that follow; a yamux that stops reading
// meanwhile (a frame over its window ends the session) leaves big to the
// collector, and nothing charged behind.
func (g *guard) readLarge(p []byte) (int, bool) {
	if g.meter != nil && g.meter.charge(bigRead) != nil {
		return 0, false
	}
	g.big = bigPool.Get().(*[]byte)
	n, err := g.Conn.Read((*g.big)[:min(uint32(bigRead), g.left)])
	if g.meter != nil {
		g.meter.charge(-bigRead)
	}
	if err != nil {
		g.rerr = err
	}
	if n == 0 {
		g.releaseBig()
		return 0, false
	}
	k := uint32(n)
	g.left -= k
	copy(p, g.cont[:])
	binary.BigEndian.PutUint32(p[8:], k)
	if g.left == 0 && g.fin {
		binary.BigEndian.PutUint16(p[2:], yamuxFlagFIN)
	}
	g.off, g.npass = 0, n
	return yamuxHeaderSize + g.pass(p[yamuxHeaderSize:]), true
}

// pass hands yamux the next bytes of big.
func (g *guard) pass(p []byte) int {
	n := copy(p, (*g.big)[g.off:g.off+g.npass])
	g.off += n
	if g.npass -= n; g.npass == 0 {
		g.releaseBig()
	}
	return n
}

func (g *guard) releaseBig() {
	bigPool.Put(g.big)
	g.big = nil
}

// filter inspects p[:end], of which p[start:end] just arrived, and returns
// how many bytes of p yamux may have.
func (g *guard) filter(p []byte, start, end int) (int, error) {
	i := 0
	if g.left > 0 {
		// start == yamuxHeaderSize: the next part of a data frame.
		k := min(uint32(end-start), g.left)
		g.left -= k
		copy(p, g.cont[:])
		binary.BigEndian.PutUint32(p[8:], k)
		if g.left == 0 && g.fin {
			binary.BigEndian.PutUint16(p[2:], yamuxFlagFIN)
		}
		i = yamuxHeaderSize + int(k)
	}
	for i < end {
		if end-i < yamuxHeaderSize {
			g.nheld = copy(g.held[:], p[i:end])
			return i, nil
		}
		h := p[i : i+yamuxHeaderSize]
		if err := g.inspect(h); err != nil {
			return 0, err
		}
		i += yamuxHeaderSize
		if h[1] != yamuxTypeData {
			continue
		}
		length := binary.BigEndian.Uint32(h[8:])
		if avail := uint32(end - i); length > avail {
			// Pass on what has arrived; the rest follows in parts
			// of its own, the last of which carries FIN.
			flags := binary.BigEndian.Uint16(h[2:])
			g.fin = flags&yamuxFlagFIN != 0
			binary.BigEndian.PutUint16(h[2:], flags&^yamuxFlagFIN)
			binary.BigEndian.PutUint32(h[8:], avail)
			g.cont = [yamuxHeaderSize]byte(h)
			binary.BigEndian.PutUint16(g.cont[2:], 0)
			g.left = length - avail
			return end, nil
		}
		i += int(length)
	}
	return end, nil
}

// inspect checks one header against the limits.
func (g *guard) inspect(h []byte) error {
	if h[0] != 0 {
		return nil // yamux refuses it
	}
	flags := binary.BigEndian.Uint16(h[2:])
	length := binary.BigEndian.Uint32(h[8:])
	switch h[1] {
	case yamuxTypeData, yamuxTypeWindow:
		if flags&yamuxFlagSYN != 0 {
			if !g.opens.take(time.Now()) {
				return errOpenFlood
			}
			if !g.open.Load() {
				if g.opened++; g.opened > 1 {
					return errHandshakeLimit
				}
			}
		} else if h[1] == yamuxTypeWindow || length == 0 {
			if !g.empties.take(time.Now()) {
				if g.spent >= g.written.Load()/creditBytes {
					return errFrameFlood
				}
				g.spent++
			}
		}
		if h[1] == yamuxTypeData && !g.open.Load() {
			if g.early += int(length); g.early > maxHandshakeData {
				return errEarlyData
			}
		}
	case yamuxTypePing:
		if !g.pings.take(time.Now()) {
			return errPingFlood
		}
	}
	return nil
}

// readSmall serves a read into a buffer too small to work in place.
func (g *guard) readSmall(p []byte) (int, error) {
	if g.nsmall == 0 {
		if g.small == nil {
			g.small = make([]byte, 4096)
		}
		n, err := g.Read(g.small)
		if err != nil {
			return 0, err
		}
		g.small, g.nsmall = g.small[:n], n
	}
	off := len(g.small) - g.nsmall
	n := copy(p, g.small[off:])
	g.nsmall -= n
	if g.nsmall == 0 {
		g.small = g.small[:cap(g.small)]
	}
	return n, nil
}

// Write joins each yamux data header with the body that follows it into
// one vectored write. yamux's send loop writes a frame's 12-byte header and
// its body with two Write calls; on a socket that is two system calls and,
// with TCP_NODELAY, often two segments per frame. The send loop is one
// goroutine that always writes a data header's body right after it, so
// holding the header back until the body comes is safe; headers without a
// body (window updates, pings, empty data frames) pass straight through.
//
// Every write has a deadline of writeTimeout, so that a peer that stops
// reading cannot hold yamux's send loop (and every stream's writes) for
// longer: the write fails and the session ends.
func (g *guard) Write(p []byte) (int, error) {
	if g.pending {
		g.pending = false
		g.arr[0], g.arr[1] = g.hdr[:], p
		g.bufs = g.arr[:] // WriteTo consumes the slice; the array stays
		g.setWriteDeadline()
		n, err := g.bufs.WriteTo(g.Conn)
		g.written.Add(n)
		g.arr[1] = nil
		if err != nil {
			g.writeFailed(err)
			return 0, err
		}
		return len(p), nil
	}
	if len(p) == yamuxHeaderSize && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:]) > 0 {
		copy(g.hdr[:], p)
		g.pending = true
		return len(p), nil
	}
	g.setWriteDeadline()
	n, err := g.Conn.Write(p)
	g.written.Add(int64(n))
	if err != nil {
		g.writeFailed(err)
	}
	return n, err
}

// writeFailed reports a write that timed out: the peer stopped reading,
// and yamux's send loop, failing, ends the session.
func (g *guard) writeFailed(err error) {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		g.log(fmt.Errorf("%w: %v", ErrStalled, err))
	}
}

// setWriteDeadline keeps a write deadline between writeTimeout/2 and
// writeTimeout ahead, moving it only when it comes nearer than that, so
// that most writes do not touch the connection's timer.
func (g *guard) setWriteDeadline() {
	if g.writeTimeout <= 0 {
		return
	}
	now := time.Now()
	if g.deadline.Sub(now) < g.writeTimeout/2 {
		g.deadline = now.Add(g.writeTimeout)
		g.Conn.SetWriteDeadline(g.deadline)
	}
}

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	tokens, burst, rate float64
	last                time.Time
}

func (b *bucket) take(now time.Time) bool {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
