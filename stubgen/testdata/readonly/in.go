// Package readonly has methods marked //remoting:readonly, which a keyed
// object saving its state after every call does not save after.
package readonly

import "context"

// Account is a bank account, a keyed object.
type Account interface {
	// Balance returns the balance.
	//
	//remoting:readonly
	Balance(ctx context.Context) (int64, error)
	// Deposit adds amount and returns the new balance.
	Deposit(ctx context.Context, amount int64) (int64, error)
	//remoting:readonly
	History(ctx context.Context, n int) ([]int64, error)
	// Withdraw is not read-only: the directive must be a line of its own.
	// remoting:readonly in prose does not count.
	Withdraw(ctx context.Context, amount int64) (int64, error)
}
