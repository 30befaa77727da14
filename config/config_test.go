package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeFile writes content to name in dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

const fullYAML = `
listen: tcp://127.0.0.1:7000
limits:
  max_frame_size: 1048576
  max_concurrent_calls: 64
types:
  render:
    pool: {min: 1, max: 8}
  cart:
    lease_ttl: 30s
    passivate_after: 5m
    store_path: /tmp/cart.db
interceptors:
  client: [logging, metrics]
  server: [logging, metrics, auth]
admin:
  enabled: true
  token: s3cret
  public_health: true
`

const fullTOML = `
listen = "tcp://127.0.0.1:7000"
[limits]
max_frame_size = 1048576
max_concurrent_calls = 64
[types.render.pool]
min = 1
max = 8
[types.cart]
lease_ttl = "30s"
passivate_after = "5m"
store_path = "/tmp/cart.db"
[interceptors]
client = ["logging", "metrics"]
server = ["logging", "metrics", "auth"]
[admin]
enabled = true
token = "s3cret"
public_health = true
`

func wantFull() *config.Config {
	return &config.Config{
		Listen: "tcp://127.0.0.1:7000",
		Limits: config.Limits{MaxFrameSize: 1 << 20, MaxConcurrentCalls: 64},
		Types: map[string]config.TypePolicy{
			"render": {Pool: config.PoolPolicy{Min: 1, Max: 8}},
			"cart":   {LeaseTTL: 30 * time.Second, PassivateAfter: 5 * time.Minute, StorePath: "/tmp/cart.db"},
		},
		Interceptors: config.Interceptors{Client: []string{"logging", "metrics"}, Server: []string{"logging", "metrics", "auth"}},
		Admin:        config.Admin{Enabled: true, Token: "s3cret", PublicHealth: true},
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, file, content string }{
		{"yaml", "svc.yaml", fullYAML},
		{"toml", "svc.toml", fullTOML},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(config.Source{File: writeFile(t, dir, tc.file, tc.content), EnvPrefix: "-"})
			require.NoError(t, err, "Load")
			assert.Equal(t, wantFull(), c)
			p, ok := c.Policy("Render")
			assert.True(t, ok, "Policy matches without regard to case")
			assert.Equal(t, 8, p.Pool.Max)
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(config.Source{EnvPrefix: "-"})
	require.NoError(t, err)
	assert.Equal(t, &config.Config{
		Listen:       "tcp://127.0.0.1:0",
		Types:        map[string]config.TypePolicy{},
		Interceptors: config.Interceptors{Client: []string{}, Server: []string{}},
	}, c, "defaults without a file")
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "svc.yaml", fullYAML)
	t.Setenv("REMOTING_LISTEN", "tcp://127.0.0.1:7001")
	t.Setenv("REMOTING_LIMITS_MAX_CONCURRENT_CALLS", "32")
	t.Setenv("REMOTING_INTERCEPTORS_SERVER", "metrics,auth")
	t.Setenv("REMOTING_ADMIN_TOKEN", "from-env")

	c, err := config.Load(config.Source{File: file})
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.1:7001", c.Listen, "environment over file")
	assert.Equal(t, 32, c.Limits.MaxConcurrentCalls, "environment over file")
	assert.Equal(t, 1<<20, c.Limits.MaxFrameSize, "file where the environment is silent")
	assert.Equal(t, []string{"metrics", "auth"}, c.Interceptors.Server, "a list from the environment")
	assert.Equal(t, "from-env", c.Admin.Token)

	fs := pflag.NewFlagSet("svc", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--config", file, "--listen", "tcp://127.0.0.1:7002", "--server-interceptors", "logging", "--admin=false"}))
	c, err = config.Load(config.Source{Flags: fs})
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.1:7002", c.Listen, "flag over environment")
	assert.Equal(t, []string{"logging"}, c.Interceptors.Server, "flag over environment")
	assert.False(t, c.Admin.Enabled, "flag over file")
	assert.Equal(t, 32, c.Limits.MaxConcurrentCalls, "a flag that was not set does not override")
	assert.Equal(t, 8, c.Types["render"].Pool.Max, "the file named by --config")

	c, err = config.Load(config.Source{File: file, EnvPrefix: "-"})
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.1:7000", c.Listen, `EnvPrefix "-" reads no environment`)
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          []string // substrings of the error
	}{
		{"does not parse", "listen: [", []string{"config: read"}},
		{"unknown key", "listen: tcp://127.0.0.1:1\nlimts: {max_frame_size: 1}\n", []string{"limts"}},
		{"wrong type", "limits: {max_frame_size: lots}\n", []string{"max_frame_size"}},
		{"bad duration", "types: {cart: {lease_ttl: soon}}\n", []string{"lease_ttl"}},
		{"every problem at once", `
listen: "udp://x"
limits: {max_frame_size: -1, max_concurrent_calls: -2}
tls: {cert_file: /nonexistent/cert.pem}
types:
  render: {pool: {min: 5, max: 2}}
  cart: {lease_ttl: -1s, store_path: /tmp/x.db}
  idle: {pool: {min: 3}}
interceptors: {server: [logging, logging, ""]}
admin: {enabled: true, addr: "0.0.0.0:9000"}
`, []string{
			`listen: endpoint "udp://x": unknown network "udp"`,
			"limits.max_frame_size: -1 is negative",
			"limits.max_concurrent_calls: -2 is negative",
			"tls: cert_file and key_file go together; one is missing",
			"types.render.pool: min 5 is above max 2",
			"types.cart.lease_ttl: -1s is negative",
			"types.cart.store_path: is set but passivate_after is not",
			"types.idle.pool: min 3 needs a max",
			`interceptors.server: "logging" appears twice`,
			"interceptors.server: name 3 is empty",
			`admin: addr "0.0.0.0:9000" is not a loopback address: set admin.token`,
		}},
		{"tls endpoint without certificate", "listen: tls://127.0.0.1:1\n", []string{"tls: listen \"tls://127.0.0.1:1\" needs tls.cert_file and tls.key_file"}},
		{"certificate without tls endpoint", "tls: {cert_file: a, key_file: b}\n", []string{"is not a tls:// endpoint", "tls.cert_file: stat a"}},
		{"bad admin address", "admin: {enabled: true, addr: nowhere}\n", []string{"admin.addr: address nowhere: missing port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml", tc.content)
			_, err := config.Load(config.Source{File: file, EnvPrefix: "-"})
			require.Error(t, err, "Load")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w, "Load error")
			}
		})
	}
}

func TestValidateAcceptsAdminOffLoopbackWithToken(t *testing.T) {
	c := wantFull()
	c.Admin.Addr = "0.0.0.0:9000"
	assert.NoError(t, c.Validate(), "a token makes a public admin address acceptable")
	c.Admin.Token = ""
	c.Admin.Enabled = false
	assert.NoError(t, c.Validate(), "a disabled admin endpoint is not checked")
}

func TestClone(t *testing.T) {
	c := wantFull()
	d := c.Clone()
	d.Types["render"] = config.TypePolicy{}
	d.Interceptors.Server[0] = "x"
	assert.Equal(t, wantFull(), c, "the original after changing the clone")
}
