package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

var _ passivation.Store = (*Store)(nil)

// Defaults of [Options].
const (
	// DefaultLockTimeout is the default of [Options.LockTimeout].
	DefaultLockTimeout = time.Second
	// DefaultMode is the default of [Options.Mode].
	DefaultMode os.FileMode = 0o600
)

// ErrLocked is returned by [Open] when another process, or another Store
// in this one, holds the file.
var ErrLocked = errors.New("bolt: store file is locked by another process")

// bucket holds the records: the key is the 16 bytes of the Object ID, the
// value the version (8 bytes, big-endian) followed by the data. The
// bucket's sequence is the last version given.
var bucket = []byte("passivation")

// listBatch is how many records List reads in one read transaction.
const listBatch = 256

// Options configure [Open]. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long Open waits for the lock on the file that
	// another process (or another Store) holds before it gives up with
	// [ErrLocked]. bbolt tries the lock every 50 milliseconds, so the wait
	// is that coarse. Default [DefaultLockTimeout], one second.
	LockTimeout time.Duration

	// Mode is the permission of a file that Open creates. Default
	// [DefaultMode], 0600.
	Mode os.FileMode
}

// Store is a passivation.Store in one file, on go.etcd.io/bbolt; see the
// package documentation for its format and its crash safety. Its methods
// are safe for concurrent use. Only one Store, in one process, can have
// the file open at a time.
type Store struct {
	db        *bbolt.DB
	closeOnce sync.Once
	closeErr  error
}

// Open opens the store in the file at path, creating it if need be. If
// another process holds the file, Open waits up to [Options.LockTimeout]
// and then fails with an error that matches [ErrLocked]. Close the store
// when done, after the server that uses it.
func Open(path string, opts Options) (*Store, error) {
	timeout := cmp.Or(opts.LockTimeout, DefaultLockTimeout)
	db, err := bbolt.Open(path, cmp.Or(opts.Mode, DefaultMode), &bbolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: gave up after %v: %w", path, timeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Path returns the file's path.
func (s *Store) Path() string { return s.db.Path() }

// Load implements [passivation.Store.Load].
func (s *Store) Load(ctx context.Context, id remoting.ObjectID) (passivation.Record, error) {
	if err := ctx.Err(); err != nil {
		return passivation.Record{}, fmt.Errorf("bolt: load %v: %w", id, err)
	}
	var rec passivation.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucket).Get(id[:])
		if v == nil {
			return passivation.ErrNotFound
		}
		var err error
		rec, err = decodeRecord(v)
		return err
	})
	if err != nil {
		return passivation.Record{}, fmt.Errorf("bolt: load %v: %w", id, boltErr(err))
	}
	return rec, nil
}

// Save implements [passivation.Store.Save]. The record is on disk when Save returns
// nil.
func (s *Store) Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("bolt: save %v: %w", id, err)
	}
	var version uint64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		cur, err := versionOf(b.Get(id[:]))
		if err != nil {
			return err
		}
		if cur != expected {
			return passivation.Conflict("save", id, expected, cur)
		}
		if version, err = b.NextSequence(); err != nil {
			return err
		}
		v := make([]byte, 8+len(data))
		binary.BigEndian.PutUint64(v, version)
		copy(v[8:], data)
		return b.Put(id[:], v)
	})
	if err != nil {
		if errors.Is(err, passivation.ErrConflict) {
			return 0, err
		}
		return 0, fmt.Errorf("bolt: save %v: %w", id, boltErr(err))
	}
	return version, nil
}

// Delete implements [passivation.Store.Delete]. The deletion is on disk when Delete
// returns nil.
func (s *Store) Delete(ctx context.Context, id remoting.ObjectID, expected uint64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: delete %v: %w", id, err)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		v := b.Get(id[:])
		if expected != 0 {
			cur, err := versionOf(v)
			if err != nil {
				return err
			}
			if cur != expected {
				return passivation.Conflict("delete", id, expected, cur)
			}
		}
		if v == nil {
			return nil
		}
		return b.Delete(id[:])
	})
	if err != nil {
		if errors.Is(err, passivation.ErrConflict) {
			return err
		}
		return fmt.Errorf("bolt: delete %v: %w", id, boltErr(err))
	}
	return nil
}

// List implements [passivation.Store.List]. It reads the records in batches, each in a
// read transaction of its own, and calls fn between them, so fn may write
// to the store and a long List does not hold up writes or the file's
// growth. It visits the records in the order of their Object IDs' bytes.
func (s *Store) List(ctx context.Context, fn func(id remoting.ObjectID, rec passivation.Record) error) error {
	type entry struct {
		id  remoting.ObjectID
		rec passivation.Record
	}
	batch := make([]entry, 0, listBatch)
	var after []byte // the last key seen
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bolt: list: %w", err)
		}
		batch = batch[:0]
		err := s.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(batch) < listBatch; k, v = c.Next() {
				if len(k) != len(remoting.ObjectID{}) {
					return fmt.Errorf("corrupt key %x", k)
				}
				rec, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("key %x: %w", k, err)
				}
				batch = append(batch, entry{remoting.ObjectID(k), rec})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bolt: list: %w", boltErr(err))
		}
		for _, e := range batch {
			if err := fn(e.id, e.rec); err != nil {
				return err
			}
		}
		if len(batch) < listBatch {
			return nil
		}
		last := batch[len(batch)-1].id
		after = last[:]
	}
}

// Close implements [passivation.Store.Close]: it waits for transactions in progress,
// closes the file and releases its lock.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("bolt: close %s: %w", s.db.Path(), err)
		}
	})
	return s.closeErr
}

// decodeRecord copies a stored value out of a transaction.
func decodeRecord(v []byte) (passivation.Record, error) {
	version, err := versionOf(v)
	if err != nil {
		return passivation.Record{}, err
	}
	return passivation.Record{Data: bytes.Clone(v[8:]), Version: version}, nil
}

// versionOf returns the version of a stored value, zero for none.
func versionOf(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	if len(v) < 8 {
		return 0, fmt.Errorf("corrupt record of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// boltErr turns bbolt's error for a closed database into
// passivation.ErrClosed.
func boltErr(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return passivation.ErrClosed
	}
	return err
}
