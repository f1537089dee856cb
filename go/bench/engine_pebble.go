package bench

import (
	"errors"
	"log"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Pebble, an LSM tree in Go. Group commit is built in: concurrent Sync writes share an fsync.
var pebbleEngine = Engine{
	Name: "pebble",
	Settings: "v2.1.7; Cache 64 MiB, MemTableSize 32 MiB x MemTableStopWritesThreshold 2 (64 MiB of memtables), " +
		"FormatNewest, bloom filters of 10 bits per key on every level (as CockroachDB configures them; Pebble's default has none), other options default (Snappy); writes with pebble.NoSync in fast mode, pebble.Sync in durable; " +
		"a new Iterator per scan; Flush before Close; seekprev: one Iterator, SeekGE + Prev",
	Open:  openPebble,
	Skips: map[string]string{"txnrmw": "no transactions (an indexed batch reads its own writes, but its commit checks nothing)"},
}

type pebbleStore struct {
	db    *pebble.DB
	write *pebble.WriteOptions
}

func openPebble(dir string, opts OpenOptions) (Store, error) {
	cache := pebble.NewCache(CacheBytes)
	defer cache.Unref() // the DB holds its own reference
	options := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                WriteBufferBytes / 2,
		MemTableStopWritesThreshold: 2,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      quietPebbleLogger{},
	}
	// strata, Badger and bbolt answer a missing key without reading a data block (filters or a
	// B-tree); Pebble does only with filters configured, which every serious deployment does.
	for i := range options.Levels {
		options.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, options)
	if err != nil {
		return nil, err
	}
	write := pebble.NoSync
	if opts.Mode == Durable {
		write = pebble.Sync
	}
	return &pebbleStore{db: db, write: write}, nil
}

func (s *pebbleStore) Write(entries []Entry) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		if err := b.Set(e.Key, e.Value, nil); err != nil {
			return err
		}
	}
	return b.Commit(s.write)
}

func (s *pebbleStore) Put(key, value []byte) error {
	return s.db.Set(key, value, s.write)
}

func (s *pebbleStore) Get(key []byte) (int, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n := len(v)
	return n, true, closer.Close()
}

func (s *pebbleStore) Scan(start []byte, limit int, visit func(key, value []byte)) error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return err
	}
	for ok, n := it.SeekGE(start), 0; ok && n < limit; ok, n = it.Next(), n+1 {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(err, it.Close())
		}
		visit(it.Key(), v)
	}
	return it.Close()
}

func (s *pebbleStore) NewCursor() (Cursor, error) {
	it, err := s.db.NewIter(nil)
	return pebbleCursor{it}, err
}

// pebbleCursor is an Iterator as a Cursor.
type pebbleCursor struct{ *pebble.Iterator }

func (c pebbleCursor) Entry() (key, value []byte, err error) {
	value, err = c.ValueAndErr()
	return c.Key(), value, err
}

func (c pebbleCursor) Err() error { return c.Error() }

func (s *pebbleStore) Close() error {
	err := s.db.Flush()
	return errors.Join(err, s.db.Close())
}

// quietPebbleLogger drops Pebble's informational messages (they would interleave with the
// bench's output) and keeps errors.
type quietPebbleLogger struct{}

func (quietPebbleLogger) Infof(string, ...any) {}

func (quietPebbleLogger) Errorf(format string, args ...any) { log.Printf("pebble: "+format, args...) }

func (quietPebbleLogger) Fatalf(format string, args ...any) { log.Fatalf("pebble: "+format, args...) }
