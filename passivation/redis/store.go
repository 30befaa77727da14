package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

var _ passivation.Store = (*Store)(nil)

// DefaultPrefix is the key prefix of a store whose [Options.Prefix] is
// empty.
const DefaultPrefix = "remoting:passivation:"

// Keys under the prefix.
const (
	recordInfix = "r:"      // <prefix>r:<id> is a record
	counterKey  = "version" // <prefix>version is the last version given
)

// listBatch is how many keys List asks SCAN for at a time, and so about
// how many records it reads in one pipeline.
const listBatch = 256

// Options configure [Open] and [New]. The zero value is ready to use.
type Options struct {
	// Prefix starts every key of the store, so that several stores, or
	// other data, can share a Redis database. It may contain any bytes.
	// Default [DefaultPrefix].
	Prefix string
}

// Store is a [passivation.Store] in Redis. Its methods are safe for
// concurrent use.
type Store struct {
	client    *goredis.Client
	ownClient bool // Close closes the client
	prefix    string
	counter   string // the key of the version counter
	match     string // the SCAN pattern of the records

	closed    atomic.Bool
	closeOnce sync.Once
}

// Open returns a store on a new client for url, a redis:// or rediss://
// URL that go-redis's ParseURL accepts (with its query options such as
// pool_size). Open sets three options of its own: the client obeys each
// call's context deadline (ContextTimeoutEnabled), does not retry commands
// (MaxRetries -1), and dials once per call (DialerRetries 1), so that a
// call to a server that is down fails at once. Open does not connect: the
// first call does.
// Close closes the client.
func Open(url string, opts Options) (*Store, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1 // a refused dial fails the call now; the next call dials again
	s := newStore(goredis.NewClient(o), opts)
	s.ownClient = true
	return s, nil
}

// New returns a store on client, which stays the caller's: Close leaves it
// open. For calls to end by their context's deadline, the client needs
// ContextTimeoutEnabled; see the package documentation for MaxRetries.
func New(client *goredis.Client, opts Options) *Store {
	return newStore(client, opts)
}

func newStore(client *goredis.Client, opts Options) *Store {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{
		client:  client,
		prefix:  prefix,
		counter: prefix + counterKey,
		match:   globEscape(prefix+recordInfix) + "*",
	}
}

// globEscape escapes the characters that SCAN's MATCH pattern gives a
// meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range []byte(s) {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteByte(r)
	}
	return b.String()
}

// Prefix returns the prefix of the store's keys.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) key(id remoting.ObjectID) string { return s.prefix + recordInfix + id.String() }

// saveScript compares the record's version with ARGV[1] ("0": no record)
// and, if they are equal, writes ARGV[2] under a new version from the
// counter. It returns {1, new version} or {0, current version}.
var saveScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'v') or '0'
if cur ~= ARGV[1] then
	return {0, cur}
end
redis.call('INCR', KEYS[2])
local v = redis.call('GET', KEYS[2])
redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[2])
return {1, v}
`)

// deleteScript deletes the record if its version is ARGV[1]. It returns
// {1, version} or {0, current version}.
var deleteScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'v') or '0'
if cur ~= ARGV[1] then
	return {0, cur}
end
redis.call('DEL', KEYS[1])
return {1, cur}
`)

// Load implements [passivation.Store.Load].
func (s *Store) Load(ctx context.Context, id remoting.ObjectID) (passivation.Record, error) {
	op := "load " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return passivation.Record{}, err
	}
	vals, err := s.client.HMGet(ctx, s.key(id), "v", "d").Result()
	if err != nil {
		return passivation.Record{}, s.fail(ctx, op, err)
	}
	rec, ok, err := record(vals)
	if err != nil {
		return passivation.Record{}, s.fail(ctx, op, err)
	}
	if !ok {
		return passivation.Record{}, fmt.Errorf("redis: %s: %w", op, passivation.ErrNotFound)
	}
	return rec, nil
}

// record decodes the reply of HMGET v d: ok is false for a missing record.
func record(vals []any) (rec passivation.Record, ok bool, err error) {
	if len(vals) != 2 || vals[0] == nil {
		return passivation.Record{}, false, nil
	}
	vs, ok1 := vals[0].(string)
	ds, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return passivation.Record{}, false, fmt.Errorf("malformed record: fields %T and %T", vals[0], vals[1])
	}
	v, err := strconv.ParseUint(vs, 10, 64)
	if err != nil || v == 0 {
		return passivation.Record{}, false, fmt.Errorf("malformed record: version %q", vs)
	}
	return passivation.Record{Data: []byte(ds), Version: v}, true, nil
}

// Save implements [passivation.Store.Save]. It is one script.
func (s *Store) Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error) {
	op := "save " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	if data == nil {
		data = []byte{}
	}
	ok, v, err := s.cas(ctx, saveScript, id, expected, data)
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	if !ok {
		return 0, conflict(op, expected, v)
	}
	return v, nil
}

// Delete implements [passivation.Store.Delete]: a DEL for an expected
// version of zero, a script otherwise.
func (s *Store) Delete(ctx context.Context, id remoting.ObjectID, expected uint64) error {
	op := "delete " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	if expected == 0 {
		if err := s.client.Del(ctx, s.key(id)).Err(); err != nil {
			return s.fail(ctx, op, err)
		}
		return nil
	}
	ok, cur, err := s.cas(ctx, deleteScript, id, expected)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if !ok {
		return conflict(op, expected, cur)
	}
	return nil
}

// cas runs a compare-and-set script on id's record and returns whether it
// wrote, and the new version (or the current one if it did not).
func (s *Store) cas(ctx context.Context, script *goredis.Script, id remoting.ObjectID, expected uint64, args ...any) (bool, uint64, error) {
	argv := append([]any{strconv.FormatUint(expected, 10)}, args...)
	reply, err := script.Run(ctx, s.client, []string{s.key(id), s.counter}, argv...).Slice()
	if err != nil {
		return false, 0, err
	}
	if len(reply) != 2 {
		return false, 0, fmt.Errorf("script answered %v", reply)
	}
	won, ok1 := reply[0].(int64)
	vs, ok2 := reply[1].(string)
	v, err := strconv.ParseUint(vs, 10, 64)
	if !ok1 || !ok2 || err != nil {
		return false, 0, fmt.Errorf("script answered %v", reply)
	}
	return won == 1, v, nil
}

// List implements [passivation.Store.List]. It walks the keys with SCAN
// and reads each batch of records in one pipeline, then calls fn for them,
// so fn may call the store. It remembers the ids it has reported (16 bytes
// each), so that it reports none twice.
func (s *Store) List(ctx context.Context, fn func(id remoting.ObjectID, rec passivation.Record) error) error {
	const op = "list"
	type entry struct {
		id  remoting.ObjectID
		rec passivation.Record
	}
	var (
		cursor uint64
		seen   = make(map[remoting.ObjectID]struct{})
		batch  []entry
	)
	for {
		if err := s.begin(ctx, op); err != nil {
			return err
		}
		keys, next, err := s.client.Scan(ctx, cursor, s.match, listBatch).Result()
		if err != nil {
			return s.fail(ctx, op, err)
		}
		ids := make([]remoting.ObjectID, 0, len(keys))
		for _, k := range keys {
			id, err := remoting.ParseObjectID(strings.TrimPrefix(k, s.prefix+recordInfix))
			if err != nil {
				continue // not a record of this store
			}
			if _, dup := seen[id]; dup {
				continue
			}
			ids = append(ids, id)
		}
		batch = batch[:0]
		if len(ids) > 0 {
			cmds := make([]*goredis.SliceCmd, len(ids))
			_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for i, id := range ids {
					cmds[i] = p.HMGet(ctx, s.key(id), "v", "d")
				}
				return nil
			})
			if err != nil {
				return s.fail(ctx, op, err)
			}
			for i, cmd := range cmds {
				rec, ok, err := record(cmd.Val())
				if err != nil {
					return s.fail(ctx, op, err)
				}
				if ok { // else deleted since SCAN saw it
					batch = append(batch, entry{ids[i], rec})
				}
			}
		}
		for _, e := range batch {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("redis: %s: %w", op, err)
			}
			seen[e.id] = struct{}{}
			if err := fn(e.id, e.rec); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Close implements [passivation.Store.Close]. It closes the client that
// Open made; a client given to New stays open. Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.ownClient {
			err = s.client.Close()
		}
	})
	if err != nil {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}

// begin checks that a call may start: the store is open and ctx is live.
func (s *Store) begin(ctx context.Context, op string) error {
	if s.closed.Load() {
		return fmt.Errorf("redis: %s: %w", op, passivation.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	return nil
}

// fail turns an error of go-redis into the store's: ErrClosed once the
// store is closed, the context's error if the caller canceled, Unavailable
// for a server that is down, refusing, loading, out of memory or too slow
// for the deadline, and Internal for anything else Redis reports.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("redis: %s: %w", op, passivation.ErrClosed)
	}
	var redisErr goredis.Error
	isRedis := errors.As(err, &redisErr)
	switch ctxErr := ctx.Err(); {
	case errors.Is(ctxErr, context.Canceled):
		return fmt.Errorf("redis: %s: %w", op, ctxErr)
	case ctxErr != nil || pastDeadline(ctx):
		// Out of time: go-redis's read deadline is the context's, and may
		// fire a moment before the context notices.
		return fmt.Errorf("redis: %s: %w", op, &remoting.Error{
			Code:    remoting.CodeUnavailable,
			Message: "no answer from Redis within the deadline: " + err.Error(),
			Cause:   fmt.Errorf("%w: %w", context.DeadlineExceeded, err),
		})
	case isRedis && !transient(err):
		return fmt.Errorf("redis: %s: %w", op, &remoting.Error{
			Code:    remoting.CodeInternal,
			Message: "Redis: " + err.Error(),
			Cause:   err,
		})
	}
	// Connection refused or broken, or a transient error of the server.
	return fmt.Errorf("redis: %s: %w", op, &remoting.Error{
		Code:    remoting.CodeUnavailable,
		Message: "Redis unavailable: " + err.Error(),
		Cause:   err,
	})
}

// transient reports whether a Redis error says the server cannot serve the
// call now but may later.
func transient(err error) bool {
	switch {
	case goredis.IsLoadingError(err), goredis.IsReadOnlyError(err), goredis.IsMasterDownError(err),
		goredis.IsMaxClientsError(err), goredis.IsOOMError(err), goredis.IsTryAgainError(err),
		goredis.IsClusterDownError(err), goredis.IsNoReplicasError(err):
		return true
	}
	for _, prefix := range []string{"BUSY", "MISCONF"} {
		if goredis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}

// conflict returns the error of a write that expected another version.
func conflict(op string, expected, cur uint64) error {
	found := "no record"
	if cur != 0 {
		found = fmt.Sprintf("version %d", cur)
	}
	want := "no record"
	if expected != 0 {
		want = fmt.Sprintf("version %d", expected)
	}
	return fmt.Errorf("redis: %s: expected %s, found %s: %w", op, want, found, passivation.ErrConflict)
}

// pastDeadline reports whether ctx has a deadline and it has passed (even
// if ctx has not noticed yet).
func pastDeadline(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}
