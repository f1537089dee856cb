// Package raftstore keeps a hashicorp/raft node's log and stable state in a strata database.
//
// A Store implements raft.LogStore and raft.StableStore, so one Store serves as both
// arguments of raft.NewRaft:
//
//	store, err := raftstore.Open("/var/lib/app/raft", nil)
//	if err != nil { ... }
//	defer store.Close()
//	r, err := raft.NewRaft(conf, fsm, store, store, snapshots, transport)
//
// Durability: raft requires that StoreLogs, Set and SetUint64 have reached stable storage when
// they return. They do with strata's defaults (a nil *strata.Options, or NoSync false): each
// call is one atomic batch, fsynced before it returns, except a StoreLogs too large for one
// batch, which writes several in index order (see StoreLogs). Open with NoSync only for tests.
//
// Layout: log entries live under the key prefix "l" followed by the index as a big-endian
// uint64, so key order is index order; stable-store keys live under the prefix "s". Entries
// are encoded in a small versioned binary format (see encoding.go). An entry too large for
// one strata value keeps its head under "l" and the rest in continuation values under the
// prefix "c", outside the log's key range, so nothing that reads the log's keys sees them.
//
// Limits: StoreLogs takes any number of entries of any total size. One entry must fit one
// batch: its Data and Extensions may hold up to MaxEntrySize bytes together. A leader calls
// CheckCommand before raft.Apply so that a larger command is refused there, not in the log
// store.
//
// FirstIndex and LastIndex are answered from memory. strata has no cheap "largest key"
// lookup (an iterator, reverse or not, reads a chunk of entries with their values), and raft
// asks for both indexes often, so the Store finds them once at Open, with one forward and one
// reverse iterator over the log prefix, and then keeps them current itself: every write goes
// through the Store, which serializes StoreLogs and DeleteRange. The Store must therefore be
// the only writer of its database.
//
// A Store never writes outside its three prefixes, and never deletes a log entry except in
// DeleteRange.
package raftstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/go/strata"
)

// Key prefixes. Each prefix is one byte, and the byte after it bounds its range.
const (
	// continuationPrefix holds the parts of large entries after the first. 'c' sorts
	// before 'l', so the log's range ["l", "m") never contains a continuation key.
	continuationPrefix = 'c'
	logPrefix          = 'l'
	stablePrefix       = 's'
)

// logKeyLen is the length of a log entry's key: the prefix and a big-endian uint64 index.
const logKeyLen = 1 + 8

// continuationKeyLen is the length of a continuation key: the prefix, the entry's index as
// a big-endian uint64 and the part's number (1 for the part after the head) as a big-endian
// uint32, so an entry's parts are adjacent and in order.
const continuationKeyLen = 1 + 8 + 4

var (
	// logStart and logEnd bound every log key: [logStart, logEnd).
	logStart = []byte{logPrefix}
	logEnd   = []byte{logPrefix + 1}
)

// logKey returns the key of the log entry at index.
func logKey(index uint64) []byte {
	key := make([]byte, logKeyLen)
	key[0] = logPrefix
	binary.BigEndian.PutUint64(key[1:], index)
	return key
}

// logIndex returns the index a log key names.
func logIndex(key []byte) (uint64, error) {
	if len(key) != logKeyLen || key[0] != logPrefix {
		return 0, fmt.Errorf("%w: raftstore: %q is not a log key", strata.ErrCorruption, key)
	}
	return binary.BigEndian.Uint64(key[1:]), nil
}

// continuationKey returns the key of part n (n >= 1) of the entry at index.
func continuationKey(index uint64, n uint32) []byte {
	key := make([]byte, continuationKeyLen)
	key[0] = continuationPrefix
	binary.BigEndian.PutUint64(key[1:], index)
	binary.BigEndian.PutUint32(key[9:], n)
	return key
}

// continuationRange returns the bounds [start, end) of the continuation keys of the
// entries with indexes in [lo, hi].
func continuationRange(lo, hi uint64) (start, end []byte) {
	start = continuationKey(lo, 0)
	if hi == 1<<64-1 {
		return start, []byte{continuationPrefix + 1}
	}
	return start, continuationKey(hi+1, 0)
}

// stableKey returns the database key of a stable-store key.
func stableKey(key []byte) []byte {
	return append([]byte{stablePrefix}, key...)
}

// logBounds are the first and last index present in the log. Both are 0 when it is empty,
// and index 0 is an index like any other (raft never writes it; raft's benchmarks do), so
// whether the log holds an entry is a field of its own.
type logBounds struct {
	first, last uint64
	any         bool // the log holds at least one entry
}

// with returns the bounds after entries with indexes in [lo, hi] were stored.
func (b logBounds) with(lo, hi uint64) logBounds {
	if !b.any {
		return logBounds{first: lo, last: hi, any: true}
	}
	return logBounds{first: min(b.first, lo), last: max(b.last, hi), any: true}
}

// Store is a raft.LogStore and raft.StableStore backed by a strata database. All methods are
// safe for concurrent use.
type Store struct {
	db *strata.DB

	// writeMu serializes StoreLogs and DeleteRange, so that bounds follows the writes in
	// the order the database applied them.
	writeMu sync.Mutex
	// bounds caches the log's first and last index. nil means unknown (after a write that
	// failed, when the database may or may not hold it); the next reader reloads it.
	bounds atomic.Pointer[logBounds]
	// commit writes one batch of StoreLogs or DeleteRange: db.Write, except in tests that
	// make a write fail part of the way through StoreLogs.
	commit func(*strata.Batch) error
}

// Open opens (or creates) the strata database in dir and returns a Store over it. opts are
// passed to strata.Open; nil gives strata's defaults, which make every write durable when it
// returns, as raft requires. The Store owns the database: Close closes it.
func Open(dir string, opts *strata.Options) (*Store, error) {
	db, err := strata.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("raftstore: %w", err)
	}
	s := &Store{db: db}
	s.commit = func(b *strata.Batch) error { return db.Write(context.Background(), b) }
	if _, err := s.loadBounds(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database. It is idempotent; later calls of any other method fail with
// an error wrapping strata.ErrClosed.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// Forgetting the bounds sends FirstIndex and LastIndex to the closed database too.
	s.bounds.Store(nil)
	return s.db.Close()
}

// DB returns the database under the Store, for reading its Stats or taking a Checkpoint.
// Writing to it directly would leave the Store's cached log bounds wrong.
func (s *Store) DB() *strata.DB {
	return s.db
}

// currentBounds returns the cached log bounds, reloading them when they are unknown.
func (s *Store) currentBounds() (logBounds, error) {
	if b := s.bounds.Load(); b != nil {
		return *b, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.loadBounds()
}

// loadBounds reads the log's first and last index from the database and caches them. The
// caller holds writeMu, or is Open.
func (s *Store) loadBounds() (logBounds, error) {
	first, found, err := s.edgeIndex(&strata.IterOptions{Start: logStart, End: logEnd})
	if err != nil {
		return logBounds{}, err
	}
	var b logBounds
	if found {
		last, _, err := s.edgeIndex(&strata.IterOptions{Start: logStart, End: logEnd, Reverse: true})
		if err != nil {
			return logBounds{}, err
		}
		b = logBounds{first: first, last: last, any: true}
	}
	s.bounds.Store(&b)
	return b, nil
}

// edgeIndex returns the index of the first log key the iterator bounded by opts yields, and
// whether it yields one.
func (s *Store) edgeIndex(opts *strata.IterOptions) (uint64, bool, error) {
	it, err := s.db.NewIterator(context.Background(), opts)
	if err != nil {
		return 0, false, fmt.Errorf("raftstore: find log bounds: %w", err)
	}
	defer it.Close()
	if !it.Next() {
		if err := it.Err(); err != nil {
			return 0, false, fmt.Errorf("raftstore: find log bounds: %w", err)
		}
		return 0, false, nil
	}
	index, err := logIndex(it.Key())
	return index, err == nil, err
}

// writeFailed records that a write returned err: the database may or may not hold it, so
// the cached bounds are dropped and reloaded on next use. It returns err wrapped with op.
func (s *Store) writeFailed(op string, err error) error {
	s.bounds.Store(nil)
	return fmt.Errorf("raftstore: %s: %w", op, err)
}
