package lifecycle

import (
	"slices"

	"github.com/remoting-go/remoting"
)

// Fanout returns a function that tells each of obs of every event, in
// order, for [Binding.Observe]. It returns nil when obs is empty, so that
// strategies skip building events nobody reads. It copies obs.
func Fanout(obs ...remoting.Observer) func(remoting.Event) {
	switch len(obs) {
	case 0:
		return nil
	case 1:
		return obs[0].Observe
	}
	obs = slices.Clone(obs)
	return func(e remoting.Event) {
		for _, o := range obs {
			o.Observe(e)
		}
	}
}
