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
	f.Add(append(yamuxHeader(yamuxTypeData, yamuxFlagSYN|yamuxFlagFIN, 1, 5), "hello"...), []byte{3, 7}, true)
	f.Add(append(append(yamuxHeader(yamuxTypeWindow, yamuxFlagSYN, 3, 0), yamuxHeader(yamuxTypeData, 0, 3, 3)...), "abc"...), []byte{1, 12, 13}, false)
	f.Add(bytes.Repeat(yamuxHeader(yamuxTypePing, yamuxFlagSYN, 0, 1), 20), []byte{100}, true)
	large := append(yamuxHeader(yamuxTypeData, yamuxFlagSYN, 1, 70000), bytes.Repeat([]byte{7}, 70000)...)
	f.Add(append(large, yamuxHeader(yamuxTypePing, yamuxFlagSYN, 0, 1)...), []byte{200, 0, 9, 255}, true)
	buf := make([]byte, 128<<10)
	f.Fuzz(func(t *testing.T, in, cuts []byte, open bool) {
		var chunks [][]byte
		rest := in
		for _, c := range cuts {
			n := min(int(c)*int(c), len(rest)) // chunks up to 64 KiB
			chunks, rest = append(chunks, rest[:n]), rest[n:]
		}
		chunks = append(chunks, rest)
		m := &meter{limit: 1 << 30}
		if len(cuts) > 0 && cuts[0]%2 == 1 {
			m.limit = 0 // no room for a large read
		}
		g := newGuard(&chunkConn{chunks: chunks}, DefaultMaxStreams, time.Second, m, func(error) {})
		g.open.Store(open)
		var out []byte
		var err error
		for i := 0; err == nil; i++ {
			// yamux reads through a 4 KiB buffer, and straight into a
			// stream's buffer when that has more room: sizes from the
			// cuts, 4 KiB mostly.
			size := 4096
			if len(cuts) > 0 {
				if c := int(cuts[i%len(cuts)]); c%3 == 0 {
					size = 1 + c*c
				}
			}
			var n int
			n, err = g.Read(buf[:size])
			out = append(out, buf[:n]...)
		}
		if u := m.used.Load(); u != 0 {
			t.Fatalf("%d bytes still charged for large reads after the guard stopped", u)
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

// yamuxHeader is a yamux frame header.
func yamuxHeader(typ uint8, flags uint16, id, n uint32) []byte {
	h := make([]byte, yamuxHeaderSize)
	h[1] = typ
	binary.BigEndian.PutUint16(h[2:], flags)
	binary.BigEndian.PutUint32(h[4:], id)
	binary.BigEndian.PutUint32(h[8:], n)
	return h
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

// TestGuardLargeFrames: the rest of a large data frame is handed to yamux
// in parts of up to bigRead bytes (one read each) rather than of its 4 KiB
// buffer, the stream's data is unchanged, and nothing stays charged once a
// read has returned (a yamux that stops reading leaves no charge behind);
// with no room in the budget the parts are small again.
func TestGuardLargeFrames(t *testing.T) {
	body := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i*7)
		}
		return b
	}
	var in []byte
	in = append(in, yamuxHeader(yamuxTypeWindow, yamuxFlagSYN, 1, 0)...)
	in = append(append(in, yamuxHeader(yamuxTypeData, 0, 1, 300<<10)...), body(300<<10, 1)...)
	in = append(in, yamuxHeader(yamuxTypePing, yamuxFlagSYN, 0, 1)...)
	in = append(append(in, yamuxHeader(yamuxTypeData, 0, 3, 100)...), body(100, 2)...)
	in = append(append(in, yamuxHeader(yamuxTypeData, yamuxFlagFIN, 1, 70000)...), body(70000, 3)...)
	want := summarize(in)

	for _, tc := range []struct {
		name  string
		limit int64
		large bool
	}{
		{"room for large reads", 1 << 30, true},
		{"no room in the budget", bigRead - 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var chunks [][]byte
			for rest, i := in, 0; len(rest) > 0; i++ {
				n := min([]int{1000, 90000, 5, 4096, 33333}[i%5], len(rest))
				chunks, rest = append(chunks, rest[:n]), rest[n:]
			}
			m := &meter{limit: tc.limit}
			g := newGuard(&chunkConn{chunks: chunks}, DefaultMaxStreams, time.Second, m, func(error) {})
			g.open.Store(true)
			buf := make([]byte, 256<<10)
			var out []byte
			largest := 0
			for i := 0; ; i++ {
				size := 4096
				if i%4 == 3 && tc.large {
					size = len(buf) // yamux reading into a stream's buffer
				}
				n, err := g.Read(buf[:size])
				out = append(out, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if u := m.used.Load(); u != 0 {
					t.Fatalf("%d bytes still charged after a read returned", u)
				}
			}
			got := summarize(out)
			for id, d := range want.data {
				if !bytes.Equal(got.data[id], d) {
					t.Fatalf("stream %d: %d bytes of data became %d", id, len(d), len(got.data[id]))
				}
				if got.flags[id] != want.flags[id] {
					t.Fatalf("stream %d: flags %x became %x", id, want.flags[id], got.flags[id])
				}
			}
			if len(got.others) != len(want.others) {
				t.Fatalf("%d frames without data became %d", len(want.others), len(got.others))
			}
			for b := out; len(b) >= yamuxHeaderSize; {
				n := 0
				if b[1] == yamuxTypeData {
					n = int(binary.BigEndian.Uint32(b[8:]))
					largest = max(largest, n)
				}
				b = b[yamuxHeaderSize+n:]
			}
			if tc.large && largest <= 4096 {
				t.Fatalf("the largest data frame passed on has %d bytes: no large reads", largest)
			}
			if !tc.large && largest > 4096 {
				t.Fatalf("a data frame of %d bytes was passed on with no room in the budget", largest)
			}
			if u := m.used.Load(); u != 0 {
				t.Fatalf("%d bytes still charged", u)
			}
		})
	}
}
