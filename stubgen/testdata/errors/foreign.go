package errs

import (
	"context"

	"github.com/remoting-go/remoting/stubgen/testdata/errors/other"
)

// Foreign embeds an interface whose methods the generated code cannot
// implement or name; the errors are reported where those methods are.
type Foreign interface {
	other.Base
	// other.Handle is an exported alias, which generated code can name.
	Handle(ctx context.Context) (other.Handle, error)
}

// Internal embeds an interface that uses a type of an internal package.
type Internal interface {
	other.Leaky
}
