package wire

import (
	"fmt"

	"github.com/remoting-go/remoting"
)

// ListMethod, sent to the naming service (the zero ObjectID), lists the
// objects a server names and the interfaces whose objects it serves by
// key: what a generic client (cmd/remoting) shows before it calls
// anything. A server whose describe support is turned off answers
// PermissionDenied; one that predates the method answers NotFound.
const ListMethod = "remoting.List"

// DescribeMethod, sent to the naming service, returns the [Description]
// of one interface the server serves. Turned off and absent as
// ListMethod.
const DescribeMethod = "remoting.Describe"

// ListArgs is the argument struct of ListMethod: an empty array.
type ListArgs struct {
	_ struct{} `cbor:",toarray"`
}

// ListReply is the result struct of ListMethod.
type ListReply struct {
	_ struct{} `cbor:",toarray"`
	// Objects are the named objects, sorted by name.
	Objects []ListedObject
	// Keyed are the interfaces whose objects are keyed (called by key,
	// see remoting.KeyRef), sorted, each with its methods.
	Keyed []ListedInterface
}

// ListedObject is one named object of a ListReply.
type ListedObject struct {
	_         struct{} `cbor:",toarray"`
	Name      string
	ID        remoting.ObjectID
	Interface string
	// Methods are the short names of the interface's methods ("Add"),
	// sorted.
	Methods []string
}

// ListedInterface is one keyed interface of a ListReply.
type ListedInterface struct {
	_         struct{} `cbor:",toarray"`
	Interface string
	Methods   []string
}

// DescribeArgs is the argument struct of DescribeMethod.
type DescribeArgs struct {
	_ struct{} `cbor:",toarray"`
	// Interface is the fully qualified name of the interface, as a
	// LookupReply or a ListReply names it.
	Interface string
}

// Description is the Interface Description of one remote interface, as
// stubgen generates it and DescribeMethod returns it: its methods with
// their parameters and results, and the structure of every type they
// use, enough to build an argument struct from untyped data and to read a
// result struct without the Go types. It is the result struct of
// DescribeMethod. Its fields are maps with small integer keys, so that a
// later version may add fields that an earlier one ignores.
type Description struct {
	// Interface is the fully qualified interface name.
	Interface string `cbor:"1,keyasint"`
	// Methods are sorted by name.
	Methods []MethodDesc `cbor:"2,keyasint"`
	// Types is the table of types that the parameters, results, fields
	// and elements name by index. A type is in it once, so that recursive
	// types are described by an index that refers back.
	Types []TypeDesc `cbor:"3,keyasint"`
}

// MethodDesc describes one method.
type MethodDesc struct {
	// Name is the method's Go name ("Add"); Wire the method name on the
	// wire ("Cart.Add").
	Name string `cbor:"1,keyasint"`
	Wire string `cbor:"2,keyasint"`
	// Doc is the method's doc comment, directives left out.
	Doc string `cbor:"3,keyasint,omitempty"`
	// Params are the parameters after the context, in order: the
	// elements of the argument array.
	Params []ValueDesc `cbor:"4,keyasint,omitempty"`
	// Results are the results before the error, in order: the elements
	// of the result array.
	Results []ValueDesc `cbor:"5,keyasint,omitempty"`
	// Variadic says that the last parameter is variadic; it travels as
	// the slice it is.
	Variadic bool `cbor:"6,keyasint,omitempty"`
	// ReadOnly says that the method carries the //remoting:readonly
	// directive: a keyed object that saves every call does not save
	// after it.
	ReadOnly bool `cbor:"7,keyasint,omitempty"`
}

// ValueDesc describes one parameter or result.
type ValueDesc struct {
	// Name is the declared name, or "a0", "a1", ... for an unnamed
	// parameter and "r0", "r1", ... for an unnamed result, by position.
	Name string `cbor:"1,keyasint"`
	// Type is the index of the value's type in Description.Types.
	Type int `cbor:"2,keyasint"`
}

//go:generate go tool stringer -type=TypeKind -trimprefix=Type

// TypeKind says how a type travels. The values are part of the protocol.
type TypeKind uint8

// The kinds of TypeDesc.
const (
	TypeInvalid TypeKind = 0  // not a kind: a description that lacks one
	TypeBool    TypeKind = 1  // CBOR true or false
	TypeInt     TypeKind = 2  // a signed integer of Bits bits
	TypeUint    TypeKind = 3  // an unsigned integer of Bits bits
	TypeFloat   TypeKind = 4  // a float of Bits bits
	TypeString  TypeKind = 5  // a text string
	TypeBytes   TypeKind = 6  // a byte string ([]byte, [Len]byte, a BinaryMarshaler); null for a nil slice
	TypeTime    TypeKind = 7  // time.Time: tag 0 with an RFC 3339 string; null for the zero time
	TypeStruct  TypeKind = 8  // an array of the Fields in order if ToArray, else a map keyed by each field's Key
	TypeSlice   TypeKind = 9  // an array of Elem; null for a nil slice
	TypeArray   TypeKind = 10 // an array of Len Elem
	TypeMap     TypeKind = 11 // a map of Key to Elem; null for a nil map
	TypePointer TypeKind = 12 // Elem, or null for nil
	TypeRef     TypeKind = 13 // a remote interface: a remoting.Ref of Interface, whose zero value is a nil interface
	TypeOpaque  TypeKind = 14 // a type that encodes itself (cbor.Marshaler): not described further
)

// TypeDesc describes one type. Elem and Key are indexes into
// Description.Types.
type TypeDesc struct {
	Kind TypeKind `cbor:"1,keyasint"`
	// Name is the type as Go spells it, with package names:
	// "shop.Item", "[]string", "time.Duration".
	Name string `cbor:"2,keyasint,omitempty"`
	// Bits is the size of an integer or float: 8, 16, 32 or 64 (int and
	// uint are described as 64).
	Bits int `cbor:"3,keyasint,omitempty"`
	// Elem is the element type of a slice, array or pointer, and the
	// value type of a map.
	Elem int `cbor:"4,keyasint,omitempty"`
	// Key is the key type of a map.
	Key int `cbor:"5,keyasint,omitempty"`
	// Len is the length of an array, or of a [Len]byte.
	Len int `cbor:"6,keyasint,omitempty"`
	// Fields are the fields of a struct that travel, in order.
	Fields []FieldDesc `cbor:"7,keyasint,omitempty"`
	// ToArray says that a struct travels as an array of its fields.
	ToArray bool `cbor:"8,keyasint,omitempty"`
	// Interface is the fully qualified name of a remote interface.
	Interface string `cbor:"9,keyasint,omitempty"`
}

// FieldDesc describes one field of a struct as it travels.
type FieldDesc struct {
	// Name is the Go field name.
	Name string `cbor:"1,keyasint"`
	// Key is the field's key in the map of a struct that is not ToArray:
	// the name its tag gives it, or Name. With KeyAsInt it is an integer,
	// written in decimal.
	Key      string `cbor:"2,keyasint,omitempty"`
	KeyAsInt bool   `cbor:"3,keyasint,omitempty"`
	// OmitEmpty says that the field is left out of the map when it is
	// empty.
	OmitEmpty bool `cbor:"4,keyasint,omitempty"`
	// Type is the index of the field's type.
	Type int `cbor:"5,keyasint"`
}

// Check returns an error if d cannot be used to build or read values:
// every index names a type of the table, every kind is known, and every
// type has what its kind needs. A Description that decoded from the wire
// is checked before it is used.
func (d *Description) Check() error {
	n := len(d.Types)
	idx := func(what string, i int) error {
		if i < 0 || i >= n {
			return fmt.Errorf("wire: description of %s: %s names type %d of %d", d.Interface, what, i, n)
		}
		return nil
	}
	for _, m := range d.Methods {
		for _, v := range m.Params {
			if err := idx(m.Name+" parameter "+v.Name, v.Type); err != nil {
				return err
			}
		}
		for _, v := range m.Results {
			if err := idx(m.Name+" result "+v.Name, v.Type); err != nil {
				return err
			}
		}
		if m.Variadic && (len(m.Params) == 0 || d.Types[m.Params[len(m.Params)-1].Type].Kind != TypeSlice && d.Types[m.Params[len(m.Params)-1].Type].Kind != TypeBytes) {
			return fmt.Errorf("wire: description of %s: variadic %s has no slice last", d.Interface, m.Name)
		}
	}
	for i, t := range d.Types {
		what := fmt.Sprintf("type %d (%s)", i, t.Name)
		switch t.Kind {
		case TypeBool, TypeString, TypeBytes, TypeTime, TypeOpaque:
		case TypeInt, TypeUint:
			if t.Bits != 8 && t.Bits != 16 && t.Bits != 32 && t.Bits != 64 {
				return fmt.Errorf("wire: description of %s: %s has %d bits", d.Interface, what, t.Bits)
			}
		case TypeFloat:
			if t.Bits != 32 && t.Bits != 64 {
				return fmt.Errorf("wire: description of %s: %s has %d bits", d.Interface, what, t.Bits)
			}
		case TypeSlice, TypePointer:
			if err := idx(what, t.Elem); err != nil {
				return err
			}
		case TypeArray:
			if err := idx(what, t.Elem); err != nil {
				return err
			}
			if t.Len < 0 || t.Len > MaxArrayElements {
				return fmt.Errorf("wire: description of %s: %s has length %d", d.Interface, what, t.Len)
			}
		case TypeMap:
			if err := idx(what, t.Elem); err != nil {
				return err
			}
			if err := idx(what, t.Key); err != nil {
				return err
			}
		case TypeStruct:
			for _, f := range t.Fields {
				if err := idx(what+" field "+f.Name, f.Type); err != nil {
					return err
				}
			}
		case TypeRef:
			if t.Interface == "" {
				return fmt.Errorf("wire: description of %s: %s is a reference without an interface", d.Interface, what)
			}
		default:
			return fmt.Errorf("wire: description of %s: %s has unknown kind %d", d.Interface, what, t.Kind)
		}
	}
	return nil
}

// Method returns the method of d whose Go name or wire name is name.
func (d *Description) Method(name string) (*MethodDesc, bool) {
	for i := range d.Methods {
		if m := &d.Methods[i]; m.Name == name || m.Wire == name {
			return m, true
		}
	}
	return nil, false
}
