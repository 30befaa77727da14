// Package adapt tests the adaptation layer end to end over loopback:
// interceptor chains on both sides and their replacement under load,
// configuration reloads applied to a running server, authentication that
// activates nothing for a refused call, the admin endpoint against the
// server's own counts, and adaptive pool sizing under a step of load.
package adapt
