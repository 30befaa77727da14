package cluster_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOnlyClusterLinksEtcd checks, as a user would with go list -deps,
// that a plain client (requestor and what generated code imports) and a
// plain server (invoker) link no package of go.etcd.io, and that the
// cluster packages and their demo do.
func TestOnlyClusterLinksEtcd(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	deps := func(pkgs ...string) []string {
		args := []string{"list", "-deps"}
		for _, p := range pkgs {
			args = append(args, "github.com/remoting-go/remoting"+p)
		}
		out, err := exec.Command(goTool, args...).CombinedOutput()
		require.NoError(t, err, "go list -deps %s: %s", strings.Join(pkgs, " "), out)
		return strings.Fields(string(out))
	}
	for _, pkgs := range [][]string{
		{"/requestor", "", "/codegen"}, // a client: the generated code imports the root and codegen
		{"/invoker", "/lifecycle"},     // a server
	} {
		for _, dep := range deps(pkgs...) {
			assert.False(t, strings.HasPrefix(dep, "go.etcd.io/"), "go list -deps %s lists %s", strings.Join(pkgs, " "), dep)
		}
	}
	for _, pkg := range []string{"/cluster", "/cluster/node", "/examples/cluster"} {
		assert.True(t, slices.Contains(deps(pkg), "go.etcd.io/etcd/client/v3"), "go list -deps %s links go.etcd.io/etcd/client/v3", pkg)
	}
}
