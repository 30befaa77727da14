package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

func TestSyncCallRoundTrip(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	p := lookup(t, c)
	ctx := ctxT(t)

	got, err := p.Echo(ctx, "hello")
	require.NoError(t, err)
	assert.Equal(t, "hello", got, "Echo")

	in := testservice.Payload{Name: "n", Seq: 7, Tags: []string{"a", "b"}, Attrs: map[string]int{"x": 1}, When: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)), Data: []byte{1, 2}}
	out, err := p.Round(ctx, in)
	require.NoError(t, err)
	assert.True(t, in.When.Equal(out.When), "Round time: %v vs %v", in.When, out.When)
	out.When = in.When
	assert.Equal(t, in, out, "Round")
}
