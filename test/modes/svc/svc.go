// Package svc declares the remote interfaces the invocation-mode tests
// call: a Recorder that notes the order in which calls run, a Worker whose
// calls can be held until the test lets them finish, and a Hub that keeps
// an Observer its client passed by reference and calls it back.
package svc

//go:generate go tool stubgen -type Recorder,Worker,Observer,Hub

import "context"

// Recorder notes the numbers it is given, in the order its calls run.
type Recorder interface {
	// Record appends n to the record.
	Record(ctx context.Context, n int) error
	// Recorded returns the record so far.
	Recorded(ctx context.Context) ([]int, error)
}

// Worker runs calls that take as long as the test wants.
type Worker interface {
	// Echo returns n.
	Echo(ctx context.Context, n int) (int, error)
	// Hold waits until the test releases the call (or ctx ends), then
	// returns n and the word it was given.
	Hold(ctx context.Context, n int, word string) (int, string, error)
	// Fail returns an error with msg.
	Fail(ctx context.Context, msg string) (int, error)
}

// Observer is implemented by clients and called back by a Hub.
type Observer interface {
	// Notify is told of event n and returns what it made of it.
	Notify(ctx context.Context, n int) (int, error)
}

// Hub keeps one Observer per client and calls it.
type Hub interface {
	// Watch keeps o, in place of the observer kept before.
	Watch(ctx context.Context, o Observer) error
	// Tell calls the kept observer's Notify with n and returns its result
	// or error.
	Tell(ctx context.Context, n int) (int, error)
	// Post sends n to the kept observer's Notify as Fire and Forget and
	// returns the error of the send.
	Post(ctx context.Context, n int) error
	// Forget releases the kept observer: the client stops exporting it.
	Forget(ctx context.Context) error
}
