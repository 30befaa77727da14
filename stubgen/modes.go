package stubgen

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// views writes the typed views of the proxy of in, one per invocation mode
// other than the synchronous one, and the Poll Objects of its methods.
func (e *emitter) views(b *bytes.Buffer, in *iface, calls []*call) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }

	w("\n// ---- %s: Fire and Forget ----\n\n", in.name)
	w("// Oneway returns the Fire and Forget view of the proxy: its methods return once the call is handed to the connection,\n")
	w("// the results are discarded, and the error reports only a failure to send.\n")
	w("func (p *%s) Oneway() %s { return %s{p: p} }\n\n", in.proxy, in.oneway, in.oneway)
	w("// %s calls the methods of %s as Fire and Forget; see %s.Oneway.\n", in.oneway, in.name, in.proxy)
	w("type %s struct{ p *%s }\n", in.oneway, in.proxy)
	for _, c := range calls {
		w("\n// %s sends %s without waiting for the server.\n", c.m.name, c.m.wire)
		e.sendMethod(b, c, in.oneway, "ModeOneway")
	}

	w("\n// ---- %s: Sync with Server ----\n\n", in.name)
	w("// SyncWithServer returns the Sync with Server view of the proxy: its methods return once the server has accepted\n")
	w("// the call, before it runs; the results and the method's own error are discarded.\n")
	w("func (p *%s) SyncWithServer() %s { return %s{p: p} }\n\n", in.proxy, in.syncWithServer, in.syncWithServer)
	w("// %s calls the methods of %s as Sync with Server; see %s.SyncWithServer.\n", in.syncWithServer, in.name, in.proxy)
	w("type %s struct{ p *%s }\n", in.syncWithServer, in.proxy)
	for _, c := range calls {
		w("\n// %s sends %s and waits until the server has accepted it.\n", c.m.name, c.m.wire)
		e.sendMethod(b, c, in.syncWithServer, "ModeSyncWithServer")
	}

	w("\n// ---- %s: Poll Objects ----\n\n", in.name)
	w("// Async returns the Poll Object view of the proxy: its methods start the call and return its typed future at once.\n")
	w("func (p *%s) Async() %s { return %s{p: p} }\n\n", in.proxy, in.async, in.async)
	w("// %s starts calls of the methods of %s and returns their Poll Objects; see %s.Async.\n", in.async, in.name, in.proxy)
	w("type %s struct{ p *%s }\n", in.async, in.proxy)
	for _, c := range calls {
		e.asyncMethod(b, c)
	}

	w("\n// ---- %s: Result Callbacks ----\n\n", in.name)
	w("// Callback returns the Result Callback view of the proxy: its methods take the arguments and a function done,\n")
	w("// start the call and return; done runs exactly once with the results or the error (see remoting.Invocation.Done),\n")
	w("// on the calling goroutine before the method returns if the call cannot be sent.\n")
	if slices.ContainsFunc(in.methods, func(m *method) bool { return m.variadic }) {
		w("// A variadic parameter is a slice in this view.\n")
	}
	w("func (p *%s) Callback() %s { return %s{p: p} }\n\n", in.proxy, in.callback, in.callback)
	w("// %s calls the methods of %s with Result Callbacks; see %s.Callback.\n", in.callback, in.name, in.proxy)
	w("type %s struct{ p *%s }\n", in.callback, in.proxy)
	for _, c := range calls {
		e.callbackMethod(b, c)
	}
}

// sendMethod writes the method of the view type that sends c in mode and
// discards its results.
func (e *emitter) sendMethod(b *bytes.Buffer, c *call, view, mode string) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	v := c.recv
	w("func (%s %s) %s(%s) error {\n", v, view, c.m.name, e.params(c, ""))
	e.args(b, c, v+".p.c", func() { w("\t\treturn err\n") })
	w("\treturn %s.p.c.Invoke(ctx, %s)\n}\n", v, e.invocation(c, v+".p", "", mode, ""))
}

// asyncMethod writes the method of the Async view that starts c, and the
// Poll Object type it returns.
func (e *emitter) asyncMethod(b *bytes.Buffer, c *call) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	in, m, v, f := c.in, c.m, c.recv, c.fut
	w("\n// %s starts %s and returns its Poll Object at once.\n", m.name, m.wire)
	w("func (%s %s) %s(%s) *%s {\n", v, in.async, m.name, e.params(c, ""), m.future)
	fields := []string{"Future: " + e.codegen + ".NewFuture()"}
	if m.hasResultRefs() {
		fields = append(fields, "c: "+v+".p.c")
	}
	w("\t%s := &%s{%s}\n", f, m.future, strings.Join(fields, ", "))
	e.args(b, c, v+".p.c", func() { w("\t\t%s.Complete(err)\n\t\treturn %s\n", f, f) })
	reply := ""
	if len(m.results) > 0 {
		reply = "&" + f + ".res"
	}
	w("\t_ = %s.p.c.Invoke(ctx, %s) // the outcome goes to Done\n", v, e.invocation(c, v+".p", reply, "ModeAsync", f+".Complete"))
	w("\treturn %s\n}\n", f)

	w("\n// %s is the Poll Object of a call of %s: Ready reports without blocking whether the call is complete,\n", m.future, m.wire)
	w("// Done is closed when it is, and Result returns its outcome.\n")
	w("type %s struct {\n\t*%s.Future\n", m.future, e.codegen)
	if m.hasResultRefs() {
		w("\tc %s.Caller\n", e.remoting)
	}
	if len(m.results) > 0 {
		w("\tres %s\n", m.resultsType)
	}
	w("}\n")
	w("\n// Result waits until the call is complete or ctx ends and returns its outcome; if ctx ends first, the error\n")
	w("// has code DeadlineExceeded or Canceled and the call goes on.\n")
	if len(m.results) == 0 {
		w("func (f *%s) Result(ctx %s.Context) error { return f.Wait(ctx) }\n", m.future, e.context)
		return
	}
	w("func (f *%s) Result(ctx %s.Context) %s {\n", m.future, e.context, c.resultList())
	w("\tif err := f.Wait(ctx); err != nil {\n")
	w("\t\treturn %s\n\t}\n", e.zeros(b, c, "err"))
	w("\treturn %s, nil\n}\n", e.values(b, c, "f.res", "f.c"))
}

// callbackMethod writes the method of the Callback view that starts c.
func (e *emitter) callbackMethod(b *bytes.Buffer, c *call) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	in, m, v, done := c.in, c.m, c.recv, c.done
	doneType := "func(" + strings.Join(append(slices.Clone(c.results), "error"), ", ") + ")"
	w("\n// %s starts %s and returns; %s runs exactly once with the outcome.\n", m.name, m.wire, done)
	w("func (%s %s) %s(%s) {\n", v, in.callback, m.name, e.params(c, doneType))
	e.args(b, c, v+".p.c", func() { w("\t\t%s(%s)\n\t\treturn\n", done, e.zeros(b, c, "err")) })
	if len(m.results) == 0 {
		w("\t_ = %s.p.c.Invoke(ctx, %s) // the outcome goes to Done\n}\n", v, e.invocation(c, v+".p", "", "ModeAsync", done))
		return
	}
	w("\tvar res %s\n", m.resultsType)
	w("\t_ = %s.p.c.Invoke(ctx, %s\n", v, strings.TrimSuffix(e.invocation(c, v+".p", "&res", "ModeAsync", "func(err error) {"), "}"))
	w("\t\tif err != nil {\n")
	w("\t\t\t%s(%s)\n\t\t\treturn\n\t\t}\n", done, e.zeros(b, c, "err"))
	w("\t\t%s(%s, nil)\n", done, e.values(b, c, "res", v+".p.c"))
	w("\t}})\n}\n")
}
