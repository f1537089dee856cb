package strata

import (
	"context"
	"iter"
)

// All returns the entries in [opts.Start, opts.End) of the latest state, in key order (or
// descending with opts.Reverse), for a range-over-func loop. opts may be nil. Each loop runs
// over a snapshot taken when it starts, and closes its iterator when the loop ends, however it
// ends. A key or value is valid until the loop's next step; copy it to keep it.
//
// An error (a closed database, a cancelled ctx, damaged data) ends the loop early. Pass
// IterOptions.Err to learn of it:
//
//	var err error
//	for k, v := range db.All(ctx, &strata.IterOptions{Start: []byte("a"), Err: &err}) {
//		use(k, v)
//	}
//	if err != nil { ... }
//
// Use NewIterator for full control (several passes, Err after each step).
func (db *DB) All(ctx context.Context, opts *IterOptions) iter.Seq2[[]byte, []byte] {
	return entries(opts, func() (*Iterator, error) { return db.NewIterator(ctx, opts) })
}

// All is DB.All reading the snapshot: every loop sees the same entries.
func (s *Snapshot) All(ctx context.Context, opts *IterOptions) iter.Seq2[[]byte, []byte] {
	return entries(opts, func() (*Iterator, error) { return s.NewIterator(ctx, opts) })
}

// cursor is what entries needs of an iterator: Iterator and TxIterator both have it.
type cursor interface {
	Next() bool
	Key() []byte
	Value() []byte
	Err() error
	Close() error
}

// entries is the sequence behind the All methods.
func entries[C cursor](opts *IterOptions, open func() (C, error)) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		report := func(err error) {
			if opts != nil && opts.Err != nil {
				*opts.Err = err
			}
		}
		it, err := open()
		if err != nil {
			report(err)
			return
		}
		defer it.Close()
		for it.Next() {
			if !yield(it.Key(), it.Value()) {
				report(nil)
				return
			}
		}
		report(it.Err())
	}
}
