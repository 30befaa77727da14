package lifecycle

import (
	"context"
	"fmt"
	"reflect"

	"github.com/remoting-go/remoting"
)

// Activator is implemented by an instance that must do some work after it
// is created and before it serves its first call, such as opening a
// connection or loading data. An error from Activate fails the creation:
// the instance is dropped without Deactivate, and the calls that waited
// for it get the error. See the package documentation for when each
// strategy calls it.
type Activator interface {
	Activate(ctx context.Context) error
}

// Deactivator is implemented by an instance that must clean up when it
// stops serving calls. Its error cannot reach a caller; it is reported in
// the Err of the [remoting.EventDeactivated] event.
type Deactivator interface {
	Deactivate(ctx context.Context) error
}

// Resetter is implemented by a pooled instance that must be cleaned
// between calls, so that no state of one call reaches the next. [Pooled]
// calls Reset when a call gives the instance back, before the instance
// serves again; an instance whose Reset fails is deactivated and
// destroyed instead of being reused.
type Resetter interface {
	Reset(ctx context.Context) error
}

// StateSaver is implemented by an instance that can be passivated (see
// [Passivate]): SaveState returns the instance's state, which a fresh
// instance gets back through [StateRestorer] when the object is called
// again, in this server or in the next one on the same store. It is
// typically made with passivation.Encode, whose schema number lets a later
// version of the type recognise the layout.
//
// SaveState runs on the Lifecycle Manager's idle goroutine, when no call is
// using the instance and none can start until it returns, with a context
// that ends when the server closes. If it fails, or the store does, the
// instance stays and serves on; nothing is lost.
type StateSaver interface {
	SaveState(ctx context.Context) ([]byte, error)
}

// StateRestorer is implemented by an instance that can be reactivated:
// RestoreState gets the state SaveState returned, in an instance fresh
// from the constructor given to [Passivate], before the instance's
// Activate and before it serves a call. It runs on the goroutine of the
// first call that needs the instance, with that call's context; its error
// goes to that call and to the calls that waited for it, and the next call
// tries again.
type StateRestorer interface {
	RestoreState(ctx context.Context, state []byte) error
}

// guard runs a hook, turning a panic into an Internal error: hooks run
// before and after the invoker's own recovery, and a panic there must
// neither crash the server nor strand the calls waiting on the hook.
func guard(b *Binding, hook string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = remoting.Errorf(remoting.CodeInternal, "panic in %s of %s: %v", hook, b.Interface, p)
		}
	}()
	return fn()
}

// newInstance calls newFn and activates its instance, and reports the
// outcome as a remoting.EventActivated. check says whether the
// instance's type must be checked against the interface (see checkType).
func newInstance[T any](ctx context.Context, b *Binding, check bool, newFn func(context.Context) (T, error)) (v T, err error) {
	defer func() { b.emit(remoting.EventActivated, 0, err) }()
	err = guard(b, "constructor", func() (err error) {
		v, err = newFn(ctx)
		return err
	})
	if err != nil {
		return v, fmt.Errorf("lifecycle: create %s: %w", b.Interface, err)
	}
	if check {
		if err := b.Check(v); err != nil {
			return v, remoting.Errorf(remoting.CodeInternal, "the constructor of %s returned an instance of the wrong type: %w", b.Interface, err)
		}
	}
	if a, ok := any(v).(Activator); ok {
		if err := guard(b, "Activate", func() error { return a.Activate(ctx) }); err != nil {
			return v, fmt.Errorf("lifecycle: activate %s: %w", b.Interface, err)
		}
	}
	return v, nil
}

// deactivate calls the instance's Deactivate hook, if it has one, and
// reports a remoting.EventDeactivated.
func deactivate(ctx context.Context, b *Binding, instance any) error {
	var err error
	if d, ok := instance.(Deactivator); ok {
		if err = guard(b, "Deactivate", func() error { return d.Deactivate(ctx) }); err != nil {
			err = fmt.Errorf("lifecycle: deactivate %s: %w", b.Interface, err)
		}
	}
	b.emit(remoting.EventDeactivated, 0, err)
	return err
}

// checkType checks at Bind time, before any instance exists, that
// instances of type T implement b's interface. Binding.Implements needs a
// value, so it is given T's zero value: for a concrete T (a pointer or a
// struct) that is a value of the very type every instance will have, and
// the check is final. For an interface type T the zero value is nil and
// says nothing, so checkType reports that each new instance must be
// checked instead.
func checkType[T any](b *Binding) (checkEach bool, err error) {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Interface {
		return b.Implements != nil, nil
	}
	var zero T
	if b.Implements != nil && !b.Implements(zero) {
		return false, remoting.Errorf(remoting.CodeInvalidArgument, "%v does not implement %s", t, b.Interface)
	}
	return false, nil
}
