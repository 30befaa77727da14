// Command stubgen generates the Client Proxy, with a typed view per
// invocation mode, and the Invoker of Go interfaces, for the remoting
// runtime. See package
// github.com/remoting-go/remoting/stubgen for what it accepts and writes.
//
// Usage:
//
//	stubgen -type Cart[,Catalog...] [-output file] [package patterns]
//
// The patterns default to ".", so that a directive in the package works:
//
//	//go:generate go tool stubgen -type Cart,Catalog
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/remoting-go/remoting/stubgen"
)

func main() {
	typeNames := flag.String("type", "", "comma-separated list of interface names; required")
	output := flag.String("output", "", "output file name; default <lowercase first type>_stub.go in the package directory")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: stubgen -type Cart[,Catalog...] [-output file] [package patterns]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *typeNames == "" {
		flag.Usage()
		os.Exit(2)
	}
	var types []string
	for _, t := range strings.Split(*typeNames, ",") {
		types = append(types, strings.TrimSpace(t))
	}
	if err := stubgen.Generate(".", flag.Args(), stubgen.Options{Types: types, Output: *output}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
