package bench

import (
	"context"
	"errors"
	"sync"

	"github.com/strata-db/strata/go/strata"
)

// strata through its public Go SDK (go/strata): every call crosses into the runtime thread and
// comes back through the completion queue, which is what this bench measures against the
// native numbers of rust/bench.
var strataEngine = Engine{
	Name: "strata",
	Settings: "Options{BlockCacheSize: 64 MiB, MemtableBudget: 64 MiB, tables memory-mapped (the defaults), NoSync: true in fast mode}; " +
		"Write(batch), Put, GetAppend into a pooled buffer, NewIterator{Start} per scan; Flush before Close; " +
		"txnrmw: DB.Update (Tx.Get, Tx.Put; it retries conflicts itself); seekprev: one NewIterator, SeekGE + Prev",
	Open: openStrata,
}

type strataStore struct {
	db      *strata.DB
	batches sync.Pool
	// Read buffers (*[]byte): reads copy values into one instead of allocating, as Pebble's
	// Get hands out its own memory and badger's and bbolt's reads are not copied either.
	values sync.Pool
}

func openStrata(dir string, opts OpenOptions) (Store, error) {
	db, err := strata.Open(dir, &strata.Options{
		NoSync:         opts.Mode == Fast,
		BlockCacheSize: CacheBytes,
		MemtableBudget: WriteBufferBytes,
	})
	if err != nil {
		return nil, err
	}
	s := &strataStore{db: db}
	s.batches.New = func() any { return strata.NewBatch() }
	s.values.New = func() any { return new([]byte) }
	return s, nil
}

func (s *strataStore) Write(entries []Entry) error {
	b := s.batches.Get().(*strata.Batch)
	defer s.batches.Put(b)
	b.Reset()
	for _, e := range entries {
		b.Put(e.Key, e.Value)
	}
	return s.db.Write(context.Background(), b)
}

func (s *strataStore) Put(key, value []byte) error {
	return s.db.Put(context.Background(), key, value)
}

func (s *strataStore) Get(key []byte) (int, bool, error) {
	buf := s.values.Get().(*[]byte)
	defer s.values.Put(buf)
	v, err := s.db.GetAppend(context.Background(), (*buf)[:0], key)
	*buf = v
	if errors.Is(err, strata.ErrNotFound) {
		return 0, false, nil
	}
	return len(v), err == nil, err
}

func (s *strataStore) Scan(start []byte, limit int, visit func(key, value []byte)) error {
	it, err := s.db.NewIterator(context.Background(), &strata.IterOptions{Start: start})
	if err != nil {
		return err
	}
	for n := 0; n < limit && it.Next(); n++ {
		visit(it.Key(), it.Value())
	}
	return it.Close()
}

func (s *strataStore) Increment(key []byte) (runs int, err error) {
	ctx := context.Background()
	err = s.db.Update(ctx, func(tx *strata.Tx) error {
		runs++
		v, err := tx.Get(ctx, key)
		if err != nil && !errors.Is(err, strata.ErrNotFound) {
			return err
		}
		next, err := incremented(v)
		if err != nil {
			return err
		}
		return tx.Put(key, next)
	})
	return runs, err
}

func (s *strataStore) Counter(key []byte) (uint64, error) {
	v, err := s.db.Get(context.Background(), key)
	if errors.Is(err, strata.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return decodeCounter(v)
}

func (s *strataStore) NewCursor() (Cursor, error) {
	it, err := s.db.NewIterator(context.Background(), nil)
	return strataCursor{it}, err
}

// strataCursor is an Iterator as a Cursor.
type strataCursor struct{ *strata.Iterator }

func (c strataCursor) Entry() (key, value []byte, err error) { return c.Key(), c.Value(), nil }

func (s *strataStore) Close() error {
	err := s.db.Flush(context.Background())
	return errors.Join(err, s.db.Close())
}
