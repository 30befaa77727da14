package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
)

func sampleFrames() []*Frame {
	id := remoting.NameID("cart")
	return []*Frame{
		{Kind: KindRequest, ID: 1, Object: id, Method: "Cart.Add", Body: []byte{0x82, 0x61, 0x61, 0x02}},
		{Kind: KindRequest, Flags: FlagNoReply | FlagAck, ID: 1 << 40, Object: id, Method: "Cart.Items", Deadline: 1500 * time.Millisecond, Meta: remoting.Metadata{"auth": "token", "trace": "abc"}},
		{Kind: KindRequest, Flags: FlagKey, ID: 2, Object: remoting.KeyID("bank.Account", "42"), Method: "Account.Deposit", Key: "42", Body: []byte{0x81, 0x0a}},
		{Kind: KindRequest, Flags: FlagNoReply | FlagKey, ID: 3, Object: remoting.KeyID("x.Y", "é/#?"), Method: "Y.Z", Meta: remoting.Metadata{"k": "v"}, Key: "é/#?"},
		{Kind: KindReply, ID: 7, Body: []byte{0x80}},
		{Kind: KindError, ID: 8, Body: EncodeError(errors.New("boom"))},
		{Kind: KindCancel, ID: 9},
		{Kind: KindAck, ID: 10},
		{Kind: KindGoAway},
		{Kind: KindHello, Body: []byte{0x83, 0x64, 'R', 'M', 'T', 'G', 0x01, 0x1a, 0, 0x40, 0, 0}},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range sampleFrames() {
		t.Run(f.Kind.String(), func(t *testing.T) {
			enc := AppendFrame(nil, f)
			assert.Equal(t, uint32(len(enc)-4), binary.BigEndian.Uint32(enc), "length prefix")
			hdr := AppendFrameHeader(nil, f)
			assert.Equal(t, enc[:4], hdr[:4], "the header's length prefix counts the body")
			assert.Equal(t, len(enc), len(hdr)+len(f.Body), "the header and the body are the frame")
			split, err := NewReader(bytes.NewReader(append(hdr, f.Body...)), 0).ReadFrame()
			require.NoError(t, err, "ReadFrame of the header and the body")
			assert.Equal(t, CheckSize(enc, 0, len(enc)-5) != nil, CheckHeader(hdr, len(f.Body), len(enc)-5) != nil, "CheckHeader checks what CheckSize does")
			assert.NoError(t, CheckHeader(hdr, len(f.Body), len(enc)-4), "a frame at the limit")
			got, err := NewReader(bytes.NewReader(enc), 0).ReadFrame()
			require.NoError(t, err, "ReadFrame(%x)", enc)
			want := *f
			if len(want.Body) == 0 {
				want.Body = []byte{}
			}
			assert.NotNil(t, got.buf, "ReadFrame(%x) reads a small frame into a pooled buffer", enc)
			got.buf, split.buf = nil, nil
			assert.Equal(t, want, got, "ReadFrame(%x)", enc)
			assert.Equal(t, want, split, "ReadFrame of the header and the body")
		})
	}
}

// TestFrameReleaseReusesBuffer: a released frame's buffer holds the next
// frame of its size class, and a frame keeps its bytes until released.
func TestFrameReleaseReusesBuffer(t *testing.T) {
	var enc []byte
	for i := range 3 {
		enc = AppendFrame(enc, &Frame{Kind: KindReply, ID: uint64(i), Body: bytes.Repeat([]byte{byte(i)}, 300)})
	}
	enc = AppendFrame(enc, &Frame{Kind: KindReply, ID: 3, Body: make([]byte, 2*maxPooledFrame)})
	r := NewReader(bytes.NewReader(enc), 0)
	f0, err := r.ReadFrame()
	require.NoError(t, err)
	f1, err := r.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, bytes.Repeat([]byte{0}, 300), f0.Body, "f0 is intact while f1 is held too")
	f0.Release()
	assert.Nil(t, f0.Body, "Release clears Body")
	f0.Release() // a second Release only clears Body
	f1.Release()
	f2, err := r.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, bytes.Repeat([]byte{2}, 300), f2.Body, "ReadFrame(%d)", f2.ID)
	f2.Release()
	big, err := r.ReadFrame()
	require.NoError(t, err)
	assert.Nil(t, big.buf, "a frame over maxPooledFrame is not pooled")
	assert.Len(t, big.Body, 2*maxPooledFrame)
	big.Release()
}

func TestFrameClass(t *testing.T) {
	for _, tc := range []struct{ n, class int }{{0, 0}, {1, 0}, {256, 0}, {257, 1}, {512, 1}, {4096 + 60, 5}, {maxPooledFrame, maxPooledShift - minPooledShift}} {
		assert.Equal(t, tc.class, frameClass(tc.n), "frameClass(%d)", tc.n)
		assert.GreaterOrEqual(t, 1<<(frameClass(tc.n)+minPooledShift), tc.n, "class of %d holds it", tc.n)
	}
}

func TestReadFrameSequenceAndEOF(t *testing.T) {
	var buf []byte
	for _, f := range sampleFrames() {
		buf = AppendFrame(buf, f)
	}
	r := NewReader(bytes.NewReader(buf), 0)
	for i := range sampleFrames() {
		_, err := r.ReadFrame()
		require.NoError(t, err, "frame %d", i)
	}
	_, err := r.ReadFrame()
	assert.Equal(t, io.EOF, err, "a clean end between frames is io.EOF")
}

// errReader fails the test if the reader asks for more than the length
// prefix: a frame over the limit must be refused before its body is read.
type prefixOnly struct {
	data []byte
	t    *testing.T
}

func (p *prefixOnly) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		p.t.Error("reader asked for bytes past the length prefix of an oversized frame")
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(b, p.data)
	p.data = p.data[n:]
	return n, nil
}

func TestFrameTooLargeRefusedFromPrefix(t *testing.T) {
	prefix := binary.BigEndian.AppendUint32(nil, 1<<31-1)
	_, err := NewReader(&prefixOnly{data: prefix, t: t}, 1024).ReadFrame()
	assert.ErrorIs(t, err, ErrFrameTooLarge)
	assert.ErrorContains(t, err, "limit 1024")
}

func TestCheckSize(t *testing.T) {
	buf := AppendFrame([]byte("xx"), &Frame{Kind: KindReply, ID: 1, Body: make([]byte, 100)})
	assert.NoError(t, CheckSize(buf, 2, 200))
	assert.ErrorIs(t, CheckSize(buf, 2, 50), ErrFrameTooLarge)
}

func TestMalformedFrames(t *testing.T) {
	req := AppendFrame(nil, sampleFrames()[1])
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated prefix", []byte{0, 0}, ErrMalformed},
		{"truncated body", []byte{0, 0, 0, 9, byte(KindReply)}, ErrMalformed},
		{"empty frame", []byte{0, 0, 0, 0}, ErrMalformed},
		{"unknown kind", []byte{0, 0, 0, 3, 0, 0, 1}, ErrMalformed},
		{"kind past the last", []byte{0, 0, 0, 3, byte(maxKindValue + 1), 0, 1}, ErrMalformed},
		{"bad varint id", []byte{0, 0, 0, 12, byte(KindReply), 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ErrMalformed},
		{"request cut in the object id", reframe(req[4:12]), ErrMalformed},
		{"request cut in the metadata", reframe(req[4 : len(req)-3]), ErrMalformed},
		{"key longer than the frame", reframe(append(append([]byte{byte(KindRequest), byte(FlagKey), 1}, make([]byte, 16)...), 0, 0, 0, 0x7f)), ErrMalformed},
		{"key flag without a key", reframe(append(append([]byte{byte(KindRequest), byte(FlagKey), 1}, make([]byte, 16)...), 0, 0, 0)), ErrMalformed},
		{"key cut short", reframe(append(append([]byte{byte(KindRequest), byte(FlagKey), 1}, make([]byte, 16)...), 0, 0, 0, 3, 'a')), ErrMalformed},
		{"metadata count larger than the frame", reframe(append(append([]byte{byte(KindRequest), 0, 1}, make([]byte, 16)...), 0, 0, 0xff, 0xff, 0x03)), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.in), 0).ReadFrame()
			assert.ErrorIs(t, err, tc.want, "ReadFrame(%x)", tc.in)
		})
	}
}

func reframe(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestDeadlineRoundsUpToMicroseconds(t *testing.T) {
	enc := AppendFrame(nil, &Frame{Kind: KindRequest, Method: "M", Deadline: 10 * time.Nanosecond})
	f, err := NewReader(bytes.NewReader(enc), 0).ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, time.Microsecond, f.Deadline, "a deadline under 1µs must not turn into 'no deadline'")
}

func TestInterningKeepsMethodNamesIntact(t *testing.T) {
	var buf []byte
	for i := range 2000 {
		buf = AppendFrame(buf, &Frame{Kind: KindRequest, Method: fmt.Sprintf("I.M%d", i%1500)})
	}
	r := NewReader(bytes.NewReader(buf), 0)
	for i := range 2000 {
		f, err := r.ReadFrame()
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("I.M%d", i%1500), f.Method)
	}
	assert.LessOrEqual(t, len(r.methods), maxInterned, "the intern table is bounded")
}

type codedErr struct{ N int }

func (e codedErr) Error() string { return fmt.Sprintf("coded %d", e.N) }

func init() { remoting.RegisterError[codedErr]("wire_test.codedErr") }

func TestErrorEncoding(t *testing.T) {
	cases := []struct {
		name string
		in   error
		code remoting.Code
		msg  string
	}{
		{"plain", errors.New("out of stock"), remoting.CodeApplication, "out of stock"},
		{"remoting error", remoting.Errorf(remoting.CodeNotFound, "no cart %d", 3), remoting.CodeNotFound, "no cart 3"},
		{"wrapped remoting error", fmt.Errorf("ctx: %w", remoting.Errorf(remoting.CodePermissionDenied, "nope")), remoting.CodePermissionDenied, "nope"},
		{"canceled", fmt.Errorf("stop: %w", context.Canceled), remoting.CodeCanceled, "stop: context canceled"},
		{"deadline", context.DeadlineExceeded, remoting.CodeDeadlineExceeded, "context deadline exceeded"},
		{"registered", fmt.Errorf("deep: %w", codedErr{N: 4}), remoting.CodeApplication, "deep: coded 4"},
		{"registered in a join", errors.Join(errors.New("a"), codedErr{N: 5}), remoting.CodeApplication, "a\ncoded 5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DecodeError(EncodeError(tc.in))
			assert.Equal(t, tc.code, got.Code, "DecodeError(EncodeError(%v))", tc.in)
			assert.Equal(t, tc.msg, got.Message)
			var ce codedErr
			if errors.As(tc.in, &ce) {
				var back codedErr
				require.ErrorAs(t, got, &back)
				assert.Equal(t, ce, back)
			}
		})
	}
	assert.Equal(t, remoting.CodeInternal, DecodeError([]byte{0xff}).Code, "an undecodable error body")
}

func TestHelloCheck(t *testing.T) {
	ok := Hello{Magic: Magic, Version: ProtocolVersion}
	assert.NoError(t, ok.Check())
	bad := Hello{Magic: Magic, Version: ProtocolVersion + 1}
	assert.ErrorContains(t, bad.Check(), "protocol version mismatch")
	alien := Hello{Magic: "HTTP", Version: ProtocolVersion}
	assert.ErrorContains(t, alien.Check(), "does not speak this protocol")
}

func TestDecoderLimits(t *testing.T) {
	deep := bytes.Repeat([]byte{0x81}, MaxNestedLevels+2)
	deep = append(deep, 0x00)
	var v []any
	assert.Error(t, Unmarshal(deep, &v), "nesting past the limit")

	huge := []byte{0x9a, 0x7f, 0xff, 0xff, 0xff} // array of 2^31-1 elements, no content
	var s []int
	assert.Error(t, Unmarshal(huge, &s), "an array length past the limit is refused before allocating")

	var n int
	assert.Error(t, Unmarshal([]byte{0x01, 0x02}, &n), "trailing bytes")
}

// TestReaderGrowsWithBytesReceived: a frame that claims 4 MiB and sends a
// few bytes costs a few kilobytes, not the claimed length.
func TestReaderGrowsWithBytesReceived(t *testing.T) {
	in := append([]byte{0, 0x40, 0, 0}, make([]byte, 10)...) // claims 4 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := NewReader(bytes.NewReader(in), 0).ReadFrame()
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, ErrMalformed, "ReadFrame of a truncated frame")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10), "bytes allocated for a 4 MiB claim with 10 bytes sent")
}

// TestReaderChargesWhileReading: the charge function sees the buffer of
// a frame being read grow, and gets it all back when the frame is read;
// an error from it stops the read.
func TestReaderChargesWhileReading(t *testing.T) {
	body := make([]byte, 100<<10)
	in := AppendFrame(nil, &Frame{Kind: KindReply, ID: 1, Body: body})
	r := NewReader(iotest.OneByteReader(bytes.NewReader(in)), 0)
	held, peak := 0, 0
	r.SetCharge(func(d int) error { held += d; peak = max(peak, held); return nil })
	f, err := r.ReadFrame()
	require.NoError(t, err)
	assert.Len(t, f.Body, len(body))
	assert.Equal(t, 0, held, "everything charged is given back")
	assert.GreaterOrEqual(t, peak, len(in)-4, "the whole frame was charged at its peak")

	r = NewReader(bytes.NewReader(in), 0)
	r.SetCharge(func(d int) error {
		if held+d > 8<<10 {
			return errors.New("over budget")
		}
		held += d
		return nil
	})
	_, err = r.ReadFrame()
	assert.EqualError(t, err, "over budget", "ReadFrame over the budget")
	assert.Equal(t, 0, held, "a failed read gives back what it held")
}

// chunkReader returns at most n bytes per read, as a stream whose bytes
// arrive in parts does.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// TestReaderLargeFrames: frames larger than what has arrived are read in
// chunks as their bytes come and come out whole, whatever their size
// against the chunks'; one of up to maxPooledFrame bytes is read into a
// pooled buffer, and a larger one costs about its size in allocations.
func TestReaderLargeFrames(t *testing.T) {
	for _, n := range []int{minFrameBuffer + 1, chunkSize - 1, chunkSize, chunkSize + 1, 200<<10 + 7, 1 << 20} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i*31 + i>>16)
		}
		in := AppendFrame(nil, &Frame{Kind: KindReply, ID: 9, Body: body})
		read := func() (Frame, int) {
			r := NewReader(chunkReader{bytes.NewReader(in), 9973}, 0)
			held := 0
			r.SetCharge(func(d int) error { held += d; return nil })
			f, err := r.ReadFrame()
			require.NoError(t, err, "%d bytes", n)
			return f, held
		}
		f, held := read()
		assert.True(t, bytes.Equal(f.Body, body), "%d bytes: the body came out whole", n)
		assert.Equal(t, len(in)-4 <= maxPooledFrame, f.buf != nil, "%d bytes: pooled", n)
		assert.Equal(t, 0, held, "%d bytes: everything charged is given back", n)
		f.Release()
		if n > maxPooledFrame {
			// The final buffer, and chunks the pool let go (the race
			// detector makes it drop some on purpose); doubling buffers
			// cost twice the size.
			bound := int64(n + n/2)
			got := leastAllocated(bound, func() {
				f, _ := read()
				f.Release()
			})
			assert.Less(t, got, bound, "%d bytes: bytes allocated", n)
		}
	}
}
