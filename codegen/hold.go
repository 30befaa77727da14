package codegen

import (
	"runtime"

	"github.com/remoting-go/remoting"
)

// Holder is implemented by a [remoting.Caller] that keeps alive, on their server,
// the objects its proxies hold: a requestor.Client renews their leases for
// as long as they are held. Hold records that one more proxy holds the
// object ref names and returns the function that ends that hold; release
// is idempotent and safe to call from any goroutine, including a cleanup
// of the runtime.
type Holder interface {
	Hold(ref remoting.Ref) (release func())
}

// Hold tells c, if it is a [Holder], that proxy holds the object ref
// names, until proxy is garbage collected, and returns proxy. A Caller
// that is no Holder is left alone. The proxy of an object that a remote
// factory returned is made with
//
//	codegen.Hold(c, NewCartProxy(c, ref), ref)
//
// so that the client renews the object's lease while the program can
// reach the proxy (or one of its views), and stops when it cannot. A
// proxy made by hand from a saved reference is not held until it is
// passed to Hold.
func Hold[P any](c remoting.Caller, proxy *P, ref remoting.Ref) *P {
	h, ok := c.(Holder)
	if !ok || proxy == nil {
		return proxy
	}
	runtime.AddCleanup(proxy, func(release func()) { release() }, h.Hold(ref))
	return proxy
}
