package transport

import (
	"encoding/binary"
	"net"
)

// yamux header layout: version(1) type(1) flags(2) stream(4) length(4).
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
)

// headerJoiner joins each yamux data header with the body that follows it
// into one vectored write. yamux's send loop writes a frame's 12-byte
// header and its body with two Write calls; on a socket that is two
// system calls and, with TCP_NODELAY, often two segments per frame. The
// send loop is one goroutine that always writes a data header's body right
// after it, so holding the header back until the body comes is safe;
// headers without a body (window updates, pings, empty data frames) pass
// straight through.
type headerJoiner struct {
	net.Conn
	hdr     [yamuxHeaderSize]byte
	pending bool
	arr     [2][]byte
	bufs    net.Buffers
}

func (c *headerJoiner) Write(p []byte) (int, error) {
	if c.pending {
		c.pending = false
		c.arr[0], c.arr[1] = c.hdr[:], p
		c.bufs = c.arr[:] // WriteTo consumes the slice; the array stays
		_, err := c.bufs.WriteTo(c.Conn)
		c.arr[1] = nil
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if len(p) == yamuxHeaderSize && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:]) > 0 {
		copy(c.hdr[:], p)
		c.pending = true
		return len(p), nil
	}
	return c.Conn.Write(p)
}
