// Package clash has names that the imports of the generated code must avoid.
package clash

import (
	"context"
	stdtime "time"

	afoo "github.com/remoting-go/remoting/stubgen/testdata/clash/a/foo"
	bfoo "github.com/remoting-go/remoting/stubgen/testdata/clash/b/foo"
	myremoting "github.com/remoting-go/remoting/stubgen/testdata/clash/remoting"
)

// Package-level names that an import of the generated file would clash with.
var (
	requestor = "not the runtime"
	time      = stdtime.Now
	foo2      = 2
)

type invoker struct{}

// Mixer uses two packages named foo and one named remoting.
type Mixer interface {
	Mix(ctx context.Context, a afoo.Thing, b bfoo.Thing, m myremoting.Money) (bfoo.Thing, error)
	At(ctx context.Context) (stdtime.Time, error)
}

// HTTPServer starts with an initialism.
type HTTPServer interface {
	Serve(ctx context.Context, addr string) error
}

// logger is unexported, so are its generated names.
type logger interface {
	Log(ctx context.Context, line string) error
}

var _, _, _, _ = requestor, time, foo2, invoker{}
