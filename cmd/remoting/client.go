package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/requestor"
)

// conn is the flags every command has, and the client they dial.
type conn struct {
	timeout  time.Duration
	useTLS   bool
	caCert   string
	cert     string
	key      string
	insecure bool

	c *requestor.Client
}

// flags registers the connection flags on fs.
func (cn *conn) flags(fs *flag.FlagSet) {
	fs.DurationVar(&cn.timeout, "timeout", 10*time.Second, "bound the whole command, dialing included")
	fs.BoolVar(&cn.useTLS, "tls", false, "dial with TLS (implied by a tls:// endpoint)")
	fs.StringVar(&cn.caCert, "cacert", "", "PEM `file` of the certificates to verify the server with, instead of the system's")
	fs.StringVar(&cn.cert, "cert", "", "PEM `file` of a client certificate (with -key)")
	fs.StringVar(&cn.key, "key", "", "PEM `file` of the client certificate's private key (with -cert)")
	fs.BoolVar(&cn.insecure, "insecure", false, "do not verify the server's certificate")
}

// parse parses args with fs, whose usage names the positional arguments,
// and returns those, which must number from min to max.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer, min, max int, positional string) ([]string, error) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: remoting %s [flags] %s\n", fs.Name(), positional)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	rest := fs.Args()
	for _, a := range rest {
		if len(a) > 1 && a[0] == '-' && fs.Lookup(strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")) != nil {
			fmt.Fprintf(stderr, "remoting %s: flag %s after the arguments: flags go before the endpoint\n", fs.Name(), a)
			return nil, errUsage
		}
	}
	if len(rest) < min || len(rest) > max {
		fs.Usage()
		return nil, errUsage
	}
	return rest, nil
}

// dial connects to endpoint as the flags say. The returned context ends
// at the timeout; the caller calls the returned function when done.
func (cn *conn) dial(ctx context.Context, endpoint string) (context.Context, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, cn.timeout)
	network, addr, err := remoting.ParseEndpoint(endpoint)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	var opts requestor.Options
	if cn.useTLS || network == "tls" || cn.caCert != "" || cn.cert != "" || cn.insecure {
		if network != "tcp" && network != "tls" {
			cancel()
			return nil, nil, remoting.Errorf(remoting.CodeInvalidArgument, "TLS needs a tcp or tls endpoint, not %s", endpoint)
		}
		if opts.TLS, err = cn.tlsConfig(addr); err != nil {
			cancel()
			return nil, nil, err
		}
		endpoint = "tls://" + addr
	}
	if cn.c, err = requestor.Dial(ctx, endpoint, opts); err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, func() { cn.c.Close(); cancel() }, nil
}

func (cn *conn) tlsConfig(addr string) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: cn.insecure, MinVersion: tls.VersionTLS12}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		cfg.ServerName = host
	}
	if cn.caCert != "" {
		pem, err := os.ReadFile(cn.caCert)
		if err != nil {
			return nil, remoting.Errorf(remoting.CodeInvalidArgument, "-cacert: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, remoting.Errorf(remoting.CodeInvalidArgument, "-cacert %s: no PEM certificate in it", cn.caCert)
		}
	}
	if (cn.cert == "") != (cn.key == "") {
		return nil, remoting.Errorf(remoting.CodeInvalidArgument, "-cert and -key go together")
	}
	if cn.cert != "" {
		c, err := tls.LoadX509KeyPair(cn.cert, cn.key)
		if err != nil {
			return nil, remoting.Errorf(remoting.CodeInvalidArgument, "-cert/-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// list asks the naming service for the named objects and keyed
// interfaces.
func (cn *conn) list(ctx context.Context) (*wire.ListReply, error) {
	var reply wire.ListReply
	err := cn.c.Invoke(ctx, &remoting.Invocation{Method: wire.ListMethod, Args: &wire.ListArgs{}, Reply: &reply})
	if err != nil {
		return nil, namingError(wire.ListMethod, err)
	}
	return &reply, nil
}

// describe asks the naming service for the description of iface, and
// checks it.
func (cn *conn) describe(ctx context.Context, iface string) (*wire.Description, error) {
	var d wire.Description
	err := cn.c.Invoke(ctx, &remoting.Invocation{Method: wire.DescribeMethod, Args: &wire.DescribeArgs{Interface: iface}, Reply: &d})
	if err != nil {
		return nil, namingError(wire.DescribeMethod, err)
	}
	if err := d.Check(); err != nil {
		return nil, remoting.Errorf(remoting.CodeInternal, "the server's description of %s: %v", iface, err)
	}
	return &d, nil
}

// namingError says what an error of remoting.List or remoting.Describe
// means: a server without them answers that the method is not found.
func namingError(method string, err error) error {
	var re *remoting.Error
	if errors.As(err, &re) && re.Code == remoting.CodeNotFound && strings.Contains(re.Message, "naming service") {
		return remoting.Errorf(remoting.CodeUnimplemented, "the server does not answer %s: it predates describe support (%s)", method, re.Message)
	}
	return err
}

// target is what a command names: an object and its interface.
type target struct {
	name  string // the object's name, "" for a keyed object
	ref   remoting.Ref
	desc  *wire.Description
	keyed bool
}

// resolve finds the named object name, or else, if keyed is set or no
// object has the name, the keyed interface name names: its full name, or
// the end of it after a '/' or a '.'.
func (cn *conn) resolve(ctx context.Context, name string, keyed bool) (*target, error) {
	var lookupErr error
	if !keyed {
		ref, err := cn.c.Lookup(ctx, name, "")
		if err == nil {
			d, err := cn.describe(ctx, ref.Interface)
			if err != nil {
				return nil, err
			}
			return &target{name: name, ref: ref, desc: d}, nil
		}
		if remoting.CodeOf(err) != remoting.CodeNotFound {
			return nil, err
		}
		lookupErr = err
	}
	l, err := cn.list(ctx)
	if err != nil {
		if lookupErr != nil {
			return nil, lookupErr // the name is unknown, whatever the listing says
		}
		return nil, err
	}
	var found []string
	for _, k := range l.Keyed {
		if k.Interface == name || strings.HasSuffix(k.Interface, "/"+name) || strings.HasSuffix(k.Interface, "."+name) {
			found = append(found, k.Interface)
		}
	}
	switch len(found) {
	case 0:
		if keyed {
			var all []string
			for _, k := range l.Keyed {
				all = append(all, k.Interface)
			}
			return nil, remoting.Errorf(remoting.CodeNotFound, "no keyed interface %q on this server (it has %s)", name, orNone(all))
		}
		var all []string
		for _, o := range l.Objects {
			all = append(all, o.Name)
		}
		return nil, remoting.Errorf(remoting.CodeNotFound, "no object named %q on this server (it names %s)", name, orNone(all))
	case 1:
	default:
		return nil, remoting.Errorf(remoting.CodeNotFound, "%q names several keyed interfaces: %s; give the full name", name, strings.Join(found, ", "))
	}
	d, err := cn.describe(ctx, found[0])
	if err != nil {
		return nil, err
	}
	return &target{ref: remoting.Ref{Interface: found[0]}, desc: d, keyed: true}, nil
}

// method returns the method of t called name.
func (t *target) method(name string) (*wire.MethodDesc, error) {
	if m, ok := t.desc.Method(name); ok {
		return m, nil
	}
	var names []string
	for _, m := range t.desc.Methods {
		names = append(names, m.Name)
	}
	return nil, remoting.Errorf(remoting.CodeNotFound, "%s has no method %q (it has %s)", t.desc.Interface, name, orNone(names))
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// exitCode returns the exit code for err; see the package documentation.
func exitCode(err error) int {
	switch remoting.CodeOf(err) {
	case remoting.CodeOK:
		return exitOK
	case remoting.CodeInvalidArgument:
		return exitInvalid
	case remoting.CodeNotFound:
		return exitNotFound
	case remoting.CodeUnavailable:
		return exitUnavailable
	case remoting.CodeDeadlineExceeded, remoting.CodeCanceled:
		return exitDeadline
	case remoting.CodePermissionDenied, remoting.CodeUnimplemented:
		return exitDenied
	}
	return exitFailed
}
