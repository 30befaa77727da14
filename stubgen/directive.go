package stubgen

import (
	"go/ast"
	"go/token"
	"strings"
)

// readOnlyDirective, a line of its own in the doc comment of an interface
// method, marks the method as one that changes no state worth saving: a
// keyed object whose state is saved after every call skips the save after
// it. The generated Invoker lists such methods in its ReadOnly table.
const readOnlyDirective = "//remoting:readonly"

// readOnlyAt reports whether the interface method declared at pos, in a
// file of the package, carries the read-only directive. Methods declared
// in other packages (embedded interfaces) are not read: mark them where
// they are declared, in a package stubgen runs on.
func (g *generator) readOnlyAt(pos token.Pos) bool {
	g.readMethodDocs()
	return g.readOnly[pos]
}

// docAt returns the doc comment of the interface method declared at pos,
// in a file of the package, without its directives; "" for methods
// declared in other packages.
func (g *generator) docAt(pos token.Pos) string {
	g.readMethodDocs()
	return g.docs[pos]
}

// readMethodDocs reads, once, the doc comments of the interface methods
// declared in the package.
func (g *generator) readMethodDocs() {
	if g.readOnly != nil {
		return
	}
	g.readOnly = make(map[token.Pos]bool)
	g.docs = make(map[token.Pos]string)
	for _, f := range g.pkg.Syntax {
		ast.Inspect(f, func(n ast.Node) bool {
			it, ok := n.(*ast.InterfaceType)
			if !ok {
				return true
			}
			for _, field := range it.Methods.List {
				if len(field.Names) != 1 || field.Doc == nil {
					continue
				}
				pos := field.Names[0].Pos()
				if hasDirective(field.Doc, readOnlyDirective) {
					g.readOnly[pos] = true
				}
				g.docs[pos] = strings.TrimSpace(field.Doc.Text())
			}
			return true
		})
	}
}

// hasDirective reports whether doc has a comment line that is exactly
// directive.
func hasDirective(doc *ast.CommentGroup, directive string) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if strings.TrimSpace(c.Text) == directive {
			return true
		}
	}
	return false
}
