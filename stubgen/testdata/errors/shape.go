package errs

import "context"

// Shape has methods without context.Context first or error last.
type Shape interface {
	NoParams() error                                  // ERROR: Shape.NoParams: has no parameters; a remote method takes ctx context.Context first
	NoCtx(id string) error                            // ERROR: Shape.NoCtx: first parameter is string; a remote method takes ctx context.Context first
	NoResults(ctx context.Context)                    // ERROR: Shape.NoResults: has no results; a remote method returns error last
	NoError(ctx context.Context) int                  // ERROR: Shape.NoError: last result is int; a remote method returns error last
	ErrorFirst(ctx context.Context) (error, int)      // ERROR: last result is int // ERROR: result #1 is an error; only the last result may be one
	CtxLater(id string, ctx context.Context) error    // ERROR: first parameter is string // ERROR: parameter ctx is a context.Context; only the first parameter may be one
	Fine(ctx context.Context, id string) (int, error) // a correct method among wrong ones
}
