package strata

import (
	"bytes"
	"context"
	"iter"
	"slices"
	"sort"
)

// TxIterator walks a transaction's view in key order: its snapshot merged with its own
// writes, so a key it put shows its new value and a key it deleted is skipped. It moves as
// Iterator does (Next, Prev, First, Last, SeekGE, SeekLT, SetBounds, with the same meaning
// and the same IterOptions), and like an Iterator it is not safe for concurrent use and must
// be closed.
//
// It sees the writes the transaction made before NewIterator; later Puts and Deletes are not
// seen by it (open another), so a loop may write the keys it walks.
//
// In a read-write transaction every key it stops at that comes from the snapshot joins the
// keys checked at Commit, as a Get of it would: if a later commit changed or deleted it,
// Commit fails with ErrConflict. Keys it did not return are not checked: a key inserted by
// another commit into the range it walked (a phantom) does not fail the Commit, nor does a
// key beyond where the loop stopped. Keys it returns from the transaction's own writes need
// no check. Each checked key costs the Commit two point reads in the engine.
type TxIterator struct {
	tx   *Tx
	snap *Iterator // the snapshot's entries, within the same bounds

	// own is the transaction's writes when the iterator opened, in key order; writes is the
	// part of it within the bounds, and i the index in writes of the next own write in the
	// direction of travel (-1 or len(writes) when there is none).
	own    []txEntry
	writes []txEntry
	i      int

	reverse bool // IterOptions.Reverse: Next walks down
	// down is the direction of the last move; unpositioned: no move since the iterator
	// opened or SetBounds, so the next one starts at an end.
	down, unpositioned bool
	key, value         []byte
	err                error
	closed             bool
}

// txEntry is one of a transaction's writes: a key with its value, or a deletion.
type txEntry struct {
	key []byte
	txWrite
}

// NewIterator opens an iterator over what the transaction sees: its snapshot and its own
// writes made so far (see TxIterator). opts and ctx are as for DB.NewIterator; opts may be
// nil. It fails with ErrClosed after the transaction ended. Close the iterator before the
// transaction ends: its moves afterwards fail with ErrClosed.
func (tx *Tx) NewIterator(ctx context.Context, opts *IterOptions) (*TxIterator, error) {
	if tx.ended() {
		return nil, errTxDone("transaction new iterator")
	}
	if opts == nil {
		opts = &IterOptions{}
	}
	if len(opts.Prefix) > 0 {
		if err := checkBound(opts.Prefix); err != nil {
			return nil, err
		}
		opts = prefixBounds(opts)
	}
	txSnap, err := tx.snapshot()
	if err != nil {
		return nil, err
	}
	snap, err := txSnap.NewIterator(ctx, opts)
	if err != nil {
		return nil, err
	}
	it := &TxIterator{tx: tx, snap: snap, own: tx.sortedWrites(), reverse: opts.Reverse, down: opts.Reverse, unpositioned: true}
	it.writes = within(it.own, opts.Start, opts.End)
	return it, nil
}

// All is DB.All over what the transaction sees (its snapshot and its writes so far, as
// NewIterator), with reads checked at Commit as NewIterator's are.
func (tx *Tx) All(ctx context.Context, opts *IterOptions) iter.Seq2[[]byte, []byte] {
	return entries(opts, func() (*TxIterator, error) { return tx.NewIterator(ctx, opts) })
}

// sortedWrites returns the transaction's writes in key order, sorted once per change.
// Iterators keep the slice they got: Put and Delete make a new one rather than change it.
func (tx *Tx) sortedWrites() []txEntry {
	if tx.sorted == nil && len(tx.own) > 0 {
		tx.sorted = make([]txEntry, 0, len(tx.own))
		for k, w := range tx.own {
			tx.sorted = append(tx.sorted, txEntry{key: []byte(k), txWrite: w})
		}
		slices.SortFunc(tx.sorted, func(a, b txEntry) int { return bytes.Compare(a.key, b.key) })
	}
	return tx.sorted
}

// within returns the part of sorted writes in [lower, upper) (an empty bound is unbounded).
func within(writes []txEntry, lower, upper []byte) []txEntry {
	lo := sort.Search(len(writes), func(i int) bool { return bytes.Compare(writes[i].key, lower) >= 0 })
	hi := len(writes)
	if len(upper) > 0 {
		hi = sort.Search(len(writes), func(i int) bool { return bytes.Compare(writes[i].key, upper) >= 0 })
	}
	return writes[lo:max(lo, hi)]
}

// Next advances to the next entry (the next larger key, or the next smaller with
// IterOptions.Reverse) and reports whether there is one, as Iterator.Next.
func (it *TxIterator) Next() bool { return it.move(it.reverse) }

// Prev moves to the previous entry and reports whether there is one, as Iterator.Prev.
func (it *TxIterator) Prev() bool { return it.move(!it.reverse) }

// First moves to the smallest key within the bounds and reports whether there is one.
func (it *TxIterator) First() bool {
	if !it.usable("transaction iterator seek") {
		return false
	}
	it.snap.First()
	it.i = 0
	return it.settle(false)
}

// Last moves to the largest key within the bounds and reports whether there is one.
func (it *TxIterator) Last() bool {
	if !it.usable("transaction iterator seek") {
		return false
	}
	it.snap.Last()
	it.i = len(it.writes) - 1
	return it.settle(true)
}

// SeekGE moves to the smallest key at or after key (within the bounds) and reports whether
// there is one. key may be changed once SeekGE returns.
func (it *TxIterator) SeekGE(key []byte) bool {
	if !it.usable("transaction iterator seek") {
		return false
	}
	it.snap.SeekGE(key)
	it.i = it.search(key)
	return it.settle(false)
}

// SeekLT moves to the largest key before key (within the bounds) and reports whether there is
// one. key may be changed once SeekLT returns.
func (it *TxIterator) SeekLT(key []byte) bool {
	if !it.usable("transaction iterator seek") {
		return false
	}
	it.snap.SeekLT(key)
	it.i = it.search(key) - 1
	return it.settle(true)
}

// search returns the index of the first own write at or after key.
func (it *TxIterator) search(key []byte) int {
	return sort.Search(len(it.writes), func(i int) bool { return bytes.Compare(it.writes[i].key, key) >= 0 })
}

// SetBounds replaces the bounds with [lower, upper) and leaves the iterator unpositioned, as
// Iterator.SetBounds. It reads the same snapshot and own writes as before.
func (it *TxIterator) SetBounds(lower, upper []byte) {
	if !it.usable("transaction iterator set bounds") {
		return
	}
	it.snap.SetBounds(lower, upper)
	if it.err = it.snap.Err(); it.err != nil {
		it.key, it.value = nil, nil
		return
	}
	it.writes = within(it.own, lower, upper)
	it.key, it.value = nil, nil
	it.unpositioned = true
}

// Valid reports whether the iterator is at an entry: Key and Value are then its key and value.
func (it *TxIterator) Valid() bool { return it.key != nil && it.err == nil }

// Key returns the current key, or nil when the iterator is at no entry. It is valid until the
// next move or Close and must not be modified.
func (it *TxIterator) Key() []byte { return it.key }

// Value returns the current value, valid until the next move or Close, not to be modified.
func (it *TxIterator) Value() []byte { return it.value }

// Err returns the error that stopped iteration, as Iterator.Err; ErrClosed also once the
// transaction ended.
func (it *TxIterator) Err() error { return it.err }

// Close releases the iterator. It is idempotent and returns Err.
func (it *TxIterator) Close() error {
	if !it.closed && it.snap != nil {
		it.closed = true
		it.snap.Close()
		it.key, it.value = nil, nil
	}
	return it.err
}

// usable reports whether the iterator can still move; once its transaction ended it fails
// with ErrClosed (op names the move in the error).
func (it *TxIterator) usable(op string) bool {
	if it.closed || it.err != nil {
		return false
	}
	// it.tx is nil in a zero TxIterator, which was never opened: it fails as a closed one.
	if it.tx == nil || it.tx.ended() {
		it.err = errTxDone(op)
		it.key, it.value = nil, nil
		return false
	}
	return true
}

// move steps one entry down (down) or up. Both sources stand at their next entry in the
// direction of the last move, at or beyond the current key (or off their end). Going on the
// same way, the sources at the current key step past it; off the end, none is, and the
// iterator stays there. Turning around, every source steps: one at the current key goes to
// the next key the other way, and one beyond it, having nothing between it and the current
// key, steps over the current key too; a source off its end comes back to its first entry the
// other way, as Iterator does.
func (it *TxIterator) move(down bool) bool {
	if !it.usable("transaction iterator next") {
		return false
	}
	switch {
	case it.unpositioned:
		it.snapStep(down) // a fresh Iterator starts at the end it walks from
		it.i = 0
		if down {
			it.i = len(it.writes) - 1
		}
	case down == it.down:
		if it.snap.Valid() && bytes.Equal(it.snap.Key(), it.key) {
			it.snapStep(down)
		}
		if it.ownValid() && bytes.Equal(it.writes[it.i].key, it.key) {
			it.ownStep(down)
		}
	default:
		it.snapStep(down)
		it.ownStep(down)
	}
	return it.settle(down)
}

// snapStep moves the snapshot's iterator one entry down or up.
func (it *TxIterator) snapStep(down bool) {
	if down == it.reverse {
		it.snap.Next()
	} else {
		it.snap.Prev()
	}
}

// ownStep moves to the next own write down or up.
func (it *TxIterator) ownStep(down bool) {
	if down {
		it.i = max(it.i-1, -1)
	} else {
		it.i = min(it.i+1, len(it.writes))
	}
}

func (it *TxIterator) ownValid() bool { return it.i >= 0 && it.i < len(it.writes) }

// settle makes the nearer of the two sources' entries (in the direction down) the current
// one, the transaction's own write when both are at the same key, skipping the keys the
// transaction deleted. A key taken from the snapshot joins the transaction's reads.
func (it *TxIterator) settle(down bool) bool {
	it.down, it.unpositioned = down, false
	it.key, it.value = nil, nil
	for {
		if err := it.snap.Err(); err != nil {
			it.err = err
			return false
		}
		snapOK, ownOK := it.snap.Valid(), it.ownValid()
		if !snapOK && !ownOK {
			return false
		}
		c := 1 // which is nearer: <0 the snapshot's entry, >0 the own write, 0 the same key
		if snapOK && ownOK {
			c = bytes.Compare(it.snap.Key(), it.writes[it.i].key)
			if down {
				c = -c
			}
		} else if snapOK {
			c = -1
		}
		if c < 0 {
			it.key, it.value = it.snap.Key(), it.snap.Value()
			it.tx.noteRead(it.key)
			return true
		}
		w := &it.writes[it.i]
		if !w.deleted {
			it.key, it.value = w.key, w.value
			return true
		}
		// A key the transaction deleted: step both sources past it.
		if c == 0 {
			it.snapStep(down)
		}
		it.ownStep(down)
	}
}
