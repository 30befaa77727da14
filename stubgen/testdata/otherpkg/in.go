// Package otherpkg has an interface whose types come from other packages.
package otherpkg

import (
	"context"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/stubgen/testdata/otherpkg/money"
)

// Ledger uses types of the standard library, of a sibling package and of the
// runtime.
type Ledger interface {
	Book(ctx context.Context, at time.Time, amount money.Amount) (remoting.Ref, error)
	Balance(ctx context.Context, cur money.Currency, within time.Duration) (map[money.Currency]money.Amount, error)
}
