package strata

/*
#include "strata.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
)

// Snapshot is a consistent, read-only view of a database: it sees exactly the writes
// acknowledged before DB.NewSnapshot returned, however the database changes afterwards. All
// methods are safe for concurrent use.
//
// An open snapshot keeps every version it can see, so overwritten and deleted data stay on
// disk until it is closed: close snapshots promptly. Closing the database closes its
// snapshots; their methods then fail with ErrClosed.
type Snapshot struct {
	db     *DB
	handle uint64

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
	cleanup   runtime.Cleanup
}

// NewSnapshot pins the current state of the database: every write acknowledged before it
// returns, none after. It fails with ErrClosed after Close. Close the snapshot when done; one
// dropped unclosed is released when the garbage collector finds it, which may be much later.
func (db *DB) NewSnapshot() (*Snapshot, error) {
	cl, err := db.exec(context.Background(), "new snapshot", opOpenSnapshot, func(token C.uint64_t) C.int32_t {
		return C.strata_snapshot_open(C.uint64_t(db.handle), token)
	})
	if err != nil {
		return nil, err
	}
	return db.adoptSnapshot(cl.handle), nil
}

// adoptSnapshot wraps a snapshot handle the engine opened for this database.
func (db *DB) adoptSnapshot(handle uint64) *Snapshot {
	s := &Snapshot{db: db, handle: handle, closed: make(chan struct{})}
	// A Snapshot dropped without Close still releases the versions it pins.
	s.cleanup = runtime.AddCleanup(s, func(h uint64) { C.strata_snapshot_close(C.uint64_t(h)) }, handle)
	return s
}

// isClosed reports whether Close was called, or the snapshot was never opened (a zero
// Snapshot, whose methods fail with ErrClosed as a closed one's do).
func (s *Snapshot) isClosed() bool {
	if s.closed == nil {
		return true
	}
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Get returns the value key had when the snapshot was taken, or an error wrapping ErrNotFound.
// The caller owns the result.
func (s *Snapshot) Get(ctx context.Context, key []byte) ([]byte, error) {
	if s.isClosed() {
		return nil, opError("snapshot get", ErrClosed)
	}
	v, err := s.db.get(ctx, "snapshot get", s.handle, key, nil)
	runtime.KeepAlive(s)
	return v, err
}

// GetAppend is DB.GetAppend as of the snapshot: it appends the value key had when the
// snapshot was taken to dst.
func (s *Snapshot) GetAppend(ctx context.Context, dst, key []byte) ([]byte, error) {
	if s.isClosed() {
		return dst, opError("snapshot get", ErrClosed)
	}
	v, err := s.db.get(ctx, "snapshot get", s.handle, key, dst)
	runtime.KeepAlive(s)
	return v, err
}

// NewIterator opens an iterator over the snapshot; opts and ctx are as for DB.NewIterator.
// The iterator holds the snapshot's state itself: it keeps working after the Snapshot is
// closed, until it is closed or the database is.
func (s *Snapshot) NewIterator(ctx context.Context, opts *IterOptions) (*Iterator, error) {
	if s.isClosed() {
		return nil, opError("snapshot new iterator", ErrClosed)
	}
	it, err := s.db.newIterator(ctx, "snapshot new iterator", s.handle, opts)
	runtime.KeepAlive(s)
	return it, err
}

// Close releases the snapshot; closing after the database closed is not an error. It is
// idempotent: later calls return the first call's result. Get and NewIterator fail with
// ErrClosed after Close; iterators already opened from the snapshot are unaffected.
func (s *Snapshot) Close() error {
	if s.closed == nil {
		return nil // a zero Snapshot: never opened, nothing to release
	}
	s.closeOnce.Do(func() {
		close(s.closed)
		s.cleanup.Stop()
		if code := C.strata_snapshot_close(C.uint64_t(s.handle)); code != 0 {
			s.closeErr = submitError("snapshot close", int32(code))
		}
		runtime.KeepAlive(s)
	})
	return s.closeErr
}
