package dispatch

import (
	"sync/atomic"

	"github.com/remoting-go/remoting"
)

// Chain is an interceptor chain that can be replaced while calls run: a
// call loads it once, with no lock, and runs wholly on the chain it
// loaded. The zero value has no interceptors.
type Chain struct {
	p atomic.Pointer[remoting.Interceptor]
}

// Set replaces the chain with interceptors, first outermost.
func (c *Chain) Set(interceptors ...remoting.Interceptor) {
	ic := remoting.Chain(interceptors...)
	if ic == nil {
		c.p.Store(nil)
		return
	}
	c.p.Store(&ic)
}

// Load returns the chain, or nil for none.
func (c *Chain) Load() remoting.Interceptor {
	if p := c.p.Load(); p != nil {
		return *p
	}
	return nil
}
