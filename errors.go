package remoting

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/remoting-go/remoting/internal/errtypes"
)

//go:generate go tool stringer -type=Code -trimprefix=Code

// Code classifies a Remoting Error. Codes have explicit numbers because they
// cross the wire; the numbers follow the gRPC status codes where the meaning
// is the same, so that users and tools read them alike.
type Code uint32

// The codes a remote call can fail with.
const (
	CodeOK                 Code = 0
	CodeCanceled           Code = 1  // the caller canceled the call
	CodeUnknown            Code = 2  // an error that carried no code
	CodeInvalidArgument    Code = 3  // arguments that do not fit the method
	CodeDeadlineExceeded   Code = 4  // the call's deadline passed
	CodeNotFound           Code = 5  // unknown object, name or method
	CodePermissionDenied   Code = 7  // the caller may not use the object
	CodeResourceExhausted  Code = 8  // a limit was reached (pool, frame size, concurrency)
	CodeFailedPrecondition Code = 9  // the object is in no state for the call (for example an expired lease)
	CodeUnimplemented      Code = 12 // the peer does not support the operation
	CodeInternal           Code = 13 // a fault in the server or the middleware (for example a panic)
	CodeUnavailable        Code = 14 // the peer cannot be reached or went away
	CodeApplication        Code = 100
)

// Sentinel errors, one per code. Every [*Error] matches the sentinel of its
// code with [errors.Is], on the server where it was made and on the client
// after it crossed the wire:
//
//	if errors.Is(err, remoting.ErrNotFound) { ... }
var (
	ErrCanceled           = errors.New("remoting: canceled")
	ErrUnknown            = errors.New("remoting: unknown error")
	ErrInvalidArgument    = errors.New("remoting: invalid argument")
	ErrDeadlineExceeded   = errors.New("remoting: deadline exceeded")
	ErrNotFound           = errors.New("remoting: not found")
	ErrPermissionDenied   = errors.New("remoting: permission denied")
	ErrResourceExhausted  = errors.New("remoting: resource exhausted")
	ErrFailedPrecondition = errors.New("remoting: failed precondition")
	ErrUnimplemented      = errors.New("remoting: unimplemented")
	ErrInternal           = errors.New("remoting: internal error")
	ErrUnavailable        = errors.New("remoting: unavailable")
	ErrApplication        = errors.New("remoting: application error")
)

var sentinels = map[Code]error{
	CodeCanceled:           ErrCanceled,
	CodeUnknown:            ErrUnknown,
	CodeInvalidArgument:    ErrInvalidArgument,
	CodeDeadlineExceeded:   ErrDeadlineExceeded,
	CodeNotFound:           ErrNotFound,
	CodePermissionDenied:   ErrPermissionDenied,
	CodeResourceExhausted:  ErrResourceExhausted,
	CodeFailedPrecondition: ErrFailedPrecondition,
	CodeUnimplemented:      ErrUnimplemented,
	CodeInternal:           ErrInternal,
	CodeUnavailable:        ErrUnavailable,
	CodeApplication:        ErrApplication,
}

// Error is a Remoting Error: a failure with a [Code] and a message. Errors
// made by the middleware on either end are *Error; so are errors that user
// code returned on the server, which arrive at the client with
// [CodeApplication] and their message. If the user registered the error's
// type with [RegisterError], the original value is available through
// [errors.As] as well.
type Error struct {
	Code    Code
	Message string
	// Cause is the error this one wraps: on the server the error user code
	// returned, on the client a registered error type decoded from the wire,
	// or the local cause of a transport failure. It may be nil.
	Cause error
}

// Errorf returns an *Error with the given code and a formatted message. A %w
// verb in format makes the wrapped error the Cause.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Cause: errors.Unwrap(err)}
}

// Error returns "<Code>: <message>".
func (e *Error) Error() string {
	if e.Message == "" {
		return "remoting: " + e.Code.String()
	}
	return "remoting: " + e.Code.String() + ": " + e.Message
}

// Unwrap returns the Cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is the sentinel of e's code (for example
// [ErrNotFound] for [CodeNotFound]).
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && s == target
}

// CodeOf returns the code of the first [*Error] in err's chain, CodeOK for a
// nil err, a code derived from the context errors, and CodeUnknown
// otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	for c, s := range sentinels {
		if errors.Is(err, s) {
			return c
		}
	}
	return CodeUnknown
}

// RegisterError registers the error type T under a name that is stable
// across processes, so that a value of type T returned by a server method
// (anywhere in the returned error's chain) crosses the wire whole and
// arrives at the client as a T, reachable with [errors.As]. Both ends must
// register the type under the same name, typically in an init function of
// the package that declares it. T's exported fields are encoded with CBOR.
//
// Only registered types are ever created from wire data: a name the client
// does not know arrives as a plain [*Error] with [CodeApplication].
//
// RegisterError panics if name or T is registered twice, as [encoding/gob]'s
// Register does.
func RegisterError[T error](name string) {
	errtypes.Register(name, reflect.TypeFor[T](), func(body []byte, unmarshal func([]byte, any) error) (error, error) {
		var v T
		if err := unmarshal(body, &v); err != nil {
			return nil, err
		}
		return v, nil
	})
}
