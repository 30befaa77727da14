package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// keyedEcho is an Echo that can be a keyed object.
type keyedEcho struct{ testservice.Impl }

func (*keyedEcho) SaveState(context.Context) ([]byte, error)  { return nil, nil }
func (*keyedEcho) RestoreState(context.Context, []byte) error { return nil }

// TestKeyedRequestsOnTheWire sends requests with the Key flag as raw
// frames: an empty key, which no client of this module sends, is
// InvalidArgument and the connection stays up; a key whose id is right is
// served.
func TestKeyedRequestsOnTheWire(t *testing.T) {
	s := startServer(t, invoker.Options{})
	newEcho := func(context.Context, string) (*keyedEcho, error) { return new(keyedEcho), nil }
	require.NoError(t, s.Keyed(testservice.EchoInvoker(), lifecycle.Keyed(newEcho, lifecycle.KeyedOptions{})))
	p, welcome := rawDial(t, s.endpoint, wire.ProtocolVersion)
	require.Equal(t, wire.KindWelcome, welcome.Kind)
	p.openCalls(t)
	replies := wire.NewReader(p.calls, 0)
	args, err := wire.Marshal(&struct {
		_ struct{} `cbor:",toarray"`
		S string
	}{S: "hi"})
	require.NoError(t, err)
	send := func(id uint64, key string) wire.Frame {
		t.Helper()
		f := wire.Frame{Kind: wire.KindRequest, Flags: wire.FlagKey, ID: id, Object: remoting.KeyID(testservice.EchoInterface, key), Method: "Echo.Echo", Key: key, Body: args}
		_, err := p.calls.Write(wire.AppendFrame(nil, &f))
		require.NoError(t, err)
		p.calls.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := replies.ReadFrame()
		require.NoError(t, err, "the reply to request %d", id)
		return got
	}

	got := send(1, "")
	require.Equal(t, wire.KindError, got.Kind, "an empty key")
	assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(wire.DecodeError(got.Body)), "an empty key: %v", wire.DecodeError(got.Body))

	got = send(2, "k")
	require.Equal(t, wire.KindReply, got.Kind, "a good key: %v", wire.DecodeError(got.Body))
	var res struct {
		_ struct{} `cbor:",toarray"`
		R string
	}
	require.NoError(t, wire.Unmarshal(got.Body, &res))
	assert.Equal(t, "hi", res.R)

	// The generated client reaches the same object.
	c := dial(t, s.endpoint, requestor.Options{})
	e, err := testservice.EchoByKey(c, "k")
	require.NoError(t, err)
	out, err := e.Echo(ctxT(t), "again")
	require.NoError(t, err)
	assert.Equal(t, "again", out)
	assert.Equal(t, 2, s.Stats().Objects, "the named echo and the keyed one")
}
