// Command patterns runs every pattern demo program under examples/, one
// after another, each a real server and client on loopback, and prints a
// short report per pattern. It needs nothing but the Go toolchain that runs
// it:
//
//	go run ./cmd/patterns            # all demos
//	go run ./cmd/patterns -run lease # demos whose name matches a regexp
//	go run ./cmd/patterns -v         # with each demo's full output
//
// It builds the demos once (go build), then runs each binary with a
// timeout. The exit status is non-zero if any demo failed.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// examplesPattern names the demo packages by import path, so that the
// command works from any directory inside the module.
const examplesPattern = "github.com/remoting-go/remoting/examples/..."

// order puts the demos in the order a reader meets the patterns; demos not
// listed follow alphabetically.
var order = []string{
	"static", "lazy", "perrequest", "pooling", "leasing", "passivation", "accounts", "cluster",
	"oneway", "syncwithserver", "pollobject", "resultcallback", "pubsub",
	"interceptors", "reconfigure", "adaptivepool", "tracing",
}

func main() {
	run := flag.String("run", "", "run only demos whose name matches this regexp")
	verbose := flag.Bool("v", false, "print every line of each demo's output")
	timeout := flag.Duration("timeout", 2*time.Minute, "time limit per demo")
	flag.Parse()
	if err := runAll(os.Stdout, *run, *verbose, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "patterns:", err)
		os.Exit(1)
	}
}

// demo is one example program.
type demo struct {
	name, importPath, binary string
}

func runAll(out io.Writer, filter string, verbose bool, timeout time.Duration) error {
	re, err := regexp.Compile(filter)
	if err != nil {
		return fmt.Errorf("-run: %w", err)
	}
	demos, err := listDemos(re)
	if err != nil {
		return err
	}
	if len(demos) == 0 {
		return fmt.Errorf("no demo matches %q", filter)
	}
	dir, err := os.MkdirTemp("", "remoting-patterns-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := build(dir, demos); err != nil {
		return err
	}

	fmt.Fprintf(out, "Running %d pattern demos (server and client on loopback each)\n\n", len(demos))
	var failed []string
	for _, d := range demos {
		start := time.Now()
		output, err := runDemo(d, timeout)
		status := "ok"
		if err != nil {
			status = "FAIL: " + err.Error()
			failed = append(failed, d.name)
		}
		fmt.Fprintf(out, "== %s (%s) %s\n", d.name, time.Since(start).Round(time.Millisecond), status)
		lines := strings.Split(strings.TrimRight(string(output), "\n"), "\n")
		if !verbose && err == nil && len(lines) > 12 {
			omitted := len(lines) - 12
			lines = append(lines[:12:12], fmt.Sprintf("... %d more lines (-v shows them)", omitted))
		}
		for _, l := range lines {
			fmt.Fprintf(out, "   %s\n", l)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", len(demos)-len(failed), len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// listDemos finds the main packages under examples/.
func listDemos(re *regexp.Regexp) ([]demo, error) {
	cmd := exec.Command(goTool(), "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, examplesPattern)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %v\n%s", examplesPattern, err, stderr.String())
	}
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i
	}
	var demos []demo
	for _, p := range strings.Fields(string(outb)) {
		name := path.Base(p)
		if re.MatchString(name) {
			demos = append(demos, demo{name: name, importPath: p})
		}
	}
	sort.Slice(demos, func(i, j int) bool {
		ri, iok := rank[demos[i].name]
		rj, jok := rank[demos[j].name]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return demos[i].name < demos[j].name
	})
	return demos, nil
}

// build compiles every demo into dir in one go build.
func build(dir string, demos []demo) error {
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for i := range demos {
		args = append(args, demos[i].importPath)
		demos[i].binary = filepath.Join(dir, demos[i].name)
	}
	cmd := exec.Command(goTool(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, stderr.String())
	}
	return nil
}

func runDemo(d demo, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.binary)
	cmd.WaitDelay = time.Second
	output, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return output, fmt.Errorf("timed out after %v", timeout)
	}
	return output, err
}
