package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestFeaturesEcho starts the feature server, makes one call of every
// feature row, checks that the server ran it, and stops the server
// without leaking goroutines.
func TestFeaturesEcho(t *testing.T) {
	defer goleak.VerifyNone(t)
	require.NoError(t, CheckFeatures(FeatureRows()), "CheckFeatures")
}

// TestMeasureFeatures measures two rows briefly, with the reference added,
// and checks that every figure is filled in.
func TestMeasureFeatures(t *testing.T) {
	defer goleak.VerifyNone(t)
	var rows []FeatureRow
	for _, r := range FeatureRows() {
		if r.Name == "oneway" || r.Name == "client-dependent" {
			rows = append(rows, r)
		}
	}
	res, err := MeasureFeatures(rows, Config{FeatureCallers: []int{1, 4}, Duration: 20 * time.Millisecond, Warmup: 10 * time.Millisecond})
	require.NoError(t, err, "MeasureFeatures")
	require.Len(t, res, 3, "results: the reference and the two rows")
	assert.Equal(t, FeatureRef, res[0].Row.Name, "first result")
	for _, r := range res {
		assert.Positive(t, r.Throughput[1], "%s: Throughput[1]", r.Row.Name)
		assert.Positive(t, r.Throughput[4], "%s: Throughput[4]", r.Row.Name)
	}
}

func TestMeasureReactivation(t *testing.T) {
	defer goleak.VerifyNone(t)
	res, err := MeasureReactivation(5, 300*time.Millisecond)
	require.NoError(t, err, "MeasureReactivation")
	assert.Positive(t, res.FirstP50, "FirstP50")
	assert.GreaterOrEqual(t, res.FirstP99, res.FirstP50, "FirstP99")
	assert.Positive(t, res.LiveP50, "LiveP50")
	assert.Positive(t, res.StateBytes, "StateBytes")
}

func TestMeasureLeases(t *testing.T) {
	defer goleak.VerifyNone(t)
	res, err := MeasureLeases(1000)
	require.NoError(t, err, "MeasureLeases")
	assert.Positive(t, res.HeapPerLease, "HeapPerLease")
	assert.Positive(t, res.Grant, "Grant")
	assert.Positive(t, res.Sweep, "Sweep")
}

// TestReportFeatures checks the ratios and verdicts of the feature table
// and that the chart has a panel for it.
func TestReportFeatures(t *testing.T) {
	rows := make(map[string]FeatureRow)
	for _, r := range FeatureRows() {
		rows[r.Name] = r
	}
	result := func(name string, one, many float64) FeatureResult {
		return FeatureResult{Row: rows[name], Throughput: map[int]float64{1: one, 64: many}}
	}
	rep := Report{
		Machine: "test machine",
		Features: []FeatureResult{
			result(FeatureRef, 10e3, 50e3),
			result("lazy", 9.5e3, 46e3),
			result("pooled", 9e3, 40e3),
			result("oneway", 100e3, 140e3),
		},
		Reactivation: &ReactivationResult{Objects: 1000, After: time.Second, StateBytes: 106,
			FirstP50: 60 * time.Microsecond, FirstP99: 200 * time.Microsecond, LiveP50: 40 * time.Microsecond, LiveP99: 100 * time.Microsecond},
		Leases: &LeaseResult{Leases: 100_000, HeapPerLease: 125, Grant: 500 * time.Nanosecond, Sweep: 20 * time.Millisecond},
	}
	var md bytes.Buffer
	require.NoError(t, rep.WriteMarkdown(&md), "WriteMarkdown")
	out := md.String()
	assert.Contains(t, out, "| "+FeatureRef+" | ", "WriteMarkdown")
	assert.Contains(t, out, "| 9.50k (0.95) | 46.0k (0.92) | ≥ 0.91 (within 1.10×) | yes |", "WriteMarkdown: lazy")
	assert.Contains(t, out, "| 9.00k (0.90) | 40.0k (0.80) | ≥ 0.91 (within 1.10×) | no: 0.90 at ×1, 0.80 at ×64 |", "WriteMarkdown: pooled")
	assert.Contains(t, out, "| 100k (10.0) | 140k (2.80) | ≥ 3 | no: 2.80 at ×64 |", "WriteMarkdown: oneway")
	assert.Contains(t, out, "| first call, reactivates | 60.0µs (1.50) | 200µs (2.00) |", "WriteMarkdown: reactivation")
	assert.Contains(t, out, "100,000 live leases", "WriteMarkdown: leases")
	assert.Contains(t, out, "200ns per lease", "WriteMarkdown: leases")

	var svg bytes.Buffer
	require.NoError(t, rep.WriteSVG(&svg), "WriteSVG")
	assert.Contains(t, svg.String(), "this middleware&#39;s features", "WriteSVG")
	assert.Contains(t, svg.String(), ">oneway<", "WriteSVG")
}
