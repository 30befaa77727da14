package passivation

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

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/remoting-go/remoting"
)

var _ Store = (*BoltStore)(nil)

// Defaults of [BoltOptions].
const (
	defaultLockTimeout = time.Second
	defaultFileMode    = 0o600
)

// bucket holds the records: the key is the 16 bytes of the Object ID, the
// value the version (8 bytes, big-endian) followed by the data. The
// bucket's sequence is the last version given.
var bucket = []byte("passivation")

// listBatch is how many records List reads in one read transaction.
const listBatch = 256

// BoltOptions configure [OpenBolt]. The zero value is ready to use.
type BoltOptions struct {
	// LockTimeout is how long OpenBolt waits for the lock on the file that
	// another process (or another BoltStore) holds before it gives up with
	// [ErrLocked]. bbolt tries the lock every 50 milliseconds, so the wait
	// is that coarse. Default one second.
	LockTimeout time.Duration

	// Mode is the permission of a file that OpenBolt creates. Default 0600.
	Mode os.FileMode
}

// BoltStore is a [Store] in one file, on go.etcd.io/bbolt. Each Save and
// Delete is one bbolt write transaction, which is on disk (fsync) when the
// call returns: a crash loses no acknowledged write and tears no record.
// Writes are serialised, and every write costs an fsync, so the store
// suits passivation rates of hundreds of objects per second, not a write
// per invocation.
//
// Only one BoltStore, in one process, can have the file open at a time.
type BoltStore struct {
	db        *bolt.DB
	closeOnce sync.Once
	closeErr  error
}

// OpenBolt opens the store in the file at path, creating it if need be.
// If another process holds the file, OpenBolt waits up to
// [BoltOptions.LockTimeout] and then fails with an error that matches
// [ErrLocked].
func OpenBolt(path string, opts BoltOptions) (*BoltStore, error) {
	timeout := cmp.Or(opts.LockTimeout, defaultLockTimeout)
	db, err := bolt.Open(path, cmp.Or(opts.Mode, defaultFileMode), &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("passivation: open %s: gave up after %v: %w", path, timeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("passivation: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("passivation: open %s: %w", path, err)
	}
	return &BoltStore{db: db}, nil
}

// Path returns the file's path.
func (s *BoltStore) Path() string { return s.db.Path() }

// Load implements [Store.Load].
func (s *BoltStore) Load(ctx context.Context, id remoting.ObjectID) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("passivation: load %v: %w", id, err)
	}
	var rec Record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get(id[:])
		if v == nil {
			return ErrNotFound
		}
		var err error
		rec, err = decodeRecord(v)
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("passivation: load %v: %w", id, boltErr(err))
	}
	return rec, nil
}

// Save implements [Store.Save]. The record is on disk when Save returns
// nil.
func (s *BoltStore) Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("passivation: save %v: %w", id, err)
	}
	var version uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		cur, err := versionOf(b.Get(id[:]))
		if err != nil {
			return err
		}
		if cur != expected {
			return conflict("save", id, expected, cur)
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
		if errors.Is(err, ErrConflict) {
			return 0, err
		}
		return 0, fmt.Errorf("passivation: save %v: %w", id, boltErr(err))
	}
	return version, nil
}

// Delete implements [Store.Delete]. The deletion is on disk when Delete
// returns nil.
func (s *BoltStore) Delete(ctx context.Context, id remoting.ObjectID, expected uint64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("passivation: delete %v: %w", id, err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		v := b.Get(id[:])
		if expected != 0 {
			cur, err := versionOf(v)
			if err != nil {
				return err
			}
			if cur != expected {
				return conflict("delete", id, expected, cur)
			}
		}
		if v == nil {
			return nil
		}
		return b.Delete(id[:])
	})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return err
		}
		return fmt.Errorf("passivation: delete %v: %w", id, boltErr(err))
	}
	return nil
}

// List implements [Store.List]. It reads the records in batches, each in a
// read transaction of its own, and calls fn between them, so fn may write
// to the store and a long List does not hold up writes or the file's
// growth. It visits the records in the order of their Object IDs' bytes.
func (s *BoltStore) List(ctx context.Context, fn func(id remoting.ObjectID, rec Record) error) error {
	type entry struct {
		id  remoting.ObjectID
		rec Record
	}
	batch := make([]entry, 0, listBatch)
	var after []byte // the last key seen
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("passivation: list: %w", err)
		}
		batch = batch[:0]
		err := s.db.View(func(tx *bolt.Tx) error {
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
			return fmt.Errorf("passivation: list: %w", boltErr(err))
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

// Close implements [Store.Close]: it waits for transactions in progress,
// closes the file and releases its lock.
func (s *BoltStore) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("passivation: close %s: %w", s.db.Path(), err)
		}
	})
	return s.closeErr
}

// decodeRecord copies a stored value out of a transaction.
func decodeRecord(v []byte) (Record, error) {
	version, err := versionOf(v)
	if err != nil {
		return Record{}, err
	}
	return Record{Data: bytes.Clone(v[8:]), Version: version}, nil
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

// boltErr turns bbolt's error for a closed database into ErrClosed.
func boltErr(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
