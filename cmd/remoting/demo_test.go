package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/internal/wire"
)

// catalogInterface is the wire name of examples/static's Catalog.
const catalogInterface = "github.com/remoting-go/remoting/examples/static.Catalog"

// demo is the examples/static server as a user runs it, with -serve: a
// child process that serves the catalog on loopback until SIGTERM.
type demo struct {
	addr   string // host:port, as a user types it
	cmd    *exec.Cmd
	out    bytes.Buffer  // its standard output and error; read once exited is closed
	exited chan struct{} // closed when the process has exited and err is set
	err    error         // of cmd.Wait
}

// startDemo builds examples/static, starts it serving on a free loopback
// port and returns once the port accepts connections. The process is
// killed at the end of the test if it still runs.
func startDemo(t *testing.T) *demo {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "static")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", exe, "github.com/remoting-go/remoting/examples/static")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build examples/static:\n%s", out)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &demo{addr: lis.Addr().String(), exited: make(chan struct{})}
	require.NoError(t, lis.Close())

	d.cmd = exec.Command(exe, "-serve", d.addr)
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.out
	require.NoError(t, d.cmd.Start(), "start the demo")
	go func() {
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
			return
		default:
		}
		d.cmd.Process.Kill()
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("the demo (pid %d) has not exited 10 s after SIGKILL", d.cmd.Process.Pid)
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-d.exited:
			t.Fatalf("the demo exited before it served: %v\n%s", d.err, d.out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", d.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo does not accept connections on %s after 10 s: %v", d.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop sends SIGTERM, as a user's supervisor would, and checks that the
// demo shuts down gracefully: it exits 0.
func (d *demo) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM), "SIGTERM")
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("the demo has not exited 15 s after SIGTERM")
	}
	out := d.out.String()
	assert.NoError(t, d.err, "exit status of the demo after SIGTERM; output:\n%s", out)
	assert.Equal(t, 0, d.cmd.ProcessState.ExitCode(), "exit code of the demo after SIGTERM")
	assert.Equal(t, "serving \"catalog\" on tcp://"+d.addr+"; Ctrl-C stops\n", out, "output of the demo")
}

// served is what Catalog.Served returns, as the command prints it.
type served struct {
	Calls int64     `json:"calls"`
	Since time.Time `json:"since"`
}

// fields matches a line of the words in fields, apart by any spaces, as
// the command's tables print them.
func fields(words ...string) *regexp.Regexp {
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(`(?m)^\s*` + strings.Join(words, `\s+`) + `\s*$`)
}

// TestDemo runs the command against examples/static as its package
// documentation tells a user to: it lists and describes the catalog,
// calls each method of Catalog in each mode, and stops the server with
// SIGTERM. The one instance counts every call it serves, Served
// included, so its count tells whether the server ran the one-way and
// sync-with-server calls, which print nothing.
func TestDemo(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the demo stops on SIGTERM, which Windows cannot send")
	}
	d := startDemo(t)
	addr := d.addr

	t.Run("list", func(t *testing.T) {
		out, errOut, code := cli(t, "list", addr)
		require.Equal(t, exitOK, code, "list: %s", errOut)
		assert.Regexp(t, fields("NAME", "INTERFACE", "METHODS"), out, "list")
		assert.Regexp(t, fields("catalog", catalogInterface, "Get", "Search", "Served"), out, "list")

		out, errOut, code = cli(t, "list", "-json", addr)
		require.Equal(t, exitOK, code, "list -json: %s", errOut)
		var l wire.ListReply
		require.NoError(t, json.Unmarshal([]byte(out), &l), "list -json output: %s", out)
		require.Len(t, l.Objects, 1, "objects")
		assert.Equal(t, "catalog", l.Objects[0].Name)
		assert.Equal(t, catalogInterface, l.Objects[0].Interface)
		assert.Equal(t, []string{"Get", "Search", "Served"}, l.Objects[0].Methods)
		assert.Empty(t, l.Keyed, "keyed interfaces")
	})

	t.Run("describe", func(t *testing.T) {
		out, errOut, code := cli(t, "describe", addr, "catalog")
		require.Equal(t, exitOK, code, "describe catalog: %s", errOut)
		for _, want := range []string{
			"catalog " + catalogInterface + " (id ",
			"Get(sku string) (main.Item, error)\n    Get returns the item sku names;",
			"Search(tag string, limit int) ([]main.Item, error)\n    Search returns up to limit items that have tag, by SKU.\n",
			"Served() (calls int64, since time.Time, err error)\n    Served returns how many calls",
			"invocation modes: sync, oneway, syncwithserver, async",
		} {
			assert.Contains(t, out, want, "describe catalog")
		}

		item := []*regexp.Regexp{
			regexp.MustCompile(`(?m)^main\.Item: struct, a JSON object`),
			fields("SKU", "string", "string"),
			fields("Name", "string", "string"),
			fields("Cents", "int64", "integer, 64 bits"),
			fields("Tags", "[]string", "array, or null"),
		}
		for _, tc := range []struct {
			method string
			want   []*regexp.Regexp
		}{
			{"Get", append([]*regexp.Regexp{
				fields("sku", "string", "string"),
				fields("r0", "main.Item", "object"),
			}, item...)},
			{"Search", append([]*regexp.Regexp{
				fields("tag", "string", "string"),
				fields("limit", "int", "integer, 64 bits"),
				fields("r0", "[]main.Item", "array, or null"),
			}, item...)},
			{"Served", []*regexp.Regexp{
				regexp.MustCompile(`(?m)^arguments .*:\n\s+none$`),
				fields("calls", "int64", "integer, 64 bits"),
				fields("since", "time.Time", `RFC 3339 string, "2026-01-02T15:04:05+01:00"`),
			}},
		} {
			out, errOut, code := cli(t, "describe", addr, "catalog."+tc.method)
			require.Equal(t, exitOK, code, "describe catalog.%s: %s", tc.method, errOut)
			assert.Contains(t, out, "wire name Catalog."+tc.method, "describe catalog.%s", tc.method)
			for _, re := range tc.want {
				assert.Regexp(t, re, out, "describe catalog.%s", tc.method)
			}
		}
	})

	// calls is how many calls of Catalog the tests have made; once the
	// server has run them all, Served returns it.
	var calls int64
	var since time.Time // when the instance was created, as Served says
	servedNow := func(t *testing.T) served {
		t.Helper()
		calls++
		out, errOut, code := cli(t, "call", addr, "catalog.Served")
		require.Equal(t, exitOK, code, "call catalog.Served: %s", errOut)
		var s served
		require.NoError(t, json.Unmarshal([]byte(out), &s), "output of Served: %s", out)
		return s
	}
	// ran waits until the server has run every call made so far.
	ran := func(t *testing.T) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			s := servedNow(t)
			require.LessOrEqual(t, s.Calls, calls, "the instance served more calls than were made")
			if s.Calls == calls {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 5 s the instance has served %d of %d calls", s.Calls, calls)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Run("call", func(t *testing.T) {
		sencha := `{"SKU": "tea-01", "Name": "Sencha", "Cents": 1250, "Tags": ["tea", "green"]}`
		assam := `{"SKU": "tea-02", "Name": "Assam", "Cents": 990, "Tags": ["tea", "black"]}`
		methods := []struct {
			method, args string
			out          string // the JSON that sync and async print; Served's is checked apart
		}{
			{"Get", `{"sku": "tea-01"}`, sencha},
			{"Search", `["tea", 5]`, `[` + sencha + `, ` + assam + `]`},
			{"Served", ``, ``},
		}
		for _, mode := range []string{"sync", "oneway", "syncwithserver", "async"} {
			for _, tc := range methods {
				t.Run(mode+"/"+tc.method, func(t *testing.T) {
					args := []string{"call", "-mode", mode, addr, "catalog." + tc.method}
					if tc.args != "" {
						args = append(args, tc.args)
					}
					calls++
					out, errOut, code := cli(t, args...)
					require.Equal(t, exitOK, code, "exit code; stderr %s", errOut)
					switch mode {
					case "oneway", "syncwithserver":
						assert.Empty(t, out, "output")
						word := map[string]string{"oneway": "sent", "syncwithserver": "accepted"}[mode]
						assert.Equal(t, mode+": Catalog."+tc.method+" "+word+"\n", errOut, "standard error")
						ran(t)
						return
					}
					assert.Empty(t, errOut, "standard error")
					if tc.method != "Served" {
						assert.JSONEq(t, tc.out, out, "output")
						return
					}
					var s served
					require.NoError(t, json.Unmarshal([]byte(out), &s), "output of Served: %s", out)
					// Every call before ran to its end before this one.
					assert.Equal(t, calls, s.Calls, "calls served")
					if since.IsZero() {
						since = s.Since
					}
					assert.True(t, since.Equal(s.Since), "since %v, before %v: the one instance serves every call", s.Since, since)
					assert.WithinDuration(t, time.Now(), s.Since, time.Minute, "since")
				})
			}
		}
	})

	t.Run("wrong type", func(t *testing.T) {
		out, errOut, code := cli(t, "call", addr, "catalog.Search", `{"tag": "tea", "limit": "five"}`)
		assert.Equal(t, exitInvalid, code, "exit code; stderr %s", errOut)
		assert.Empty(t, out, "output")
		assert.Contains(t, errOut, "remoting: InvalidArgument: arguments of Catalog.Search: argument limit: want an integer for int, got the string \"five\"")
		// Refused before it was sent: the instance did not count it.
		s := servedNow(t)
		assert.Equal(t, calls, s.Calls, "calls served after the refused one")
	})

	d.stop(t)
}
