// Package foo is one of two packages named foo.
package foo

// Thing is a thing of b/foo.
type Thing struct{ B string }
