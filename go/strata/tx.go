package strata

/*
#include "strata.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"
)

// Tx is a transaction: it reads a consistent snapshot together with its own writes, and
// commits those writes atomically, or not at all. The snapshot is taken by its first read
// (Get, an iterator, or Snapshot), in the same request as that read, as FoundationDB takes a
// transaction's read version: a transaction costs one crossing into the engine less, and one
// that writes without reading needs no snapshot at all. A read-write transaction
// (DB.Update, or DB.NewTransaction(true)) remembers every key it reads; its Commit fails with
// ErrConflict, writing nothing, when a write committed after its snapshot changed one of them
// (another value, or present where it was absent or the other way round). So the transactions
// that commit are serializable: each behaves as if it ran alone at its commit. This is
// optimistic concurrency, as in Badger: nothing is locked while a transaction runs, and the
// check costs two point reads per key read, done in the engine's committer as part of the
// commit.
//
// What is not checked: keys a transaction did not read. Its iterator (Tx.NewIterator, Tx.All)
// reads the keys it returns, but a transaction that decides from a range it scanned is not
// protected against keys inserted into that range meanwhile (phantoms), nor are keys read
// through an iterator of its bare snapshot (Tx.Snapshot).
//
// A Tx is not safe for concurrent use. Every transaction must end with Commit or Discard,
// which release its snapshot; DB.Update and DB.View do that for you.
type Tx struct {
	db     *DB
	snap   *Snapshot
	update bool
	done   bool

	writes *Batch
	// own holds the transaction's latest write to each key it wrote: read-your-writes.
	own map[string]txWrite
	// sorted is own in key order for iterators, nil until one asks after a write.
	sorted []txEntry
	// read is the set of keys read, and reads the same keys encoded for strata_db_commit.
	read  map[string]struct{}
	reads []byte
}

// txWrite is a transaction's own write to one key: a value, or a deletion.
type txWrite struct {
	value   []byte
	deleted bool
}

// maxUpdateAttempts bounds how often DB.Update runs its function when commits conflict;
// between attempts it waits a random time up to a ceiling that doubles from
// minUpdateBackoff to maxUpdateBackoff, so contending transactions spread out instead of
// colliding again at once.
const (
	maxUpdateAttempts = 1000
	minUpdateBackoff  = 5 * time.Microsecond
	maxUpdateBackoff  = time.Millisecond
)

// NewTransaction begins a transaction, whose first read takes its snapshot of the database: a
// read-write one when update is set, else a read-only one (whose Put and Delete fail with
// ErrReadOnly). End it with Commit or Discard. It fails with ErrClosed after Close.
func (db *DB) NewTransaction(update bool) (*Tx, error) {
	if db.isClosed() {
		return nil, opError("new transaction", ErrClosed)
	}
	tx := &Tx{db: db, update: update}
	if update {
		tx.writes = NewBatch()
		tx.own = map[string]txWrite{}
		tx.read = map[string]struct{}{}
	}
	return tx, nil
}

// Update runs fn in a read-write transaction and commits it. When fn returns an error the
// transaction is discarded and Update returns that error. When the commit conflicts with a
// write committed meanwhile, Update waits a moment (a random time, its ceiling doubling from
// 5 us to 1 ms) and runs fn again in a new transaction, up to 1,000 times while ctx lasts, so
// fn must do nothing but read and write through tx, or be safe to repeat. It returns the
// commit's error otherwise (ErrConflict after the last attempt). opts apply to the commit
// (strata.Sync makes it durable also in a NoSync database).
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error, opts ...WriteOptions) error {
	var err error
	backoff := minUpdateBackoff
	for range maxUpdateAttempts {
		var tx *Tx
		if tx, err = db.NewTransaction(true); err != nil {
			return err
		}
		if err = fn(tx); err != nil {
			tx.Discard()
			return err
		}
		err = tx.Commit(ctx, opts...)
		if !errors.Is(err, ErrConflict) {
			return err
		}
		wait := time.NewTimer(rand.N(backoff))
		select {
		case <-ctx.Done():
			wait.Stop()
			return err
		case <-wait.C:
		}
		backoff = min(2*backoff, maxUpdateBackoff)
	}
	return err
}

// View runs fn in a read-only transaction, a consistent snapshot of the database, and
// discards it afterwards; it returns fn's error.
func (db *DB) View(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := db.NewTransaction(false)
	if err != nil {
		return err
	}
	defer tx.Discard()
	return fn(tx)
}

// ended reports whether the transaction was committed or discarded, or never begun: a zero
// Tx fails as an ended one does.
func (tx *Tx) ended() bool { return tx.done || tx.db == nil }

// snapshot is the transaction's snapshot, opened now if no read opened it yet.
func (tx *Tx) snapshot() (*Snapshot, error) {
	if tx.snap == nil {
		snap, err := tx.db.NewSnapshot()
		if err != nil {
			return nil, err
		}
		tx.snap = snap
	}
	return tx.snap, nil
}

// errTxDone is returned by a transaction's methods after Commit or Discard.
func errTxDone(op string) error {
	return fmt.Errorf("%w: %s: the transaction was committed or discarded", ErrClosed, op)
}

// Get returns the value of key as the transaction sees it: its own latest write to key, else
// the value in its snapshot; an error wrapping ErrNotFound when there is none. In a
// read-write transaction the key joins the keys checked at Commit. The caller owns the result.
func (tx *Tx) Get(ctx context.Context, key []byte) ([]byte, error) {
	if tx.ended() {
		return nil, errTxDone("transaction get")
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if w, ok := tx.own[string(key)]; ok {
		if w.deleted {
			return nil, opError("transaction get", ErrNotFound)
		}
		return append([]byte{}, w.value...), nil
	}
	tx.noteRead(key)
	if tx.snap == nil {
		// The first read opens the snapshot in the same request (found or not).
		value, handle, err := tx.db.getAt(ctx, "transaction get", snapshotNew, key, nil)
		if handle != 0 {
			tx.snap = tx.db.adoptSnapshot(handle)
		}
		return value, err
	}
	return tx.snap.Get(ctx, key)
}

// noteRead adds key, read from the snapshot, to the keys a read-write transaction's Commit
// checks.
func (tx *Tx) noteRead(key []byte) {
	if !tx.update {
		return
	}
	if _, seen := tx.read[string(key)]; !seen {
		tx.read[string(key)] = struct{}{}
		tx.reads = binary.LittleEndian.AppendUint32(tx.reads, uint32(len(key)))
		tx.reads = append(tx.reads, key...)
	}
}

// Put sets key to value when the transaction commits; later Gets of the transaction see it.
// Both are copied. It fails with ErrReadOnly in a read-only transaction.
func (tx *Tx) Put(key, value []byte) error {
	if err := tx.writable("transaction put"); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	tx.writes.Put(key, value)
	if tx.writes.err != nil {
		return tx.writes.err
	}
	tx.own[string(key)] = txWrite{value: append([]byte{}, value...)}
	tx.sorted = nil
	return nil
}

// Delete removes key when the transaction commits; later Gets of the transaction find no
// value. It fails with ErrReadOnly in a read-only transaction.
func (tx *Tx) Delete(key []byte) error {
	if err := tx.writable("transaction delete"); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	tx.writes.Delete(key)
	if tx.writes.err != nil {
		return tx.writes.err
	}
	tx.own[string(key)] = txWrite{deleted: true}
	tx.sorted = nil
	return nil
}

// writable fails a write to a transaction that cannot take one.
func (tx *Tx) writable(op string) error {
	switch {
	case tx.ended():
		return errTxDone(op)
	case !tx.update:
		return fmt.Errorf("%w: %s: a read-only transaction (DB.View, NewTransaction(false))", ErrReadOnly, op)
	}
	return nil
}

// Snapshot is the snapshot the transaction reads, taken now if the transaction has not read
// yet. Its iterators (Snapshot.NewIterator, Snapshot.All) see the snapshot only, not the
// transaction's own writes, and the keys they return are not checked at Commit: to iterate
// what the transaction sees, with its reads checked, use Tx.NewIterator or Tx.All. It is
// closed when the transaction ends; after that, or when it could not be taken (the database
// closed), its methods fail with ErrClosed.
func (tx *Tx) Snapshot() *Snapshot {
	if tx.ended() {
		return &Snapshot{db: tx.db}
	}
	snap, err := tx.snapshot()
	if err != nil {
		return &Snapshot{db: tx.db}
	}
	return snap
}

// Commit writes the transaction's writes atomically (durable as DB.Write is; opts as for
// DB.Write) if no key it read was changed by a write committed after its snapshot, and ends
// the transaction either way. A conflict fails with ErrConflict and writes nothing: run the
// transaction again (DB.Update does). A read-only transaction, or one that wrote nothing,
// commits without a round trip. A ctx that ends first stops the wait, not the commit.
func (tx *Tx) Commit(ctx context.Context, opts ...WriteOptions) error {
	if tx.ended() {
		return errTxDone("transaction commit")
	}
	defer tx.Discard()
	if !tx.update || tx.writes.count == 0 {
		return nil
	}
	if tx.snap == nil {
		// Nothing read, so nothing to check: the writes commit as a batch does.
		return tx.db.writeBatch(ctx, "transaction commit", tx.writes, opts)
	}
	var flags C.uint32_t
	if syncRequested(opts) {
		flags = C.STRATA_WRITE_SYNC
	}
	kind := tx.db.writeKind
	if flags != 0 {
		kind = opSync
	}
	db, snap := C.uint64_t(tx.db.handle), C.uint64_t(tx.snap.handle)
	var err error
	if completions != nil && completions.alone() {
		// A lone caller waits in its own call, as for a durable write: the hops it saves
		// through the completion queue are most of a commit's cost.
		_, err = tx.db.execWaiting(ctx, "transaction commit", tx.writes.waitKind(kind), nil, func(token, spin, limit C.uint64_t, room *C.uint8_t, roomLen C.size_t, out *C.strata_waited) C.int32_t {
			b, bn := bytesArg(tx.writes.data)
			r, rn := bytesArg(tx.reads)
			return C.strata_db_commit_wait(db, snap, b, bn, r, rn, flags, token, spin, limit, room, roomLen, out)
		})
	} else {
		_, err = tx.db.exec(ctx, "transaction commit", kind, func(token C.uint64_t) C.int32_t {
			b, bn := bytesArg(tx.writes.data)
			r, rn := bytesArg(tx.reads)
			return C.strata_db_commit(db, snap, b, bn, r, rn, flags, token)
		})
	}
	runtime.KeepAlive(tx)
	return err
}

// Discard ends the transaction without writing anything and releases its snapshot. It is
// idempotent, and a no-op after Commit.
func (tx *Tx) Discard() {
	if tx.ended() {
		return
	}
	tx.done = true
	if tx.snap != nil {
		tx.snap.Close()
	}
}
