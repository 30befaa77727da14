package stubgen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const errorsDir = "testdata/errors"

// wantError is an error that an "// ERROR: <substring>" comment expects on
// its line.
type wantError struct {
	file string // relative to errorsDir
	line int
	sub  string
}

// gotError is one line of the error Generate returned.
type gotError struct {
	file string
	line int
	msg  string
}

// wantErrors returns the expected errors of the Go files under errorsDir,
// by file. A line may carry several "// ERROR: " comments.
func wantErrors(t *testing.T) map[string][]wantError {
	t.Helper()
	want := map[string][]wantError{}
	err := filepath.WalkDir(errorsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		file, _ := filepath.Rel(errorsDir, path)
		for i, line := range strings.Split(string(b), "\n") {
			parts := strings.Split(line, "// ERROR: ")
			for _, p := range parts[1:] {
				want[file] = append(want[file], wantError{file: file, line: i + 1, sub: strings.TrimSpace(p)})
			}
		}
		return nil
	})
	require.NoError(t, err)
	return want
}

var errorLineRE = regexp.MustCompile(`^(.+?):(\d+):(\d+): (.*)$`)

// gotErrors splits the error Generate returned into its lines.
func gotErrors(t *testing.T, err error) []gotError {
	t.Helper()
	var got []gotError
	for _, line := range strings.Split(err.Error(), "\n") {
		m := errorLineRE.FindStringSubmatch(line)
		require.NotNil(t, m, "error line without a position: %q", line)
		n, _ := strconv.Atoi(m[2])
		got = append(got, gotError{file: filepath.ToSlash(m[1]), line: n, msg: m[4]})
	}
	return got
}

// typesOf returns the -type list for the file at path: its interfaces, and
// the other declarations that carry an ERROR comment, in source order.
func typesOf(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	require.NoError(t, err)
	hasError := map[int]bool{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.Contains(c.Text, "ERROR: ") {
				hasError[fset.Position(c.Pos()).Line] = true
			}
		}
	}
	var names []string
	for _, decl := range f.Decls {
		switch decl := decl.(type) {
		case *ast.GenDecl:
			for _, spec := range decl.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok {
					continue
				}
				if _, isIface := ts.Type.(*ast.InterfaceType); isIface || hasError[fset.Position(ts.Pos()).Line] {
					names = append(names, ts.Name.Name)
				}
			}
		case *ast.FuncDecl:
			if hasError[fset.Position(decl.Pos()).Line] {
				names = append(names, decl.Name.Name)
			}
		}
	}
	return names
}

// TestErrors generates code for each file in testdata/errors alone and
// checks that one run reports every error that the ERROR comments expect,
// on their lines, and no other error. Errors in methods embedded from
// package other are expected there.
func TestErrors(t *testing.T) {
	want := wantErrors(t)
	files, err := filepath.Glob(filepath.Join(errorsDir, "*.go"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	matched := map[wantError]bool{}
	ran := 0
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".go"), func(t *testing.T) {
			ran++
			types := typesOf(t, path)
			_, err := generate(errorsDir, []string{name}, Options{Types: types})
			require.Error(t, err, "generate(%s, -type=%s)", name, strings.Join(types, ","))
			got := gotErrors(t, err)
			for _, g := range got {
				ok := false
				for _, w := range want[g.file] {
					if w.line == g.line && strings.Contains(g.msg, w.sub) {
						ok, matched[w] = true, true
					}
				}
				assert.True(t, ok, "unexpected error %s:%d: %s", g.file, g.line, g.msg)
			}
			for _, w := range want[name] {
				assert.True(t, matched[w], "missing error %s:%d: %s\ngot:\n%v", w.file, w.line, w.sub, err)
			}
		})
	}
	if ran < len(files) {
		return // filtered by -run: some errors of package other had no chance
	}
	for file, ws := range want {
		if filepath.Dir(file) == "." {
			continue
		}
		for _, w := range ws {
			assert.True(t, matched[w], "missing error %s:%d: %s", w.file, w.line, w.sub)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name  string
		types []string
		want  string
	}{
		{"no types", nil, "no types given"},
		{"not an identifier", []string{"Cart", "a.B"}, `-type "a.B" is not a Go identifier`},
		{"twice", []string{"Cart", "Cart"}, "-type names Cart twice"},
		{"not declared", []string{"Cart", "Nope", "Gone"}, "type Nope is not declared in github.com/remoting-go/remoting/stubgen/testdata/basic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := generate("testdata/basic", nil, Options{Types: tc.types})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want, "generate(-type=%s)", strings.Join(tc.types, ","))
		})
	}
	t.Run("all undeclared at once", func(t *testing.T) {
		_, err := generate("testdata/basic", nil, Options{Types: []string{"Nope", "Gone"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "type Nope is not declared")
		assert.Contains(t, err.Error(), "type Gone is not declared")
	})
}

// TestNotListed checks that an interface of the package is remote only if
// -type names it.
func TestNotListed(t *testing.T) {
	_, err := generate("testdata/refs", nil, Options{Types: []string{"Shop", "Cart", "Room"}})
	require.Error(t, err)
	for _, want := range []string{
		"in.go:32:33: Room.Subscribe: parameter obs has interface type Observer; Observer is not a remote interface: add it to -type to pass objects by reference, or use a concrete type",
		"in.go:37:29: Room.Relay: parameter a has interface type Observer",
		"in.go:37:41: Room.Relay: parameter ref has interface type Watcher; Observer is not a remote interface",
	} {
		assert.Contains(t, err.Error(), want, "generate(testdata/refs, -type=Shop,Cart,Room)")
	}
}
