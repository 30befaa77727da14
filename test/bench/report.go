package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// A Report is the outcome of a run: the results in row order within each
// payload, and the rows that could not be measured.
type Report struct {
	Machine string
	Config  Config
	Results []Result
	// Features, Reactivation and Leases are the feature measurements, if
	// they were made.
	Features     []FeatureResult
	Reactivation *ReactivationResult
	Leases       *LeaseResult
	Errors       []error
}

// Machine describes the machine and toolchain the figures were taken on.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs (GOMAXPROCS %d), %s, %s",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), cpuModel())
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// column is one figure of a table.
type column struct {
	header string
	value  func(Result) float64
	spread func(*Spread) [2]float64
	format func(float64) string
	lower  bool // lower is better
}

func columns(callers []int) []column {
	latency := func(header string, get func(Result) time.Duration, spread func(*Spread) [2]float64) column {
		return column{header: header, value: func(r Result) float64 { return float64(get(r)) }, spread: spread, format: formatDuration, lower: true}
	}
	cols := []column{
		latency("p25", func(r Result) time.Duration { return r.P25 }, func(s *Spread) [2]float64 { return s.P25 }),
		latency("p50", func(r Result) time.Duration { return r.P50 }, func(s *Spread) [2]float64 { return s.P50 }),
		latency("p75", func(r Result) time.Duration { return r.P75 }, func(s *Spread) [2]float64 { return s.P75 }),
		latency("p99", func(r Result) time.Duration { return r.P99 }, func(s *Spread) [2]float64 { return s.P99 }),
	}
	for _, n := range callers {
		cols = append(cols, column{
			header: fmt.Sprintf("calls/s ×%d", n),
			value:  func(r Result) float64 { return r.Throughput[n] },
			spread: func(s *Spread) [2]float64 { return s.Throughput[n] },
			format: formatRate,
		})
	}
	return append(cols,
		column{header: "allocs/call", value: func(r Result) float64 { return r.AllocsPerCall }, spread: func(s *Spread) [2]float64 { return s.AllocsPerCall }, format: formatCount, lower: true},
		column{header: "B/call", value: func(r Result) float64 { return r.BytesPerCall }, spread: func(s *Spread) [2]float64 { return s.BytesPerCall }, format: formatBytes, lower: true},
	)
}

// The rows that a table's ratios refer to.
const (
	RefNetRPC = "net/rpc"
	RefGRPC   = "grpc"
)

// payloads returns the payloads of the results, in order of appearance.
func (rep *Report) payloads() []Payload {
	var pls []Payload
	seen := make(map[string]bool)
	for _, r := range rep.Results {
		if !seen[r.Payload.Name] {
			seen[r.Payload.Name] = true
			pls = append(pls, r.Payload)
		}
	}
	return pls
}

func (rep *Report) resultsFor(pl Payload) []Result {
	var rs []Result
	for _, r := range rep.Results {
		if r.Payload.Name == pl.Name {
			rs = append(rs, r)
		}
	}
	return rs
}

// WriteMarkdown writes the machine line and one table per payload.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	cfg := rep.Config.withDefaults()
	b := new(strings.Builder)
	fmt.Fprintf(b, "Machine: %s.\n\n", rep.Machine)
	if len(rep.Results) > 0 {
		if rounds := rep.Results[0].Rounds; rounds > 1 {
			fmt.Fprintf(b, "Client and server in one process over loopback TCP; each figure is the median of %d rounds, and in each round every row was measured in turn, with a %v run per figure after a %v warmup. ", rounds, cfg.Duration, cfg.Warmup)
			fmt.Fprintf(b, "Cells: median ±half the range over the rounds, as a percentage of the median (ratio to %s / ratio to %s, medians of the same run). ", RefNetRPC, RefGRPC)
		} else {
			fmt.Fprintf(b, "Client and server in one process over loopback TCP; each figure from a %v run after a %v warmup. ", cfg.Duration, cfg.Warmup)
			fmt.Fprintf(b, "Cells: figure (ratio to %s / ratio to %s). ", RefNetRPC, RefGRPC)
		}
		fmt.Fprintf(b, "A ratio is the row's figure divided by the reference's: below 1 is better for latency and allocations, above 1 is better for calls/s. ")
		fmt.Fprintf(b, "Struct payloads are the same Go types on every row (CBOR on remoting, grpc and drpc, gob on net/rpc); the floors, which have no codec, echo as many bytes as the struct's CBOR encoding.\n")
	}

	cols := columns(cfg.Callers)
	for _, pl := range rep.payloads() {
		rs := rep.resultsFor(pl)
		switch pl.Shape {
		case ShapeRecord:
			fmt.Fprintf(b, "\n### %s: one Record (strings, numbers, a time, three tags), %d B of CBOR each way\n\n", pl.Name, pl.Size)
		case ShapeBlob:
			fmt.Fprintf(b, "\n### %s: a Blob (id, time, 4 KiB of bytes), %d B of CBOR each way\n\n", pl.Name, pl.Size)
		case ShapeBatch:
			fmt.Fprintf(b, "\n### %s: a Batch of %d Records, %d B of CBOR each way\n\n", pl.Name, batchLen, pl.Size)
		case ShapeOrder:
			fmt.Fprintf(b, "\n### %s: an Order (json tags, omitted empty fields, a pointer, a map, three Lines), %d B of CBOR each way\n\n", pl.Name, pl.Size)
		default:
			fmt.Fprintf(b, "\n### %s: %d B each way\n\n", pl.Name, pl.Size)
		}
		b.WriteString("| row |")
		for _, c := range cols {
			fmt.Fprintf(b, " %s |", c.header)
		}
		b.WriteString("\n|---|")
		for range cols {
			b.WriteString("---:|")
		}
		b.WriteString("\n")

		for _, r := range rs {
			fmt.Fprintf(b, "| %s |", r.Row.Name)
			for _, c := range cols {
				v := c.value(r)
				spread := ""
				if r.Spread != nil && v != 0 {
					lohi := c.spread(r.Spread)
					spread = fmt.Sprintf(" ±%.0f%%", (lohi[1]-lohi[0])/2/v*100)
				}
				fmt.Fprintf(b, " %s%s (%s / %s) |", c.format(v), spread, formatRatio(v, reference(rs, RefNetRPC, c)), formatRatio(v, reference(rs, RefGRPC, c)))
			}
			b.WriteString("\n")
		}
		for _, r := range rs {
			if r.Leaked > 0 {
				fmt.Fprintf(b, "\n%s left %d goroutines running after it was stopped.\n", r.Row.Name, r.Leaked)
			}
		}
	}
	rep.writeFeatures(b, cfg)
	if len(rep.Errors) > 0 {
		b.WriteString("\nNot measured:\n\n")
		for _, err := range rep.Errors {
			fmt.Fprintf(b, "- %v\n", err)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// reference returns the figure of column c in the row named name, 0 if
// there is no such row.
func reference(rs []Result, name string, c column) float64 {
	for _, r := range rs {
		if r.Row.Name == name {
			return c.value(r)
		}
	}
	return 0
}

func formatRatio(v, ref float64) string {
	if ref == 0 {
		return "–"
	}
	r := v / ref
	switch {
	case r < 10:
		return fmt.Sprintf("%.2f", r)
	case r < 100:
		return fmt.Sprintf("%.1f", r)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}

// formatDuration prints three significant digits.
func formatDuration(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return sig3(ns/1e3) + "µs"
	case d < time.Second:
		return sig3(ns/1e6) + "ms"
	default:
		return sig3(ns/1e9) + "s"
	}
}

func formatRate(v float64) string {
	switch {
	case v >= 1e6:
		return sig3(v/1e6) + "M"
	case v >= 1e3:
		return sig3(v/1e3) + "k"
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func formatCount(v float64) string { return fmt.Sprintf("%.1f", v) }

func formatBytes(v float64) string {
	if v >= 10e3 {
		return sig3(v/1e3) + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

func sig3(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// chartCallers is the number of callers the SVG chart shows.
const chartCallers = 64

// nearest returns the number of callers in ns closest to chartCallers.
func nearest(ns []int) int {
	n := ns[0]
	for _, c := range ns {
		if abs(c-chartCallers) < abs(n-chartCallers) {
			n = c
		}
	}
	return n
}

// A chartPanel is one titled group of bars; each panel's longest bar is
// its own top value.
type chartPanel struct {
	title string
	bars  []chartBar
}

type chartBar struct {
	name  string
	value float64
	kind  Kind
}

// WriteSVG writes a bar chart of calls per second at 64 callers (or the
// nearest number measured), one panel per payload, and one for the
// feature rows if they were measured.
func (rep *Report) WriteSVG(w io.Writer) error {
	cfg := rep.Config.withDefaults()
	var panels []chartPanel
	n := nearest(cfg.Callers)
	for _, pl := range rep.payloads() {
		p := chartPanel{title: fmt.Sprintf("calls/s with %d callers, %s payload (%d B each way)", n, pl.Name, pl.Size)}
		for _, r := range rep.resultsFor(pl) {
			p.bars = append(p.bars, chartBar{name: r.Row.Name, value: r.Throughput[n], kind: r.Row.Kind})
		}
		panels = append(panels, p)
	}
	if len(rep.Features) > 0 {
		fn := nearest(cfg.FeatureCallers)
		p := chartPanel{title: fmt.Sprintf("calls/s with %d callers, this middleware's features, %s payload", fn, Small.Name)}
		for _, r := range rep.Features {
			p.bars = append(p.bars, chartBar{name: r.Row.Name, value: r.Throughput[fn], kind: KindSubject})
		}
		panels = append(panels, p)
	}

	const (
		width  = 760
		label  = 190 // width of the row-name column
		barMax = 440
		rowH   = 24
		barH   = 16
		titleH = 34
		gap    = 18
	)
	height := gap + rowH // the legend
	for _, p := range panels {
		height += titleH + rowH*len(p.bars) + gap
	}

	b := new(strings.Builder)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	y := gap
	for _, p := range panels {
		top := 0.0
		for _, bar := range p.bars {
			top = max(top, bar.value)
		}
		fmt.Fprintf(b, `<text x="10" y="%d" font-weight="bold" font-size="15">%s</text>`+"\n", y+18, escape(p.title))
		y += titleH
		for _, bar := range p.bars {
			bw := 0.0
			if top > 0 {
				bw = bar.value / top * barMax
			}
			fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", label-8, y+barH-3, escape(bar.name))
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", label, y, bw, barH, kindColor(bar.kind))
			fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(label)+bw+6, y+barH-3, formatRate(bar.value))
			y += rowH
		}
		y += gap
	}
	x := 10
	for _, k := range []Kind{KindSubject, KindPeer, KindFloor, KindDesign} {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", x, y, kindColor(k))
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x+17, y+11, kindLegend(k))
		x += 17 + 8*len(kindLegend(k)) + 20
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func kindColor(k Kind) string {
	switch k {
	case KindSubject:
		return "#2b6cb0"
	case KindPeer:
		return "#8a8f98"
	case KindFloor:
		return "#68a96b"
	default:
		return "#d19a66"
	}
}

func kindLegend(k Kind) string {
	switch k {
	case KindSubject:
		return "this middleware"
	case KindPeer:
		return "peers"
	case KindFloor:
		return "floors"
	default:
		return "design avoided"
	}
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
