package strata

/*
#include "strata.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
)

// IterOptions bound an iterator to keys in [Start, End). A nil or empty bound is unbounded.
type IterOptions struct {
	// Start is the lowest key included and End the lowest key excluded, whatever the
	// direction. Both are copied when the iterator opens.
	Start, End []byte
	// Prefix, when not empty, keeps only keys that begin with it, within Start and End if
	// those are set too: the iterator reads [Prefix, the next key after every key with this
	// prefix), so it costs no more than the bounds it stands for.
	Prefix []byte
	// Reverse iterates from the largest key down.
	Reverse bool
	// Err, when set, is where DB.All and Snapshot.All store the error that ended their
	// iteration early (nil when it ran to the end or the loop stopped it). Iterators opened
	// with NewIterator ignore it: they have Iterator.Err.
	Err *error
}

// Iterator walks keys in order over a consistent snapshot: the one DB.NewIterator takes when
// it creates the iterator, or the Snapshot it was opened from. Writes made afterwards are not
// seen. Entries cross from the engine in chunks, so Next rarely waits. An Iterator is not safe
// for concurrent use. Close it when done: an open iterator pins its snapshot.
//
//	it, err := db.NewIterator(ctx, &strata.IterOptions{Start: []byte("a"), End: []byte("b")})
//	if err != nil { ... }
//	defer it.Close()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if err := it.Err(); err != nil { ... }
type Iterator struct {
	db      *DB
	handle  uint64
	ctx     context.Context
	cleanup runtime.Cleanup

	chunk      []byte // current chunk, encoded as strata_iter_next documents
	pos        int
	lastChunk  bool
	key, value []byte
	err        error
	closed     bool
}

// NewIterator opens an iterator over the latest state. opts may be nil (all keys, ascending).
// ctx bounds every wait of the iterator for the engine, including those inside Next. It fails
// with ErrClosed after Close and ErrInvalidArgument for a bound longer than MaxKeySize; damaged
// data fails it, or a later Next, with ErrCorruption. The caller must Close the iterator; opts
// may be changed or reused once NewIterator returns.
func (db *DB) NewIterator(ctx context.Context, opts *IterOptions) (*Iterator, error) {
	return db.newIterator(ctx, "new iterator", 0, opts)
}

// newIterator opens an iterator reading snapshot, a snapshot handle or 0 for a new snapshot of
// the latest state: the one implementation behind DB.NewIterator and Snapshot.NewIterator.
// op names the caller in errors.
func (db *DB) newIterator(ctx context.Context, op string, snapshot uint64, opts *IterOptions) (*Iterator, error) {
	if opts == nil {
		opts = &IterOptions{}
	}
	for _, bound := range [][]byte{opts.Start, opts.End, opts.Prefix} {
		if err := checkBound(bound); err != nil {
			return nil, err
		}
	}
	if len(opts.Prefix) > 0 {
		opts = prefixBounds(opts)
	}
	// The open's completion brings the first chunk too: a short scan costs one round trip.
	flags := C.uint32_t(C.STRATA_ITER_FIRST_CHUNK)
	if opts.Reverse {
		flags |= C.STRATA_ITER_REVERSE
	}
	var cl result
	var err error
	if completions != nil && completions.alone() {
		// A lone caller: in its own call or through the queue, whichever was faster lately.
		waiting, started := iterOpens.choose()
		if waiting {
			cl, err = db.execWaiting(ctx, op, opOpenIter, func(token, spin, limit C.uint64_t, room *C.uint8_t, roomLen C.size_t, out *C.strata_waited) C.int32_t {
				s, sn := bytesArg(opts.Start)
				e, en := bytesArg(opts.End)
				return C.strata_iter_open_wait(C.uint64_t(db.handle), C.uint64_t(snapshot), s, sn, e, en, flags, token, spin, limit, room, roomLen, out)
			})
		} else {
			cl, err = db.openIterQueued(ctx, op, snapshot, opts, flags)
		}
		iterOpens.record(waiting, started)
	} else {
		cl, err = db.openIterQueued(ctx, op, snapshot, opts, flags)
	}
	if err != nil {
		return nil, err
	}
	it := &Iterator{db: db, handle: cl.handle, ctx: ctx, chunk: cl.data, lastChunk: cl.flags&C.STRATA_ITER_DONE != 0}
	it.cleanup = runtime.AddCleanup(it, func(h uint64) { C.strata_iter_close(C.uint64_t(h)) }, cl.handle)
	return it, nil
}

// openIterQueued submits an iterator open through the completion queue.
func (db *DB) openIterQueued(ctx context.Context, op string, snapshot uint64, opts *IterOptions, flags C.uint32_t) (result, error) {
	return db.exec(ctx, op, opOpenIter, func(token C.uint64_t) C.int32_t {
		s, sn := bytesArg(opts.Start)
		e, en := bytesArg(opts.End)
		return C.strata_iter_open(C.uint64_t(db.handle), C.uint64_t(snapshot), s, sn, e, en, flags, token)
	})
}

// iterOpens picks how a lone caller opens iterators. Neither way wins everywhere (measured
// with BenchmarkScan10Sequential and peerbench's scan, docs/benchmarks.md): on a quiet machine
// the queue is faster (8 us against 10-12 us for a scan of 10 entries), with every core busy
// waiting in the call is 2-3x faster, since it skips the wake-ups of the poller and the caller
// that each wait for a time slice there.
var iterOpens pathChooser

// prefixBounds returns a copy of opts whose Start and End are the intersection of its own
// bounds with the keys that begin with opts.Prefix.
func prefixBounds(opts *IterOptions) *IterOptions {
	o := *opts
	if bytes.Compare(o.Prefix, o.Start) > 0 {
		o.Start = o.Prefix
	}
	if end := PrefixEnd(o.Prefix); end != nil && (len(o.End) == 0 || bytes.Compare(end, o.End) < 0) {
		o.End = end
	}
	o.Prefix = nil
	return &o
}

// PrefixEnd returns the smallest key greater than every key that begins with prefix, for use
// as an exclusive upper bound (IterOptions.End, CompactRange): prefix with its trailing 0xff
// bytes dropped and its last byte incremented. It returns nil, unbounded, when there is no such
// key (prefix is empty or all 0xff).
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := append([]byte(nil), prefix[:i+1]...)
			end[i]++
			return end
		}
	}
	return nil
}

// checkBound validates a range bound (of an iterator or a compaction); empty is unbounded.
func checkBound(bound []byte) error {
	if len(bound) > MaxKeySize {
		return fmt.Errorf("%w: range bound is %d bytes, the limit is %d", ErrInvalidArgument, len(bound), MaxKeySize)
	}
	return nil
}

// Next advances to the next entry and reports whether there is one. After it returns false,
// check Err. After the iterator's own Close, Next returns false; after its database's Close, it
// returns false and Err is ErrClosed, even for entries already fetched.
func (it *Iterator) Next() bool {
	if it.closed || it.err != nil {
		return false
	}
	// it.db is nil in a zero Iterator, which was never opened: it fails as a closed one.
	if it.db.isClosed() {
		it.err = opError("iterator next", ErrClosed)
		it.key, it.value, it.chunk = nil, nil, nil
		return false
	}
	for it.pos >= len(it.chunk) {
		if it.lastChunk || !it.fetch() {
			it.key, it.value = nil, nil
			return false
		}
	}
	rest := it.chunk[it.pos:]
	kl := int(binary.LittleEndian.Uint32(rest))
	vl := int(binary.LittleEndian.Uint32(rest[4:]))
	it.key = rest[8 : 8+kl : 8+kl]
	it.value = rest[8+kl : 8+kl+vl : 8+kl+vl]
	it.pos += 8 + kl + vl
	return true
}

// fetch loads the next chunk; false on error.
func (it *Iterator) fetch() bool {
	cl, err := it.db.exec(it.ctx, "iterator next", opChunk, func(token C.uint64_t) C.int32_t {
		return C.strata_iter_next(C.uint64_t(it.handle), token)
	})
	runtime.KeepAlive(it)
	if err != nil {
		it.err = err
		return false
	}
	it.chunk, it.pos = cl.data, 0
	it.lastChunk = cl.flags&C.STRATA_ITER_DONE != 0
	return true
}

// Key returns the current key, or nil before the first Next and after Next returned false.
// The slice is valid until the next call to Next or Close and must not be modified; copy it to
// keep it.
func (it *Iterator) Key() []byte { return it.key }

// Value returns the current value, like Key: valid until the next call to Next or Close, not
// to be modified; copy it to keep it.
func (it *Iterator) Value() []byte { return it.value }

// Err returns the error that stopped iteration: nil when the iterator reached the end of its
// range or was closed by its own Close; ErrClosed once its database closed; ctx.Err() when
// its context ended; ErrCorruption or ErrIO when reading the tables failed.
func (it *Iterator) Err() error { return it.err }

// Close releases the iterator and its snapshot. It is idempotent and returns Err.
func (it *Iterator) Close() error {
	if !it.closed && it.db != nil {
		it.closed = true
		it.cleanup.Stop()
		C.strata_iter_close(C.uint64_t(it.handle))
		runtime.KeepAlive(it)
		it.key, it.value, it.chunk = nil, nil, nil
	}
	return it.err
}
