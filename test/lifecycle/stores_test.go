package lifecycle_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/remoting-go/remoting/internal/testserver"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/passivation/postgres"
	"github.com/remoting-go/remoting/passivation/redis"
)

// A store spec names a store so that a child process can open it too:
// bolt:<path>, postgres:<connection string> or redis:<URL>.

// newStoreSpec returns the spec of a new, empty store of kind (bolt,
// postgres or redis), starting the server it needs; the test stops it.
func newStoreSpec(t testing.TB, kind string) string {
	t.Helper()
	switch kind {
	case "bolt":
		return "bolt:" + filepath.Join(t.TempDir(), "accounts.db")
	case "postgres":
		return "postgres:" + testserver.StartPostgres(t).ConnString() + "&pool_max_conns=32"
	case "redis":
		return "redis:redis://" + testserver.StartRedis(t, testserver.RedisOptions{}).Addr() + "/0?pool_size=32"
	}
	t.Fatalf("no store of kind %q", kind)
	return ""
}

// openStoreSpec opens the store spec names.
func openStoreSpec(spec string) (passivation.Store, error) {
	kind, where, _ := strings.Cut(spec, ":")
	switch kind {
	case "bolt":
		return bolt.Open(where, bolt.Options{})
	case "postgres":
		return postgres.Open(where, postgres.Options{})
	case "redis":
		return redis.Open(where, redis.Options{})
	}
	return nil, fmt.Errorf("store spec %q: want bolt:, postgres: or redis:", spec)
}
