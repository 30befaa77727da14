// Package config is the one place where the runtime meets spf13/viper: it
// reads a configuration file (YAML, TOML or JSON), the environment
// (REMOTING_*) and command-line flags (a *pflag.FlagSet) into a typed,
// validated [Config], and turns it into the Options of the packages that
// take them ([Config.ServerOptions], [Config.ClientOptions],
// [Config.ServerTLS]).
//
//	c, err := config.Load(config.Source{File: "service.yaml", Flags: fs})
//	opts, err := c.ServerOptions(registry)
//	srv := invoker.NewServer(opts)
//
// The optional layers do not import one another: config does not import
// package admin, and admin does not import config. A service that serves
// the admin endpoint fills admin.Options from [Config.Admin] itself (see
// admin's ExampleStart). Nor does config keep defaults of its own for what
// it hands on: an unset key leaves the default of the package that takes
// it, such as pool.DefaultMax or lifecycle.DefaultPassivateAfter.
//
// For users: all of it; an application uses [Load] or [Watch], the
// Options methods of [Config], and [Targets] for reloads.
//
// # Reloading
//
// A [Watcher] watches the file and publishes a new immutable snapshot
// behind an atomic pointer ([Watcher.Current]) whenever the file changes
// and the result validates; subscribers get the old and the new snapshot.
// A file that does not parse or validate is rejected with a logged error
// and the running configuration stays. [Targets.Apply] hands a snapshot to
// the running system: it replaces the interceptor chains of servers and
// clients by name (through a [Registry] of factories the application
// provides), resizes pools, and calls the application's hooks for lease
// time to live and passivation idle time.
//
// The running system never reads viper: each load uses a viper instance of
// its own on one goroutine and then drops it, since viper is not safe for
// concurrent use. The watcher uses fsnotify directly rather than
// viper.WatchConfig, which starts goroutines that cannot be stopped,
// updates a viper instance in place (so an invalid file would be half
// applied) and exits the process when it cannot watch.
//
// # Goroutines
//
// [Load] starts none. [Watch] starts one, which receives the file
// system's events and runs reloads and subscribers; [Watcher.Close] stops
// it and waits for it.
package config
