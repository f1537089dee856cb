package bench

import (
	"errors"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// bbolt, a copy-on-write B+tree in one memory-mapped file. It has no cache of its own (reads go
// through the OS page cache) and one writer at a time; db.Batch is its way to let concurrent
// writers share one commit.
var bboltEngine = Engine{
	Name: "bbolt",
	Settings: "v1.5.0; default options (no cache of its own), NoSync in fast mode; " +
		"db.Update per batch or put, and db.Batch with MaxBatchSize = writers for concurrent durable writers " +
		"(its group commit); db.View per read or scan (Cursor.Seek + Next); txnrmw: db.Update (one writer at a time: never a conflict); " +
		"seekprev: one read transaction's Cursor, Seek + Prev",
	Open: openBbolt,
}

var bboltBucket = []byte("bench")

type bboltStore struct {
	db *bolt.DB
	// batched: concurrent durable writers go through db.Batch.
	batched bool
}

func openBbolt(dir string, opts OpenOptions) (Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "bench.bolt"), 0o644, &bolt.Options{NoSync: opts.Mode == Fast})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bboltBucket)
		return err
	}); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s := &bboltStore{db: db, batched: opts.Mode == Durable && opts.Writers > 1}
	if s.batched {
		// A batch commits once every writer has joined it, instead of after MaxBatchDelay.
		db.MaxBatchSize = opts.Writers
	}
	return s, nil
}

func (s *bboltStore) Write(entries []Entry) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bboltBucket)
		for _, e := range entries {
			if err := b.Put(e.Key, e.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *bboltStore) Put(key, value []byte) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bboltBucket).Put(key, value) })
}

func (s *bboltStore) update(fn func(tx *bolt.Tx) error) error {
	if s.batched {
		return s.db.Batch(fn)
	}
	return s.db.Update(fn)
}

func (s *bboltStore) Get(key []byte) (n int, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bboltBucket).Get(key)
		n, found = len(v), v != nil
		return nil
	})
	return n, found, err
}

func (s *bboltStore) Scan(start []byte, limit int, visit func(key, value []byte)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bboltBucket).Cursor()
		for k, v := c.Seek(start); k != nil && limit > 0; k, v = c.Next() {
			visit(k, v)
			limit--
		}
		return nil
	})
}

func (s *bboltStore) Increment(key []byte) (runs int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		runs++
		b := tx.Bucket(bboltBucket)
		next, err := incremented(b.Get(key))
		if err != nil {
			return err
		}
		return b.Put(key, next)
	})
	return runs, err
}

func (s *bboltStore) Counter(key []byte) (n uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n, err = decodeCounter(tx.Bucket(bboltBucket).Get(key))
		return err
	})
	return n, err
}

func (s *bboltStore) NewCursor() (Cursor, error) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, err
	}
	return &bboltCursor{tx: tx, c: tx.Bucket(bboltBucket).Cursor()}, nil
}

// bboltCursor is a Cursor of a read transaction held open until Close.
type bboltCursor struct {
	tx         *bolt.Tx
	c          *bolt.Cursor
	key, value []byte
}

func (c *bboltCursor) SeekGE(key []byte) bool {
	c.key, c.value = c.c.Seek(key)
	return c.key != nil
}

func (c *bboltCursor) Prev() bool {
	c.key, c.value = c.c.Prev()
	return c.key != nil
}

func (c *bboltCursor) Entry() (key, value []byte, err error) { return c.key, c.value, nil }

func (c *bboltCursor) Err() error { return nil }

func (c *bboltCursor) Close() error { return c.tx.Rollback() }

func (s *bboltStore) Close() error { return s.db.Close() }
