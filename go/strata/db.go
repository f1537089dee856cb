package strata

/*
#include "strata.h"
*/
import "C"

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// DB is an open database. All methods are safe for concurrent use.
type DB struct {
	handle uint64
	dir    string
	// writeKind is opSync when writes wait for an fsync, opPlain with NoSync.
	writeKind opKind

	logger *slog.Logger // Options.Logger, registered with the log router while open

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
	cleanup   runtime.Cleanup

	// scanEntries is how many entries the first chunk after an iterator's open or seek asks
	// for (0: firstChunk), learned from how far this database's iterators read (learnScan).
	scanEntries atomic.Uint32
	// turns is whether this database's iterators lately turned around right after a seek,
	// so that seeks bring the entries behind them (learnTurn).
	turns turnLearner
}

// dbRelease is what the cleanup of a DB dropped without Close needs.
type dbRelease struct {
	handle uint64
	dir    string
	logger *slog.Logger
}

func newDB(handle uint64, dir string, logger *slog.Logger, noSync bool) *DB {
	db := &DB{handle: handle, dir: dir, writeKind: opSync, logger: logger, closed: make(chan struct{})}
	if noSync {
		db.writeKind = opPlain
	}
	// A DB dropped without Close still releases its directory lock and its logger. Close with
	// token 0: no one waits for the completion.
	db.cleanup = runtime.AddCleanup(db, func(r dbRelease) {
		C.strata_db_close(C.uint64_t(r.handle), 0)
		logs.unregister(r.dir, r.logger)
	}, dbRelease{handle, dir, logger})
	return db
}

// isClosed reports whether Close was called, or the DB was never opened (a zero DB).
func (db *DB) isClosed() bool {
	if db == nil || db.closed == nil {
		return true
	}
	select {
	case <-db.closed:
		return true
	default:
		return false
	}
}

// Dir is the database directory (absolute).
func (db *DB) Dir() string { return db.dir }

// Close waits for writes in flight, syncs the write-ahead log and releases the directory.
// It is idempotent: later calls return the first call's result. Every other method returns
// ErrClosed after Close; so do the methods of its snapshots, and iterators still open fail
// with ErrClosed on their next Next.
func (db *DB) Close() error {
	if db.closed == nil {
		return nil // a zero DB: never opened, nothing to release
	}
	db.closeOnce.Do(func() {
		close(db.closed)
		db.cleanup.Stop()
		_, err := do(context.Background(), "close", opDisk, func(token C.uint64_t) C.int32_t {
			return C.strata_db_close(C.uint64_t(db.handle), token)
		})
		db.closeErr = err
		logs.unregister(db.dir, db.logger)
	})
	return db.closeErr
}

// checkKey validates a key against the engine's rules.
func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: key is empty", ErrInvalidArgument)
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", ErrInvalidArgument, len(key), MaxKeySize)
	}
	return nil
}

// checkRange validates the bounds of a range delete against the engine's rules: each one a
// valid key, and start not after end.
func checkRange(start, end []byte) error {
	for _, bound := range []struct {
		name string
		key  []byte
	}{{"start", start}, {"end", end}} {
		switch {
		case len(bound.key) == 0:
			return fmt.Errorf("%w: range delete %s is empty", ErrInvalidArgument, bound.name)
		case len(bound.key) > MaxKeySize:
			return fmt.Errorf("%w: range delete %s is %d bytes, the limit is %d", ErrInvalidArgument, bound.name, len(bound.key), MaxKeySize)
		}
	}
	if bytes.Compare(start, end) > 0 {
		return fmt.Errorf("%w: range delete start %q sorts after its end %q", ErrInvalidArgument, start, end)
	}
	return nil
}

// checkValue validates a value against the engine's rules.
func checkValue(value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: value is %d bytes, the limit is %d", ErrInvalidArgument, len(value), MaxValueSize)
	}
	return nil
}

// exec runs one request against this database and waits for it.
func (db *DB) exec(ctx context.Context, op string, kind opKind, submit func(token C.uint64_t) C.int32_t) (result, error) {
	return db.execAppend(ctx, op, kind, nil, submit)
}

// execAppend is exec with doAppend's result handling.
func (db *DB) execAppend(ctx context.Context, op string, kind opKind, dst []byte, submit func(token C.uint64_t) C.int32_t) (result, error) {
	if db.isClosed() {
		return result{}, opError(op, ErrClosed)
	}
	cl, err := doAppend(ctx, op, kind, dst, submit)
	runtime.KeepAlive(db)
	return cl, err
}

// WriteOptions choose how durable one write is, against the database's default
// (Options.NoSync). The zero value follows the default.
type WriteOptions struct {
	// Sync makes the write durable before the call returns, also in a database opened with
	// NoSync: its group of writes is fsynced, and with it every write acknowledged before.
	// In a database without NoSync every write is durable anyway.
	Sync bool
}

// Sync is the WriteOptions of a write that must be durable when it returns:
// db.Put(ctx, key, value, strata.Sync).
var Sync = WriteOptions{Sync: true}

// syncRequested reports whether any of opts asks for a durable write.
func syncRequested(opts []WriteOptions) bool {
	for _, o := range opts {
		if o.Sync {
			return true
		}
	}
	return false
}

// Put sets key to value. It returns once the write is durable (see Options.NoSync; with
// strata.Sync among opts, also in a NoSync database).
func (db *DB) Put(ctx context.Context, key, value []byte, opts ...WriteOptions) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	if syncRequested(opts) {
		return db.writeOne(ctx, "put", func(b *Batch) { b.Put(key, value) })
	}
	return db.write(ctx, "put", nil, func(b *Batch) { b.Put(key, value) }, func(token C.uint64_t) C.int32_t {
		k, kn := bytesArg(key)
		v, vn := bytesArg(value)
		return C.strata_db_put(C.uint64_t(db.handle), k, kn, v, vn, token)
	})
}

// Get returns the value of key, or an error wrapping ErrNotFound. The caller owns the result.
func (db *DB) Get(ctx context.Context, key []byte) ([]byte, error) {
	return db.get(ctx, "get", 0, key, nil)
}

// GetAppend appends the value of key to dst and returns the extended slice, as append does
// (a new array only when dst lacks the room), or dst and an error wrapping ErrNotFound. A
// caller that reuses its buffer, GetAppend(ctx, buf[:0], key), reads without allocating. On
// any error the result is dst; bytes of dst's spare capacity may have been written.
func (db *DB) GetAppend(ctx context.Context, dst, key []byte) ([]byte, error) {
	return db.get(ctx, "get", 0, key, dst)
}

// get reads key as of snapshot, a snapshot handle or 0 for the latest state: the one
// implementation behind DB.Get, DB.GetAppend and their Snapshot twins. op names the caller in
// errors; a non-nil dst gets the value appended (a nil one: a new slice, as append(nil, v...)).
func (db *DB) get(ctx context.Context, op string, snapshot uint64, key []byte, dst []byte) ([]byte, error) {
	value, _, err := db.getAt(ctx, op, snapshot, key, dst)
	return value, err
}

// getAt is get that also returns the result's handle: with snapshotNew, the snapshot the
// read opened (also when the key was not found), which the caller must close.
func (db *DB) getAt(ctx context.Context, op string, snapshot uint64, key []byte, dst []byte) ([]byte, uint64, error) {
	if err := checkKey(key); err != nil {
		return dst, 0, err
	}
	// A lone caller waits in its own call.
	if completions != nil && completions.alone() {
		return db.getWaiting(ctx, op, snapshot, key, dst)
	}
	cl, err := db.execAppend(ctx, op, getKind(snapshot), dst, func(token C.uint64_t) C.int32_t {
		k, kn := bytesArg(key)
		return C.strata_db_get(C.uint64_t(db.handle), C.uint64_t(snapshot), k, kn, token)
	})
	switch {
	case err != nil:
		return dst, cl.handle, err
	case cl.data != nil:
		return cl.data, cl.handle, nil
	case dst != nil:
		return dst, cl.handle, nil // an empty value appended to dst
	default:
		return []byte{}, cl.handle, nil
	}
}

// snapshotNew, as a read's snapshot, opens a snapshot and reads at it in one request
// (STRATA_SNAPSHOT_NEW): the result's handle is the new snapshot.
const snapshotNew = uint64(C.STRATA_SNAPSHOT_NEW)

// getKind is what a read at snapshot is: one that opens its snapshot hands over a handle,
// which an abandoned read's result must have closed.
func getKind(snapshot uint64) opKind {
	if snapshot == snapshotNew {
		return opGetSnapshot
	}
	return opPlain
}

// Delete removes key. Deleting a missing key is not an error. It is durable as Put is.
func (db *DB) Delete(ctx context.Context, key []byte, opts ...WriteOptions) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if syncRequested(opts) {
		return db.writeOne(ctx, "delete", func(b *Batch) { b.Delete(key) })
	}
	return db.write(ctx, "delete", nil, func(b *Batch) { b.Delete(key) }, func(token C.uint64_t) C.int32_t {
		k, kn := bytesArg(key)
		return C.strata_db_delete(C.uint64_t(db.handle), k, kn, token)
	})
}

// Write applies the batch atomically: after a crash either all of its operations are present
// or none is. The batch may be reused (after Reset) or discarded once Write returns. It is
// durable when it returns as Put is (with strata.Sync among opts, also in a NoSync database:
// then an empty batch makes every write before it durable, as DB.Sync does).
func (db *DB) Write(ctx context.Context, b *Batch, opts ...WriteOptions) error {
	if b == nil {
		return fmt.Errorf("%w: nil batch", ErrInvalidArgument)
	}
	if b.err != nil {
		return b.err
	}
	return db.writeBatch(ctx, "write", b, opts)
}

// DeleteRange deletes every key in the half-open range [start, end): start itself is
// deleted, end is not. start == end deletes nothing; a start after end (in bytes.Compare
// order) or an empty start or end fails with ErrInvalidArgument. It is durable as Put is.
//
// It is one write whatever the range holds, O(1): the engine records one range tombstone,
// which reads, iterators and snapshots taken later apply (a snapshot taken before still
// sees the keys). The deleted entries keep their disk space until compaction drops them;
// db.Compact(ctx, start, end) reclaims it at once. A Batch takes range deletes too
// (Batch.DeleteRange), to combine one atomically with other writes. Transactions have none:
// a transaction's reads of its own writes would have to apply the range as well.
func (db *DB) DeleteRange(ctx context.Context, start, end []byte, opts ...WriteOptions) error {
	if err := checkRange(start, end); err != nil {
		return err
	}
	b := batchPool.Get().(*Batch)
	b.Reset()
	b.DeleteRange(start, end)
	err := db.writeBatch(ctx, "delete range", b, opts)
	if cap(b.data) <= maxPooledBatch {
		batchPool.Put(b)
	}
	return err
}

// writeBatch writes a valid batch for Write and DeleteRange; op names the caller in errors.
func (db *DB) writeBatch(ctx context.Context, op string, b *Batch, opts []WriteOptions) error {
	if syncRequested(opts) {
		return db.writeSynced(ctx, op, b)
	}
	if b.count == 0 {
		if db.isClosed() {
			return opError(op, ErrClosed)
		}
		return ctx.Err()
	}
	err := db.write(ctx, op, b, nil, func(token C.uint64_t) C.int32_t {
		p, n := bytesArg(b.data)
		return C.strata_db_write(C.uint64_t(db.handle), p, n, 0, token)
	})
	runtime.KeepAlive(b)
	return err
}

// Sync makes every write acknowledged before it durable, also in a database opened with
// NoSync (one fsync of the log; nothing to do when every write was durable already). Use it
// to make a run of NoSync writes durable at a point of your choosing: after a bulk load, or
// before telling another system that they happened.
func (db *DB) Sync(ctx context.Context) error {
	return db.writeSynced(ctx, "sync", &Batch{})
}

// writeOne writes the batch of one operation that fill makes, durable when it returns.
func (db *DB) writeOne(ctx context.Context, op string, fill func(*Batch)) error {
	b := batchPool.Get().(*Batch)
	b.Reset()
	fill(b)
	err := db.writeSynced(ctx, op, b)
	if cap(b.data) <= maxPooledBatch {
		batchPool.Put(b)
	}
	return err
}

// writeSynced writes b with STRATA_WRITE_SYNC: durable when it returns, whatever NoSync says.
// A lone caller waits in its own call, as for every durable write.
func (db *DB) writeSynced(ctx context.Context, op string, b *Batch) error {
	var err error
	if completions != nil && completions.alone() {
		_, err = db.execWaiting(ctx, op, opSync, nil, func(token, spin, limit C.uint64_t, room *C.uint8_t, roomLen C.size_t, out *C.strata_waited) C.int32_t {
			p, n := bytesArg(b.data)
			return C.strata_db_write_wait(C.uint64_t(db.handle), p, n, C.STRATA_WRITE_SYNC, token, spin, limit, room, roomLen, out)
		})
	} else {
		_, err = db.exec(ctx, op, opSync, func(token C.uint64_t) C.int32_t {
			p, n := bytesArg(b.data)
			return C.strata_db_write(C.uint64_t(db.handle), p, n, C.STRATA_WRITE_SYNC, token)
		})
	}
	runtime.KeepAlive(b)
	return err
}

// write submits a write: through queued (the completion queue), or, for a caller alone in the
// process, as batch (or, when nil, as a pooled batch that fill makes) waiting in its own call
// (strata_db_write_wait), durable or not. A durable write's fsync dwarfs what the call costs,
// and the hops it saves count; a NoSync one waiting costs what the queue costs on a quiet
// machine (BenchmarkPutSequential 3.9-4.9 against 3.9-4.7 us) and less on a busy one (6.9-10.2
// against 9.2-13.0 us). Choosing between the two by timing them, as iterator opens do, cost
// more than either: each switch wakes the threads of the way taken while those of the way left
// still spin, a few hundred microseconds (5.0-6.7 us a Put). The caller spins only for a batch
// the database's thread applies within the spin (Batch.waitKind).
func (db *DB) write(ctx context.Context, op string, batch *Batch, fill func(*Batch), queued func(C.uint64_t) C.int32_t) error {
	if completions == nil || !completions.alone() {
		_, err := db.exec(ctx, op, db.writeKind, queued)
		return err
	}
	b := batch
	if b == nil {
		b = batchPool.Get().(*Batch)
		b.Reset()
		fill(b)
	}
	_, err := db.execWaiting(ctx, op, b.waitKind(db.writeKind), nil, func(token, spin, limit C.uint64_t, room *C.uint8_t, roomLen C.size_t, out *C.strata_waited) C.int32_t {
		p, n := bytesArg(b.data)
		return C.strata_db_write_wait(C.uint64_t(db.handle), p, n, 0, token, spin, limit, room, roomLen, out)
	})
	runtime.KeepAlive(b)
	if batch == nil && cap(b.data) <= maxPooledBatch {
		batchPool.Put(b)
	}
	return err
}

// batchPool holds the batches a lone caller's Put and Delete are encoded into for
// strata_db_write_wait, and every DeleteRange's (the C API has no call of its own for one);
// one larger than maxPooledBatch bytes is dropped, not kept.
var batchPool = sync.Pool{New: func() any { return new(Batch) }}

const maxPooledBatch = 64 << 10

// waitSpin is how long a caller waiting in its own cgo call spins before it sleeps on its
// futex: a point read's turn-around on a quiet machine, like the poller's pollSpin.
const waitSpin = 30 * time.Microsecond

// getWaiting is get for a lone caller: it waits for the answer inside its own cgo call
// (strata_db_get_wait), which the runtime thread wakes directly. Through the completion queue
// the answer would cross the eventfd, Go's netpoller, the poller goroutine and a channel; on a
// machine whose cores are busy, each of those wake-ups waits for a time slice
// (docs/benchmarks.md, session 5). The value lands in dst's spare capacity (for Get, in a
// pooled scratch buffer it is then copied from); a longer one comes in a buffer strata
// allocated, copied and released here. Under a context that can end, the call comes back
// every waitCheck; the wait then goes on in completer.await, which looks at the context.
func (db *DB) getWaiting(ctx context.Context, op string, snapshot uint64, key []byte, dst []byte) ([]byte, uint64, error) {
	if err := ctx.Err(); err != nil {
		return dst, 0, err
	}
	if db.isClosed() {
		return dst, 0, opError(op, ErrClosed)
	}
	c := completions
	c.blocked.Add(1)
	defer c.blocked.Add(-1)
	getsWaited.Add(1)
	w := waitPool.Get().(*waitCall)
	defer waitPool.Put(w)
	room, roomPtr := w.room(dst)
	out := &w.waited
	var token, limit C.uint64_t
	if ctx.Done() != nil {
		token, limit = C.uint64_t(c.token.Add(1)), C.uint64_t(waitCheck)
	}
	k, kn := bytesArg(key)
	code := int32(C.strata_db_get_wait(C.uint64_t(db.handle), C.uint64_t(snapshot), k, kn,
		token, C.uint64_t(waitSpin), limit, roomPtr, C.size_t(len(room)), out))
	runtime.KeepAlive(key)
	runtime.KeepAlive(room)
	var res result
	var err error
	switch {
	case code == C.STRATA_INTERRUPTED:
		res, err = c.await(ctx, token, getKind(snapshot), dst, w, false)
	case code != C.STRATA_OK && code != C.STRATA_ERR_NOT_FOUND && out.len == 0:
		// Refused before it reached the runtime thread (which always says why).
		return dst, 0, submitError(op, code)
	default:
		res, err = waitedResult(code, dst, room, out)
	}
	switch {
	case err != nil:
		return dst, res.handle, err
	case res.data != nil:
		return res.data, res.handle, nil
	case dst != nil:
		return dst, res.handle, nil
	default:
		return []byte{}, res.handle, nil
	}
}

// waitCall is what getWaiting hands to C: reused (waitPool), so a read into a buffer with room
// allocates nothing. scratch takes the value of a Get, which then copies it out. It holds no
// Go pointer, as memory passed to C must not.
type waitCall struct {
	waited  C.strata_waited
	scratch [4096]byte
}

var waitPool = sync.Pool{New: func() any { return new(waitCall) }}

// room is where a waiting call may copy its answer: dst's spare capacity, or the scratch
// buffer when dst is nil; with a pointer to its first byte for C (nil when it has none).
func (w *waitCall) room(dst []byte) ([]byte, *C.uint8_t) {
	room := dst[len(dst):cap(dst)]
	if dst == nil {
		room = w.scratch[:]
	}
	if len(room) == 0 {
		return room, nil
	}
	return room, (*C.uint8_t)(unsafe.Pointer(&room[0]))
}

// getsWaited and callsWaited count the reads served by getWaiting and the other requests
// served by execWaiting, and callsSlept those of the latter that slept without spinning
// (durable and bulk writes), so tests can tell which path ran.
var getsWaited, callsWaited, callsSlept atomic.Int64
