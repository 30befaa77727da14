// Command pubsub demonstrates publish and subscribe built on callback
// objects and Fire and Forget: each client passes a Subscriber it
// implements to the server's Topic by reference, and the topic pushes
// every event to every subscriber with a one-way call through the proxy it
// received, over the subscriber's own connection.
//
// The topic delivers to each subscriber on a goroutine of its own, from a
// bounded queue: a one-way call returns as soon as the event is queued on
// the connection, but it waits when the connection's buffers are full (a
// subscriber that stopped reading, or one that vanished and has not timed
// out yet), and then it must hold up only that subscriber. Publish never
// waits: an event for a full queue is dropped for that subscriber and
// counted. A subscriber whose client has gone is unsubscribed at its first
// send that fails with Unavailable.
//
// A client runs the calls it receives concurrently, so events may reach a
// subscriber out of order; each carries a sequence number, and the
// subscribers here apply them in that order.
//
// It runs a server and five clients in one process over real loopback TCP:
//
//	go run ./examples/pubsub
package main

//go:generate go tool stubgen -type Topic,Subscriber

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Event is one message published on a topic.
type Event struct {
	Seq  int // from 1, in the order published
	Text string
	At   time.Time // when it was published
}

// Status is what the topic knows of one subscriber.
type Status struct {
	Name    string
	Sent    int    // events handed to the subscriber's connection
	Dropped int    // events dropped because its queue was full
	Gone    string // why it was unsubscribed; empty while subscribed
}

// Subscriber is implemented by clients and called back by the topic.
type Subscriber interface {
	// Deliver hands over one event.
	Deliver(ctx context.Context, ev Event) error
}

// Topic is the remote interface.
type Topic interface {
	// Subscribe adds s under name; s receives every event published from
	// now on.
	Subscribe(ctx context.Context, name string, s Subscriber) error
	// Publish sends text to every subscriber and returns its sequence
	// number. It does not wait for any subscriber.
	Publish(ctx context.Context, text string) (seq int, err error)
	// Subscribers returns the status of every subscriber there has been.
	Subscribers(ctx context.Context) ([]Status, error)
}

// queueLen bounds the events waiting for one subscriber.
const queueLen = 64

// topic is the servant. Subscribe starts a delivery goroutine per
// subscriber; Close stops them and waits for them.
type topic struct {
	say    func(string, ...any)
	ctx    context.Context // of the deliveries; canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	seq  int
	subs []*subscription // subscribed
	gone []*subscription // unsubscribed
}

// subscription is one subscriber and its queue.
type subscription struct {
	name    string
	s       Subscriber
	queue   chan Event
	sent    atomic.Int64
	dropped atomic.Int64

	mu   sync.Mutex
	gone string
}

func newTopic(say func(string, ...any)) *topic {
	ctx, cancel := context.WithCancel(context.Background())
	return &topic{say: say, ctx: ctx, cancel: cancel}
}

func (t *topic) Subscribe(_ context.Context, name string, s Subscriber) error {
	if s == nil {
		return errors.New("subscribe: nil subscriber")
	}
	sub := &subscription{name: name, s: s, queue: make(chan Event, queueLen)}
	t.mu.Lock()
	t.subs = append(t.subs, sub)
	t.mu.Unlock()
	t.wg.Add(1)
	go t.deliver(sub)
	t.say("server: %s subscribed", name)
	return nil
}

// deliver pushes sub's events until its client is gone or the topic
// closes. Its context is the topic's: the Subscribe call that passed the
// subscriber has long returned.
func (t *topic) deliver(sub *subscription) {
	defer t.wg.Done()
	for {
		select {
		case ev := <-sub.queue:
			if err := push(t.ctx, sub.s, ev); err != nil {
				if remoting.CodeOf(err) == remoting.CodeUnavailable {
					t.unsubscribe(sub, err)
					return
				}
				t.say("server: event %d to %s not sent: %v", ev.Seq, sub.name, err)
				continue
			}
			sub.sent.Add(1)
		case <-t.ctx.Done():
			return
		}
	}
}

// push sends ev to s as Fire and Forget when s is remote.
func push(ctx context.Context, s Subscriber, ev Event) error {
	if p, ok := s.(*SubscriberProxy); ok {
		return p.Oneway().Deliver(ctx, ev)
	}
	return s.Deliver(ctx, ev)
}

func (t *topic) unsubscribe(sub *subscription, why error) {
	sub.mu.Lock()
	sub.gone = remoting.CodeOf(why).String()
	sub.mu.Unlock()
	t.mu.Lock()
	for i, s := range t.subs {
		if s == sub {
			// A new slice: Publish may be ranging over the old one.
			t.subs = append(t.subs[:i:i], t.subs[i+1:]...)
			break
		}
	}
	t.gone = append(t.gone, sub)
	t.mu.Unlock()
	t.say("server: %s is gone (%v) after %d events; unsubscribed", sub.name, remoting.CodeOf(why), sub.sent.Load())
}

func (t *topic) Publish(_ context.Context, text string) (int, error) {
	t.mu.Lock()
	t.seq++
	ev := Event{Seq: t.seq, Text: text, At: time.Now()}
	subs := t.subs
	t.mu.Unlock()
	for _, sub := range subs {
		select {
		case sub.queue <- ev:
		default:
			sub.dropped.Add(1)
		}
	}
	return ev.Seq, nil
}

func (t *topic) Subscribers(context.Context) ([]Status, error) {
	t.mu.Lock()
	all := append(append([]*subscription(nil), t.subs...), t.gone...)
	t.mu.Unlock()
	out := make([]Status, len(all))
	for i, sub := range all {
		sub.mu.Lock()
		out[i] = Status{Name: sub.name, Sent: int(sub.sent.Load()), Dropped: int(sub.dropped.Load()), Gone: sub.gone}
		sub.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Close stops every delivery goroutine and waits for them.
func (t *topic) Close() {
	t.cancel()
	t.wg.Wait()
}

// inbox is a client's Subscriber. It handles one event at a time, taking
// delay for each, and applies events in sequence order whatever order
// they arrive in.
type inbox struct {
	name  string
	delay time.Duration
	want  int           // events to expect
	all   chan struct{} // closed when want events have been applied
	say   func(string, ...any)

	work sync.Mutex // held while an event is handled: one at a time

	mu      sync.Mutex
	next    int           // the sequence number to apply next
	early   map[int]Event // handled, waiting for the events before them
	late    int           // events that arrived after one published later
	highest int
	applied []int
	maxLag  time.Duration // longest time from Publish to being applied
}

func newInbox(name string, delay time.Duration, want int, say func(string, ...any)) *inbox {
	return &inbox{name: name, delay: delay, want: want, all: make(chan struct{}), say: say, next: 1, early: map[int]Event{}}
}

func (in *inbox) Deliver(_ context.Context, ev Event) error {
	in.mu.Lock()
	if ev.Seq < in.highest {
		in.late++
	}
	in.highest = max(in.highest, ev.Seq)
	in.mu.Unlock()

	in.work.Lock()
	time.Sleep(in.delay)
	in.work.Unlock()

	in.mu.Lock()
	defer in.mu.Unlock()
	in.early[ev.Seq] = ev
	for {
		e, ok := in.early[in.next]
		if !ok {
			break
		}
		delete(in.early, in.next)
		in.applied = append(in.applied, e.Seq)
		in.maxLag = max(in.maxLag, time.Since(e.At))
		in.next++
	}
	if len(in.applied) == in.want {
		in.say("client %s: applied all %d events", in.name, in.want)
		close(in.all)
	}
	return nil
}

// check reports whether in applied events 1..want in order.
func (in *inbox) check() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, seq := range in.applied {
		if seq != i+1 {
			return fmt.Errorf("%s applied event %d as number %d", in.name, seq, i+1)
		}
	}
	if len(in.applied) != in.want {
		return fmt.Errorf("%s applied %d of %d events", in.name, len(in.applied), in.want)
	}
	return nil
}

func (in *inbox) stats() (applied, late int, maxLag time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.applied), in.late, in.maxLag
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pubsub:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Printf("[%6.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	srv := invoker.NewServer(invoker.Options{})
	news := newTopic(say)
	defer news.Close()
	if _, err := srv.Register("news", TopicInvoker(), lifecycle.Static(news)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Close()
		<-served
	}()
	endpoint := "tcp://" + lis.Addr().String()
	say("server: topic \"news\" listening on %s; at most %d events queued per subscriber", lis.Addr(), queueLen)

	// connect dials a client of its own and looks the topic up.
	connect := func() (*requestor.Client, *TopicProxy, error) {
		c, err := requestor.Dial(ctx, endpoint, requestor.Options{})
		if err != nil {
			return nil, nil, err
		}
		t, err := LookupTopic(ctx, c, "news")
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return c, t, nil
	}

	const events = 20
	inboxes := []*inbox{
		newInbox("alice", 0, events, say),
		newInbox("bob", 0, events, say),
		newInbox("slowpoke", 40*time.Millisecond, events, say),
		newInbox("carol", 0, events, say),
	}
	clients := make([]*requestor.Client, len(inboxes))
	for i, in := range inboxes {
		c, t, err := connect()
		if err != nil {
			return err
		}
		defer c.Close()
		clients[i] = c
		if err := t.Subscribe(ctx, in.name, in); err != nil {
			return err
		}
	}
	say("client slowpoke: takes %v per event", inboxes[2].delay)

	// carol's client goes away without a word.
	clients[3].Close()
	say("client carol: closed")

	// A publisher of its own publishes an event every 5ms.
	pubC, pub, err := connect()
	if err != nil {
		return err
	}
	defer pubC.Close()
	var slowest time.Duration
	for i := 1; i <= events; i++ {
		t0 := time.Now()
		if _, err := pub.Publish(ctx, fmt.Sprintf("headline %d", i)); err != nil {
			return err
		}
		slowest = max(slowest, time.Since(t0))
		time.Sleep(5 * time.Millisecond)
	}
	say("publisher: published %d events; the slowest Publish took %v", events, slowest.Round(10*time.Microsecond))

	// The fast subscribers get everything at once, whatever slowpoke and
	// carol do.
	for _, in := range inboxes[:2] {
		select {
		case <-in.all:
		case <-time.After(time.Second):
			n, _, _ := in.stats()
			return fmt.Errorf("%s applied only %d of %d events a second after the last was published", in.name, n, events)
		}
	}
	n, _, _ := inboxes[2].stats()
	say("client slowpoke: %d of %d events applied so far", n, events)
	if n == events {
		return fmt.Errorf("slowpoke was not slow: it had every event when alice and bob had")
	}

	select {
	case <-inboxes[2].all:
	case <-ctx.Done():
		return fmt.Errorf("slowpoke never got every event: %w", ctx.Err())
	}
	for _, in := range inboxes[:3] {
		if err := in.check(); err != nil {
			return err
		}
		_, late, lag := in.stats()
		say("client %s: all %d events applied in order; %d arrived after a later one; at most %v from Publish to applied",
			in.name, events, late, lag.Round(100*time.Microsecond))
	}

	statuses, err := pub.Subscribers(ctx)
	if err != nil {
		return err
	}
	for _, st := range statuses {
		gone := "subscribed"
		if st.Gone != "" {
			gone = "unsubscribed: " + st.Gone
		}
		say("server: %-8s sent %2d, dropped %d, %s", st.Name, st.Sent, st.Dropped, gone)
		switch {
		case st.Name == "carol" && st.Gone != remoting.CodeUnavailable.String():
			return fmt.Errorf("carol's client closed, but she is %s", gone)
		case st.Name != "carol" && (st.Gone != "" || st.Sent != events):
			return fmt.Errorf("%s: want %d events sent and still subscribed, got %+v", st.Name, events, st)
		}
	}
	if n, _, _ := inboxes[3].stats(); n != 0 {
		return fmt.Errorf("carol applied %d events after her client closed", n)
	}
	return nil
}
