// Package secret is internal to package other.
package secret

// Secret is visible only below package other.
type Secret struct{ Word string }
