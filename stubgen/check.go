package stubgen

import (
	"fmt"
	"go/token"
	"go/types"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/tools/go/packages"
)

// generator builds the generated file of one package.
type generator struct {
	pkg    *packages.Package
	d      *diagnostics
	listed map[*types.TypeName]bool // the -type interfaces of every loaded package
	ifaces []*iface
	failed bool // a problem was reported; write nothing for the package

	readOnly map[token.Pos]bool   // methods marked read-only, by position; see readOnlyAt
	docs     map[token.Pos]string // doc comments of methods, by position; see docAt
}

// iface is one interface to generate code for.
type iface struct {
	name    string // as declared, such as "Cart"
	pos     token.Pos
	methods []*method // sorted by name

	// Generated names.
	constName  string // CartInterface
	proxy      string // CartProxy
	newProxy   string // NewCartProxy
	lookup     string // LookupCart
	byKey      string // CartByKey
	invoker    string // CartInvoker
	invokerVar string // invokerOfCart
	descVar    string // descriptionOfCart

	// Generated names of the invocation mode views.
	oneway         string // CartOneway
	syncWithServer string // CartSyncWithServer
	async          string // CartAsync
	callback       string // CartCallback
}

// method is one method of an interface.
type method struct {
	name     string
	wire     string       // "Cart.Add"
	params   []*types.Var // without the leading context.Context
	results  []*types.Var // without the trailing error
	variadic bool
	fields   []string // field names of the arguments struct, one per param
	readOnly bool     // marked //remoting:readonly: changes no state worth saving
	doc      string   // the doc comment, directives left out

	// The remote interfaces among the parameters and results, which travel
	// as a remoting.Ref: one entry per param (result), nil for data.
	paramRefs  []*types.TypeName
	resultRefs []*types.TypeName

	// Generated names.
	argsType    string // cartAddArgs
	resultsType string // cartAddResults
	invoke      string // cartAddInvoke
	future      string // CartAddFuture
	newArgs     string // newCartAddArgs, if a parameter is a remote interface
}

// hasParamRefs reports whether a parameter of m is a remote interface.
func (m *method) hasParamRefs() bool { return slices.ContainsFunc(m.paramRefs, isRef) }

// hasResultRefs reports whether a result of m is a remote interface.
func (m *method) hasResultRefs() bool { return slices.ContainsFunc(m.resultRefs, isRef) }

func isRef(tn *types.TypeName) bool { return tn != nil }

// proxyMembers are the fields and methods of a generated proxy and of its
// views besides the interface's methods, with how a message names them: a
// method of the interface with one of these names would clash.
var proxyMembers = map[string]string{
	"Ref":            "the Ref accessor of the generated proxy",
	"Caller":         "the Caller accessor of the generated proxy",
	"Oneway":         "the Oneway view accessor of the generated proxy",
	"SyncWithServer": "the SyncWithServer view accessor of the generated proxy",
	"Async":          "the Async view accessor of the generated proxy",
	"Callback":       "the Callback view accessor of the generated proxy",
	"c":              "the field c of the generated proxy",
	"ref":            "the field ref of the generated proxy",
	"p":              "the field p of the generated views",
}

// localNames are identifiers that the generated function bodies declare,
// so an interface may not be named like one of them, nor an import.
var localNames = []string{"a", "args", "c", "ctx", "done", "err", "f", "impl", "key", "name", "ok", "p", "r", "ref", "res", "v", "zero"}

// predeclaredUsed are the predeclared identifiers the generated code uses,
// so the package must not declare them.
var predeclaredUsed = []string{"any", "bool", "error", "nil", "string"}

// newGenerator returns the generator of pkg. listed holds the interfaces
// that -type names in all the loaded packages: they are remote whether or
// not their old stubs are there.
func newGenerator(pkg *packages.Package, d *diagnostics, listed map[*types.TypeName]bool) *generator {
	return &generator{pkg: pkg, d: d, listed: listed}
}

// errorf reports a problem at pos and marks the package failed.
func (g *generator) errorf(pos token.Pos, format string, args ...any) {
	g.failed = true
	g.d.addf(pos, format, args...)
}

// qualifier writes other packages by name, for messages.
func (g *generator) qualifier(p *types.Package) string {
	if p == g.pkg.Types {
		return ""
	}
	return p.Name()
}

// typeString spells t for a message.
func (g *generator) typeString(t types.Type) string { return types.TypeString(t, g.qualifier) }

// add checks the type called name, declared in the package, and adds it to
// the interfaces to generate code for.
func (g *generator) add(name string) {
	obj := g.pkg.Types.Scope().Lookup(name)
	tn, ok := obj.(*types.TypeName)
	if !ok {
		g.errorf(obj.Pos(), "%s: is a %s, not an interface type; -type names interfaces", name, objKind(obj))
		return
	}
	var tparams *types.TypeParamList
	switch t := tn.Type().(type) {
	case *types.Named:
		tparams = t.TypeParams()
	case *types.Alias:
		tparams = t.TypeParams()
	}
	if tparams.Len() > 0 {
		g.errorf(tn.Pos(), "%s: generic interfaces cannot be remote, because the wire carries no type arguments; declare an instance, such as type Int%s = %s[int], and name that with -type", name, name, name)
		return
	}
	it, ok := tn.Type().Underlying().(*types.Interface)
	if !ok {
		g.errorf(tn.Pos(), "%s: is a %s type, not an interface; -type names interfaces", name, kindOf(tn.Type().Underlying()))
		return
	}
	if !it.IsMethodSet() {
		g.errorf(tn.Pos(), "%s: is a constraint with a type set, not an interface of methods; it cannot be remote", name)
		return
	}
	if it.NumMethods() == 0 {
		g.errorf(tn.Pos(), "%s: has no methods; a remote interface needs at least one", name)
		return
	}
	in := &iface{name: name, pos: tn.Pos()}
	var ms []*types.Func
	for m := range it.Methods() {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *types.Func) int { return strings.Compare(a.Name(), b.Name()) })
	for _, m := range ms {
		if g.hasInvalid(m.Signature()) {
			// The signature did not type-check: report why, as the
			// compiler would.
			for _, e := range g.pkg.Errors {
				if e.Kind == packages.TypeError {
					g.d.addPackagesError(e)
				}
			}
			g.failed = true
			return
		}
	}
	for _, m := range ms {
		if mm := g.method(in, m); mm != nil {
			in.methods = append(in.methods, mm)
		}
	}
	g.ifaces = append(g.ifaces, in)
}

// method checks the method m of in and returns its model, or nil after
// reporting why it cannot be remote.
func (g *generator) method(in *iface, m *types.Func) *method {
	where := in.name + "." + m.Name()
	bad := false
	fail := func(pos token.Pos, format string, args ...any) {
		bad = true
		g.errorf(pos, where+": "+format, args...)
	}
	if m.Pkg() != g.pkg.Types && !m.Exported() {
		fail(m.Pos(), "is unexported in package %s, so no type outside it can implement %s; export the method", m.Pkg().Path(), in.name)
		return nil
	}
	if what, ok := proxyMembers[m.Name()]; ok {
		fail(m.Pos(), "clashes with %s; rename the method", what)
	}
	sig := m.Signature()
	params, results := sig.Params(), sig.Results()

	first := 0
	switch {
	case params.Len() == 0:
		fail(m.Pos(), "has no parameters; a remote method takes ctx context.Context first")
	case !isContext(params.At(0).Type()):
		fail(m.Pos(), "first parameter is %s; a remote method takes ctx context.Context first, add it", g.typeString(params.At(0).Type()))
	default:
		first = 1
	}
	last := results.Len()
	switch {
	case results.Len() == 0:
		fail(m.Pos(), "has no results; a remote method returns error last, add it")
	case !isError(results.At(results.Len() - 1).Type()):
		fail(m.Pos(), "last result is %s; a remote method returns error last, add it", g.typeString(results.At(results.Len()-1).Type()))
	default:
		last = results.Len() - 1
	}

	mm := &method{name: m.Name(), wire: in.name + "." + m.Name(), variadic: sig.Variadic(), readOnly: g.readOnlyAt(m.Pos()), doc: g.docAt(m.Pos())}
	for i := first; i < params.Len(); i++ {
		v := params.At(i)
		mm.params = append(mm.params, v)
		mm.paramRefs = append(mm.paramRefs, g.remote(v.Type()))
		if msg := g.valueProblem(v.Type(), true); msg != "" {
			fail(posOr(v.Pos(), m.Pos()), "%s %s", label("parameter", v, i), msg)
		}
	}
	for i := 0; i < last; i++ {
		v := results.At(i)
		mm.results = append(mm.results, v)
		mm.resultRefs = append(mm.resultRefs, g.remote(v.Type()))
		if msg := g.valueProblem(v.Type(), false); msg != "" {
			fail(posOr(v.Pos(), m.Pos()), "%s %s", label("result", v, i), msg)
		}
	}
	if bad {
		return nil
	}
	mm.fields = fieldNames(mm.params)
	return mm
}

// posOr returns pos, or def if pos is not valid.
func posOr(pos, def token.Pos) token.Pos {
	if pos.IsValid() {
		return pos
	}
	return def
}

// label names parameter or result i (counted from 0) as a message does.
func label(kind string, v *types.Var, i int) string {
	if v.Name() != "" && v.Name() != "_" {
		return kind + " " + v.Name()
	}
	return fmt.Sprintf("%s #%d", kind, i+1)
}

// fieldNames returns the field names of an arguments struct: the
// capitalised parameter names if they all make distinct exported names,
// else A0, A1, ...
func fieldNames(params []*types.Var) []string {
	names := make([]string, len(params))
	seen := map[string]bool{}
	for i, v := range params {
		n := upperFirst(v.Name())
		if v.Name() == "" || v.Name() == "_" || !token.IsExported(n) || seen[n] {
			for i := range names {
				names[i] = fmt.Sprintf("A%d", i)
			}
			return names
		}
		seen[n] = true
		names[i] = n
	}
	return names
}

// valueProblem returns what keeps a parameter (or result) of type t from
// crossing the wire, or "" if nothing does. The message begins with a verb
// phrase that follows the parameter's label.
func (g *generator) valueProblem(t types.Type, isParam bool) string {
	switch {
	case isContext(t) && isParam:
		return "is a context.Context; only the first parameter may be one, remove it"
	case isError(t) && !isParam:
		return "is an error; only the last result may be one, return one error"
	}
	if tn := g.unnameable(t); tn != nil {
		if !tn.Exported() {
			return fmt.Sprintf("has type %s, which is unexported in package %s, so generated code in %s cannot name it; export it", g.typeString(t), tn.Pkg().Path(), g.pkg.PkgPath)
		}
		return fmt.Sprintf("has type %s, whose package %s cannot be imported from %s", g.typeString(t), tn.Pkg().Path(), g.pkg.PkgPath)
	}
	if g.remote(t) != nil {
		return "" // travels as a remoting.Ref
	}
	p := g.wireProblem(t, "", map[types.Type]bool{})
	if p == nil {
		return ""
	}
	what := p.what + " " + g.typeString(p.typ)
	switch {
	case p.field != "":
		return fmt.Sprintf("of type %s contains %s in field %s; %s", g.typeString(t), what, p.field, p.why)
	case types.Identical(p.typ, t):
		return fmt.Sprintf("has %s; %s", what, p.why)
	default:
		return fmt.Sprintf("of type %s contains %s; %s", g.typeString(t), what, p.why)
	}
}

// problem is what keeps a type from crossing the wire.
type problem struct {
	typ   types.Type // the offending type
	what  string     // its kind for a message: "channel type"
	field string     // the struct field that holds it, as "Order.Notify", or ""
	why   string     // the reason and the fix
}

// wireProblem finds a part of t that the wire cannot carry. field names the
// struct field t is the type of, for messages. seen breaks cycles.
func (g *generator) wireProblem(t types.Type, field string, seen map[types.Type]bool) *problem {
	at := func(what, why string) *problem { return &problem{typ: t, what: what, field: field, why: why} }
	if g.remote(t) != nil {
		return at("remote interface type", "a remote interface can be only a parameter or a result itself: references inside slices, maps, arrays, pointers and structs are not supported yet, pass the objects one by one")
	}
	switch u := types.Unalias(t).(type) {
	case *types.Named:
		if seen[u] {
			return nil
		}
		seen[u] = true
		if marshalsItself(u) {
			return nil
		}
		if s, ok := u.Underlying().(*types.Struct); ok {
			return g.structProblem(s, g.typeString(u), seen)
		}
		if _, ok := u.Underlying().(*types.Interface); ok {
			return at("interface type", g.notRemoteAdvice(u.Obj()))
		}
		p := g.wireProblem(u.Underlying(), field, seen)
		if p != nil && p.typ == u.Underlying() {
			p.typ = t // name the named type, not its underlying type
		}
		return p
	case *types.Basic:
		switch u.Kind() {
		case types.Complex64, types.Complex128, types.Uintptr, types.UnsafePointer:
			return at("type", "the wire format has no encoding for it, use another type")
		}
	case *types.Pointer:
		return g.wireProblem(u.Elem(), field, seen)
	case *types.Slice:
		return g.wireProblem(u.Elem(), field, seen)
	case *types.Array:
		return g.wireProblem(u.Elem(), field, seen)
	case *types.Map:
		if p := g.wireProblem(u.Key(), field, seen); p != nil {
			return p
		}
		return g.wireProblem(u.Elem(), field, seen)
	case *types.Chan:
		return at("channel type", "channels cannot cross the wire, pass the values instead (for example as a slice)")
	case *types.Signature:
		return at("function type", "functions cannot cross the wire, pass data instead")
	case *types.Interface:
		return at("interface type", interfaceAdvice)
	case *types.TypeParam:
		return at("type parameter", "remote methods cannot be generic")
	case *types.Struct:
		return g.structProblem(u, "struct", seen)
	}
	return nil
}

const interfaceAdvice = "only concrete types and remote interfaces cross the wire (context.Context only first, error only last), use a concrete type, or a remote interface to pass an object by reference"

// notRemoteAdvice explains why the named interface tn cannot cross the
// wire and how to make it a remote interface.
func (g *generator) notRemoteAdvice(tn *types.TypeName) string {
	switch {
	case tn.Pkg() == nil:
		return interfaceAdvice
	case tn.Pkg() == g.pkg.Types:
		return fmt.Sprintf("%s is not a remote interface: add it to -type to pass objects by reference, or use a concrete type", tn.Name())
	default:
		return fmt.Sprintf("%s.%s is not a remote interface, package %s has no stubs for it: generate them there (stubgen -type %s) to pass objects by reference, or use a concrete type", tn.Pkg().Name(), tn.Name(), tn.Pkg().Path(), tn.Name())
	}
}

// remote returns the type name of t if t is a remote interface, which
// travels as a remoting.Ref: an interface that -type names in one of the
// loaded packages, or an interface of another package that has generated
// stubs, that is, New<Name>Proxy and <Name>Invoker functions and a
// <Name>Interface constant. An alias is remote if it is listed or has
// stubs itself, or if the type it stands for is remote.
func (g *generator) remote(t types.Type) *types.TypeName {
	for {
		var tn *types.TypeName
		var targs *types.TypeList
		switch u := t.(type) {
		case *types.Alias:
			tn, targs = u.Obj(), u.TypeArgs()
		case *types.Named:
			tn, targs = u.Obj(), u.TypeArgs()
		default:
			return nil
		}
		if _, ok := t.Underlying().(*types.Interface); !ok || tn.Pkg() == nil {
			return nil
		}
		if targs.Len() == 0 && (g.listed[tn] || tn.Pkg() != g.pkg.Types && hasStubs(tn)) {
			return tn
		}
		a, ok := t.(*types.Alias)
		if !ok {
			return nil
		}
		t = a.Rhs()
	}
}

// hasStubs reports whether the package of tn declares what stubgen
// generates for an interface named like tn.
func hasStubs(tn *types.TypeName) bool {
	scope, n := tn.Pkg().Scope(), tn.Name()
	newProxy, _ := scope.Lookup("New" + n + "Proxy").(*types.Func)
	inv, _ := scope.Lookup(n + "Invoker").(*types.Func)
	c, _ := scope.Lookup(n + "Interface").(*types.Const)
	return newProxy != nil && newProxy.Signature().Params().Len() == 2 && newProxy.Signature().Results().Len() == 1 &&
		inv != nil && inv.Signature().Params().Len() == 0 && inv.Signature().Results().Len() == 1 &&
		c != nil
}

// structProblem walks the fields of s that the wire encodes: the exported
// ones and embedded structs, less those tagged "-".
func (g *generator) structProblem(s *types.Struct, owner string, seen map[types.Type]bool) *problem {
	for i := range s.NumFields() {
		f := s.Field(i)
		tag := reflect.StructTag(s.Tag(i))
		if c, ok := tag.Lookup("cbor"); (ok && c == "-") || (!ok && tag.Get("json") == "-") {
			continue
		}
		embeddedStruct := false
		if f.Embedded() {
			t := types.Unalias(f.Type())
			if p, ok := t.(*types.Pointer); ok {
				t = p.Elem()
			}
			_, embeddedStruct = t.Underlying().(*types.Struct)
		}
		if !f.Exported() && !embeddedStruct {
			continue
		}
		if p := g.wireProblem(f.Type(), owner+"."+f.Name(), seen); p != nil {
			return p
		}
	}
	return nil
}

// marshalsItself reports whether *t encodes itself (MarshalCBOR or
// MarshalBinary), so that its fields do not matter.
func marshalsItself(t *types.Named) bool {
	ms := types.NewMethodSet(types.NewPointer(t))
	return ms.Lookup(nil, "MarshalCBOR") != nil || ms.Lookup(nil, "MarshalBinary") != nil
}

// unnameable returns a named type in the spelling of t that the generated
// code cannot refer to: unexported in another package, or in a package it
// may not import.
func (g *generator) unnameable(t types.Type) *types.TypeName {
	check := func(tn *types.TypeName, targs *types.TypeList) *types.TypeName {
		if p := tn.Pkg(); p != nil && p != g.pkg.Types {
			if !tn.Exported() || !canImport(g.pkg.PkgPath, p.Path()) {
				return tn
			}
		}
		for a := range targs.Types() {
			if bad := g.unnameable(a); bad != nil {
				return bad
			}
		}
		return nil
	}
	switch t := t.(type) {
	case *types.Alias:
		return check(t.Obj(), t.TypeArgs())
	case *types.Named:
		return check(t.Obj(), t.TypeArgs())
	case *types.Pointer:
		return g.unnameable(t.Elem())
	case *types.Slice:
		return g.unnameable(t.Elem())
	case *types.Array:
		return g.unnameable(t.Elem())
	case *types.Map:
		if bad := g.unnameable(t.Key()); bad != nil {
			return bad
		}
		return g.unnameable(t.Elem())
	case *types.Struct:
		for f := range t.Fields() {
			if bad := g.unnameable(f.Type()); bad != nil {
				return bad
			}
		}
	}
	return nil
}

// canImport reports whether the package importer may import path under
// the rule for internal directories.
func canImport(importer, path string) bool {
	i := strings.LastIndex(path, "/internal/")
	switch {
	case i >= 0:
	case strings.HasSuffix(path, "/internal"):
		i = len(path) - len("/internal")
	case path == "internal" || strings.HasPrefix(path, "internal/"):
		return false // standard library internals
	default:
		return true
	}
	parent := path[:i]
	return importer == parent || strings.HasPrefix(importer, parent+"/")
}

// hasInvalid reports whether the spelling of sig contains a type that did
// not type-check.
func (g *generator) hasInvalid(sig *types.Signature) bool {
	var invalid func(t types.Type) bool
	invalid = func(t types.Type) bool {
		switch t := t.(type) {
		case *types.Basic:
			return t.Kind() == types.Invalid
		case *types.Pointer:
			return invalid(t.Elem())
		case *types.Slice:
			return invalid(t.Elem())
		case *types.Array:
			return invalid(t.Elem())
		case *types.Map:
			return invalid(t.Key()) || invalid(t.Elem())
		case *types.Chan:
			return invalid(t.Elem())
		case *types.Struct:
			for f := range t.Fields() {
				if invalid(f.Type()) {
					return true
				}
			}
		case *types.Signature:
			for v := range t.Params().Variables() {
				if invalid(v.Type()) {
					return true
				}
			}
			for v := range t.Results().Variables() {
				if invalid(v.Type()) {
					return true
				}
			}
		}
		return false
	}
	return invalid(sig)
}

// checkNames computes the names the generated code declares and reports
// those that clash with each other or with the package.
func (g *generator) checkNames() {
	scope := g.pkg.Types.Scope()
	for _, n := range predeclaredUsed {
		if obj := scope.Lookup(n); obj != nil {
			g.errorf(obj.Pos(), "package %s declares %s, which the generated code uses as the predeclared identifier; rename it", g.pkg.Name, n)
		}
	}
	declared := map[string]string{} // generated name -> what generates it
	for _, in := range g.ifaces {
		exp := token.IsExported(in.name)
		lower := lowerFirst(in.name)
		upper := upperFirst(in.name)
		in.constName = in.name + "Interface"
		in.proxy = in.name + "Proxy"
		in.invoker = in.name + "Invoker"
		in.invokerVar = "invokerOf" + upper
		in.descVar = "descriptionOf" + upper
		if exp {
			in.newProxy, in.lookup = "New"+upper+"Proxy", "Lookup"+upper
		} else {
			in.newProxy, in.lookup = "new"+upper+"Proxy", "lookup"+upper
		}
		in.byKey = in.name + "ByKey"
		if slices.Contains(localNames, in.name) || isResultLocal(in.name) {
			g.errorf(in.pos, "%s: the generated code declares a local variable %s, which would hide the interface; rename the interface", in.name, in.name)
		}
		in.oneway, in.syncWithServer, in.async, in.callback = in.name+"Oneway", in.name+"SyncWithServer", in.name+"Async", in.name+"Callback"
		names := in.declared()
		for _, m := range in.methods {
			base := lower + upperFirst(m.name)
			m.argsType, m.invoke = base+"Args", base+"Invoke"
			m.future = in.name + upperFirst(m.name) + "Future"
			if len(m.results) > 0 {
				m.resultsType = base + "Results"
			}
			if m.hasParamRefs() {
				m.newArgs = "new" + upperFirst(base) + "Args"
			}
			names = append(names, m.declared()...)
		}
		for _, n := range names {
			if obj := scope.Lookup(n); obj != nil {
				g.errorf(in.pos, "%s: the generated %s clashes with the %s declared at %s; rename one of them", in.name, n, objKind(obj), g.relPos(obj.Pos()))
			} else if other, ok := declared[n]; ok {
				g.errorf(in.pos, "%s: the generated %s clashes with the one generated for %s; rename a method or an interface", in.name, n, other)
			}
			declared[n] = in.name
		}
	}
}

// declared returns the package-level names generated for in, less those
// of its methods.
func (in *iface) declared() []string {
	return []string{in.constName, in.proxy, in.newProxy, in.lookup, in.byKey, in.invoker, in.invokerVar, in.descVar, in.oneway, in.syncWithServer, in.async, in.callback}
}

// declared returns the package-level names generated for m.
func (m *method) declared() []string {
	names := []string{m.argsType, m.invoke, m.future}
	if m.resultsType != "" {
		names = append(names, m.resultsType)
	}
	if m.newArgs != "" {
		names = append(names, m.newArgs)
	}
	return names
}

// isResultLocal reports whether n has the form of the result variables r0,
// r1, ... of a generated invoke function.
func isResultLocal(n string) bool {
	if len(n) < 2 || n[0] != 'r' {
		return false
	}
	for _, c := range n[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// relPos formats pos relative to the directory Generate runs in.
func (g *generator) relPos(pos token.Pos) string {
	p := g.d.fset.Position(pos)
	p.Filename = rel(g.d.dir, p.Filename)
	return p.String()
}

// objKind names the kind of obj for a message.
func objKind(obj types.Object) string {
	switch obj.(type) {
	case *types.Func:
		return "func"
	case *types.Var:
		return "var"
	case *types.Const:
		return "const"
	case *types.TypeName:
		return "type"
	}
	return "name"
}

// kindOf names the kind of an underlying type for a message.
func kindOf(t types.Type) string {
	switch t := t.(type) {
	case *types.Basic:
		return t.Name()
	case *types.Struct:
		return "struct"
	case *types.Pointer:
		return "pointer"
	case *types.Slice:
		return "slice"
	case *types.Array:
		return "array"
	case *types.Map:
		return "map"
	case *types.Chan:
		return "channel"
	case *types.Signature:
		return "func"
	}
	return "non-interface"
}

// upperFirst returns s with its first letter in upper case.
func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// lowerFirst returns s with its leading upper-case run in lower case, as Go
// names an unexported variant: "Cart" -> "cart", "HTTPServer" ->
// "httpServer", "ID" -> "id".
func lowerFirst(s string) string {
	rs := []rune(s)
	n := 0
	for n < len(rs) && unicode.IsUpper(rs[n]) {
		n++
	}
	if n > 1 && n < len(rs) && unicode.IsLower(rs[n]) {
		n-- // the last capital starts the next word
	}
	for i := range n {
		rs[i] = unicode.ToLower(rs[i])
	}
	return string(rs)
}
