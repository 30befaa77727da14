package testservice

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/internal/wire"
)

// FuzzDecodeRequest decodes arbitrary bodies into the generated argument
// structs through the generated Invoker: no panic, and a body that does not
// fit is InvalidArgument.
func FuzzDecodeRequest(f *testing.F) {
	seeds := []any{
		&echoEchoArgs{S: "hello"},
		&echoRoundArgs{P: Payload{Name: "n", Seq: 1, Tags: []string{"a"}, Attrs: map[string]int{"k": 1}, When: time.Unix(1, 2), Data: []byte{1}}},
		&echoSleepArgs{D: time.Millisecond},
		&echoFailArgs{Code: 5, Msg: "m"},
		&echoCountArgs{},
	}
	for _, s := range seeds {
		b, err := wire.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// The methods in a fixed order, without those that panic or allocate
	// by design, and one context cancelled up front (so that Sleep returns
	// at once): an execution only decodes and calls.
	var names []string
	for name := range EchoInvoker().Methods {
		switch name {
		case "Echo.Panic", "Echo.Blob":
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	methods := make([]codegen.Method, len(names))
	for i, name := range names {
		methods[i] = EchoInvoker().Methods[name]
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, body []byte) {
		impl := &Impl{}
		for i, m := range methods {
			_, err := m(ctx, impl, dispatch.NewArgs(body))
			if err == nil {
				continue
			}
			var re *remoting.Error
			if errors.As(err, &re) && re.Code == remoting.CodeInvalidArgument {
				continue
			}
			if name := names[i]; name == "Echo.Fail" || name == "Echo.Sleep" {
				continue // these return errors on purpose
			}
			t.Fatalf("%s: unexpected error %v", names[i], err)
		}
	})
}
