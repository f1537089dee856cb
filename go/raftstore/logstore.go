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
// stored entry that does not decode returns an error wrapping strata.ErrCorruption.
func (s *Store) GetLog(index uint64, l *raft.Log) error {
	value, err := s.db.Get(context.Background(), logKey(index))
	if errors.Is(err, strata.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raftstore: get log %d: %w", index, err)
	}
	return decodeLog(index, value, l)
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
// Each entry must fit one strata value (strata.MaxValueSize, with its encoding's fields).
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
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
		n := batchPutSize(logKeyLen, len(encoded))
		if n > limits.batch {
			return fmt.Errorf("%w: raftstore: store logs: log %d takes %d bytes of a batch of %d", strata.ErrInvalidArgument, l.Index, n, limits.batch)
		}
		if size+n > limits.batch {
			if err := s.storeBatch(batch, logs[start].Index, logs[i-1].Index); err != nil {
				return err
			}
			batch.Reset()
			size, start = 0, i
		}
		batch.Put(logKey(l.Index), encoded) // Put copies key and value into the batch
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

// collectDeletes returns a batch deleting every entry with an index in [lo, hi], and the
// index of the first entry after hi (0 if none): one forward scan from lo answers both.
func (s *Store) collectDeletes(lo, hi uint64) (*strata.Batch, uint64, error) {
	it, err := s.db.NewIterator(context.Background(), &strata.IterOptions{Start: logKey(lo), End: logEnd})
	if err != nil {
		return nil, 0, fmt.Errorf("raftstore: delete range: %w", err)
	}
	defer it.Close()
	batch := strata.NewBatch()
	for it.Next() {
		index, err := logIndex(it.Key())
		if err != nil {
			return nil, 0, err
		}
		if index > hi {
			return batch, index, nil
		}
		batch.Delete(it.Key()) // Delete copies the key into the batch
	}
	if err := it.Err(); err != nil {
		return nil, 0, fmt.Errorf("raftstore: delete range: %w", err)
	}
	return batch, 0, nil
}
