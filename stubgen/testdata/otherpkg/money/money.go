// Package money is a sibling package whose types appear in a remote
// interface of another package.
package money

// Amount is an amount of money in cents.
type Amount struct {
	Cents    int64
	Currency Currency
}

// Currency is an ISO 4217 code.
type Currency string
