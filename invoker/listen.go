package invoker

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/remoting-go/remoting"
)

// Listen announces on an endpoint written as "tcp://host:port",
// "unix:///path/to.sock" or "tls://host:port" (a bare "host:port" means
// tcp). For "tls" the config must have a certificate; for the others it
// must be nil.
func Listen(endpoint string, config *tls.Config) (net.Listener, error) {
	network, addr, err := remoting.ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	switch network {
	case "tls":
		if config == nil {
			return nil, fmt.Errorf("invoker: listen %s: tls endpoint needs a tls.Config", endpoint)
		}
		return tls.Listen("tcp", addr, config)
	default:
		if config != nil {
			return nil, fmt.Errorf("invoker: listen %s: tls.Config given for a %s endpoint", endpoint, network)
		}
		return net.Listen(network, addr)
	}
}
