package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

// etcdStore is a passivation.Store in etcd, under a key prefix: the store
// the demo's node processes share. A record is one key, <prefix><object
// id>, whose value is the state; its version is the key's mod revision,
// which etcd gives from one counter of the whole keyspace, so that no two
// writes, to any key or after a delete, get the same one. A Save or a
// Delete with an expected version is one etcd transaction that compares
// the key's mod revision with it (an absent key's is zero).
//
// etcd suits small states and a demo that must run with nothing
// installed; a service with much state keeps it in PostgreSQL or Redis
// (passivation/postgres, passivation/redis), behind the same interface.
type etcdStore struct {
	cli    *clientv3.Client
	prefix string

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ passivation.Store = (*etcdStore)(nil)

// maxRecord is the largest state the store takes: the middleware's frame
// limit, the largest state a call can carry. The embedded etcd of
// internal/etcdserver accepts requests of that size; an etcd of the
// default configuration takes 1.5 MiB.
const maxRecord = 4 << 20

// listBatch is how many records List reads in one range request.
const listBatch = 64

// openEtcdStore connects to etcd at endpoints and returns the store under
// prefix. Close closes the connection.
func openEtcdStore(endpoints []string, prefix string) (*etcdStore, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        5 * time.Second,
		MaxCallSendMsgSize: maxRecord + 64<<10,
		Logger:             zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd store: connect to %v: %w", endpoints, err)
	}
	return &etcdStore{cli: cli, prefix: prefix}, nil
}

func (s *etcdStore) key(id remoting.ObjectID) string { return s.prefix + id.String() }

// Load implements passivation.Store.
func (s *etcdStore) Load(ctx context.Context, id remoting.ObjectID) (passivation.Record, error) {
	op := "load " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return passivation.Record{}, err
	}
	resp, err := s.cli.Get(ctx, s.key(id))
	if err != nil {
		return passivation.Record{}, s.fail(ctx, op, err)
	}
	if len(resp.Kvs) == 0 {
		return passivation.Record{}, fmt.Errorf("etcd store: %s: %w", op, passivation.ErrNotFound)
	}
	kv := resp.Kvs[0]
	return passivation.Record{Data: kv.Value, Version: uint64(kv.ModRevision)}, nil
}

// Save implements passivation.Store: one transaction that writes the key
// if its mod revision is expected.
func (s *etcdStore) Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error) {
	op := "save " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	if len(data) > maxRecord {
		return 0, fmt.Errorf("etcd store: %s: %w", op, &remoting.Error{
			Code:    remoting.CodeResourceExhausted,
			Message: fmt.Sprintf("state of %d bytes, over the store's %d", len(data), maxRecord),
		})
	}
	key := s.key(id)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", int64(expected))).
		Then(clientv3.OpPut(key, string(data))).
		Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Commit()
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	if !resp.Succeeded {
		return 0, passivation.Conflict("save", id, expected, found(resp))
	}
	// The transaction's one write has the revision the transaction made.
	return uint64(resp.Header.Revision), nil
}

// Delete implements passivation.Store: a plain delete for an expected
// version of zero, a transaction otherwise.
func (s *etcdStore) Delete(ctx context.Context, id remoting.ObjectID, expected uint64) error {
	op := "delete " + id.String()
	if err := s.begin(ctx, op); err != nil {
		return err
	}
	key := s.key(id)
	if expected == 0 {
		if _, err := s.cli.Delete(ctx, key); err != nil {
			return s.fail(ctx, op, err)
		}
		return nil
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", int64(expected))).
		Then(clientv3.OpDelete(key)).
		Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Commit()
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if !resp.Succeeded {
		return passivation.Conflict("delete", id, expected, found(resp))
	}
	return nil
}

// found returns the version a failed transaction's Else read: zero for no
// record.
func found(resp *clientv3.TxnResponse) uint64 {
	if len(resp.Responses) == 0 {
		return 0
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return 0
	}
	return uint64(kvs[0].ModRevision)
}

// List implements passivation.Store. It reads the records in key order,
// listBatch at a time, each batch as of one revision, and calls fn for a
// batch after reading it, so fn may call the store.
func (s *etcdStore) List(ctx context.Context, fn func(id remoting.ObjectID, rec passivation.Record) error) error {
	const op = "list"
	from, end := s.prefix, clientv3.GetPrefixRangeEnd(s.prefix)
	for {
		if err := s.begin(ctx, op); err != nil {
			return err
		}
		resp, err := s.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(listBatch))
		if err != nil {
			return s.fail(ctx, op, err)
		}
		for _, kv := range resp.Kvs {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("etcd store: %s: %w", op, err)
			}
			id, err := remoting.ParseObjectID(strings.TrimPrefix(string(kv.Key), s.prefix))
			if err != nil {
				continue // not a record of this store
			}
			if err := fn(id, passivation.Record{Data: kv.Value, Version: uint64(kv.ModRevision)}); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Close implements passivation.Store: it closes the connection to etcd.
// It is idempotent.
func (s *etcdStore) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
			s.closeErr = fmt.Errorf("etcd store: close: %w", err)
		}
	})
	return s.closeErr
}

// begin checks that a call may start: the store is open and ctx is live.
func (s *etcdStore) begin(ctx context.Context, op string) error {
	if s.closed.Load() {
		return fmt.Errorf("etcd store: %s: %w", op, passivation.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("etcd store: %s: %w", op, err)
	}
	return nil
}

// fail turns an error of the etcd client into the store's: ErrClosed once
// the store is closed, the context's error once ctx has ended (the write
// may or may not have happened), and Unavailable otherwise.
func (s *etcdStore) fail(ctx context.Context, op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("etcd store: %s: %w", op, passivation.ErrClosed)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("etcd store: %s: %w", op, ctxErr)
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return fmt.Errorf("etcd store: %s: %w: %v", op, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("etcd store: %s: %w", op, &remoting.Error{
		Code:    remoting.CodeUnavailable,
		Message: "etcd unavailable: " + err.Error(),
		Cause:   err,
	})
}
