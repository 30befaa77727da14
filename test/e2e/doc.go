// Package e2e tests code that stubgen generated, end to end: a server
// registers implementations of the interfaces of package shapes, a client
// dials it over loopback TCP, and every method is called through the
// generated Client Proxy and Invoker.
package e2e
