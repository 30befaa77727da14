package lifecycle_test

import (
	"context"
	"testing"

	"github.com/remoting-go/remoting/lifecycle"
)

// plain implements Greeter and no hook.
type plain struct{}

func (*plain) Greet(context.Context, string) (string, error) { return "", nil }

func newPlain(context.Context) (*plain, error) { return new(plain), nil }

// BenchmarkAcquireReturn measures what each strategy adds to a call on
// the server, without the network: one Acquire and one Return.
func BenchmarkAcquireReturn(b *testing.B) {
	for _, tc := range []struct {
		name string
		new  func() lifecycle.Strategy
	}{
		{"static", func() lifecycle.Strategy { return lifecycle.Static(new(plain)) }},
		{"lazy", func() lifecycle.Strategy { return lifecycle.Lazy(newPlain) }},
		{"perrequest", func() lifecycle.Strategy { return lifecycle.PerRequest(newPlain) }},
		{"pooled", func() lifecycle.Strategy { return lifecycle.Pooled(newPlain, lifecycle.PoolOptions{}) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := tc.new()
			if err := s.Bind(binding()); err != nil { // no observers
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close(context.Background()) })
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					v, err := s.Acquire(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					s.Return(v)
				}
			})
		})
	}
}
