// Command bench measures the remoting middleware against net/rpc, grpc
// and drpc and against bare TCP and yamux, and prints one markdown table
// per payload; then it measures the middleware's own features (lifecycle
// strategies, invocation modes, reactivation from bbolt, lease
// bookkeeping) and prints their tables.
//
// Usage:
//
//	go run ./cmd/bench [-rows regexp] [-payload struct,struct-4k,nested,order,small,4k,64k]
//	                   [-rounds 5] [-duration 1s] [-callers 1,16,64]
//	                   [-features=true] [-out file.md] [-svg file.svg]
//
// The peer rows are measured in interleaved rounds: in each round every
// row is started, measured with every payload and stopped, and each
// figure reported is the median over the rounds, with its spread.
// -rows selects peer rows and feature rows alike, by name. Progress goes
// to standard error, the tables to standard output (and to -out). The exit
// status is 1 if a row could not be measured.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/remoting-go/remoting/test/bench"
)

// The sizes of the reactivation and lease measurements.
const (
	reactivationObjects = 1000
	reactivationAfter   = 2 * time.Second
	leaseCount          = 100_000
)

func main() {
	rowsFlag := flag.String("rows", "", "regexp selecting rows by name; default all")
	payloadFlag := flag.String("payload", "struct,struct-4k,nested,order,small,4k,64k", "comma-separated payloads: struct, struct-4k, nested, order, small (100 B) or a size such as 4k or 512")
	rounds := flag.Int("rounds", 5, "interleaved rounds of the peer rows; each figure is the median over them")
	duration := flag.Duration("duration", time.Second, "length of each measurement")
	warmup := flag.Duration("warmup", 300*time.Millisecond, "calls made before a row is measured with a payload")
	callersFlag := flag.String("callers", "1,16,64", "comma-separated numbers of concurrent callers")
	out := flag.String("out", "", "also write the markdown to this file")
	svg := flag.String("svg", "", "write a bar chart of calls/s at 64 callers to this SVG file")
	window := flag.Uint("stream-window", 0, "the remoting row's stream window on both ends, in bytes (invoker and requestor Options.StreamWindow); default the middleware's")
	features := flag.Bool("features", true, "also measure the feature rows: lifecycle strategies, invocation modes, reactivation, leases")
	flag.Parse()

	if err := run(*rowsFlag, *payloadFlag, *callersFlag, *rounds, *duration, *warmup, uint32(*window), *features, *out, *svg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(rowsExpr, payloadList, callerList string, rounds int, duration, warmup time.Duration, window uint32, features bool, out, svg string) error {
	re, err := regexp.Compile(rowsExpr)
	if err != nil {
		return fmt.Errorf("-rows: %w", err)
	}
	var rows []bench.Row
	for _, r := range bench.Rows() {
		if rm, ok := r.Peer.(bench.Remoting); ok && window > 0 {
			rm.Server.StreamWindow, rm.Client.StreamWindow = window, window
			r.Peer = rm
		}
		if re.MatchString(r.Name) {
			rows = append(rows, r)
		}
	}
	var frows []bench.FeatureRow
	reactivation, leases := false, false
	if features {
		for _, r := range bench.FeatureRows() {
			if re.MatchString(r.Name) {
				frows = append(frows, r)
			}
		}
		reactivation, leases = re.MatchString(bench.ReactivationRow), re.MatchString(bench.LeasesRow)
	}
	if len(rows) == 0 && len(frows) == 0 && !reactivation && !leases {
		return fmt.Errorf("-rows %q matches no row", rowsExpr)
	}
	var payloads []bench.Payload
	for s := range strings.SplitSeq(payloadList, ",") {
		pl, err := bench.ParsePayload(s)
		if err != nil {
			return fmt.Errorf("-payload: %w", err)
		}
		payloads = append(payloads, pl)
	}
	var callers []int
	for s := range strings.SplitSeq(callerList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-callers: %q is not a positive number", s)
		}
		callers = append(callers, n)
	}

	rep := bench.Report{
		Machine: bench.Machine(),
		Config:  bench.Config{Callers: callers, Duration: duration, Warmup: warmup, Log: os.Stderr},
	}
	start := time.Now()
	if len(rows) > 0 {
		res, errs := bench.MeasureRounds(rows, payloads, rounds, rep.Config)
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		rep.Results, rep.Errors = res, errs
	}
	if len(frows) > 0 {
		res, err := bench.MeasureFeatures(frows, rep.Config)
		rep.Features = res
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			rep.Errors = append(rep.Errors, err)
		}
	}
	if reactivation {
		res, err := bench.MeasureReactivation(reactivationObjects, reactivationAfter)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			rep.Errors = append(rep.Errors, err)
		} else {
			rep.Reactivation = &res
			fmt.Fprintf(os.Stderr, "%-22s first call p50 %v, live p50 %v\n", bench.ReactivationRow, res.FirstP50, res.LiveP50)
		}
	}
	if leases {
		res, err := bench.MeasureLeases(leaseCount)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			rep.Errors = append(rep.Errors, err)
		} else {
			rep.Leases = &res
			fmt.Fprintf(os.Stderr, "%-22s %.0f B/lease, sweep of %d in %v\n", bench.LeasesRow, res.HeapPerLease, res.Leases, res.Sweep)
		}
	}
	fmt.Fprintf(os.Stderr, "measured in %v\n", time.Since(start).Round(time.Second))

	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		return err
	}
	os.Stdout.Write(md.Bytes())
	if out != "" {
		if err := os.WriteFile(out, md.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if svg != "" {
		var b bytes.Buffer
		if err := rep.WriteSVG(&b); err != nil {
			return err
		}
		if err := os.WriteFile(svg, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if len(rep.Errors) > 0 {
		return fmt.Errorf("%d measurements failed", len(rep.Errors))
	}
	return nil
}
