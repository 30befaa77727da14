package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
)

func TestLazyCreatesOnceUnderConcurrency(t *testing.T) {
	tr := &tracker{}
	release := make(chan struct{})
	var calls atomic.Int64
	s := lifecycle.Lazy(func(ctx context.Context) (*greeter, error) {
		calls.Add(1)
		<-release
		return tr.newGreeter(ctx)
	})
	counts := bind(t, s)
	const n = 1000
	got := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			got[i], err = s.Acquire(ctxT(t))
			assert.NoError(t, err, "Acquire")
		})
	}
	time.Sleep(10 * time.Millisecond) // let most of them queue up
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, calls.Load(), "constructor calls")
	assert.EqualValues(t, 1, tr.activated.Load(), "Activate calls")
	for i := range got {
		require.Same(t, got[0], got[i], "instance of call %d", i)
	}
	assert.EqualValues(t, 1, counts.Get(greeterInterface, remoting.EventActivated), "Activated events")

	require.NoError(t, s.Close(ctxT(t)))
	assert.EqualValues(t, 1, tr.deactivated.Load(), "Deactivate calls after Close")
	require.NoError(t, s.Close(ctxT(t)), "second Close")
	assert.EqualValues(t, 1, tr.deactivated.Load(), "Deactivate calls after a second Close")
	_, err := s.Acquire(ctxT(t))
	assert.ErrorIs(t, err, lifecycle.ErrClosed, "Acquire after Close")
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "Acquire after Close")
}

func TestLazyFailureGoesToWaitersAndRetries(t *testing.T) {
	tr := &tracker{}
	errLoad := errors.New("backend down")
	start := make(chan struct{})
	var calls atomic.Int64
	s := lifecycle.Lazy(func(ctx context.Context) (*greeter, error) {
		if calls.Add(1) == 1 {
			<-start
			return nil, errLoad
		}
		return tr.newGreeter(ctx)
	})
	counts := bind(t, s)
	const n = 50
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := s.Acquire(ctxT(t))
			errs <- err
		}()
	}
	time.Sleep(10 * time.Millisecond)
	close(start)
	for range n {
		assert.ErrorIs(t, <-errs, errLoad, "Acquire during the failed attempt")
	}
	assert.EqualValues(t, 1, calls.Load(), "constructor calls for the first attempt")

	v, err := s.Acquire(ctxT(t))
	require.NoError(t, err, "Acquire after the failure")
	assert.IsType(t, &greeter{}, v)
	assert.EqualValues(t, 2, calls.Load(), "constructor calls")
	assert.EqualValues(t, 1, counts.Failed(greeterInterface, remoting.EventActivated), "failed Activated events")
	assert.EqualValues(t, 1, counts.Get(greeterInterface, remoting.EventActivated), "Activated events")
}

func TestLazyActivateErrorFailsAttempt(t *testing.T) {
	errAct := errors.New("cannot activate")
	tr := &tracker{activateErr: errAct}
	s := lifecycle.Lazy(tr.newGreeter)
	bind(t, s)
	_, err := s.Acquire(ctxT(t))
	assert.ErrorIs(t, err, errAct, "Acquire")
	_, err = s.Acquire(ctxT(t))
	assert.ErrorIs(t, err, errAct, "second Acquire")
	assert.EqualValues(t, 2, tr.created.Load(), "constructor calls: each call retries")
	require.NoError(t, s.Close(ctxT(t)))
	assert.Zero(t, tr.deactivated.Load(), "Deactivate of instances that never activated")
}

// A panicking constructor must neither crash nor strand the waiters.
func TestLazyConstructorPanic(t *testing.T) {
	start := make(chan struct{})
	s := lifecycle.Lazy(func(context.Context) (*greeter, error) {
		<-start
		panic("boom")
	})
	bind(t, s)
	errs := make(chan error, 10)
	for range 10 {
		go func() {
			_, err := s.Acquire(ctxT(t))
			errs <- err
		}()
	}
	time.Sleep(10 * time.Millisecond)
	close(start)
	for range 10 {
		err := <-errs
		assert.ErrorIs(t, err, remoting.ErrInternal, "Acquire")
		assert.ErrorContains(t, err, "boom")
	}
}

// A waiter whose own context ends gives up; one whose context is live does
// not inherit the error of an attempt abandoned by its runner.
func TestLazyWaitersAndContexts(t *testing.T) {
	tr := &tracker{}
	var calls atomic.Int64
	s := lifecycle.Lazy(func(ctx context.Context) (*greeter, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return tr.newGreeter(ctx)
	})
	bind(t, s)

	runnerCtx, cancelRunner := context.WithCancel(context.Background())
	runnerErr := make(chan error, 1)
	go func() {
		_, err := s.Acquire(runnerCtx)
		runnerErr <- err
	}()
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := s.Acquire(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Acquire of a waiter whose deadline passed")

	waiterErr := make(chan error, 1)
	go func() {
		_, err := s.Acquire(ctxT(t))
		waiterErr <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancelRunner()
	assert.ErrorIs(t, <-runnerErr, context.Canceled, "Acquire of the canceled runner")
	assert.NoError(t, <-waiterErr, "Acquire of a live waiter after the runner gave up")
	assert.EqualValues(t, 2, calls.Load(), "constructor calls")
}

func TestLazyCloseDuringCreation(t *testing.T) {
	tr := &tracker{}
	entered, release := make(chan struct{}), make(chan struct{})
	s := lifecycle.Lazy(func(ctx context.Context) (*greeter, error) {
		close(entered)
		<-release
		return tr.newGreeter(ctx)
	})
	require.NoError(t, s.Bind(binding()))
	errc := make(chan error, 1)
	go func() {
		_, err := s.Acquire(ctxT(t))
		errc <- err
	}()
	<-entered
	require.NoError(t, s.Close(ctxT(t)))
	close(release)
	assert.ErrorIs(t, <-errc, lifecycle.ErrClosed, "Acquire that raced Close")
	assert.EqualValues(t, 1, tr.deactivated.Load(), "Deactivate of the instance made after Close")
}
