package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
)

// bin is the remoting binary the tests build and run as a user would.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "remoting-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "remoting")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build -o %s: %v\n%s", bin, err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// seen is what the server's interceptor saw of one call.
type seen struct {
	method string
	mode   remoting.Mode
	key    string
	meta   remoting.Metadata
}

// server is a server of internal/testservice's Echo on loopback: the
// object "echo", and Echo's keyed objects.
type server struct {
	addr string // tcp://host:port, or tls://
	mu   sync.Mutex
	seen []seen
}

func (s *server) calls() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.seen...)
}

func startServer(t *testing.T, opts invoker.Options, tlsConfig *tls.Config) *server {
	t.Helper()
	s := &server{}
	opts.Interceptors = []remoting.Interceptor{func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		s.mu.Lock()
		s.seen = append(s.seen, seen{method: inv.Method, mode: inv.Mode, key: inv.Target.Key, meta: remoting.MetadataFrom(ctx)})
		s.mu.Unlock()
		return next(ctx, inv)
	}}
	srv := invoker.NewServer(opts)
	_, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
	require.NoError(t, err)
	require.NoError(t, srv.Keyed(testservice.EchoInvoker(), lifecycle.Keyed(func(context.Context, string) (*keyedEcho, error) {
		return &keyedEcho{&testservice.Impl{}}, nil
	}, lifecycle.KeyedOptions{})))
	scheme := "tcp"
	if tlsConfig != nil {
		scheme = "tls"
	}
	lis, err := invoker.Listen(scheme+"://127.0.0.1:0", tlsConfig)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx), "Shutdown")
		<-served
	})
	s.addr = scheme + "://" + lis.Addr().String()
	return s
}

// keyedEcho is a keyed Echo whose state (the count) is not kept when it
// passivates.
type keyedEcho struct{ *testservice.Impl }

func (*keyedEcho) SaveState(context.Context) ([]byte, error)  { return nil, nil }
func (*keyedEcho) RestoreState(context.Context, []byte) error { return nil }

// cli runs the binary with args and returns its output and exit code.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run %s %q: %v", bin, args, err)
	}
	return out.String(), errOut.String(), code
}

func TestList(t *testing.T) {
	s := startServer(t, invoker.Options{}, nil)
	out, errOut, code := cli(t, "list", s.addr)
	require.Equal(t, exitOK, code, "list: %s", errOut)
	assert.Equal(t, "NAME     INTERFACE                                                  METHODS\n"+
		"echo     github.com/remoting-go/remoting/internal/testservice.Echo  Blob Count Echo Fail Panic Round Sleep\n"+
		"(keyed)  github.com/remoting-go/remoting/internal/testservice.Echo  Blob Count Echo Fail Panic Round Sleep\n", out, "list")

	out, errOut, code = cli(t, "list", "-json", s.addr)
	require.Equal(t, exitOK, code, "list -json: %s", errOut)
	var l wire.ListReply
	require.NoError(t, json.Unmarshal([]byte(out), &l), "list -json output: %s", out)
	require.Len(t, l.Objects, 1)
	assert.Equal(t, "echo", l.Objects[0].Name)
	assert.Equal(t, remoting.NameID("echo"), l.Objects[0].ID)
}

func TestDescribe(t *testing.T) {
	s := startServer(t, invoker.Options{}, nil)
	out, errOut, code := cli(t, "describe", s.addr, "echo")
	require.Equal(t, exitOK, code, "describe: %s", errOut)
	for _, want := range []string{
		"echo github.com/remoting-go/remoting/internal/testservice.Echo (id " + remoting.NameID("echo").String() + ")",
		"Blob(n int) ([]byte, error)\n    Blob returns n bytes.\n",
		"Count() (int64, error)\n",
		"Echo(s string) (string, error)\n    Echo returns its argument.\n",
		"Fail(code int, msg string) error\n",
		"Panic() error\n",
		"Round(p testservice.Payload) (testservice.Payload, error)\n",
		"Sleep(d time.Duration) error\n    Sleep returns after d or when ctx ends, with ctx's error.\n",
		"invocation modes: sync, oneway, syncwithserver, async",
	} {
		assert.Contains(t, out, want, "describe echo")
	}

	out, errOut, code = cli(t, "describe", s.addr, "echo.Round")
	require.Equal(t, exitOK, code, "describe echo.Round: %s", errOut)
	for _, want := range []string{
		"Round(p testservice.Payload) (testservice.Payload, error)\n    Round returns the payload it got.\n",
		"wire name Echo.Round",
		"arguments (a JSON object by name, or an array in this order):\n  p  testservice.Payload  object\n",
		"results (one is printed as itself, several as an object by name):\n  r0  testservice.Payload  object\n",
		"testservice.Payload: struct, a JSON object",
		"  Seq    int64           integer, 64 bits\n",
		"  When   time.Time       RFC 3339 string, \"2026-01-02T15:04:05+01:00\"\n",
		"  Data   []byte          base64 string, or null\n",
		"  Attrs  map[string]int  object, or null\n",
	} {
		assert.Contains(t, out, want, "describe echo.Round")
	}

	out, errOut, code = cli(t, "describe", s.addr, "testservice.Echo")
	require.Equal(t, exitOK, code, "describe of the keyed interface: %s", errOut)
	assert.Contains(t, out, "github.com/remoting-go/remoting/internal/testservice.Echo (keyed: call with -k <key>)")

	out, errOut, code = cli(t, "describe", "-json", s.addr, "echo")
	require.Equal(t, exitOK, code, "describe -json: %s", errOut)
	var d wire.Description
	require.NoError(t, json.Unmarshal([]byte(out), &d), "describe -json output")
	assert.Equal(t, *testservice.EchoInvoker().Description, d, "describe -json")
}

// TestCallEveryMethodInEveryMode calls each method of Echo in each mode
// and checks what is printed, the exit code, and that the server saw
// the call in that mode.
func TestCallEveryMethodInEveryMode(t *testing.T) {
	s := startServer(t, invoker.Options{}, nil)
	payload := `{"Name":"n","Seq":3,"Tags":["a"],"Attrs":{"k":2},"When":"2026-05-06T07:08:09.5+02:00","Data":"AQI="}`
	want := `{
  "Name": "n",
  "Seq": 3,
  "Tags": [
    "a"
  ],
  "Attrs": {
    "k": 2
  },
  "When": "2026-05-06T07:08:09.5+02:00",
  "Data": "AQI="
}
`
	methods := []struct {
		method, args string
		out          string // sync and async output; "" for none
		code         int    // sync and async exit code
		errOut       string // in standard error, sync and async
	}{
		{"Blob", `{"n": 3}`, "\"AAAA\"\n", exitOK, ""},
		{"Count", ``, "", exitOK, ""}, // a number, checked below
		{"Echo", `["héllo"]`, "\"héllo\"\n", exitOK, ""},
		{"Fail", `{"code": 0, "msg": "boom"}`, "", exitFailed, "remoting: Application: boom\n"},
		{"Panic", `{}`, "", exitFailed, "remoting: Internal: panic in Echo.Panic: deliberate panic\n"},
		{"Round", `{"p": ` + payload + `}`, want, exitOK, ""},
		{"Sleep", `{"d": "1ms"}`, "", exitOK, ""},
	}
	modes := []struct {
		name string
		mode remoting.Mode
	}{
		{"sync", remoting.ModeSync}, {"oneway", remoting.ModeOneway}, {"syncwithserver", remoting.ModeSyncWithServer}, {"async", remoting.ModeAsync},
	}
	count := 0
	for _, m := range modes {
		for _, tc := range methods {
			t.Run(m.name+"/"+tc.method, func(t *testing.T) {
				args := []string{"call", "-mode", m.name, s.addr, "echo." + tc.method}
				if tc.args != "" {
					args = append(args, tc.args)
				}
				out, errOut, code := cli(t, args...)
				switch m.mode {
				case remoting.ModeOneway, remoting.ModeSyncWithServer:
					assert.Equal(t, exitOK, code, "exit code; stderr %s", errOut)
					assert.Empty(t, out, "output")
					word := map[remoting.Mode]string{remoting.ModeOneway: "sent", remoting.ModeSyncWithServer: "accepted"}[m.mode]
					assert.Equal(t, m.name+": Echo."+tc.method+" "+word+"\n", errOut, "standard error")
				default:
					assert.Equal(t, tc.code, code, "exit code; stderr %s", errOut)
					assert.Equal(t, tc.errOut, errOut, "standard error")
					if tc.method == "Count" {
						count++
						assert.Regexp(t, `^[0-9]+\n$`, out, "output of Count")
					} else {
						assert.Equal(t, tc.out, out, "output")
					}
				}
				// The wire does not tell an async call from a sync one:
				// the caller decides how to wait for the reply.
				onServer := m.mode
				if onServer == remoting.ModeAsync {
					onServer = remoting.ModeSync
				}
				assert.Eventually(t, func() bool {
					for _, c := range s.calls() {
						if c.method == "Echo."+tc.method && c.mode == onServer {
							return true
						}
					}
					return false
				}, 5*time.Second, 5*time.Millisecond, "the server saw Echo.%s in mode %s", tc.method, m.name)
			})
		}
	}
	// Sync and async calls of Count, and the one-way and sync-with-server
	// ones, all ran on the one static instance.
	out, errOut, code := cli(t, "call", s.addr, "echo.Count")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "5\n", out, "Count after 4 calls of Count in 4 modes")
}

func TestCallKeyedAndMetadata(t *testing.T) {
	s := startServer(t, invoker.Options{}, nil)
	for i, key := range []string{"acct-1", "acct-1", "acct-2"} {
		out, errOut, code := cli(t, "call", "-k", key, "-H", "tenant=t1", "-H", "trace=x=y", s.addr, "testservice.Echo.Count")
		require.Equal(t, exitOK, code, "call -k %s: %s", key, errOut)
		assert.Equal(t, []string{"1\n", "2\n", "1\n"}[i], out, "Count of the keyed object %s", key)
	}
	out, errOut, code := cli(t, "call", "-key-of", "acct-1", s.addr, "github.com/remoting-go/remoting/internal/testservice.Echo.Echo", `{"s": "x"}`)
	require.Equal(t, exitOK, code, "call -key-of with the full interface name: %s", errOut)
	assert.Equal(t, "\"x\"\n", out)
	calls := s.calls()
	require.GreaterOrEqual(t, len(calls), 3)
	assert.Equal(t, seen{method: "Echo.Count", mode: remoting.ModeSync, key: "acct-1", meta: remoting.Metadata{"tenant": "t1", "trace": "x=y"}}, calls[0], "what the server saw")
}

func TestErrors(t *testing.T) {
	s := startServer(t, invoker.Options{}, nil)
	off := startServer(t, invoker.Options{DisableDescribe: true}, nil)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := lis.Addr().String()
	lis.Close()

	tests := []struct {
		name   string
		args   []string
		code   int
		errOut []string
	}{
		{"unknown object", []string{"call", s.addr, "nope.Echo", `{"s": "x"}`}, exitNotFound, []string{"remoting: NotFound:", `no object named "nope"`, "it names echo"}},
		{"unknown method", []string{"call", s.addr, "echo.Shout", `{}`}, exitNotFound, []string{"remoting: NotFound:", `has no method "Shout"`, "Blob, Count, Echo"}},
		{"unknown keyed interface", []string{"call", "-k", "1", s.addr, "Nope.Count"}, exitNotFound, []string{"NotFound", `no keyed interface "Nope"`}},
		{"describe unknown", []string{"describe", s.addr, "nope"}, exitNotFound, []string{"NotFound", `"nope"`}},
		{"bad JSON", []string{"call", s.addr, "echo.Echo", `{"s": `}, exitInvalid, []string{"remoting: InvalidArgument: arguments of Echo.Echo: invalid JSON"}},
		{"wrong type", []string{"call", s.addr, "echo.Blob", `{"n": "three"}`}, exitInvalid, []string{"InvalidArgument", "argument n: want an integer for int, got the string \"three\""}},
		{"overflow", []string{"call", s.addr, "echo.Blob", `{"n": 1e30}`}, exitInvalid, []string{"InvalidArgument", "argument n"}},
		{"unknown field", []string{"call", s.addr, "echo.Round", `{"p": {"Nmae": "x"}}`}, exitInvalid, []string{"InvalidArgument", `argument p: unknown field "Nmae" of testservice.Payload`}},
		{"missing argument", []string{"call", s.addr, "echo.Fail", `{"code": 1}`}, exitInvalid, []string{"InvalidArgument", "argument msg is missing"}},
		{"server down", []string{"call", down, "echo.Count"}, exitUnavailable, []string{"remoting: Unavailable:", "connection refused"}},
		{"describe off: list", []string{"list", off.addr}, exitDenied, []string{"remoting: PermissionDenied: remoting.List is turned off on this server"}},
		{"describe off: describe", []string{"describe", off.addr, "echo"}, exitDenied, []string{"PermissionDenied", "remoting.Describe is turned off"}},
		{"describe off: call", []string{"call", off.addr, "echo.Count"}, exitDenied, []string{"PermissionDenied"}},
		{"timeout", []string{"call", "-timeout", "300ms", s.addr, "echo.Sleep", `{"d": "10s"}`}, exitDeadline, []string{"remoting: DeadlineExceeded"}},
		{"method error in async mode", []string{"call", "-mode", "async", s.addr, "echo.Fail", `{"code": 5, "msg": "gone"}`}, exitNotFound, []string{"remoting: NotFound: gone"}},
		{"keyed interface without a key", []string{"call", s.addr, "testservice.Echo.Count"}, exitInvalid, []string{"InvalidArgument", "keyed objects: name the object with -k <key>"}},
		{"describe off: unknown object", []string{"call", off.addr, "nope.Count"}, exitNotFound, []string{"NotFound", `no object named "nope"`}},
		{"flag after the arguments", []string{"call", s.addr, "echo.Count", "-mode", "oneway"}, exitUsage, []string{"flag -mode after the arguments: flags go before the endpoint"}},
		{"bad key", []string{"call", "-k", strings.Repeat("k", 300), s.addr, "testservice.Echo.Count"}, exitInvalid, []string{"InvalidArgument"}},
		{"no command", nil, exitUsage, []string{"usage:"}},
		{"unknown command", []string{"cal"}, exitUsage, []string{`unknown command "cal"`}},
		{"missing endpoint", []string{"list"}, exitUsage, []string{"usage: remoting list [flags] <endpoint>"}},
		{"bad mode", []string{"call", "-mode", "later", s.addr, "echo.Count"}, exitUsage, []string{`-mode "later"`}},
		{"bad target", []string{"call", s.addr, "echo"}, exitUsage, []string{"want <name>.<Method>"}},
		{"bad endpoint", []string{"list", "udp://x:1"}, exitUsage, []string{"unknown network"}},
		{"bad metadata", []string{"call", "-H", "novalue", s.addr, "echo.Count"}, exitUsage, []string{"want key=value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := cli(t, tc.args...)
			assert.Equal(t, tc.code, code, "exit code of %q; stderr %s", tc.args, errOut)
			assert.Empty(t, out, "output of %q", tc.args)
			for _, w := range tc.errOut {
				assert.Contains(t, errOut, w, "stderr of %q", tc.args)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	cert, certPEM := selfSigned(t)
	s := startServer(t, invoker.Options{}, &tls.Config{Certificates: []tls.Certificate{cert}})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, certPEM, 0o600))
	tcpAddr := "tcp://" + strings.TrimPrefix(s.addr, "tls://")

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"tls endpoint, -cacert", []string{"call", "-cacert", ca, s.addr, "echo.Echo", `["s"]`}, exitOK},
		{"-tls with a tcp endpoint", []string{"call", "-tls", "-cacert", ca, tcpAddr, "echo.Echo", `["s"]`}, exitOK},
		{"-insecure", []string{"call", "-insecure", s.addr, "echo.Echo", `["s"]`}, exitOK},
		{"unknown authority", []string{"call", s.addr, "echo.Echo", `["s"]`}, exitUnavailable},
		{"plain tcp to a TLS server", []string{"call", "-timeout", "2s", tcpAddr, "echo.Echo", `["s"]`}, exitUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := cli(t, tc.args...)
			assert.Equal(t, tc.code, code, "exit code; stderr %s", errOut)
			if tc.code == exitOK {
				assert.Equal(t, "\"s\"\n", out)
			}
		})
	}
}

// selfSigned makes a certificate for 127.0.0.1 and returns it and its PEM.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "remoting test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
