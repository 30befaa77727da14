package errs

import "context"

// Generic has a type parameter.
type Generic[T any] interface { // ERROR: Generic: generic interfaces cannot be remote
	Get(ctx context.Context) (T, error)
}

// Empty has no methods.
type Empty interface{} // ERROR: Empty: has no methods

// NotInterface is a struct.
type NotInterface struct{ A int } // ERROR: NotInterface: is a struct type, not an interface

// Constraint has a type set.
type Constraint interface{ ~int | ~string } // ERROR: Constraint: is a constraint with a type set

// Func is not a type.
func Func() {} // ERROR: Func: is a func, not an interface type
