package errs

import "context"

// Broken does not type-check.
type Broken interface {
	Get(ctx context.Context) (Missing, error) // ERROR: undefined: Missing
}
