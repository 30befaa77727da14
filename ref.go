package remoting

import (
	"fmt"
	"strings"
)

// Ref is an Absolute Object Reference: everything a client needs to reach
// one remote object.
//
// Endpoint is where the object's server listens, as a URL-like string:
// "tcp://127.0.0.1:4000", "tls://host:443" or "unix:///run/app.sock". An
// empty Endpoint means "on the connection this reference arrived on" (used
// for references that a server hands out to its own objects).
//
// Interface is the fully qualified name of the Go interface the object
// implements, such as "example.com/shop/cart.Cart"; proxies check it so that
// a reference to one interface cannot silently drive another.
//
// Key is set in a reference to a keyed object (see [KeyRef]): ID is then
// [KeyID](Interface, Key), and every call through the reference carries
// the key, so that a server activates the object on its first call.
type Ref struct {
	Endpoint  string   `cbor:"1,keyasint,omitempty"`
	ID        ObjectID `cbor:"2,keyasint"`
	Interface string   `cbor:"3,keyasint,omitempty"`
	Key       string   `cbor:"4,keyasint,omitempty"`
}

// String returns the stable textual form
//
//	<endpoint>/<object id>#<interface>
//
// for example "tcp://127.0.0.1:4000/4f0c...-9e1b#example.com/cart.Cart",
// followed for a keyed object by "?key=" and the key, query-escaped:
// "/7d1e...-03aa#example.com/bank.Account?key=42". [ParseRef] reverses it
// exactly.
func (r Ref) String() string {
	return appendKey(r.Endpoint+"/"+r.ID.String()+"#"+r.Interface, r.Key)
}

// ParseRef parses the form produced by [Ref.String].
func ParseRef(s string) (Ref, error) {
	hash := strings.LastIndexByte(s, '#')
	if hash < 0 {
		return Ref{}, fmt.Errorf("remoting: parse ref %q: missing '#<interface>'", s)
	}
	head := s[:hash]
	iface, key, err := cutKey(s[hash+1:])
	if err != nil {
		return Ref{}, fmt.Errorf("remoting: parse ref %q: %w", s, err)
	}
	slash := strings.LastIndexByte(head, '/')
	if slash < 0 {
		return Ref{}, fmt.Errorf("remoting: parse ref %q: missing '/<object id>'", s)
	}
	id, err := ParseObjectID(head[slash+1:])
	if err != nil {
		return Ref{}, fmt.Errorf("remoting: parse ref %q: %w", s, err)
	}
	return Ref{Endpoint: head[:slash], ID: id, Interface: iface, Key: key}, nil
}

// MarshalText implements [encoding.TextMarshaler] with [Ref.String].
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseRef].
func (r *Ref) UnmarshalText(b []byte) error {
	v, err := ParseRef(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseEndpoint splits an endpoint such as "tcp://127.0.0.1:4000" into the
// network ("tcp", "unix" or "tls") and the address.
func ParseEndpoint(endpoint string) (network, addr string, err error) {
	network, addr, ok := strings.Cut(endpoint, "://")
	if !ok {
		network, addr = "tcp", endpoint
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix", "tls":
	default:
		return "", "", fmt.Errorf("remoting: endpoint %q: unknown network %q (want tcp, unix or tls)", endpoint, network)
	}
	if addr == "" {
		return "", "", fmt.Errorf("remoting: endpoint %q: no address", endpoint)
	}
	return network, addr, nil
}
