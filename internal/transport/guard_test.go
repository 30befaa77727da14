package transport

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// chunkConn is a net.Conn whose reads return the given chunks in turn.
type chunkConn struct {
	net.Conn
	chunks [][]byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

// yamuxSummary is what yamux makes of a byte stream: the data each stream
// received, the flags each got, and the headers of the frames without
// data in order.
type yamuxSummary struct {
	data   map[uint32][]byte
	flags  map[uint32]uint16
	others [][]byte
}

// summarize parses complete yamux frames from b.
func summarize(b []byte) yamuxSummary {
	s := yamuxSummary{data: map[uint32][]byte{}, flags: map[uint32]uint16{}}
	for len(b) >= yamuxHeaderSize {
		h := b[:yamuxHeaderSize]
		if h[1] != yamuxTypeData {
			s.others = append(s.others, h)
			b = b[yamuxHeaderSize:]
			continue
		}
		id, n := binary.BigEndian.Uint32(h[4:]), int(binary.BigEndian.Uint32(h[8:]))
		body := b[yamuxHeaderSize:min(len(b), yamuxHeaderSize+n)]
		s.data[id] = append(s.data[id], body...)
		s.flags[id] |= binary.BigEndian.Uint16(h[2:])
		b = b[yamuxHeaderSize+len(body):]
	}
	return s
}

// FuzzGuard feeds arbitrary bytes, cut into arbitrary reads, through the
// guard that reads yamux frames from a peer: it must never panic, every
// frame it passes on must be whole, and what yamux would make of its
// output must be what it would make of the input (the data of each
// stream, its flags, the other frames), up to where the guard stopped the
// peer.
func FuzzGuard(f *testing.F) {
	hdr := func(typ uint8, flags uint16, id, n uint32) []byte {
		h := make([]byte, yamuxHeaderSize)
		h[1] = typ
		binary.BigEndian.PutUint16(h[2:], flags)
		binary.BigEndian.PutUint32(h[4:], id)
		binary.BigEndian.PutUint32(h[8:], n)
		return h
	}
	f.Add(append(hdr(yamuxTypeData, yamuxFlagSYN|yamuxFlagFIN, 1, 5), "hello"...), []byte{3, 7}, true)
	f.Add(append(append(hdr(yamuxTypeWindow, yamuxFlagSYN, 3, 0), hdr(yamuxTypeData, 0, 3, 3)...), "abc"...), []byte{1, 12, 13}, false)
	f.Add(bytes.Repeat(hdr(yamuxTypePing, yamuxFlagSYN, 0, 1), 20), []byte{100}, true)
	buf := make([]byte, 4096) // yamux reads through a 4 KiB buffer
	f.Fuzz(func(t *testing.T, in, cuts []byte, open bool) {
		var chunks [][]byte
		rest := in
		for _, c := range cuts {
			n := min(int(c), len(rest))
			chunks, rest = append(chunks, rest[:n]), rest[n:]
		}
		chunks = append(chunks, rest)
		g := newGuard(&chunkConn{chunks: chunks}, DefaultMaxStreams, time.Second, func(error) {})
		g.open.Store(open)
		var out []byte
		var err error
		for err == nil {
			var n int
			n, err = g.Read(buf)
			out = append(out, buf[:n]...)
		}
		// Every data frame passed on is whole.
		for b := out; len(b) > 0; {
			if len(b) < yamuxHeaderSize {
				t.Fatalf("a partial header was passed on: %x", b)
			}
			n := 0
			if b[1] == yamuxTypeData {
				n = int(binary.BigEndian.Uint32(b[8:]))
			}
			if len(b) < yamuxHeaderSize+n {
				t.Fatalf("a data frame claims %d bytes and %d follow", n, len(b)-yamuxHeaderSize)
			}
			b = b[yamuxHeaderSize+n:]
		}
		got := summarize(out)
		want := summarize(in)
		if err == io.EOF { // the guard let everything through
			for id, d := range want.data {
				if !bytes.Equal(got.data[id], d) {
					t.Fatalf("stream %d: data %x became %x", id, d, got.data[id])
				}
				if got.flags[id] != want.flags[id] && len(got.data[id]) == int(sumClaimed(in, id)) {
					t.Fatalf("stream %d: flags %x became %x", id, want.flags[id], got.flags[id])
				}
			}
			if len(got.others) != len(want.others) {
				t.Fatalf("%d frames without data became %d", len(want.others), len(got.others))
			}
		}
		for id, d := range got.data {
			if !bytes.HasPrefix(want.data[id], d) {
				t.Fatalf("stream %d: data %x is not a prefix of %x", id, d, want.data[id])
			}
		}
	})
}

// sumClaimed returns the bytes the data frames of stream id in b claim.
func sumClaimed(b []byte, id uint32) uint32 {
	var n uint32
	for len(b) >= yamuxHeaderSize {
		h := b[:yamuxHeaderSize]
		l := uint32(0)
		if h[1] == yamuxTypeData {
			l = binary.BigEndian.Uint32(h[8:])
			if binary.BigEndian.Uint32(h[4:]) == id {
				n += l
			}
		}
		if uint64(len(b)) < uint64(yamuxHeaderSize)+uint64(l) {
			break
		}
		b = b[yamuxHeaderSize+int(l):]
	}
	return n
}
