// Command remoting is a command-line client of any remoting server: it
// lists the objects a server names, describes their interfaces, and calls
// their methods with arguments written in JSON, printing the results as
// JSON. It needs none of the server's Go types: it asks the server for
// the Interface Description of each interface (the naming service's
// remoting.List and remoting.Describe, which invoker.Options.DisableDescribe
// turns off) and builds the CBOR the generated Invoker decodes from it.
//
//	go install github.com/remoting-go/remoting/cmd/remoting@latest
//
// Usage:
//
//	remoting list [flags] <endpoint>
//	remoting describe [flags] <endpoint> <name>[.<Method>]
//	remoting call [flags] <endpoint> <name>.<Method> ['<json args>']
//	remoting call [flags] -k <key> <endpoint> <interface>.<Method> ['<json args>']
//
// The endpoint is "host:port", "tcp://host:port", "tls://host:port" or
// "unix:///path". The arguments are a JSON object by parameter name
// ({"sku": "tea-01", "qty": 2}) or a JSON array in parameter order; a
// method without parameters takes none. Flags come before the endpoint:
//
//	-timeout d      bounds the whole command, dialing included (default 10s)
//	-tls            dial with TLS (implied by a tls:// endpoint)
//	-cacert file    PEM certificates to verify the server with, instead of the system's
//	-cert, -key     a PEM client certificate and its key
//	-insecure       do not verify the server's certificate
//	-H key=value    invocation metadata, repeatable (call)
//	-mode m         sync (default), oneway, syncwithserver or async (call)
//	-k key          call the keyed object of the interface that key names (call)
//	-json           print the listing or description as JSON (list, describe)
//
// A oneway call returns once the server has read the request; a
// syncwithserver call once the server has accepted it. Neither prints
// results.
//
// Exit codes, by the class of failure:
//
//	0  success
//	1  the method returned an error, or the server failed otherwise (Application, Internal, ...)
//	2  the command line is wrong (flags, missing arguments)
//	3  InvalidArgument: the JSON does not fit the method's parameters
//	4  NotFound: no such object, interface or method
//	5  Unavailable: the server cannot be reached, or the connection failed
//	6  DeadlineExceeded or Canceled: -timeout passed
//	7  PermissionDenied or Unimplemented: the server does not describe its objects
//
// Errors go to standard error as "remoting: <Code>: <message>", as a Go
// caller's error reads.
//
// Goroutines: those of the requestor.Client it dials, closed before it
// exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

// The exit codes; see the package documentation.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInvalid     = 3
	exitNotFound    = 4
	exitUnavailable = 5
	exitDeadline    = 6
	exitDenied      = 7
)

const usage = `usage:
  remoting list [flags] <endpoint>
  remoting describe [flags] <endpoint> <name>[.<Method>]
  remoting call [flags] <endpoint> <name>.<Method> ['<json args>']
  remoting call [flags] -k <key> <endpoint> <interface>.<Method> ['<json args>']
Run "remoting <command> -h" for the flags of a command.
`

// errUsage is a command line that cannot run; its message has been
// written.
var errUsage = errors.New("usage")

// run runs the command in args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "list":
		err = list(ctx, args[1:], stdout, stderr)
	case "describe":
		err = describe(ctx, args[1:], stdout, stderr)
	case "call":
		err = call(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "remoting: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errUsage) {
		if err != errUsage {
			fmt.Fprintln(stderr, "remoting:", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		}
		return exitUsage
	}
	fmt.Fprintln(stderr, err)
	return exitCode(err)
}
