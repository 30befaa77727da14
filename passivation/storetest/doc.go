// Package storetest checks implementations of passivation.Store, as
// testing/fstest checks file systems: [Run] runs the conformance tests of
// the Store contract (versioned writes, copies in and out, List, Close)
// against stores that an [Opener] opens. Every store of this module runs
// it in its tests, and so should a store of another module:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, storetest.Opener{
//			Open: func(t *testing.T) passivation.Store { return passivation.NewMemoryStore() },
//		})
//	}
//
// It is for tests only.
//
// # Goroutines
//
// Run starts the goroutines of its concurrency test and waits for them.
package storetest
