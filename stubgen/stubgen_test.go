package stubgen

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the want.golden files with the generated code")

// goldenCases are the directories under testdata with an in.go and a
// want.golden, and the -type list of each.
var goldenCases = []struct {
	name  string
	types []string
}{
	{"basic", []string{"Cart"}},
	{"params", []string{"Params"}},
	{"shapes", []string{"Shapes"}},
	{"otherpkg", []string{"Ledger"}},
	{"embedded", []string{"Store", "Reader"}},
	{"clash", []string{"Mixer", "HTTPServer", "logger"}},
	{"refs", []string{"Shop", "Cart", "Room", "Observer"}},
	{"readonly", []string{"Account"}},
}

// generateCase generates the code of the golden case dir and returns it.
func generateCase(t *testing.T, dir string, types []string) []byte {
	t.Helper()
	files, err := generate(dir, nil, Options{Types: types})
	require.NoError(t, err, "generate(%s, %v)", dir, types)
	require.Len(t, files, 1, "generate(%s, %v)", dir, types)
	wantPath := filepath.Join(dir, strings.ToLower(types[0])+"_stub.go")
	abs, err := filepath.Abs(wantPath)
	require.NoError(t, err)
	assert.Equal(t, abs, files[0].path, "output path")
	return files[0].src
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			got := generateCase(t, dir, tc.types)
			golden := filepath.Join(dir, "want.golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o666))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create it")
			assert.Equal(t, string(want), string(got), "generated code of %s differs from %s (go test -update rewrites it)", dir, golden)
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			first := generateCase(t, dir, tc.types)
			second := generateCase(t, dir, tc.types)
			assert.True(t, bytes.Equal(first, second), "generate(%s) twice gave different bytes", dir)
		})
	}
}

// TestGoldenCompiles builds and vets the golden files beside their inputs in
// a module of their own that uses this repository as the runtime.
func TestGoldenCompiles(t *testing.T) {
	files := map[string]string{}
	for _, tc := range goldenCases {
		dir := filepath.Join("testdata", tc.name)
		ins, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		for _, in := range ins {
			b, err := os.ReadFile(in)
			require.NoError(t, err)
			files[filepath.Join(tc.name, filepath.Base(in))] = string(b)
		}
		out, err := os.ReadFile(filepath.Join(dir, "want.golden"))
		require.NoError(t, err)
		files[filepath.Join(tc.name, strings.ToLower(tc.types[0])+"_stub.go")] = string(out)
	}
	mod := tempModule(t, files)
	goCmd(t, mod, "vet", "./...")
}

// tempModule writes files into a new module example.com/gen in a temporary
// directory, with this repository replacing the runtime module, and returns
// its directory.
func tempModule(t *testing.T, files map[string]string) string {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	// Require what the runtime requires, as a tidy module that uses it
	// would, so that the go command needs no go.mod updates.
	var rootMod struct {
		Go      string
		Require []struct{ Path, Version string }
	}
	out, err := exec.Command("go", "mod", "edit", "-json", filepath.Join(root, "go.mod")).Output()
	require.NoError(t, err, "go mod edit -json")
	require.NoError(t, json.Unmarshal(out, &rootMod))
	var goMod strings.Builder
	fmt.Fprintf(&goMod, "module example.com/gen\n\ngo %s\n\nrequire github.com/remoting-go/remoting v0.0.0\n\nrequire (\n", rootMod.Go)
	for _, r := range rootMod.Require {
		fmt.Fprintf(&goMod, "\t%s %s // indirect\n", r.Path, r.Version)
	}
	goMod.WriteString(")\n\nreplace github.com/remoting-go/remoting => " + root + "\n")
	files["go.mod"] = goMod.String()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	files["go.sum"] = string(sum)
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o777))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o666))
	}
	return dir
}

// repoRoot returns the directory of this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	require.NoError(t, err, "go list -m")
	return strings.TrimSpace(string(out))
}

// goCmd runs the go command in dir, offline, and fails the test with its
// output if it fails.
func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s in %s:\n%s", strings.Join(args, " "), dir, out)
}
