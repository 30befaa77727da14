// Command passivation demonstrates Passivation: a game room, made for its
// client by the remote factory Lobby.Open, sits idle; the server saves its
// state to a bbolt file and drops the instance. The next call wakes the
// room up from the file, however many calls arrive at once. When the
// server restarts on the same file, the room comes back, for the same
// client, with everything that was said in it.
//
// It runs two servers, one after the other, and a client in one process
// over real loopback TCP, and prints what happens at each step:
//
//	go run ./examples/passivation
package main

//go:generate go tool stubgen -type Lobby,Room

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/requestor"
)

// Line is one thing said in a room.
type Line struct {
	Who  string
	Text string
}

// Lobby is the remote factory.
type Lobby interface {
	// Open makes a room for the calling client.
	Open(ctx context.Context, name string) (Room, error)
}

// Room is a client-dependent object whose state survives passivation.
type Room interface {
	Say(ctx context.Context, who, text string) (int, error)
	History(ctx context.Context) ([]Line, error)
}

// live counts the room instances in memory, across both servers.
var live atomic.Int64

// room is the servant. Its state is saved with passivation.Encode under a
// schema number, so that a later version of room can read old states.
type room struct {
	say   func(string, ...any)
	mu    sync.Mutex
	state roomState
}

// roomState is what passivation saves.
type roomState struct {
	Name  string
	Lines []Line
}

const roomSchema = 1

func newRoom(say func(string, ...any)) func(context.Context) (*room, error) {
	return func(context.Context) (*room, error) { return &room{say: say}, nil }
}

func (r *room) Say(_ context.Context, who, text string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.Lines = append(r.state.Lines, Line{who, text})
	return len(r.state.Lines), nil
}

func (r *room) History(context.Context) ([]Line, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.state.Lines), nil
}

// SaveState and RestoreState are the hooks of passivation.
func (r *room) SaveState(context.Context) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return passivation.Encode(roomSchema, r.state)
}

func (r *room) RestoreState(_ context.Context, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	schema, err := passivation.Decode(data, &r.state)
	if err != nil {
		return err
	}
	if schema != roomSchema {
		return fmt.Errorf("room state of schema %d, want %d", schema, roomSchema)
	}
	return nil
}

// Activate and Deactivate run as an instance comes and goes.
func (r *room) Activate(context.Context) error {
	live.Add(1)
	r.say("server: room %q activated from its saved state (%d lines)", r.state.Name, len(r.state.Lines))
	return nil
}

func (r *room) Deactivate(context.Context) error {
	live.Add(-1)
	r.say("server: room %q instance dropped (Deactivate)", r.state.Name)
	return nil
}

type lobby struct{ say func(string, ...any) }

func (l lobby) Open(_ context.Context, name string) (Room, error) {
	live.Add(1)
	return &room{say: l.say, state: roomState{Name: name}}, nil
}

const idle = 300 * time.Millisecond

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "passivation:", err)
		os.Exit(1)
	}
}

// server is one run of the game server on the store file.
type server struct {
	srv    *invoker.Server
	store  *bolt.Store
	served chan error
	events chan remoting.Event
}

// startServer opens the store at path and serves rooms on lis.
func startServer(path string, lis net.Listener, say func(string, ...any)) (*server, error) {
	store, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return nil, err
	}
	s := &server{store: store, served: make(chan error, 1), events: make(chan remoting.Event, 64)}
	watch := remoting.ObserverFunc(func(e remoting.Event) {
		switch e.Kind {
		case remoting.EventPassivated:
			if e.Err != nil {
				say("server: passivating room %s failed, it stays in memory: %v", short(e.ObjectID), e.Err)
			} else {
				say("server: room %s passivated: state saved to %s", short(e.ObjectID), filepath.Base(path))
			}
		case remoting.EventReactivated:
			if e.Err != nil {
				say("server: reactivating room %s failed: %v", short(e.ObjectID), e.Err)
			} else {
				say("server: room %s reactivated from %s", short(e.ObjectID), filepath.Base(path))
			}
		default:
			return
		}
		select {
		case s.events <- e:
		default:
		}
	})
	s.srv = invoker.NewServer(invoker.Options{Observers: []remoting.Observer{watch}})
	policy := lifecycle.ClientDependent(lifecycle.ClientDependentOptions{
		Passivation: lifecycle.Passivate(newRoom(say), lifecycle.PassivationOptions{After: idle, Store: store}),
	})
	if err := s.srv.Policy(RoomInvoker(), policy); err != nil {
		store.Close()
		return nil, err
	}
	if _, err := s.srv.Register("lobby", LobbyInvoker(), lifecycle.Static(lobby{say: say})); err != nil {
		store.Close()
		return nil, err
	}
	go func() { s.served <- s.srv.Serve(lis) }()
	return s, nil
}

// stop shuts the server down, which passivates the rooms in memory, and
// closes the store.
func (s *server) stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.served
	return errors.Join(err, s.store.Close())
}

// await waits for an event of kind.
func (s *server) await(kind remoting.EventKind) (remoting.Event, error) {
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-s.events:
			if e.Kind == kind && e.Err == nil {
				return e, nil
			}
		case <-timeout:
			return remoting.Event{}, fmt.Errorf("no %v event", kind)
		}
	}
}

func short(id remoting.ObjectID) string { return id.String()[:8] }

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("[%7.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}
	dir, err := os.MkdirTemp("", "remoting-passivation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rooms.db")

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := lis.Addr().String()
	s1, err := startServer(path, lis, say)
	if err != nil {
		return err
	}
	say("server: rooms passivate after %v idle, to %s; listening on %s", idle, path, addr)

	c, err := requestor.Dial(ctx, "tcp://"+addr, requestor.Options{RedialBackoff: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	defer c.Close()
	lob, err := LookupLobby(ctx, c, "lobby")
	if err != nil {
		return err
	}
	rm, err := lob.Open(ctx, "chess")
	if err != nil {
		return err
	}
	id := rm.(*RoomProxy).Ref().ID
	for _, l := range []Line{{"ann", "e4"}, {"ben", "e5"}, {"ann", "Nf3"}} {
		if _, err := rm.Say(ctx, l.Who, l.Text); err != nil {
			return err
		}
	}
	want, err := rm.History(ctx)
	if err != nil {
		return err
	}
	say("client: opened room %s and played three moves; instances in memory: %d", short(id), live.Load())

	// Idle: the room passivates.
	if _, err := s1.await(remoting.EventPassivated); err != nil {
		return err
	}
	say("client: the room sat idle for %v; instances in memory now: %d", idle, live.Load())
	if live.Load() != 0 {
		return fmt.Errorf("want no room instance in memory after passivation, got %d", live.Load())
	}

	// Twenty calls at once wake it up once.
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			got, err := rm.History(ctx)
			if err == nil && !slices.Equal(got, want) {
				err = fmt.Errorf("history %v, want %v", got, want)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	say("client: 20 concurrent History calls all saw the three moves; instances in memory: %d", live.Load())
	if live.Load() != 1 {
		return fmt.Errorf("want one room instance after reactivation, got %d", live.Load())
	}
	if _, err := rm.Say(ctx, "ben", "Nc6"); err != nil {
		return err
	}
	want = append(want, Line{"ben", "Nc6"})

	// Restart: shutting down passivates the live room; the next server on
	// the same file brings it back for the same client.
	if err := s1.stop(ctx); err != nil {
		return err
	}
	say("server: shut down; instances in memory: %d", live.Load())
	lis2, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s2, err := startServer(path, lis2, say)
	if err != nil {
		return err
	}
	say("server: restarted on %s: %d objects registered (the lobby and the room, still passivated)", filepath.Base(path), s2.srv.Stats().Objects)
	var got []Line
	for t0 := time.Now(); ; {
		got, err = rm.History(ctx) // the client reconnects
		if err == nil || time.Since(t0) > 5*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("the room after the restart: %w", err)
	}
	say("client: after the restart the room has %d moves: %v", len(got), got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("history after the restart: %v, want %v", got, want)
	}

	// Closing the room deletes its saved state.
	if err := c.Release(ctx, rm.(*RoomProxy).Ref()); err != nil {
		return err
	}
	if _, err := s2.store.Load(ctx, id); !errors.Is(err, passivation.ErrNotFound) {
		return fmt.Errorf("the room's state after Release: want it deleted, got %v", err)
	}
	say("client: released the room; its state is gone from %s", filepath.Base(path))
	return s2.stop(ctx)
}
