package raftstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

var _ raft.LogStore = (*Store)(nil)

// FirstIndex returns the smallest index in the log, or 0 when the log is empty. As with
// raft-boltdb, index 0 counts like any other: raft never stores it, but raft's benchmarks do,
// and a log holding entry 0 has FirstIndex 0.
func (s *Store) FirstIndex() (uint64, error) {
	b, err := s.currentBounds()
	return b.first, err
}

// LastIndex returns the largest index in the log, or 0 when the log is empty. A log whose
// only entry is entry 0 has FirstIndex and LastIndex 0, as raft-boltdb and raft's
// InmemStore report it.
func (s *Store) LastIndex() (uint64, error) {
	b, err := s.currentBounds()
	return b.last, err
}

// GetLog reads the entry at index into l. A missing entry returns raft.ErrLogNotFound; a
// stored entry that does not decode, or one in parts with a part missing, returns an error
// wrapping strata.ErrCorruption.
func (s *Store) GetLog(index uint64, l *raft.Log) error {
	value, err := s.db.Get(context.Background(), logKey(index))
	if errors.Is(err, strata.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	}
	if isHead(value) {
		return s.getLogInParts(index, l)
	}
	return decodeLog(index, value, l)
}

// getLogInParts reads the entry at index, stored in parts, into l. It reads the head again
// and then the parts from one snapshot, so that a concurrent write of the same index cannot
// give it a head and parts of different entries.
func (s *Store) getLogInParts(index uint64, l *raft.Log) error {
	ctx := context.Background()
	snap, err := s.db.NewSnapshot()
	if err != nil {
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	}
	defer snap.Close()
	value, err := snap.Get(ctx, logKey(index))
	if errors.Is(err, strata.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	}
	if !isHead(value) {
		return decodeLog(index, value, l) // replaced since the first read
	}
	head, err := decodeHead(index, value)
	if err != nil {
		return err
	}
	encoded := make([]byte, 0, head.length)
	encoded = append(encoded, head.first...)
	for n := uint32(1); n <= head.parts; n++ {
		encoded, err = snap.GetAppend(ctx, encoded, continuationKey(index, n))
		if errors.Is(err, strata.ErrNotFound) {
			return fmt.Errorf("%w: raftstore: log %d: part %d of %d is missing", strata.ErrCorruption, index, n, head.parts)
		}
		if err != nil {
			return fmt.Errorf("raftstore: get log %d: part %d: %w", index, n, err)
		}
		if uint64(len(encoded)) > head.length {
			return fmt.Errorf("%w: raftstore: log %d: parts hold more than the head's %d bytes", strata.ErrCorruption, index, head.length)
		}
	}
	if uint64(len(encoded)) != head.length {
		return fmt.Errorf("%w: raftstore: log %d: parts hold %d bytes, the head says %d", strata.ErrCorruption, index, len(encoded), head.length)
	}
	return decodeLog(index, encoded, l)
}

// StoreLog stores one entry, durably (see StoreLogs).
func (s *Store) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs stores entries durably: with strata's default options every batch it writes is
// fsynced before StoreLogs returns. Entries need not be contiguous with the log or with each
// other, nor in order; an entry whose index is already present replaces it, and of two
// entries with one index the later in logs wins. Any index is taken, 0 included.
//
// StoreLogs writes the entries in index order, in as few strata batches as hold them
// (usually one; a batch holds up to strata.MaxBatchSize bytes), each batch atomic. So a
// crash, or a failed batch, leaves the entries up to some index written and those after it
// not: a prefix, never a hole. raft (v1.8.0) copes with that. Its LogStore interface asks
// nothing of StoreLogs about partial writes. When StoreLogs fails on a follower,
// Raft.appendEntries neither advances the follower's last index nor reports success, so the
// leader sends the entries again and they are stored over the prefix already written. After
// a crash, NewRaft starts from LastIndex, and appendEntries skips the entries present with
// the leader's term and deletes conflicting ones before storing the rest. A leader whose
// StoreLogs fails steps down (Raft.dispatchLogs) and its commands report the error, though
// entries it wrote may still be committed by the next leader, as after any leader failure.
//
// Each entry's Data and Extensions may hold up to MaxEntrySize bytes together; a larger
// entry is refused before anything is written, with an error wrapping
// strata.ErrInvalidArgument (leaders should call CheckCommand before raft.Apply).
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	for _, l := range logs {
		if err := checkEntry(l); err != nil {
			return fmt.Errorf("raftstore: store logs: %w", err)
		}
	}
	if !slices.IsSortedFunc(logs, byIndex) {
		logs = slices.Clone(logs)
		slices.SortStableFunc(logs, byIndex) // stable: of two entries with one index, the later wins
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	batch := strata.NewBatch()
	size := 0  // bytes in batch, as strata counts them
	start := 0 // logs[start] is the first entry in batch
	var encoded []byte
	for i, l := range logs {
		encoded = encodeLog(encoded[:0], l)
		head, parts := splitLog(l.Index, encoded, limits.value)
		n := entryBatchSize(head, parts)
		if n > limits.batch {
			// checkEntry keeps entries within limits.entry, which fits a batch (a test checks).
			return fmt.Errorf("%w: raftstore: store logs: log %d takes %d bytes of a batch of %d", strata.ErrInvalidArgument, l.Index, n, limits.batch)
		}
		if size+n > limits.batch {
			if err := s.storeBatch(batch, logs[start].Index, logs[i-1].Index); err != nil {
				return err
			}
			batch.Reset()
			size, start = 0, i
		}
		batch.Put(logKey(l.Index), head) // Put copies key and value into the batch
		for k, part := range parts {
			batch.Put(continuationKey(l.Index, uint32(k+1)), part)
		}
		size += n
	}
	return s.storeBatch(batch, logs[start].Index, logs[len(logs)-1].Index)
}

// byIndex orders entries by index.
func byIndex(a, b *raft.Log) int {
	return cmp.Compare(a.Index, b.Index)
}

// storeBatch writes batch, which stores entries with indexes in [lo, hi], and updates the
// cached bounds. The caller holds writeMu.
func (s *Store) storeBatch(batch *strata.Batch, lo, hi uint64) error {
	if err := s.commit(batch); err != nil {
		return s.writeFailed("store logs", err)
	}
	b := s.bounds.Load()
	if b == nil {
		_, err := s.loadBounds()
		return err
	}
	next := b.with(lo, hi)
	s.bounds.Store(&next)
	return nil
}

// DeleteRange deletes the entries with indexes in [lo, hi], inclusive, in one atomic batch.
// Indexes without an entry are skipped; an empty range (lo > hi) deletes nothing. It reads
// the keys it deletes, so its cost follows the entries present, not the width of the range.
// The parts of entries stored in parts go in the same batch as their heads.
func (s *Store) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	b := s.bounds.Load()
	if b == nil {
		loaded, err := s.loadBounds()
		if err != nil {
			return err
		}
		b = &loaded
	}
	if !b.any || hi < b.first || lo > b.last {
		return nil
	}
	lo, hi = max(lo, b.first), min(hi, b.last)

	batch, after, err := s.collectDeletes(lo, hi)
	if err != nil {
		return err
	}
	if batch.Len() == 0 {
		return nil
	}
	if err := s.commit(batch); err != nil {
		return s.writeFailed("delete range", err)
	}

	next := *b
	switch {
	case next.first == lo && next.last == hi:
		next = logBounds{} // everything went
	case next.first == lo:
		// The first entry went; the next one is the first entry past the range.
		next.first = after
	case next.last == hi:
		// The last entry went; the new last lies below the range.
		next.last, _, err = s.edgeIndex(&strata.IterOptions{Start: logStart, End: logKey(lo), Reverse: true})
		if err != nil {
			return s.writeFailed("delete range", err)
		}
	}
	s.bounds.Store(&next)
	return nil
}

// collectDeletes returns a batch deleting every entry with an index in [lo, hi], and their
// parts, and the index of the first entry after hi (0 if none): one forward scan from lo
// finds both entries and that index, and one scan of the continuation keys of [lo, hi] the
// parts. That scan also finds parts an entry no longer uses (left when a smaller entry
// replaced it), so that none outlives the range.
func (s *Store) collectDeletes(lo, hi uint64) (*strata.Batch, uint64, error) {
	batch := strata.NewBatch()
	start, end := continuationRange(lo, hi)
	if err := s.deleteKeys(batch, &strata.IterOptions{Start: start, End: end}, nil); err != nil {
		return nil, 0, err
	}
	var after uint64
	err := s.deleteKeys(batch, &strata.IterOptions{Start: logKey(lo), End: logEnd}, func(key []byte) (bool, error) {
		index, err := logIndex(key)
		if err != nil || index <= hi {
			return true, err
		}
		after = index
		return false, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return batch, after, nil
}

// deleteKeys adds to batch a delete of every key the iterator bounded by opts yields, up to
// the first for which inRange, if not nil, returns false.
func (s *Store) deleteKeys(batch *strata.Batch, opts *strata.IterOptions, inRange func(key []byte) (bool, error)) error {
	it, err := s.db.NewIterator(context.Background(), opts)
	if err != nil {
		return fmt.Errorf("raftstore: delete range: %w", err)
	}
	defer it.Close()
	for it.Next() {
		if inRange != nil {
			ok, err := inRange(it.Key())
			if err != nil || !ok {
				return err
			}
		}
		batch.Delete(it.Key()) // Delete copies the key into the batch
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("raftstore: delete range: %w", err)
	}
	return nil
}
