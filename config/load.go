package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Source says where [Load] reads the configuration from. Later sources
// override earlier ones: defaults, then File, then the environment, then
// the flags that were set on the command line.
type Source struct {
	// File is the configuration file; its extension (.yaml, .yml,
	// .toml, .json) says its format. Empty: no file, unless Flags has a
	// "config" flag that was set.
	File string
	// EnvPrefix is the prefix of the environment variables read, the key
	// in upper case with "_" for each level: REMOTING_LISTEN,
	// REMOTING_LIMITS_MAX_FRAME_SIZE, REMOTING_ADMIN_TOKEN,
	// REMOTING_INTERCEPTORS_SERVER="logging,metrics". Per-type policies
	// are read from the file only. Default "REMOTING"; "-" reads no
	// environment.
	EnvPrefix string
	// Flags, if set, is a command line's flag set; the flags that
	// [RegisterFlags] defined and the command line set override the
	// other sources.
	Flags *pflag.FlagSet
}

// flagKeys maps the flags RegisterFlags defines to their keys.
var flagKeys = map[string]string{
	"listen":               "listen",
	"max-frame-size":       "limits.max_frame_size",
	"max-concurrent-calls": "limits.max_concurrent_calls",
	"tls-cert":             "tls.cert_file",
	"tls-key":              "tls.key_file",
	"client-interceptors":  "interceptors.client",
	"server-interceptors":  "interceptors.server",
	"admin":                "admin.enabled",
	"admin-addr":           "admin.addr",
	"admin-token":          "admin.token",
}

// defaults are the default of every key that has one, so that the
// environment can set each of them.
func setDefaults(v *viper.Viper) {
	v.SetDefault("listen", "tcp://127.0.0.1:0")
	v.SetDefault("limits.max_frame_size", 0)
	v.SetDefault("limits.max_concurrent_calls", 0)
	v.SetDefault("tls.cert_file", "")
	v.SetDefault("tls.key_file", "")
	v.SetDefault("interceptors.client", []string{})
	v.SetDefault("interceptors.server", []string{})
	v.SetDefault("admin.enabled", false)
	v.SetDefault("admin.addr", "") // package admin's default
	v.SetDefault("admin.token", "")
	v.SetDefault("admin.public_health", false)
}

// RegisterFlags defines the command-line flags that [Load] reads from
// [Source.Flags]: --config (the file), --listen, --max-frame-size,
// --max-concurrent-calls, --tls-cert, --tls-key, --client-interceptors,
// --server-interceptors, --admin, --admin-addr and --admin-token. A flag
// overrides the file and the environment only if it was set.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "configuration file (.yaml, .toml or .json)")
	fs.String("listen", "", "endpoint to listen on, such as tcp://127.0.0.1:7000")
	fs.Int("max-frame-size", 0, "largest request accepted, in bytes (0: the runtime's default)")
	fs.Int("max-concurrent-calls", 0, "calls one connection may run at once (0: the runtime's default)")
	fs.String("tls-cert", "", "certificate file (PEM) for a tls:// endpoint")
	fs.String("tls-key", "", "key file (PEM) for a tls:// endpoint")
	fs.StringSlice("client-interceptors", nil, "client interceptor chain, first outermost")
	fs.StringSlice("server-interceptors", nil, "server interceptor chain, first outermost")
	fs.Bool("admin", false, "serve the admin endpoint")
	fs.String("admin-addr", "", "admin endpoint address (default: loopback, any free port)")
	fs.String("admin-token", "", "bearer token the admin endpoint requires")
}

// Load reads the configuration from src and validates it. Every call
// reads afresh with a viper instance of its own, so that Load may run
// concurrently with the use of earlier snapshots; the result is a new
// value that nothing else holds.
//
// Unknown keys in the file are an error (a misspelt key would otherwise
// be ignored silently), as is a file that does not parse or a
// configuration that does not pass [Config.Validate].
func Load(src Source) (*Config, error) { return load(src, nil) }

// load reads src and checks the result with Validate and check (if not
// nil), reporting the problems of both together.
func load(src Source, check func(*Config) error) (*Config, error) {
	c, file, err := read(src)
	if err != nil {
		return nil, err
	}
	err = c.Validate()
	if check != nil {
		err = errors.Join(err, check(c))
	}
	if err != nil {
		return nil, fmt.Errorf("config: invalid configuration%s:\n%w", fileNote(file), err)
	}
	return c, nil
}

// read fills a Config from src without validating it; it returns the file
// it read, if any.
func read(src Source) (*Config, string, error) {
	v := viper.New()
	setDefaults(v)
	file := src.File
	if src.Flags != nil {
		if f := src.Flags.Lookup("config"); f != nil && f.Changed {
			file = f.Value.String()
		}
		for name, key := range flagKeys {
			if f := src.Flags.Lookup(name); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, "", fmt.Errorf("config: flag --%s: %w", name, err)
				}
			}
		}
	}
	if prefix := src.EnvPrefix; prefix != "-" {
		if prefix == "" {
			prefix = "REMOTING"
		}
		v.SetEnvPrefix(prefix)
		v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
		v.AutomaticEnv()
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, file, fmt.Errorf("config: read %s: %w", file, err)
		}
	}
	var c Config
	if err := v.UnmarshalExact(&c); err != nil {
		return nil, file, fmt.Errorf("config: decode%s: %w", fileNote(file), err)
	}
	if c.Types == nil {
		c.Types = map[string]TypePolicy{}
	}
	return &c, file, nil
}

func fileNote(file string) string {
	if file == "" {
		return ""
	}
	return " in " + file
}
