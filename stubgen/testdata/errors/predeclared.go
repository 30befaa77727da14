package errs

import "context"

type any struct{} // ERROR: package errs declares any, which the generated code uses as the predeclared identifier // ERROR: any: is a struct type, not an interface

// Fine would be fine in another package.
type Fine interface {
	Do(ctx context.Context) error
}
