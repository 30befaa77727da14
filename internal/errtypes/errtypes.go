// Package errtypes is the table of application error types registered with
// remoting.RegisterError: the root package fills it, the marshaller reads
// it. It imports nothing of this module, so the root package can use it.
package errtypes

import (
	"fmt"
	"reflect"
	"sync"
)

// Decode creates a value of a registered type from its encoding, using
// unmarshal (the marshaller's decoder).
type Decode func(body []byte, unmarshal func([]byte, any) error) (error, error)

var table struct {
	sync.RWMutex
	byName map[string]Decode
	byType map[reflect.Type]string
}

// Register enters type t under name. It panics if name or t is taken, as
// encoding/gob's Register does.
func Register(name string, t reflect.Type, decode Decode) {
	table.Lock()
	defer table.Unlock()
	if table.byName == nil {
		table.byName = make(map[string]Decode)
		table.byType = make(map[reflect.Type]string)
	}
	if _, dup := table.byName[name]; dup {
		panic(fmt.Sprintf("remoting: RegisterError: name %q registered twice", name))
	}
	if _, dup := table.byType[t]; dup {
		panic(fmt.Sprintf("remoting: RegisterError: type %v registered twice", t))
	}
	table.byType[t] = name
	table.byName[name] = decode
}

// Find returns the first error in err's chain (depth first through joined
// errors) whose type is registered, with its name.
func Find(err error) (name string, value error, ok bool) {
	table.RLock()
	defer table.RUnlock()
	if len(table.byType) == 0 {
		return "", nil, false
	}
	var walk func(error) bool
	walk = func(e error) bool {
		for e != nil {
			if n, found := table.byType[reflect.TypeOf(e)]; found {
				name, value = n, e
				return true
			}
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, inner := range u.Unwrap() {
					if walk(inner) {
						return true
					}
				}
				return false
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return false
			}
		}
		return false
	}
	ok = walk(err)
	return name, value, ok
}

// New creates a value of the type registered under name from body. It
// reports false if no type is registered under name.
func New(name string, body []byte, unmarshal func([]byte, any) error) (error, bool, error) {
	table.RLock()
	decode, ok := table.byName[name]
	table.RUnlock()
	if !ok {
		return nil, false, nil
	}
	v, err := decode(body, unmarshal)
	return v, true, err
}
