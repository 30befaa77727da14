package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPeersEcho starts every row, makes one call of each payload, checks
// the echo and stops the row without leaking goroutines.
func TestPeersEcho(t *testing.T) {
	for _, row := range Rows() {
		t.Run(row.Name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			c, stop, err := row.Peer.Start()
			require.NoError(t, err, "Start")
			defer stop()
			for _, pl := range append([]Payload{Small, KiB4}, StructPayloads...) {
				assert.NoError(t, Check(c, pl), "Check(%s payload)", pl.Name)
			}
		})
	}
}

// TestMeasure runs the harness briefly on the floor and checks that every
// figure is filled in.
func TestMeasure(t *testing.T) {
	row := Rows()[0]
	for _, r := range Rows() {
		if r.Name == "tcp-floor" {
			row = r
		}
	}
	res, err := Measure(row, Small, Config{Callers: []int{1, 4}, Duration: 20 * time.Millisecond, Warmup: 10 * time.Millisecond})
	require.NoError(t, err, "Measure")
	assert.Positive(t, res.Calls, "Calls")
	assert.Positive(t, res.P50, "P50")
	assert.GreaterOrEqual(t, res.P99, res.P50, "P99")
	assert.Positive(t, res.P25, "P25")
	assert.GreaterOrEqual(t, res.P50, res.P25, "P25 to P50")
	assert.GreaterOrEqual(t, res.P75, res.P50, "P50 to P75")
	assert.GreaterOrEqual(t, res.P99, res.P75, "P75 to P99")
	assert.Positive(t, res.Throughput[1], "Throughput[1]")
	assert.Positive(t, res.Throughput[4], "Throughput[4]")
	assert.Zero(t, res.Leaked, "Leaked")
}

func TestPercentile(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name string
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{"p50 of 100", lat, 0.50, 50},
		{"p99 of 100", lat, 0.99, 99},
		{"p100 of 100", lat, 1, 100},
		{"p99 of 1", lat[:1], 0.99, 1},
		{"empty", nil, 0.5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Percentile(tc.in, tc.q), "Percentile(%d samples, %v)", len(tc.in), tc.q)
		})
	}
}

func TestParsePayload(t *testing.T) {
	tests := []struct {
		in      string
		want    Payload
		wantErr bool
	}{
		{in: "small", want: Small},
		{in: "4k", want: KiB4},
		{in: "512", want: Payload{Name: "512", Size: 512, Shape: ShapeBytes}},
		{in: "struct", want: Struct},
		{in: "nested", want: Nested},
		{in: "order", want: Order},
		{in: "big", wantErr: true},
		{in: "0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePayload(tc.in)
			if tc.wantErr {
				assert.Error(t, err, "ParsePayload(%q)", tc.in)
				return
			}
			require.NoError(t, err, "ParsePayload(%q)", tc.in)
			assert.Equal(t, tc.want, got, "ParsePayload(%q)", tc.in)
		})
	}
}

// TestReport checks the ratios in the markdown table and that the chart
// has a bar per row.
func TestReport(t *testing.T) {
	result := func(name string, kind Kind, p50 time.Duration, rate float64) Result {
		return Result{Row: Row{Name: name, Kind: kind}, Payload: Small, P25: p50 / 2, P50: p50, P75: 3 * p50 / 2, P99: 2 * p50,
			Throughput: map[int]float64{64: rate}, AllocsPerCall: 10, BytesPerCall: 1000}
	}
	rep := Report{
		Machine: "test machine",
		Config:  Config{Callers: []int{64}},
		Results: []Result{
			result("remoting", KindSubject, 40*time.Microsecond, 90e3),
			result("net/rpc", KindPeer, 50*time.Microsecond, 60e3),
			result("grpc", KindPeer, 80*time.Microsecond, 20e3),
			result(FloorRow, KindFloor, 20*time.Microsecond, 180e3),
		},
	}
	var md bytes.Buffer
	require.NoError(t, rep.WriteMarkdown(&md), "WriteMarkdown")
	out := md.String()
	assert.Contains(t, out, "Machine: test machine.", "WriteMarkdown")
	assert.Contains(t, out, "| row | p25 | p50 | p75 | p99 | calls/s ×64 |", "WriteMarkdown")
	assert.Contains(t, out, "| remoting | 20.0µs (0.80 / 0.50) | 40.0µs (0.80 / 0.50) | 60.0µs (0.80 / 0.50) | 80.0µs (0.80 / 0.50) | 90.0k (1.50 / 4.50) |", "WriteMarkdown")
	assert.Contains(t, out, "| grpc | 40.0µs (1.60 / 1.00) | 80.0µs (1.60 / 1.00) |", "WriteMarkdown")

	var svg bytes.Buffer
	require.NoError(t, rep.WriteSVG(&svg), "WriteSVG")
	assert.Equal(t, 1+len(rep.Results)+4, strings.Count(svg.String(), "<rect"), "WriteSVG: background, one bar per row and the legend")
	assert.Contains(t, svg.String(), "with 64 callers", "WriteSVG")
}
