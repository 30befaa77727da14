package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testserver"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/postgres"
	"github.com/remoting-go/remoting/passivation/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var tables atomic.Int64

// open returns a store on a table of its own; the test closes it.
func open(t testing.TB, connString string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(connString, postgres.Options{Table: fmt.Sprintf("passivation_%d", tables.Add(1))})
	require.NoError(t, err, "Open")
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	pg := testserver.StartPostgres(t)
	storetest.Run(t, func(t *testing.T) passivation.Store { return open(t, pg.ConnString()) })
}

func TestTableName(t *testing.T) {
	tests := []struct {
		table string
		ok    bool
	}{
		{"", true},
		{"state", true},
		{"_State_2", true},
		{"a234567890123456789012345678901234567890123456789012345", true},   // 55 bytes
		{"a2345678901234567890123456789012345678901234567890123456", false}, // 56 bytes
		{"2state", false},
		{"state; DROP TABLE x", false},
		{`st"ate`, false},
		{"public.state", false},
		{"zustände", false},
	}
	for _, tc := range tests {
		s, err := postgres.Open("postgres://127.0.0.1:1/db", postgres.Options{Table: tc.table})
		if tc.ok {
			assert.NoError(t, err, "Open(Table: %q)", tc.table)
			if err == nil {
				s.Close()
			}
			continue
		}
		assert.Error(t, err, "Open(Table: %q)", tc.table)
	}
}

// TestSkipCreate uses a table made by the migration of the package doc,
// and fails on one that does not exist.
func TestSkipCreate(t *testing.T) {
	pg := testserver.StartPostgres(t)
	ctx := t.Context()

	s, err := postgres.Open(pg.ConnString(), postgres.Options{Table: "missing", SkipCreate: true})
	require.NoError(t, err, "Open")
	defer s.Close()
	_, err = s.Load(ctx, remoting.NewObjectID())
	assert.Equal(t, remoting.CodeInternal, remoting.CodeOf(err), "CodeOf(Load from a missing table): %v", err)

	// The migration, as the package doc gives it.
	migrate, err := postgres.Open(pg.ConnString(), postgres.Options{})
	require.NoError(t, err, "Open")
	defer migrate.Close()
	require.NoError(t, execSQL(ctx, pg.ConnString(), `
CREATE SEQUENCE IF NOT EXISTS remoting_passivation_version AS bigint;
CREATE TABLE IF NOT EXISTS remoting_passivation (
	id      uuid   PRIMARY KEY,
	version bigint NOT NULL CHECK (version > 0),
	data    bytea  NOT NULL
);`), "migration")
	made, err := postgres.Open(pg.ConnString(), postgres.Options{SkipCreate: true})
	require.NoError(t, err, "Open")
	defer made.Close()
	id := remoting.NewObjectID()
	v, err := made.Save(ctx, id, []byte("x"), 0)
	require.NoError(t, err, "Save to the migrated table")
	rec, err := migrate.Load(ctx, id)
	require.NoError(t, err, "Load through a store that creates the table if need be")
	assert.Equal(t, passivation.Record{Data: []byte("x"), Version: v}, rec, "Load")
}

// TestServerDown: a store whose server is not there fails every call with
// Unavailable at once, and works when the server comes up.
func TestServerDown(t *testing.T) {
	pg := testserver.StartPostgres(t)
	require.NoError(t, pg.Stop(), "Stop")
	s := open(t, pg.ConnString())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Save(ctx, remoting.NewObjectID(), []byte("x"), 0)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "CodeOf(Save to a stopped server): %v", err)
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "Save to a stopped server")
	assert.Less(t, time.Since(start), time.Second, "Save to a stopped server: time to fail")
	t.Logf("Save to a stopped server: %v", err)

	pg.Start(t)
	_, err = s.Save(t.Context(), remoting.NewObjectID(), []byte("x"), 0)
	assert.NoError(t, err, "Save once the server is up")
}

// BenchmarkStore measures Save and Load on a local server (fsync on, the
// defaults of the Debian package) with a pool of up to 64 connections:
//
//	go test -run X -bench . ./passivation/postgres
func BenchmarkStore(b *testing.B) {
	pg := testserver.StartPostgres(b)
	s, err := postgres.Open(pg.ConnString()+"&pool_max_conns=64", postgres.Options{})
	require.NoError(b, err, "Open")
	b.Cleanup(func() { s.Close() })
	storetest.Benchmark(b, s)
}

// TestRefused: a server that refuses the connection (here, a database that
// does not exist) gives Unavailable with the server's error as cause.
func TestRefused(t *testing.T) {
	pg := testserver.StartPostgres(t)
	s, err := postgres.Open(strings.Replace(pg.ConnString(), "/postgres?", "/nosuchdb?", 1), postgres.Options{})
	require.NoError(t, err, "Open")
	defer s.Close()
	_, err = s.Load(t.Context(), remoting.NewObjectID())
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "CodeOf(Load from a refusing server): %v", err)
	var pgErr *pgconn.PgError
	if assert.ErrorAs(t, err, &pgErr, "Load from a refusing server") {
		assert.Equal(t, "3D000", pgErr.Code, "SQLSTATE of a missing database")
	}
}
