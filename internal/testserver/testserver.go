// Package testserver starts real database servers for tests: PostgreSQL
// and Redis, from the binaries that the Debian packages postgresql and
// redis-server install, each in a temporary directory of its own and on a
// free loopback port. A test gets a server with [StartPostgres] or
// [StartRedis]; t.Cleanup stops it and removes its directory.
//
// Where a binary is missing, the test is skipped with a message that names
// the Debian package to install, unless the environment variable
// REMOTING_REQUIRE_SERVERS is 1 (as it is in CI): then the test fails.
//
// A server can be stopped abruptly ([Postgres.Crash], [Redis.Crash]) and
// started again on the same port and data ([Postgres.Start],
// [Redis.Start]), for tests of what a store does during an outage.
//
// # Goroutines
//
// Each running server is a child process; the package starts one
// goroutine per process that waits for it to exit, and stopping the server
// waits for that goroutine.
package testserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable under which a missing server
// binary fails the test instead of skipping it.
const RequireEnv = "REMOTING_REQUIRE_SERVERS"

// Bounds of the waits for a server.
const (
	// readyTimeout bounds the wait for a server to accept connections,
	// crash recovery included.
	readyTimeout = 30 * time.Second
	// stopTimeout bounds the wait for a server to exit after a signal,
	// after which it is killed.
	stopTimeout = 10 * time.Second
	// pollInterval is how often readiness is checked.
	pollInterval = 20 * time.Millisecond
)

// missing skips or fails t because the program name, from the Debian
// package pkg, is not installed.
func missing(t testing.TB, name, pkg string) {
	t.Helper()
	msg := fmt.Sprintf("%s not found: install the Debian package %s (apt-get install %s)", name, pkg, pkg)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s; %s=1 makes this a failure", msg, RequireEnv)
	}
	t.Skip(msg)
}

// freePort returns a loopback TCP port that nothing listens on at the
// moment.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// process is a running server process.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // the exit status, set before exited is closed
}

// start starts cmd with its output appended to logPath.
func start(cmd *exec.Cmd, logPath string) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Should the test binary die without cleaning up, take the server
	// with it rather than leave it running.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends sig and waits for the process to exit, killing it if it has
// not within stopTimeout.
func (p *process) stop(sig os.Signal) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not exit within %v of %v; killed", filepath.Base(p.cmd.Path), stopTimeout, sig)
	}
}

// waitReady calls ready until it returns nil, the process exits, or
// readyTimeout passes.
func (p *process) waitReady(ready func() error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before it was ready (%v): last check: %v", p.err, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", readyTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// logTail returns the last few KiB of the log at path, for failure
// messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const n = 4 << 10
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }
