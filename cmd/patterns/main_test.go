package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAllDemosRun builds and runs every demo program, as the README's
// first command does.
func TestAllDemosRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every demo")
	}
	var out bytes.Buffer
	err := runAll(&out, "", true, time.Minute)
	require.NoError(t, err, "demo output:\n%s", out.String())
	assert.Contains(t, out.String(), "== static")
	assert.Contains(t, out.String(), " 0 failed")
}

func TestNoMatch(t *testing.T) {
	var out bytes.Buffer
	assert.ErrorContains(t, runAll(&out, "^nothing-matches-this$", false, time.Minute), "no demo matches")
}
