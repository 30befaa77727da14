package lifecycle

import (
	"time"

	"github.com/remoting-go/remoting"
)

// emit tells b's observers of an event, if there are any.
func (b *Binding) emit(kind remoting.EventKind, wait time.Duration, err error) {
	if b.Observe == nil {
		return
	}
	b.Observe(remoting.Event{
		Kind:      kind,
		Interface: b.Interface,
		Name:      b.Name,
		ObjectID:  b.ID,
		Key:       b.Key,
		Time:      time.Now(),
		Wait:      wait,
		Err:       err,
	})
}
