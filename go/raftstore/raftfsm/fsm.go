// Package raftfsm is a hashicorp/raft state machine (raft.FSM) whose state is a strata
// database, for raft applications that keep their data in strata.
//
// The application says what a command writes; the FSM does the rest:
//
//	fsm, err := raftfsm.Open("/var/lib/app/fsm", nil, func(l *raft.Log, db *strata.DB, b *raftfsm.Batch) (any, error) {
//		k, v, err := decode(l.Data)
//		if err != nil {
//			return nil, err // the entry changes nothing; raft's future gets err as its response
//		}
//		b.Put(k, v)
//		return nil, nil
//	})
//
// Applied index. Apply writes the application's batch and the entry's index and term, under
// a reserved key, in one strata Write, so after a crash the state and the applied index
// agree. Apply skips every entry at or below the stored index. raft replays the entries after
// its latest snapshot when a node starts, and some of them are already in the database; the
// skip makes that replay change nothing. A node whose database covers its newest snapshot
// need not restore it at start at all: set raft.Config.NoSnapshotRestoreOnStart to what
// CoversSnapshots reports.
//
// Keys. The FSM keeps its own records under ReservedPrefix. Batch refuses application keys
// that start with it; an application that iterates the whole database skips that range.
//
// Snapshots stream DB.Backup into raft's sink, and Restore builds the database from such a
// stream beside the current one before swapping them (see Restore). Reads (DB, View) go
// through a lock that Restore holds only while it swaps: they never see a closed database
// unless they keep a handle across a Restore.
//
// Reads are the application's business: the database holds what this node has applied, so a
// follower's reads may be stale, and a leader's too unless the application makes them
// linearizable (raft.Raft.Barrier, or VerifyLeader plus a read index).
//
// The FSM must be the only writer of its database: writing to DB() directly bypasses the
// applied index, and a Restore discards such writes.
package raftfsm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// ReservedPrefix starts every key the FSM writes for itself. Application keys must not start
// with it (Batch refuses them).
const ReservedPrefix = "\x00raftfsm\x00"

// appliedKey holds the index and term of the last entry applied, each a big-endian uint64.
var appliedKey = []byte(ReservedPrefix + "applied")

// Names inside the FSM's directory.
const (
	dbName   = "db"      // the database
	nextName = "db.next" // a database restored from a snapshot, before it replaces db
	oldName  = "db.old"  // the database a restore replaced, until it is removed
)

// ErrFailed is wrapped by what Apply returns once a write of the FSM failed. Nothing more is
// applied after that: the database would fall behind the other nodes. Stop the node and start
// it again; raft replays what the database lacks.
var ErrFailed = errors.New("raftfsm: the state machine failed")

// ApplyFunc turns a committed command into writes on b. db is the database as it stands
// before the entry, for reading. It must be deterministic: every node applies the same entries
// in the same order and must reach the same state. A non-nil error discards b's writes (the
// entry only advances the applied index) and becomes the entry's response; otherwise the
// response is the returned value.
type ApplyFunc func(l *raft.Log, db *strata.DB, b *Batch) (any, error)

// FSM is a raft.FSM over a strata database. raft calls Apply, Snapshot and Restore from one
// goroutine; DB, View, AppliedIndex and Err may be called from any goroutine.
type FSM struct {
	dir string
	// lock holds an flock on dir for as long as the FSM is open (see lockDir).
	lock  *os.File
	opts  *strata.Options
	apply ApplyFunc

	// mu guards db, the handle: Restore holds it to swap databases; Apply, Persist and
	// readers hold it shared for as long as they use the handle.
	mu sync.RWMutex
	db *strata.DB

	// applied is the index and term stored under appliedKey.
	applied atomic.Pointer[position]
	// failure is set once a write failed (see ErrFailed).
	failure atomic.Pointer[error]
	batch   Batch
}

// position is a log entry's place: its index and term.
type position struct{ index, term uint64 }

// Open opens (or creates) the FSM whose database lives in dir/db. opts are passed to
// strata.Open (nil: every write fsynced). apply turns commands into writes. Open finishes a
// swap that a crash interrupted inside Restore and removes what a restore left over.
func Open(dir string, opts *strata.Options, apply ApplyFunc) (*FSM, error) {
	if apply == nil {
		return nil, fmt.Errorf("%w: raftfsm: Open without an apply function", strata.ErrInvalidArgument)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftfsm: open %s: %w", dir, err)
	}
	// Locked before anything in dir is renamed or removed: db.next and the staging
	// directories may be another FSM's restore in progress, not leftovers.
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("raftfsm: open %s: %w", dir, err)
	}
	if err := recoverSwap(dir); err != nil {
		lock.Close()
		return nil, fmt.Errorf("raftfsm: open %s: %w", dir, err)
	}
	f := &FSM{dir: dir, lock: lock, opts: opts, apply: apply}
	db, pos, err := f.openDB()
	if err != nil {
		lock.Close()
		return nil, err
	}
	f.db = db
	f.applied.Store(&pos)
	return f, nil
}

// openDB opens dir/db and reads its applied position.
func (f *FSM) openDB() (*strata.DB, position, error) {
	db, err := strata.Open(filepath.Join(f.dir, dbName), f.opts)
	if err != nil {
		return nil, position{}, fmt.Errorf("raftfsm: %w", err)
	}
	pos, err := readApplied(db)
	if err != nil {
		db.Close()
		return nil, position{}, err
	}
	return db, pos, nil
}

// readApplied returns the position stored in db, zero when nothing was applied.
func readApplied(db *strata.DB) (position, error) {
	v, err := db.Get(context.Background(), appliedKey)
	switch {
	case errors.Is(err, strata.ErrNotFound):
		return position{}, nil
	case err != nil:
		return position{}, fmt.Errorf("raftfsm: read the applied index: %w", err)
	case len(v) != 16:
		return position{}, fmt.Errorf("%w: raftfsm: the applied index is %d bytes, want 16", strata.ErrCorruption, len(v))
	}
	return position{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}, nil
}

func encodeApplied(p position) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(make([]byte, 0, 16), p.index), p.term)
}

// Close closes the database. Call it after raft has shut down.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.db.Close()
	f.lock.Close() // releases the directory's lock
	return err
}

// lockDir takes an exclusive, non-blocking flock on dir itself, held by the returned file
// until it is closed. Another FSM on dir, in this process or another, fails with
// strata.ErrLocked.
func lockDir(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another FSM holds the directory", strata.ErrLocked)
		}
		return nil, err
	}
	return d, nil
}

// DB returns the current database handle. A Restore closes it and opens another: a handle
// kept across a Restore fails with strata.ErrClosed, so call DB for each read, or use View.
func (f *FSM) DB() *strata.DB {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db
}

// View calls fn with the database, holding off Restore's swap until fn returns. fn must not
// wait for raft (Apply, Barrier): raft's Restore may be waiting for fn.
func (f *FSM) View(fn func(db *strata.DB) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return fn(f.db)
}

// AppliedIndex returns the index of the last entry applied, as the database stores it (0 when
// none was). Apply skips entries at or below it.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load().index }

// AppliedTerm returns the term of the last entry applied (0 when none was).
func (f *FSM) AppliedTerm() uint64 { return f.applied.Load().term }

// CoversSnapshots reports whether the database already holds the state of the newest snapshot
// in snaps (or snaps holds none): then raft need not restore it when the node starts.
//
//	conf.NoSnapshotRestoreOnStart, err = fsm.CoversSnapshots(snaps)
//
// It does not when a crash (or NoSync) lost writes the snapshot holds, or a crash came
// between raft saving a snapshot sent by the leader and the FSM restoring it.
func (f *FSM) CoversSnapshots(snaps raft.SnapshotStore) (bool, error) {
	metas, err := snaps.List()
	if err != nil {
		return false, fmt.Errorf("raftfsm: list snapshots: %w", err)
	}
	for _, m := range metas {
		if m.Index > f.AppliedIndex() {
			return false, nil
		}
	}
	return true, nil
}

// Err returns the error that stopped the FSM (wrapping ErrFailed), or nil.
func (f *FSM) Err() error {
	if err := f.failure.Load(); err != nil {
		return *err
	}
	return nil
}

func (f *FSM) fail(err error) error {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	f.failure.CompareAndSwap(nil, &err)
	return f.Err()
}

// Apply applies a committed entry: the application's writes and the entry's position in one
// atomic Write. An entry at or below AppliedIndex was applied before and is skipped (its
// response is nil). Once the FSM failed, Apply returns its error and writes nothing.
func (f *FSM) Apply(l *raft.Log) any {
	if err := f.Err(); err != nil {
		return err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if l.Index <= f.AppliedIndex() {
		return nil
	}
	resp := f.applyEntry(l)
	pos := position{l.Index, l.Term}
	f.batch.b.Put(appliedKey, encodeApplied(pos))
	if err := f.db.Write(context.Background(), &f.batch.b); err != nil {
		return f.fail(fmt.Errorf("apply entry %d: %w", l.Index, err))
	}
	f.applied.Store(&pos)
	return resp
}

// applyEntry runs the application's function for l into f.batch (emptied first, and again
// when the entry is refused) and returns the entry's response.
func (f *FSM) applyEntry(l *raft.Log) any {
	b := &f.batch
	b.reset()
	resp, err := f.apply(l, f.db, b)
	if err == nil {
		err = b.err
	}
	if err != nil {
		b.reset()
		return err
	}
	return resp
}
