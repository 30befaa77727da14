package interceptor_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRuntimeLinksNoExporters checks, as a user would with go list -deps,
// that the runtime and this package link neither OpenTelemetry nor the
// Prometheus client: only interceptor/otelremoting, interceptor/prom and
// admin do.
func TestRuntimeLinksNoExporters(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	pkgs := []string{"requestor", "invoker", "interceptor", "lifecycle", "config", "codegen"}
	args := []string{"list", "-deps"}
	for _, p := range pkgs {
		args = append(args, "github.com/remoting-go/remoting/"+p)
	}
	out, err := exec.Command(goTool, args...).CombinedOutput()
	require.NoError(t, err, "go list -deps: %s", out)
	for _, dep := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(dep, "go.opentelemetry.io/") || strings.HasPrefix(dep, "github.com/prometheus/"),
			"go list -deps %s lists %s", strings.Join(pkgs, " "), dep)
	}

	out, err = exec.Command(goTool, "list", "-deps", "github.com/remoting-go/remoting/interceptor/otelremoting", "github.com/remoting-go/remoting/admin").CombinedOutput()
	require.NoError(t, err, "go list -deps: %s", out)
	assert.Contains(t, strings.Fields(string(out)), "go.opentelemetry.io/otel", "otelremoting links OpenTelemetry")
	assert.Contains(t, strings.Fields(string(out)), "github.com/prometheus/client_golang/prometheus", "admin links client_golang")
}
