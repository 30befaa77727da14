package wire

import (
	"context"
	"errors"
	"fmt"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/errtypes"
)

// Hello is the body of KindHello, the first frame a peer sends on the
// control stream it opens, and of KindWelcome, the answer.
type Hello struct {
	_ struct{} `cbor:",toarray"`
	// Magic is always [Magic].
	Magic string
	// Version is the sender's [ProtocolVersion].
	Version uint32
	// MaxFrameSize is the largest frame the sender accepts.
	MaxFrameSize uint32
	// ID identifies the sending end: random per client (a
	// requestor.Client keeps it across reconnects) or per server. A server
	// uses the client's ID as the owner of the objects that client
	// creates, so a reconnecting client keeps its objects. It is an
	// unguessable bearer secret: only that client knows it.
	ID remoting.ObjectID
}

// Check returns an error if h is not a Hello of this protocol version.
func (h *Hello) Check() error {
	if h.Magic != Magic {
		return fmt.Errorf("wire: peer does not speak this protocol (magic %q)", h.Magic)
	}
	if h.Version != ProtocolVersion {
		return fmt.Errorf("wire: protocol version mismatch: peer speaks %d, this end speaks %d", h.Version, ProtocolVersion)
	}
	return nil
}

// errorBody is the body of KindError.
type errorBody struct {
	_       struct{} `cbor:",toarray"`
	Code    uint32
	Message string
	// Type and Detail carry an error value whose type was registered with
	// remoting.RegisterError: its registered name and its CBOR encoding.
	Type   string
	Detail []byte
}

// EncodeError returns the body of a KindError frame for err. A
// *remoting.Error keeps its code; context errors become Canceled and
// DeadlineExceeded; any other error is an application error with err's
// message. An error value of a registered type anywhere in err's chain is
// encoded whole.
func EncodeError(err error) []byte {
	b := errorBody{Code: uint32(remoting.CodeApplication), Message: err.Error()}
	var re *remoting.Error
	switch {
	case errors.As(err, &re):
		b.Code, b.Message = uint32(re.Code), re.Message
	case errors.Is(err, context.Canceled):
		b.Code = uint32(remoting.CodeCanceled)
	case errors.Is(err, context.DeadlineExceeded):
		b.Code = uint32(remoting.CodeDeadlineExceeded)
	}
	if name, v, ok := errtypes.Find(err); ok {
		if detail, merr := encMode.Marshal(v); merr == nil {
			b.Type, b.Detail = name, detail
		}
	}
	out, merr := encMode.Marshal(&b)
	if merr != nil {
		// Only a broken encoder could get here; say so rather than lose the code.
		out, _ = encMode.Marshal(&errorBody{Code: uint32(remoting.CodeInternal), Message: "encode error: " + merr.Error()})
	}
	return out
}

// DecodeError turns the body of a KindError frame into a *remoting.Error.
// Codes DeadlineExceeded and Canceled get the context package's errors as
// their Cause.
// A registered error type named by the body becomes the Cause, so that
// errors.As finds it; an unknown name is ignored. A body that does not
// decode is reported as CodeInternal.
func DecodeError(body []byte) *remoting.Error {
	var b errorBody
	if err := decMode.Unmarshal(body, &b); err != nil {
		return remoting.Errorf(remoting.CodeInternal, "undecodable error frame: %v", err)
	}
	e := &remoting.Error{Code: remoting.Code(b.Code), Message: b.Message}
	// A deadline or cancellation that ended the call on the far side is
	// the same event as on this side: errors.Is(err,
	// context.DeadlineExceeded) holds whichever end noticed first.
	switch e.Code {
	case remoting.CodeDeadlineExceeded:
		e.Cause = context.DeadlineExceeded
	case remoting.CodeCanceled:
		e.Cause = context.Canceled
	}
	if b.Type != "" {
		if v, ok, err := errtypes.New(b.Type, b.Detail, decMode.Unmarshal); ok && err == nil {
			e.Cause = v
		}
	}
	return e
}

// LookupMethod is the method of the naming service, the object with the
// zero ObjectID that every server hosts: it resolves a name to a reference.
const LookupMethod = "remoting.Lookup"

// LookupArgs is the argument struct of LookupMethod.
type LookupArgs struct {
	_    struct{} `cbor:",toarray"`
	Name string
}

// LookupReply is the result struct of LookupMethod.
type LookupReply struct {
	_         struct{} `cbor:",toarray"`
	ID        remoting.ObjectID
	Interface string
}

// ReleaseMethod, sent to an object a peer owns (one it created through a
// remote factory, or exported as a callback), ends that object at once.
// Arguments and results are empty arrays.
const ReleaseMethod = "remoting.Release"

// RenewMethod, sent to the naming service (the zero ObjectID), renews the
// leases of objects the caller owns: the objects remote factories created
// for it. A client's renewer sends it for the objects its proxies hold.
const RenewMethod = "remoting.Renew"

// RenewArgs is the argument struct of RenewMethod.
type RenewArgs struct {
	_   struct{} `cbor:",toarray"`
	IDs []remoting.ObjectID
}

// RenewReply is the result struct of RenewMethod: one entry of TTLs per
// entry of RenewArgs.IDs, in the same order.
type RenewReply struct {
	_ struct{} `cbor:",toarray"`
	// TTLs are in microseconds. A positive value is the time to live the
	// lease was renewed for: renew again well before it passes. Zero says
	// that the object has no lease to renew (it lives until it is
	// released or its client goes away): stop renewing it. A negative
	// value says that the caller has no such object: it never existed,
	// was released, expired, or belongs to another client.
	TTLs []int64
}

// The values of RenewReply.TTLs that are not a time to live.
const (
	RenewNoLease int64 = 0
	RenewGone    int64 = -1
)
