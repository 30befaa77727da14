package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/e2e/shapes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo implements shapes.Shapes.
type echo struct{}

var _ shapes.Shapes = echo{}

func (echo) Basics(_ context.Context, b bool, i int, i8 int8, u16 uint16, u64 uint64, f32 float32, f64 float64, r rune, s string) (bool, int, int8, uint16, uint64, float32, float64, rune, string, error) {
	return b, i, i8, u16, u64, f32, f64, r, s, nil
}
func (echo) Bytes(_ context.Context, b []byte) ([]byte, error)      { return b, nil }
func (echo) Slices(_ context.Context, s []string) ([]string, error) { return s, nil }
func (echo) Maps(_ context.Context, m map[string][]int) (map[string][]int, error) {
	return m, nil
}
func (echo) Pointer(_ context.Context, p *shapes.Point) (*shapes.Point, error) { return p, nil }
func (echo) Arrays(_ context.Context, a [3]shapes.Point) ([3]shapes.Point, error) {
	return [3]shapes.Point{a[2], a[1], a[0]}, nil
}
func (echo) Struct(_ context.Context, l shapes.Line) (shapes.Line, error) { return l, nil }
func (echo) Named(_ context.Context, k shapes.Kind) (shapes.Kind, error)  { return k + 1, nil }
func (echo) Generic(_ context.Context, p shapes.Pair[string, []shapes.Point]) (shapes.Pair[string, []shapes.Point], error) {
	return p, nil
}
func (echo) Time(_ context.Context, at time.Time, d time.Duration) (time.Time, error) {
	return at.Add(d), nil
}
func (echo) Addr(_ context.Context, a netip.Addr, port uint16) (netip.AddrPort, error) {
	return netip.AddrPortFrom(a, port), nil
}
func (echo) Join(_ context.Context, sep string, parts ...string) (string, int, error) {
	return strings.Join(parts, sep), len(parts), nil
}
func (echo) Unnamed(_ context.Context, s string, n int) (string, error) {
	return strings.Repeat(s, n), nil
}
func (echo) Nothing(context.Context) error            { return nil }
func (echo) Fail(_ context.Context, msg string) error { return errors.New(msg) }

// counter implements shapes.Counter.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) Add(_ context.Context, n int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += n
	return c.n, nil
}

// connect serves an echo as "shapes", a counter as "counter", a factory as
// "factory" and a closed gate as "gate" on loopback TCP and returns a
// client connected to them.
func connect(t *testing.T) *requestor.Client {
	t.Helper()
	return connectGate(t, newGate())
}

// connectGate is connect with g as "gate".
func connectGate(t *testing.T, g *gate) *requestor.Client {
	t.Helper()
	srv := invoker.NewServer(invoker.Options{})
	_, err := srv.Register("shapes", shapes.ShapesInvoker(), lifecycle.Static(echo{}))
	require.NoError(t, err)
	_, err = srv.Register("counter", shapes.CounterInvoker(), lifecycle.Static(&counter{}))
	require.NoError(t, err)
	_, err = srv.Register("factory", shapes.FactoryInvoker(), lifecycle.Static(factory{}))
	require.NoError(t, err)
	_, err = srv.Register("gate", shapes.GateInvoker(), lifecycle.Static(g))
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	c, err := requestor.Dial(ctxT(t), "tcp://"+lis.Addr().String(), requestor.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func lookupShapes(t *testing.T) *shapes.ShapesProxy {
	t.Helper()
	p, err := shapes.LookupShapes(ctxT(t), connect(t), "shapes")
	require.NoError(t, err, "LookupShapes")
	return p
}

func TestLookup(t *testing.T) {
	c := connect(t)
	p, err := shapes.LookupShapes(ctxT(t), c, "shapes")
	require.NoError(t, err)
	assert.Equal(t, shapes.ShapesInterface, p.Ref().Interface, "Ref().Interface")

	_, err = shapes.LookupShapes(ctxT(t), c, "nobody")
	assert.ErrorIs(t, err, remoting.ErrNotFound, "LookupShapes(nobody)")

	// A proxy made from the reference works like the looked-up one.
	direct := shapes.NewShapesProxy(c, p.Ref())
	s, err := direct.Unnamed(ctxT(t), "ab", 2)
	require.NoError(t, err)
	assert.Equal(t, "abab", s, "Unnamed(ab, 2)")
}

func TestBasics(t *testing.T) {
	p := lookupShapes(t)
	b, i, i8, u16, u64, f32, f64, r, s, err := p.Basics(ctxT(t), true, -42, -8, 65535, 1<<63+1, 1.5, -2.25, 'é', "héllo")
	require.NoError(t, err)
	assert.Equal(t, true, b)
	assert.Equal(t, -42, i)
	assert.Equal(t, int8(-8), i8)
	assert.Equal(t, uint16(65535), u16)
	assert.Equal(t, uint64(1<<63+1), u64)
	assert.Equal(t, float32(1.5), f32)
	assert.Equal(t, -2.25, f64)
	assert.Equal(t, 'é', r)
	assert.Equal(t, "héllo", s)
}

func TestNilAndEmpty(t *testing.T) {
	p := lookupShapes(t)
	ctx := ctxT(t)
	t.Run("bytes", func(t *testing.T) {
		for _, in := range [][]byte{nil, {}, {0, 1, 255}} {
			got, err := p.Bytes(ctx, in)
			require.NoError(t, err)
			assert.Equal(t, in, got, "Bytes(%#v)", in)
			assert.Equal(t, in == nil, got == nil, "Bytes(%#v) nil", in)
		}
	})
	t.Run("slices", func(t *testing.T) {
		for _, in := range [][]string{nil, {}, {"a", ""}} {
			got, err := p.Slices(ctx, in)
			require.NoError(t, err)
			assert.Equal(t, in, got, "Slices(%#v)", in)
			assert.Equal(t, in == nil, got == nil, "Slices(%#v) nil", in)
		}
	})
	t.Run("maps", func(t *testing.T) {
		for _, in := range []map[string][]int{nil, {}, {"a": {1, 2}, "b": nil, "c": {}}} {
			got, err := p.Maps(ctx, in)
			require.NoError(t, err)
			assert.Equal(t, in, got, "Maps(%#v)", in)
			assert.Equal(t, in == nil, got == nil, "Maps(%#v) nil", in)
			for k, v := range in {
				assert.Equal(t, v == nil, got[k] == nil, "Maps(%#v)[%q] nil", in, k)
			}
		}
	})
	t.Run("pointer", func(t *testing.T) {
		for _, in := range []*shapes.Point{nil, {}, {X: 1, Y: -1}} {
			got, err := p.Pointer(ctx, in)
			require.NoError(t, err)
			assert.Equal(t, in, got, "Pointer(%v)", in)
		}
	})
}

func TestComposite(t *testing.T) {
	p := lookupShapes(t)
	ctx := ctxT(t)

	a := [3]shapes.Point{{X: 1}, {Y: 2}, {X: 3, Y: 3}}
	gotA, err := p.Arrays(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, [3]shapes.Point{a[2], a[1], a[0]}, gotA, "Arrays(%v)", a)

	label := "diagonal"
	for _, l := range []shapes.Line{
		{},
		{From: shapes.Point{X: 1}, To: shapes.Point{Y: 1}, Label: &label, Tags: []string{"x"}, Meta: map[string]int{"w": 2}},
		{Tags: []string{}, Meta: map[string]int{}},
	} {
		got, err := p.Struct(ctx, l)
		require.NoError(t, err)
		assert.Equal(t, l, got, "Struct(%+v)", l)
	}

	k, err := p.Named(ctx, 41)
	require.NoError(t, err)
	assert.Equal(t, shapes.Kind(42), k, "Named(41)")

	pair := shapes.Pair[string, []shapes.Point]{Key: "k", Value: []shapes.Point{{X: 1}}}
	gotPair, err := p.Generic(ctx, pair)
	require.NoError(t, err)
	assert.Equal(t, pair, gotPair, "Generic(%+v)", pair)
}

func TestTimeAndAddr(t *testing.T) {
	p := lookupShapes(t)
	ctx := ctxT(t)

	zone := time.FixedZone("", 5*3600+30*60)
	for _, at := range []time.Time{
		time.Date(2024, 2, 29, 23, 59, 59, 123456789, zone),
		time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC),
		time.Now(),
	} {
		got, err := p.Time(ctx, at, 90*time.Minute)
		require.NoError(t, err)
		want := at.Add(90 * time.Minute)
		assert.True(t, want.Equal(got), "Time(%v, 90m) = %v, want %v", at, got, want)
		_, wantOff := want.Zone()
		_, gotOff := got.Zone()
		assert.Equal(t, wantOff, gotOff, "Time(%v, 90m) zone offset", at)
	}

	for _, a := range []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")} {
		got, err := p.Addr(ctx, a, 8080)
		require.NoError(t, err)
		assert.Equal(t, netip.AddrPortFrom(a, 8080), got, "Addr(%v, 8080)", a)
	}
}

func TestVariadicAndUnnamed(t *testing.T) {
	p := lookupShapes(t)
	ctx := ctxT(t)
	tests := []struct {
		name  string
		parts []string
		want  string
	}{
		{"none", nil, ""},
		{"one", []string{"a"}, "a"},
		{"many", []string{"a", "b", "c"}, "a-b-c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := p.Join(ctx, "-", tc.parts...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "Join(-, %q)", tc.parts)
			assert.Equal(t, len(tc.parts), n, "Join(-, %q) count", tc.parts)
		})
	}
	s, err := p.Unnamed(ctx, "xy", 3)
	require.NoError(t, err)
	assert.Equal(t, "xyxyxy", s, "Unnamed(xy, 3)")
}

func TestErrors(t *testing.T) {
	p := lookupShapes(t)
	ctx := ctxT(t)
	require.NoError(t, p.Nothing(ctx), "Nothing")

	err := p.Fail(ctx, "out of stock")
	require.Error(t, err, "Fail")
	var rerr *remoting.Error
	require.ErrorAs(t, err, &rerr, "Fail")
	assert.Equal(t, remoting.CodeApplication, rerr.Code, "Fail code")
	assert.Contains(t, rerr.Message, "out of stock", "Fail message")

	// A proxy for an object that is not there fails with NotFound, and its
	// results are zero values.
	c := connect(t)
	gone := shapes.NewShapesProxy(c, remoting.Ref{ID: remoting.NewObjectID(), Interface: shapes.ShapesInterface})
	s, n, err := gone.Join(ctx, ",", "a")
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Join on a missing object")
	assert.Zero(t, s)
	assert.Zero(t, n)
}

func TestCounterConcurrent(t *testing.T) {
	c := connect(t)
	ctx := ctxT(t)
	p, err := shapes.LookupCounter(ctx, c, "counter")
	require.NoError(t, err)
	var wg sync.WaitGroup
	results := make([]int, 20)
	for i := range results {
		wg.Go(func() {
			n, err := p.Add(ctx, 1)
			assert.NoError(t, err, "Add(1)")
			results[i] = n
		})
	}
	wg.Wait()
	slices.Sort(results)
	for i, n := range results {
		assert.Equal(t, i+1, n, fmt.Sprintf("result %d of Add(1)", i))
	}
}
