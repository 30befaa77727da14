// Package lifecycle is the Lifecycle Manager of the Remoting Patterns: it
// decides which instance serves an invocation of an Object ID, when that
// instance is created and when it ends.
//
// Every registered object has one [Strategy], chosen at registration:
//
//	srv.Register("catalog", catalog.CatalogInvoker(), lifecycle.Static(impl))
//
// The server asks the strategy for an instance with [Strategy.Acquire]
// before each invocation and gives it back with [Strategy.Release] after it.
//
// [Static] (Static Instance) creates nothing: the instance exists before
// registration and lives until the server shuts down. It starts no
// goroutines.
package lifecycle
