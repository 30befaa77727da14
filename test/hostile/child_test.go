package hostile

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
)

// childEnv, set in the environment of this test binary run again, makes
// it a server process (see runChild) rather than a test run; its value is
// the file descriptor limit the server runs under.
const childEnv = "HOSTILE_CHILD_NOFILE"

// runChild lowers the file descriptor limit to the value of childEnv,
// serves the test service on loopback, writes the address to stdout, and
// runs until stdin ends. For each line "stats" on stdin it writes a line
// "<goroutines> <heap bytes> <connections>", the heap measured after two
// collections. If Serve returns before stdin ends, it says so on stdout
// and exits 1. The server logs warnings to stderr.
func runChild() int {
	n, err := strconv.ParseUint(os.Getenv(childEnv), 10, 64)
	if err != nil {
		fmt.Println("bad", childEnv, err)
		return 2
	}
	lim := syscall.Rlimit{Cur: n, Max: n}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		return 2
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		return 2
	}
	srv := invoker.NewServer(invoker.Options{HandshakeTimeout: time.Minute, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if _, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{})); err != nil {
		fmt.Println("register:", err)
		return 2
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	fmt.Println(lis.Addr())
	stdin := make(chan struct{})
	go func() {
		defer close(stdin)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if sc.Text() == "stats" {
				h := Heap()
				fmt.Println(runtime.NumGoroutine(), h, srv.Stats().Connections)
			}
		}
	}()
	select {
	case err := <-served:
		fmt.Println("serve returned:", err)
		return 1
	case <-stdin:
		srv.Close()
		return 0
	}
}

// child is a server process of runChild's.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout after the address
	Addr   string
	stderr *LogBuffer
}

// startChild runs this test binary as a server under a file descriptor
// limit of nofile; t.Cleanup ends it.
func startChild(t *testing.T, nofile int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(nofile))
	c := &child{cmd: cmd, stderr: &LogBuffer{}, lines: make(chan string, 16)}
	cmd.Stderr = c.stderr
	var err error
	c.stdin, err = cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stdin.Close()
		for range c.lines {
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatalf("child wrote no address; stderr: %s", c.stderr)
	}
	c.Addr = sc.Text()
	go func() {
		defer close(c.lines)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c
}

// stats asks the child for its goroutines, heap and connections.
func (c *child) stats(t *testing.T) (goroutines int, heap int64, conns int) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, "stats\n"); err != nil {
		t.Fatalf("asking the server process for stats: %v", err)
	}
	select {
	case line := <-c.lines:
		if _, err := fmt.Sscan(line, &goroutines, &heap, &conns); err != nil {
			t.Fatalf("server process said %q: %v", line, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no stats from the server process")
	}
	return goroutines, heap, conns
}
