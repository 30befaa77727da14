package testserver_test

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting/internal/testserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// redisCommand sends one inline command and returns the first line of the
// reply.
func redisCommand(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err, "dial %s", addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = fmt.Fprintf(c, "%s\r\n", cmd)
	require.NoError(t, err, "send %s", cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err, "reply to %s", cmd)
	return strings.TrimSpace(line)
}

func TestRedisCrashAndStart(t *testing.T) {
	r := testserver.StartRedis(t, testserver.RedisOptions{AppendFsync: "always"})
	assert.Equal(t, "+OK", redisCommand(t, r.Addr(), "SET k v"), "SET")
	r.Crash(t)
	_, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	assert.Error(t, err, "dial a crashed server")
	r.Start(t)
	assert.Equal(t, "$1", redisCommand(t, r.Addr(), "GET k"), "GET after restart (appendfsync always)")
}

func TestPostgresCrashAndStart(t *testing.T) {
	p := testserver.StartPostgres(t)
	psql := func(sql string) string {
		t.Helper()
		bin, err := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
		require.NoError(t, err)
		require.NotEmpty(t, bin, "psql")
		out, err := exec.Command(bin[0], "-X", "-A", "-t", "-d", p.ConnString(), "-c", sql).CombinedOutput()
		require.NoError(t, err, "psql -c %q: %s", sql, out)
		return strings.TrimSpace(string(out))
	}
	psql("CREATE TABLE t (n int); INSERT INTO t VALUES (42)")
	assert.NotEqual(t, "0", psql("SELECT current_setting('server_version_num')"), "server version")
	p.Crash(t)
	_, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port()), time.Second)
	assert.Error(t, err, "dial a crashed server")
	p.Start(t)
	assert.Equal(t, "42", psql("SELECT n FROM t"), "a committed row after crash recovery")
}
