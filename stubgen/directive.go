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
	if g.readOnly == nil {
		g.readOnly = make(map[token.Pos]bool)
		for _, f := range g.pkg.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				it, ok := n.(*ast.InterfaceType)
				if !ok {
					return true
				}
				for _, field := range it.Methods.List {
					if len(field.Names) == 1 && hasDirective(field.Doc, readOnlyDirective) {
						g.readOnly[field.Names[0].Pos()] = true
					}
				}
				return true
			})
		}
	}
	return g.readOnly[pos]
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
