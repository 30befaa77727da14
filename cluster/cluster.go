package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/remoting-go/remoting"
)

// Options name a cluster and the etcd that keeps it. Nodes and clients of
// one cluster use the same Options. The zero value of every field but
// Endpoints (or Etcd) has a working default.
type Options struct {
	// Endpoints are the etcd endpoints ("127.0.0.1:2379", or
	// "http://host:2379"). Ignored if Etcd is set.
	Endpoints []string
	// Etcd is a client of the program's own to use instead of one made
	// from Endpoints; it is not closed.
	Etcd *clientv3.Client
	// DialTimeout bounds connecting to etcd. Default 5 s.
	DialTimeout time.Duration
	// Name is the cluster's name: several clusters may share one etcd.
	// Default "default".
	Name string
	// Prefix is the etcd key prefix under which clusters keep their
	// keys. Default "/remoting/".
	Prefix string
	// TTL is the lease of a node: a node that cannot renew it for TTL is
	// out of the cluster, and its objects may activate elsewhere. Whole
	// seconds, at least 2 s. Default [DefaultTTL], 5 s.
	TTL time.Duration
	// Logger receives what goes wrong in the background (renewals, watches).
	// Default slog.Default().
	Logger *slog.Logger
}

// DefaultTTL is the default of [Options.TTL].
const DefaultTTL = 5 * time.Second

// etcdTimeout bounds one etcd request made on behalf of a call (a claim,
// a release, a directory read).
const etcdTimeout = 3 * time.Second

// WithDefaults returns o with its defaults filled in; it fails for a TTL
// that is not whole seconds of at least 2.
func (o Options) WithDefaults() (Options, error) {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Name == "" {
		o.Name = "default"
	}
	if strings.ContainsAny(o.Name, "/\x00") {
		return o, fmt.Errorf("cluster: name %q contains '/' or NUL", o.Name)
	}
	if o.Prefix == "" {
		o.Prefix = "/remoting/"
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < 2*time.Second || o.TTL%time.Second != 0 {
		return o, fmt.Errorf("cluster: TTL %v: want whole seconds, at least 2s", o.TTL)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Etcd == nil && len(o.Endpoints) == 0 {
		return o, fmt.Errorf("cluster: no etcd: set Options.Endpoints or Options.Etcd")
	}
	return o, nil
}

// Connect returns the etcd client of o: o.Etcd, or a new one the caller
// closes (own reports which).
func (o Options) Connect() (cli *clientv3.Client, own bool, err error) {
	if o.Etcd != nil {
		return o.Etcd, false, nil
	}
	cli, err = clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: o.DialTimeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, false, fmt.Errorf("cluster: connect to etcd %v: %w", o.Endpoints, err)
	}
	return cli, true, nil
}

// The keys of a cluster, under <Prefix><Name>/:
//
//	members/<node id>     -> Member (JSON), bound to the node's lease
//	objects/<object id>   -> the id of the node the object is active on, bound to its lease
//	singletons/<name>/... -> the election of a cluster singleton (etcd's concurrency.Election)
func (o Options) root() string { return o.Prefix + o.Name + "/" }

// MembersPrefix is the etcd prefix of the member keys.
func (o Options) MembersPrefix() string { return o.root() + "members/" }

// MemberKey is the etcd key of node id's membership.
func (o Options) MemberKey(id string) string { return o.MembersPrefix() + id }

// ObjectsPrefix is the etcd prefix of the directory keys.
func (o Options) ObjectsPrefix() string { return o.root() + "objects/" }

// ObjectKey is the etcd key of the directory entry of object id.
func (o Options) ObjectKey(id remoting.ObjectID) string { return o.ObjectsPrefix() + id.String() }

// SingletonPrefix is the etcd prefix of the election of singleton name.
func (o Options) SingletonPrefix(name string) string {
	return o.root() + "singletons/" + path.Clean("/" + name)[1:] + "/"
}

// Member is a node of a cluster as its member key shows it.
type Member struct {
	// ID is the node's id, unique in the cluster while it lives.
	ID string `json:"id"`
	// Endpoint is where the node serves calls.
	Endpoint string `json:"endpoint"`
	// Load is the number of keyed objects active on the node, as it last
	// published it.
	Load int `json:"load"`
	// Started is when the node joined.
	Started time.Time `json:"started"`
}

func decodeMember(b []byte) (Member, error) {
	var m Member
	err := json.Unmarshal(b, &m)
	if err == nil && (m.ID == "" || m.Endpoint == "") {
		err = fmt.Errorf("member record without id or endpoint")
	}
	return m, err
}

// EncodeMember returns the member key's value for m.
func EncodeMember(m Member) []byte {
	b, _ := json.Marshal(m)
	return b
}

// Moved is the cause of the error a node answers a call with when it does
// not host the call's keyed object and may not activate it: the object is
// active on Node (at Endpoint), or, with Node empty, nowhere the node
// knows of (the node is leaving, or has lost its lease). The method did
// not run. A cluster Client follows it (the Location Forwarder pattern);
// a plain client sees an Unavailable error whose message names the node.
type Moved struct {
	Node     string
	Endpoint string
}

func (m *Moved) Error() string {
	if m.Node == "" {
		return "cluster: the object is not active here and may not activate here"
	}
	return fmt.Sprintf("cluster: the object is active on node %s at %s", m.Node, m.Endpoint)
}

func init() { remoting.RegisterError[*Moved]("remoting/cluster.Moved") }

// MovedError returns the error a node fails a call with when the call's
// object is elsewhere (see [Moved]): Unavailable, with m as its cause.
func MovedError(m *Moved) error {
	return &remoting.Error{Code: remoting.CodeUnavailable, Message: m.Error(), Cause: m}
}

// get reads key with a bounded time.
func get(ctx context.Context, cli *clientv3.Client, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, etcdTimeout)
	defer cancel()
	return cli.Get(ctx, key, opts...)
}

// Unavailable wraps an etcd error for a caller.
func Unavailable(what string, err error) error {
	return &remoting.Error{Code: remoting.CodeUnavailable, Message: fmt.Sprintf("cluster: %s: etcd: %v", what, err), Cause: err}
}
