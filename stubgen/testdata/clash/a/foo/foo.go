// Package foo is one of two packages named foo.
package foo

// Thing is a thing of a/foo.
type Thing struct{ A int }
