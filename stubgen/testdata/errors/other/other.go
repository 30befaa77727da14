// Package other declares interfaces that package errs embeds.
package other

import (
	"context"

	"github.com/remoting-go/remoting/stubgen/testdata/errors/other/internal/secret"
)

type hidden struct{ N int }

// Handle names hidden outside this package.
type Handle = hidden

// Base has methods that only this package can implement or name.
type Base interface {
	Hidden(ctx context.Context) (hidden, error) // ERROR: Foreign.Hidden: result #1 has type other.hidden, which is unexported in package github.com/remoting-go/remoting/stubgen/testdata/errors/other
	unexported(ctx context.Context) error       // ERROR: Foreign.unexported: is unexported in package github.com/remoting-go/remoting/stubgen/testdata/errors/other, so no type outside it can implement Foreign
}

// Leaky uses a type of an internal package.
type Leaky interface {
	Secret(ctx context.Context, s secret.Secret) error // ERROR: Internal.Secret: parameter s has type secret.Secret, whose package github.com/remoting-go/remoting/stubgen/testdata/errors/other/internal/secret cannot be imported from command-line-arguments
}
