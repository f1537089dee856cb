package bench

import (
	"errors"
	"log"

	"github.com/dgraph-io/badger/v4"
)

// Badger, an LSM tree in Go (values at or under its value threshold, which these are, live in
// the tree). Concurrent writes are queued and written together by one goroutine, with one
// fsync per group under SyncWrites.
var badgerEngine = Engine{
	Name: "badger",
	Settings: "v4.9.6; BlockCacheSize 64 MiB, MemTableSize 32 MiB x NumMemtables 2 (64 MiB of memtables), " +
		"DetectConflicts false (every write is blind) but true for txnrmw, SyncWrites in durable mode, other options default (Snappy); " +
		"db.Update per batch or put, db.View per read or scan (iterator without value prefetch); Close flushes; " +
		"txnrmw: db.Update (txn.Get, txn.Set), run again at once on ErrConflict",
	Open:  openBadger,
	Skips: map[string]string{"seekprev": "an iterator walks the one direction it was opened with (IteratorOptions.Reverse): no Prev"},
}

type badgerStore struct {
	db *badger.DB
}

func openBadger(dir string, opts OpenOptions) (Store, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).
		WithBlockCacheSize(CacheBytes).
		WithMemTableSize(WriteBufferBytes / 2).
		WithNumMemtables(2).
		WithDetectConflicts(opts.Transactions).
		WithSyncWrites(opts.Mode == Durable).
		WithLogger(quietBadgerLogger{}))
	if err != nil {
		return nil, err
	}
	return &badgerStore{db: db}, nil
}

func (s *badgerStore) Write(entries []Entry) error {
	return s.db.Update(func(txn *badger.Txn) error {
		for _, e := range entries {
			if err := txn.Set(e.Key, e.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *badgerStore) Put(key, value []byte) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) })
}

func (s *badgerStore) Get(key []byte) (n int, found bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) error {
			n = len(v)
			return nil
		})
	})
	return n, found, err
}

func (s *badgerStore) Scan(start []byte, limit int, visit func(key, value []byte)) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Seek(start); it.Valid() && limit > 0; it.Next() {
			item := it.Item()
			if err := item.Value(func(v []byte) error {
				visit(item.Key(), v)
				return nil
			}); err != nil {
				return err
			}
			limit--
		}
		return nil
	})
}

func (s *badgerStore) Increment(key []byte) (runs int, err error) {
	for {
		runs++
		err = s.db.Update(func(txn *badger.Txn) error {
			var v []byte
			item, err := txn.Get(key)
			switch {
			case err == nil:
				if v, err = item.ValueCopy(nil); err != nil {
					return err
				}
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			next, err := incremented(v)
			if err != nil {
				return err
			}
			return txn.Set(key, next)
		})
		if !errors.Is(err, badger.ErrConflict) {
			return runs, err
		}
	}
}

func (s *badgerStore) Counter(key []byte) (n uint64, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			n, err = decodeCounter(v)
			return err
		})
	})
	return n, err
}

func (s *badgerStore) Close() error { return s.db.Close() }

// quietBadgerLogger drops Badger's informational messages and keeps errors and warnings.
type quietBadgerLogger struct{}

func (quietBadgerLogger) Errorf(format string, args ...any) { log.Printf("badger: "+format, args...) }

func (quietBadgerLogger) Warningf(format string, args ...any) {
	log.Printf("badger: warning: "+format, args...)
}

func (quietBadgerLogger) Infof(string, ...any) {}

func (quietBadgerLogger) Debugf(string, ...any) {}
