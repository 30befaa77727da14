package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// The floors speak the least protocol an RPC needs: a frame is a 4-byte
// big-endian payload length, an 8-byte request id and the payload. The
// server echoes each frame with the same id; the client's reader goroutine
// hands each reply to the caller waiting for that id. There is no codec, no
// method name, no dispatch and no goroutine per request.

const (
	frameHeader  = 12
	maxFramePart = 16 << 20
)

var errFloorClosed = errors.New("bench: floor client closed")

// TCPFloor is the physical floor: pipelined echo frames over one TCP
// connection, with coalesced writes on both ends.
type TCPFloor struct{}

// Start implements Peer.
func (TCPFloor) Start() (Client, func(), error) {
	return startFloor("tcp-floor",
		func(conn net.Conn) (io.ReadWriteCloser, error) { return conn, nil },
		func(conn net.Conn, serve func(io.ReadWriter)) { serve(conn) })
}

// YamuxFloor is TCPFloor over one hashicorp/yamux stream, configured as
// the middleware configures its sessions: what multiplexing alone costs.
type YamuxFloor struct{}

// Start implements Peer.
func (YamuxFloor) Start() (Client, func(), error) {
	return startFloor("yamux-floor",
		func(conn net.Conn) (io.ReadWriteCloser, error) {
			sess, err := yamux.Client(conn, yamuxConfig())
			if err != nil {
				return nil, err
			}
			st, err := sess.OpenStream()
			if err != nil {
				sess.Close()
				return nil, err
			}
			return &sessionStream{Stream: st, sess: sess}, nil
		},
		func(conn net.Conn, serve func(io.ReadWriter)) {
			sess, err := yamux.Server(conn, yamuxConfig())
			if err != nil {
				return
			}
			defer sess.Close()
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			serve(st)
		})
}

// YamuxStreamPerCall opens a yamux stream for every call, writes one frame
// on it, reads the reply and closes it: the design the middleware avoids,
// since each stream costs window-update frames and a goroutine on the
// server.
type YamuxStreamPerCall struct{}

// Start implements Peer.
func (YamuxStreamPerCall) Start() (Client, func(), error) {
	srv, err := newFloorServer(func(conn net.Conn, wg *sync.WaitGroup) {
		sess, err := yamux.Server(conn, yamuxConfig())
		if err != nil {
			return
		}
		defer sess.Close()
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer st.Close()
				var hdr [frameHeader]byte
				p, err := readFrame(st, hdr[:])
				if err != nil {
					return
				}
				st.Write(appendFrame(nil, 0, p))
			})
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("yamux-stream-per-call: %w", err)
	}
	conn, err := net.Dial("tcp", srv.addr())
	if err != nil {
		srv.stop()
		return nil, nil, fmt.Errorf("yamux-stream-per-call: %w", err)
	}
	sess, err := yamux.Client(conn, yamuxConfig())
	if err != nil {
		srv.stop()
		return nil, nil, fmt.Errorf("yamux-stream-per-call: %w", err)
	}
	call := func(ctx context.Context, p []byte) ([]byte, error) {
		st, err := sess.OpenStream()
		if err != nil {
			return nil, err
		}
		defer st.Close()
		if d, ok := ctx.Deadline(); ok {
			st.SetDeadline(d)
		}
		if _, err := st.Write(appendFrame(nil, 0, p)); err != nil {
			return nil, err
		}
		var hdr [frameHeader]byte
		return readFrame(st, hdr[:])
	}
	stop := func() {
		sess.Close()
		srv.stop()
	}
	return ClientFunc(call), stop, nil
}

// yamuxConfig mirrors the middleware's session settings: a 1 MiB stream
// window, keepalives every 10s and no logging.
func yamuxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.MaxStreamWindowSize = 1 << 20
	cfg.KeepAliveInterval = 10 * time.Second
	cfg.ConnectionWriteTimeout = 10 * time.Second
	cfg.LogOutput = io.Discard
	return cfg
}

// sessionStream is a client's only stream; closing it closes its session.
type sessionStream struct {
	*yamux.Stream
	sess *yamux.Session
}

func (s *sessionStream) Close() error {
	s.Stream.Close()
	return s.sess.Close()
}

// startFloor starts a pipelined echo server and client. open turns the
// client's TCP connection into the byte stream the frames travel on;
// accept does the same on the server and calls serve with it.
func startFloor(name string, open func(net.Conn) (io.ReadWriteCloser, error), accept func(net.Conn, func(io.ReadWriter))) (Client, func(), error) {
	srv, err := newFloorServer(func(conn net.Conn, _ *sync.WaitGroup) {
		accept(conn, serveEcho)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	conn, err := net.Dial("tcp", srv.addr())
	if err != nil {
		srv.stop()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	rw, err := open(conn)
	if err != nil {
		conn.Close()
		srv.stop()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	c := newPipeClient(rw)
	stop := func() {
		c.Close()
		srv.stop()
	}
	return c, stop, nil
}

// floorServer accepts TCP connections on loopback and runs handle on each
// in a goroutine of its own; handle may start more goroutines in wg. stop
// closes the listener and the connections and waits for all of them.
type floorServer struct {
	lis   net.Listener
	conns *connSet
	wg    sync.WaitGroup
}

func newFloorServer(handle func(net.Conn, *sync.WaitGroup)) (*floorServer, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &floorServer{lis: lis, conns: newConnSet()}
	s.wg.Go(func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			if !s.conns.add(conn) {
				return
			}
			s.wg.Go(func() {
				defer s.conns.remove(conn)
				defer conn.Close()
				handle(conn, &s.wg)
			})
		}
	})
	return s, nil
}

func (s *floorServer) addr() string { return s.lis.Addr().String() }

func (s *floorServer) stop() {
	s.lis.Close()
	s.conns.closeAll()
	s.wg.Wait()
}

// serveEcho echoes frames until rw fails. It reads through a buffer and
// writes replies only when no further whole request is buffered, so that a
// burst of requests is answered with one write.
func serveEcho(rw io.ReadWriter) {
	r := bufio.NewReaderSize(rw, 64<<10)
	var out []byte
	for {
		hdr, err := r.Peek(frameHeader)
		if err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr))
		if n > maxFramePart {
			return
		}
		start := len(out)
		out = append(out, make([]byte, frameHeader+n)...)
		if _, err := io.ReadFull(r, out[start:]); err != nil {
			return
		}
		if !frameBuffered(r) || len(out) >= 256<<10 {
			if _, err := rw.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

// frameBuffered reports whether r holds a whole frame that can be read
// without blocking.
func frameBuffered(r *bufio.Reader) bool {
	if r.Buffered() < frameHeader {
		return false
	}
	hdr, _ := r.Peek(frameHeader)
	return r.Buffered() >= frameHeader+int(binary.BigEndian.Uint32(hdr))
}

func appendFrame(b []byte, id uint64, p []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	b = binary.BigEndian.AppendUint64(b, id)
	return append(b, p...)
}

// readFrame reads one frame's header into hdr and returns its payload.
func readFrame(r io.Reader, hdr []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, hdr[:frameHeader]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr)
	if n > maxFramePart {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return p, err
}

// pipeClient pipelines calls over one byte stream: callers write frames
// through a coalescing writer and wait on a channel; one reader goroutine
// correlates replies by id.
type pipeClient struct {
	rw   io.ReadWriteCloser
	w    coalescer
	done chan struct{} // closed when the reader has exited

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan reply
	err     error
}

type reply struct {
	p   []byte
	err error
}

// replyChans recycles the one-slot channels calls wait on.
var replyChans = sync.Pool{New: func() any { return make(chan reply, 1) }}

// newPipeClient starts the reader goroutine; Close stops it.
func newPipeClient(rw io.ReadWriteCloser) *pipeClient {
	c := &pipeClient{rw: rw, done: make(chan struct{}), pending: make(map[uint64]chan reply)}
	c.w.w = rw
	go c.read()
	return c
}

func (c *pipeClient) Call(ctx context.Context, p []byte) ([]byte, error) {
	ch := replyChans.Get().(chan reply)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.next++
	id := c.next
	c.pending[id] = ch
	c.mu.Unlock()

	if err := c.w.write(id, p); err != nil {
		c.rw.Close() // the reader fails every pending call
	}
	select {
	case r := <-ch:
		replyChans.Put(ch)
		return r.p, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (c *pipeClient) read() {
	defer close(c.done)
	r := bufio.NewReaderSize(c.rw, 64<<10)
	var hdr [frameHeader]byte
	for {
		p, err := readFrame(r, hdr[:])
		if err != nil {
			c.fail(err)
			return
		}
		id := binary.BigEndian.Uint64(hdr[4:])
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- reply{p: p}
		}
	}
}

func (c *pipeClient) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.pending {
		ch <- reply{err: c.err}
		delete(c.pending, id)
	}
}

// Close closes the stream and waits for the reader. It is idempotent.
func (c *pipeClient) Close() error {
	c.mu.Lock()
	if c.err == nil {
		c.err = errFloorClosed
	}
	c.mu.Unlock()
	err := c.rw.Close()
	<-c.done
	return err
}

// coalescer writes frames without a goroutine of its own: the caller that
// finds no write in flight becomes the writer and keeps writing until the
// frames that queued up behind it are out, each batch in one Write.
type coalescer struct {
	w io.Writer

	mu      sync.Mutex
	buf     []byte
	spare   []byte
	writing bool
	err     error
}

func (c *coalescer) write(id uint64, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.buf = appendFrame(c.buf, id, p)
	if c.writing {
		return nil
	}
	c.writing = true
	for len(c.buf) > 0 && c.err == nil {
		b := c.buf
		c.buf = c.spare[:0]
		c.mu.Unlock()
		_, err := c.w.Write(b)
		c.mu.Lock()
		c.spare = b[:0]
		if err != nil {
			c.err = err
		}
	}
	c.writing = false
	return c.err
}
