package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisOptions configure [StartRedis]. The zero value is a server with
// snapshots (RDB) only, Redis's own default.
type RedisOptions struct {
	// AppendFsync turns on the append-only file with this fsync policy:
	// "always", "everysec" or "no". Empty: no append-only file, and the
	// data is kept by RDB snapshots at Redis's default intervals.
	AppendFsync string
}

// Redis is a Redis server that a test started, with its data in a
// temporary directory, listening on a loopback port.
type Redis struct {
	bin  string
	dir  string
	port int
	opts RedisOptions
	proc *process
}

// StartRedis starts redis-server in a new temporary directory. t.Cleanup
// stops the server and removes the directory.
func StartRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server", "redis-server")
	}
	switch opts.AppendFsync {
	case "", "always", "everysec", "no":
	default:
		t.Fatalf("redis: appendfsync %q: want always, everysec or no", opts.AppendFsync)
	}
	r := &Redis{bin: bin, dir: t.TempDir(), port: freePort(t), opts: opts}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("redis: stop: %v", err)
		}
	})
	r.Start(t)
	return r
}

// Addr returns the server's address, 127.0.0.1:port.
func (r *Redis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *Redis) log() string { return filepath.Join(r.dir, "server.log") }

// Start starts the server on its port and directory, and waits until it
// answers PING (after loading its data). It fails the test if the server
// is running already or does not get ready within 30 seconds.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if r.proc != nil {
		t.Fatal("redis: Start: the server is running")
	}
	args := []string{
		"--port", itoa(r.port),
		"--bind", "127.0.0.1",
		"--dir", r.dir,
		"--daemonize", "no",
		"--protected-mode", "no",
		"--logfile", "", // to stdout, which goes to the log
	}
	if r.opts.AppendFsync != "" {
		args = append(args, "--appendonly", "yes", "--appendfsync", r.opts.AppendFsync, "--save", "")
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.dir
	proc, err := start(cmd, r.log())
	if err != nil {
		t.Fatalf("redis: start: %v", err)
	}
	r.proc = proc
	if err := proc.waitReady(r.ping); err != nil {
		t.Fatalf("redis: %v\nserver log:\n%s", err, logTail(r.log()))
	}
}

// ping sends PING and wants PONG; a server that is loading its data
// answers -LOADING instead.
func (r *Redis) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("PING: %s", line)
	}
	return nil
}

// Crash kills the server with SIGKILL: it writes nothing more, and what
// the next Start finds is what had reached the files (or, for what the
// kernel had not written yet, its page cache).
func (r *Redis) Crash(t testing.TB) {
	t.Helper()
	if r.proc == nil {
		t.Fatal("redis: the server is not running")
	}
	err := r.proc.stop(syscall.SIGKILL)
	r.proc = nil
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
}

// Stop stops the server (SIGTERM, after which Redis saves its data) if it
// is running.
func (r *Redis) Stop() error {
	if r.proc == nil {
		return nil
	}
	err := r.proc.stop(syscall.SIGTERM)
	r.proc = nil
	if err != nil {
		return fmt.Errorf("%w\nserver log:\n%s", err, logTail(r.log()))
	}
	return nil
}

// Dir returns the directory of the server's data files.
func (r *Redis) Dir() string { return r.dir }
