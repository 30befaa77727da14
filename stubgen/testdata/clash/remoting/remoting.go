// Package remoting shares its name with the runtime's root package.
package remoting

// Money is an amount.
type Money int64
