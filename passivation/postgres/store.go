package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

var _ passivation.Store = (*Store)(nil)

// DefaultTable is the table of a store whose [Options.Table] is empty.
const DefaultTable = "remoting_passivation"

// sequenceSuffix names a table's sequence of versions.
const sequenceSuffix = "_version"

// maxIdentifier is PostgreSQL's longest identifier (NAMEDATALEN - 1).
const maxIdentifier = 63

// Bounds of one batch of List.
const (
	listRows  = 256      // rows
	listBytes = 16 << 20 // bytes of data, past the first row
)

// Options configure [Open] and [New]. The zero value is ready to use.
type Options struct {
	// Table is the name of the table that holds the records: letters,
	// digits and underscores, not starting with a digit, at most 55 bytes
	// (the sequence of versions is named after it, with _version added,
	// and PostgreSQL's identifiers have at most 63). It is quoted, so its
	// case matters; it is looked up in the connection's search_path.
	// Default [DefaultTable].
	Table string

	// SkipCreate keeps the store from creating the table and the sequence
	// on first use: they must exist already (see the migration in the
	// package documentation). Default false: the store creates them if
	// need be.
	SkipCreate bool
}

// Store is a [passivation.Store] in a PostgreSQL table. Its methods are
// safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool // Close closes the pool
	table   string
	q       queries

	// ready is set once the table is known to exist; create serialises
	// its creation (a channel, so that a wait can give up with its ctx).
	ready  atomic.Bool
	create chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
}

// queries are the store's statements, for its table.
type queries struct {
	load, insert, update, deleteAny, deleteVersion, listFirst, listAfter string
	createSequence, createTable                                          string
}

func newQueries(table string) queries {
	t := pgx.Identifier{table}.Sanitize()
	seq := pgx.Identifier{table + sequenceSuffix}.Sanitize()
	// seqLit is the sequence as a literal for nextval (regclass). The name
	// has no quote of either kind to escape: validTable allows none.
	seqLit := "'" + seq + "'"
	// list reads the next rows in the order of their ids, and keeps from
	// them only as many as fit in listBytes, but at least one.
	list := func(where string) string {
		return `SELECT id, version, data FROM (
	SELECT id, version, data, sum(octet_length(data)) OVER (ORDER BY id) - octet_length(data) AS before
	FROM (SELECT id, version, data FROM ` + t + where + ` ORDER BY id LIMIT ` + strconv.Itoa(listRows) + `) AS r
) AS w WHERE before < ` + strconv.Itoa(listBytes) + ` ORDER BY id`
	}
	return queries{
		load:          `SELECT version, data FROM ` + t + ` WHERE id = $1`,
		insert:        `INSERT INTO ` + t + ` (id, version, data) VALUES ($1, nextval(` + seqLit + `), $2) ON CONFLICT (id) DO NOTHING RETURNING version`,
		update:        `UPDATE ` + t + ` SET version = nextval(` + seqLit + `), data = $2 WHERE id = $1 AND version = $3 RETURNING version`,
		deleteAny:     `DELETE FROM ` + t + ` WHERE id = $1`,
		deleteVersion: `DELETE FROM ` + t + ` WHERE id = $1 AND version = $2`,
		listFirst:     list(""),
		listAfter:     list(" WHERE id > $1"),

		createSequence: `CREATE SEQUENCE IF NOT EXISTS ` + seq + ` AS bigint`,
		createTable: `CREATE TABLE IF NOT EXISTS ` + t + ` (
	id      uuid   PRIMARY KEY,
	version bigint NOT NULL CHECK (version > 0),
	data    bytea  NOT NULL
)`,
	}
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validTable reports what is wrong with a table name, or nil.
func validTable(name string) error {
	switch {
	case !identifier.MatchString(name):
		return fmt.Errorf("postgres: table name %q: want letters, digits and underscores, not starting with a digit", name)
	case len(name)+len(sequenceSuffix) > maxIdentifier:
		return fmt.Errorf("postgres: table name %q: %d bytes, more than %d", name, len(name), maxIdentifier-len(sequenceSuffix))
	}
	return nil
}

// Open returns a store on a new connection pool for connString, a
// PostgreSQL URL or keyword/value string that pgxpool.ParseConfig accepts
// (pool_max_conns and the other pool_ settings included). Open does not
// connect: the first call does, and creates the table unless
// [Options.SkipCreate] is set, so that a store opened while the server is
// down works once it is up. Open fails only for a connection string it
// cannot parse or an invalid [Options.Table]. Close closes the pool.
func Open(connString string, opts Options) (*Store, error) {
	config, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := newStore(opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), config)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s.pool, s.ownPool = pool, true
	return s, nil
}

// New returns a store on pool, which stays the caller's: Close leaves it
// open. Like Open, it does not connect.
func New(pool *pgxpool.Pool, opts Options) (*Store, error) {
	s, err := newStore(opts)
	if err != nil {
		return nil, err
	}
	s.pool = pool
	return s, nil
}

func newStore(opts Options) (*Store, error) {
	table := opts.Table
	if table == "" {
		table = DefaultTable
	}
	if err := validTable(table); err != nil {
		return nil, err
	}
	s := &Store{table: table, q: newQueries(table), create: make(chan struct{}, 1)}
	s.ready.Store(opts.SkipCreate)
	return s, nil
}

// Table returns the name of the store's table.
func (s *Store) Table() string { return s.table }

// Load implements [passivation.Store.Load].
func (s *Store) Load(ctx context.Context, id remoting.ObjectID) (passivation.Record, error) {
	op := "load " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return passivation.Record{}, err
	}
	var (
		version int64
		data    []byte
	)
	err := s.queryRow(ctx, []any{&version, &data}, s.q.load, uuid(id))
	if errors.Is(err, pgx.ErrNoRows) {
		return passivation.Record{}, fmt.Errorf("postgres: %s: %w", op, passivation.ErrNotFound)
	}
	if err != nil {
		return passivation.Record{}, s.fail(ctx, op, err)
	}
	return passivation.Record{Data: data, Version: uint64(version)}, nil
}

// Save implements [passivation.Store.Save]. It is one statement, and the
// record is committed when Save returns nil.
func (s *Store) Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error) {
	op := "save " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	if expected > math.MaxInt64 {
		return 0, conflict(op, expected) // no version is that large
	}
	if data == nil {
		data = []byte{} // NULL is no state; empty is
	}
	var version int64
	var err error
	if expected == 0 {
		err = s.queryRow(ctx, []any{&version}, s.q.insert, uuid(id), data)
	} else {
		err = s.queryRow(ctx, []any{&version}, s.q.update, uuid(id), data, int64(expected))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, conflict(op, expected)
	}
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	return uint64(version), nil
}

// Delete implements [passivation.Store.Delete]. It is one statement.
func (s *Store) Delete(ctx context.Context, id remoting.ObjectID, expected uint64) error {
	op := "delete " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if expected > math.MaxInt64 {
		return conflict(op, expected)
	}
	var tag pgconn.CommandTag
	var err error
	if expected == 0 {
		tag, err = s.exec(ctx, s.q.deleteAny, uuid(id))
	} else {
		tag, err = s.exec(ctx, s.q.deleteVersion, uuid(id), int64(expected))
	}
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if expected != 0 && tag.RowsAffected() == 0 {
		return conflict(op, expected)
	}
	return nil
}

// List implements [passivation.Store.List]. It reads the records in the
// order of their ids, in batches of up to 256 rows or 16 MiB, each one
// statement, and calls fn between them, so fn may call the store and a
// long List holds no connection or lock while fn runs.
func (s *Store) List(ctx context.Context, fn func(id remoting.ObjectID, rec passivation.Record) error) error {
	const op = "list"
	type entry struct {
		id  remoting.ObjectID
		rec passivation.Record
	}
	var (
		batch []entry
		after *pgtype.UUID // the last id seen
	)
	for {
		if err := s.begin(ctx, op); err != nil {
			return err
		}
		batch = batch[:0]
		sql, args := s.q.listFirst, []any(nil)
		if after != nil {
			sql, args = s.q.listAfter, []any{*after}
		}
		err := s.query(ctx, sql, args, func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					id      pgtype.UUID
					version int64
					data    []byte
				)
				if err := rows.Scan(&id, &version, &data); err != nil {
					return err
				}
				batch = append(batch, entry{remoting.ObjectID(id.Bytes), passivation.Record{Data: data, Version: uint64(version)}})
			}
			return rows.Err()
		})
		if err != nil {
			return s.fail(ctx, op, err)
		}
		if len(batch) == 0 {
			return nil
		}
		for _, e := range batch {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("postgres: %s: %w", op, err)
			}
			if err := fn(e.id, e.rec); err != nil {
				return err
			}
		}
		last := uuid(batch[len(batch)-1].id)
		after = &last
	}
}

// Close implements [passivation.Store.Close]. It closes the pool that
// Open made, waiting for the connections in use to be returned; a pool
// given to New stays open. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.ownPool {
			s.pool.Close()
		}
	})
	return nil
}

// begin checks that a call may start: the store is open, ctx is live, and
// the table exists (creating it on first use).
func (s *Store) begin(ctx context.Context, op string) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w", op, passivation.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if s.ready.Load() {
		return nil
	}
	select {
	case s.create <- struct{}{}:
		defer func() { <-s.create }()
	case <-ctx.Done():
		// Out of time waiting for the server to create the table.
		return s.fail(ctx, op+": create table "+s.table, ctx.Err())
	}
	if s.ready.Load() {
		return nil
	}
	if err := s.createTable(ctx); err != nil {
		return s.fail(ctx, op+": create table "+s.table, err)
	}
	s.ready.Store(true)
	return nil
}

// createTable creates the sequence and the table if they do not exist,
// in one transaction under an advisory lock on the table's name: two
// concurrent CREATE ... IF NOT EXISTS of one name can otherwise fail.
func (s *Store) createTable(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "remoting-passivation:"+s.table); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.q.createSequence); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.q.createTable)
		return err
	})
}

// setTimeout sets the statement_timeout of the statement that follows it
// in the same pipeline: both run in one implicit transaction, which the
// local setting does not outlive.
const setTimeout = `SELECT set_config('statement_timeout', $1, true)`

// timeout returns the statement_timeout for ctx's deadline, in whole
// milliseconds rounded up (0 would mean none), and whether there is one.
func timeout(ctx context.Context) (string, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return "", false
	}
	ms := max(1, (time.Until(deadline)+time.Millisecond-1)/time.Millisecond)
	return strconv.FormatInt(int64(ms), 10), true
}

// batch runs sql after setting the statement timeout for ctx, in one
// round trip, and gives the results of sql to read.
func (s *Store) batch(ctx context.Context, sql string, args []any, read func(br pgx.BatchResults) error) error {
	ms, _ := timeout(ctx)
	b := &pgx.Batch{}
	b.Queue(setTimeout, ms)
	b.Queue(sql, args...)
	br := s.pool.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		err = read(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// queryRow runs sql, which returns at most one row, and scans the row into
// dest; it returns pgx.ErrNoRows if there is none.
func (s *Store) queryRow(ctx context.Context, dest []any, sql string, args ...any) error {
	if _, ok := timeout(ctx); !ok {
		return s.pool.QueryRow(ctx, sql, args...).Scan(dest...)
	}
	var scanErr error
	err := s.batch(ctx, sql, args, func(br pgx.BatchResults) error {
		scanErr = br.QueryRow().Scan(dest...)
		if errors.Is(scanErr, pgx.ErrNoRows) {
			return nil
		}
		return scanErr
	})
	if err == nil {
		return scanErr
	}
	return err
}

// exec runs sql, which returns no rows.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if _, ok := timeout(ctx); !ok {
		return s.pool.Exec(ctx, sql, args...)
	}
	var tag pgconn.CommandTag
	err := s.batch(ctx, sql, args, func(br pgx.BatchResults) error {
		var err error
		tag, err = br.Exec()
		return err
	})
	return tag, err
}

// query runs sql and gives read its rows.
func (s *Store) query(ctx context.Context, sql string, args []any, read func(pgx.Rows) error) error {
	if _, ok := timeout(ctx); !ok {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return read(rows)
	}
	return s.batch(ctx, sql, args, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		return read(rows)
	})
}

// fail turns an error of pgx into the store's: ErrClosed once the store is
// closed, the context's error if the caller canceled, Unavailable for a
// server that is down, refusing, overloaded or too slow for the deadline,
// and Internal for anything else the server reports.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w", op, passivation.ErrClosed)
	}
	var pgErr *pgconn.PgError
	isPg := errors.As(err, &pgErr)
	var connectErr *pgconn.ConnectError
	refused := errors.As(err, &connectErr) // whatever the server said
	switch ctxErr := ctx.Err(); {
	case errors.Is(ctxErr, context.Canceled):
		return fmt.Errorf("postgres: %s: %w", op, ctxErr)
	case ctxErr != nil || pastDeadline(ctx) || (isPg && pgErr.Code == queryCanceled && hasDeadline(ctx)):
		// Out of time: the statement_timeout or pgx gave up.
		return fmt.Errorf("postgres: %s: %w", op, &remoting.Error{
			Code:    remoting.CodeUnavailable,
			Message: "no answer from PostgreSQL within the deadline: " + err.Error(),
			Cause:   fmt.Errorf("%w: %w", context.DeadlineExceeded, err),
		})
	case isPg && !refused && !transient(pgErr.Code):
		return fmt.Errorf("postgres: %s: %w", op, &remoting.Error{
			Code:    remoting.CodeInternal,
			Message: "PostgreSQL: " + err.Error(),
			Cause:   err,
		})
	}
	// Connection refused or broken, or a transient error of the server.
	return fmt.Errorf("postgres: %s: %w", op, &remoting.Error{
		Code:    remoting.CodeUnavailable,
		Message: "PostgreSQL unavailable: " + err.Error(),
		Cause:   err,
	})
}

func hasDeadline(ctx context.Context) bool {
	_, ok := ctx.Deadline()
	return ok
}

// queryCanceled is the SQLSTATE of a statement that statement_timeout or
// a cancel request stopped.
const queryCanceled = "57014"

// transient reports whether SQLSTATE code says the server cannot serve the
// call now but may later: connection exceptions (08), insufficient
// resources (53, too many connections among them), operator intervention
// (57: shutting down, starting up, canceled), system errors (58),
// serialization failures and deadlocks (40001, 40P01), and a read-only
// server (25006, a standby).
func transient(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"),
		strings.HasPrefix(code, "57"), strings.HasPrefix(code, "58"):
		return true
	}
	switch code {
	case "40001", "40P01", "25006":
		return true
	}
	return false
}

// conflict returns the error of a write that expected another version.
func conflict(op string, expected uint64) error {
	if expected == 0 {
		return fmt.Errorf("postgres: %s: expected no record, found one: %w", op, passivation.ErrConflict)
	}
	return fmt.Errorf("postgres: %s: expected version %d, which is not the record's: %w", op, expected, passivation.ErrConflict)
}

func uuid(id remoting.ObjectID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

// pastDeadline reports whether ctx has a deadline and it has passed (even
// if ctx has not noticed yet).
func pastDeadline(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}
