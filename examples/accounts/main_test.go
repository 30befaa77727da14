package main

import (
	"testing"

	"github.com/remoting-go/remoting/internal/testserver"
)

// The demo against the shared stores, each on a real server the test
// starts (or skips, naming the package to install).

func TestAccountsOnPostgres(t *testing.T) {
	pg := testserver.StartPostgres(t)
	storeURL = pg.ConnString()
	if err := run("postgres"); err != nil {
		t.Fatalf("accounts on PostgreSQL: %v", err)
	}
}

func TestAccountsOnRedis(t *testing.T) {
	r := testserver.StartRedis(t, testserver.RedisOptions{})
	storeURL = "redis://" + r.Addr() + "/0"
	if err := run("redis"); err != nil {
		t.Fatalf("accounts on Redis: %v", err)
	}
}
