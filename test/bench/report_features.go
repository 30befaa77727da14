package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// writeFeatures writes the tables of the feature measurements that were
// made.
func (rep *Report) writeFeatures(b *strings.Builder, cfg Config) {
	if len(rep.Features) > 0 {
		rep.writeFeatureTable(b, cfg)
	}
	if r := rep.Reactivation; r != nil {
		fmt.Fprintf(b, "\n### Reactivation from bbolt\n\n")
		fmt.Fprintf(b, "%s client-dependent objects, each made by a remote factory with a lease and passivated to a bbolt file after %v idle (state %d B each), then called twice in a row, one object after the other: ",
			formatInt(r.Objects), r.After, r.StateBytes)
		fmt.Fprintf(b, "the first call reactivates the object (the store's read, decoding, the constructor, RestoreState), the second finds it live. Cells: latency (ratio to the live call).\n\n")
		b.WriteString("| call | p50 | p99 |\n|---|---:|---:|\n")
		fmt.Fprintf(b, "| first call, reactivates | %s (%s) | %s (%s) |\n",
			formatDuration(float64(r.FirstP50)), formatRatio(float64(r.FirstP50), float64(r.LiveP50)),
			formatDuration(float64(r.FirstP99)), formatRatio(float64(r.FirstP99), float64(r.LiveP99)))
		fmt.Fprintf(b, "| second call, live | %s (1.00) | %s (1.00) |\n", formatDuration(float64(r.LiveP50)), formatDuration(float64(r.LiveP99)))
	}
	if l := rep.Leases; l != nil {
		fmt.Fprintf(b, "\n### Lease bookkeeping\n\n")
		fmt.Fprintf(b, "A lease.Manager alone, with %s live leases of one owner: %s B of heap per lease, %s per Grant. ",
			formatInt(l.Leases), strconv.FormatFloat(l.HeapPerLease, 'f', 0, 64), formatDuration(float64(l.Grant)))
		fmt.Fprintf(b, "When all of them come due together, the sweep that ends them takes %s (%s per lease, OnEnd calls included). ",
			formatDuration(float64(l.Sweep)), formatDuration(float64(l.Sweep)/float64(max(l.Leases, 1))))
		b.WriteString("Leases that are not due cost no sweeping: the sweeper sleeps until the earliest deadline.\n")
	}
}

func (rep *Report) writeFeatureTable(b *strings.Builder, cfg Config) {
	fmt.Fprintf(b, "\n### Features: lifecycle strategies and invocation modes, %s payload\n\n", Small.Name)
	fmt.Fprintf(b, "The same echo call on one server and one connection; each figure from a %v run after a %v warmup. ", cfg.Duration, cfg.Warmup)
	fmt.Fprintf(b, "Cells: calls/s (ratio to %s in this run; above 1 is better). A call counts once the server has run it, also for the modes that return earlier.\n\n", FeatureRef)
	b.WriteString("| row | what it is |")
	for _, n := range cfg.FeatureCallers {
		fmt.Fprintf(b, " calls/s ×%d |", n)
	}
	b.WriteString(" goal | met |\n|---|---|")
	for range cfg.FeatureCallers {
		b.WriteString("---:|")
	}
	b.WriteString("---|---|\n")

	ref := rep.Features[0].Throughput
	for _, r := range rep.Features {
		if r.Row.Name == FeatureRef {
			ref = r.Throughput
		}
	}
	for _, r := range rep.Features {
		fmt.Fprintf(b, "| %s | %s |", r.Row.Name, r.Row.What)
		var missed []string
		for _, n := range cfg.FeatureCallers {
			v := r.Throughput[n]
			fmt.Fprintf(b, " %s (%s) |", formatRate(v), formatRatio(v, ref[n]))
			if g := r.Row.Goal; g != nil && ref[n] > 0 && v/ref[n] < g.Min {
				missed = append(missed, fmt.Sprintf("%s at ×%d", formatRatio(v, ref[n]), n))
			}
		}
		switch {
		case r.Row.Name == FeatureRef:
			b.WriteString(" reference | |\n")
		case r.Row.Goal == nil:
			b.WriteString(" | |\n")
		case len(missed) == 0:
			fmt.Fprintf(b, " %s | yes |\n", r.Row.Goal.Text)
		default:
			fmt.Fprintf(b, " %s | no: %s |\n", r.Row.Goal.Text, strings.Join(missed, ", "))
		}
	}
}

// formatInt writes n with thousands separated by commas.
func formatInt(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
