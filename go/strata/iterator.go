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
	"sync"
	"sync/atomic"
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
// seen. Entries cross from the engine in chunks read ahead in the direction of travel, so Next
// and Prev rarely wait: the first chunk after an open or a seek holds a little more than the
// database's iterators lately read (4 to 256 entries; 16 before any has read), later ones
// twice as many as the one before, up to 8,192 entries or 256 KiB. Once an iterator reads
// past its first chunk, the engine reads each next chunk while the iterator walks the last one,
// so a long scan keeps both sides busy at once; that chunk waits in strata's memory until
// asked for (at most 256 KiB per iterator, unless one entry is larger) and is dropped by a
// seek or Close. An Iterator is not safe for concurrent use. Close it when done: an open
// iterator pins its snapshot.
//
// The simple loop starts at one end of the range (the largest key with IterOptions.Reverse):
//
//	it, err := db.NewIterator(ctx, &strata.IterOptions{Start: []byte("a"), End: []byte("b")})
//	if err != nil { ... }
//	defer it.Close()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if err := it.Err(); err != nil { ... }
//
// An iterator can also be positioned, as Pebble's is: First, Last, SeekGE and SeekLT move it
// (within its bounds, which SetBounds replaces), and Next and Prev step from there, changing
// direction at any point. Each of these returns whether the iterator is at an entry (Valid).
// Next steps in the iteration order (up, or down with IterOptions.Reverse) and Prev against
// it; a positioned iterator is clearest without Reverse, where Next goes to the next larger
// key. A seek costs one round trip to the engine, as opening an iterator does; turning around
// where a seek landed (SeekGE, then Prev) costs none more once the database's iterators have
// been doing so, since their seeks then bring the entries on both sides.
type Iterator struct {
	db      *DB
	handle  uint64
	ctx     context.Context
	cleanup runtime.Cleanup

	chunk []byte // current chunk, encoded as strata_iter_next documents
	// buf is the whole buffer the last result was read into (chunk is part of it), which
	// the next request reuses; pooled is the chunkPool entry it came from, which Close
	// returns.
	buf        []byte
	pooled     *[]byte
	pos        int
	lastChunk  bool
	key, value []byte
	err        error
	closed     bool

	// reverse is IterOptions.Reverse: Next walks down.
	reverse bool
	// down is the direction the chunks arriving now are read in.
	down bool
	// lower and upper are the bounds (nil: unbounded), sent along with every seek.
	lower, upper []byte
	// unpositioned: SetBounds was called; the next move starts at an end.
	unpositioned bool

	// asked is how many entries the first chunk after the last open or seek asked for, read
	// how many entries were moved onto since (or since turning around where that seek landed,
	// across the seek that goes on past the entries behind), and ended whether the range
	// ended within what was read: what learnScan learns from.
	asked uint32
	read  int
	ended bool

	// behind holds the entries behind the position of the last seek, which it brought
	// (STRATA_SEEK_BEHIND), nearest first, while the iterator has not moved on from where it
	// landed; behindDone: nothing within the bounds lies beyond them. fromBehind: the chunk
	// being read is such entries, so going on past them is a seek (the engine is positioned at
	// the other chunk's end).
	behind     []byte
	behindDone bool
	fromBehind bool
	// sought: the last repositioning was a seek; turned: the iterator turned around where it
	// landed. What the database's turnLearner learns from.
	sought, turned bool
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
	entries := db.scanChunk()
	pooled := chunkPool.Get().(*[]byte)
	dst := (*pooled)[:0]
	if completions != nil && completions.alone() {
		// A lone caller: in its own call or through the queue, whichever was faster lately.
		waiting, started := iterOpens.choose()
		if waiting {
			cl, err = db.execWaiting(ctx, op, opOpenIter, dst, func(token, spin, limit C.uint64_t, room *C.uint8_t, roomLen C.size_t, out *C.strata_waited) C.int32_t {
				s, sn := bytesArg(opts.Start)
				e, en := bytesArg(opts.End)
				return C.strata_iter_open_wait(C.uint64_t(db.handle), C.uint64_t(snapshot), s, sn, e, en, flags, entries, token, spin, limit, room, roomLen, out)
			})
		} else {
			cl, err = db.openIterQueued(ctx, op, snapshot, opts, flags, entries, dst)
		}
		iterOpens.record(waiting, started)
	} else {
		cl, err = db.openIterQueued(ctx, op, snapshot, opts, flags, entries, dst)
	}
	if err != nil {
		chunkPool.Put(pooled)
		return nil, err
	}
	done := cl.flags&C.STRATA_ITER_DONE != 0
	it := &Iterator{db: db, handle: cl.handle, ctx: ctx, chunk: cl.data, buf: cl.data, pooled: pooled,
		lastChunk: done, reverse: opts.Reverse, down: opts.Reverse, asked: uint32(entries), ended: done}
	it.lower, it.upper = copyBounds(opts.Start, opts.End)
	it.cleanup = runtime.AddCleanup(it, func(h uint64) { C.strata_iter_close(C.uint64_t(h)) }, cl.handle)
	return it, nil
}

// openIterQueued submits an iterator open through the completion queue; the first chunk, of up
// to entries entries, is appended to dst.
func (db *DB) openIterQueued(ctx context.Context, op string, snapshot uint64, opts *IterOptions, flags, entries C.uint32_t, dst []byte) (result, error) {
	return db.execAppend(ctx, op, opOpenIter, dst, func(token C.uint64_t) C.int32_t {
		s, sn := bytesArg(opts.Start)
		e, en := bytesArg(opts.End)
		return C.strata_iter_open(C.uint64_t(db.handle), C.uint64_t(snapshot), s, sn, e, en, flags, entries, token)
	})
}

// The first chunk after an iterator's open or seek holds between minChunk entries and maxChunk
// (about 30 KB of 100-byte values, and what a short scan wastes at most when a long one set the
// size); firstChunk until the database's iterators have read (what a scan of 10 needs).
const (
	minChunk   = 4
	firstChunk = 16
	maxChunk   = 256
)

// scanChunk is how many entries the first chunk after an open or a seek asks for.
func (db *DB) scanChunk() C.uint32_t {
	if n := db.scanEntries.Load(); n != 0 {
		return C.uint32_t(n)
	}
	return firstChunk
}

// learnScan sizes the first chunk of the database's next opens and seeks from how far the
// reader of the last one went: it asked for asked entries and moved onto read of them (ended:
// the range ended within the chunk). A reader that went past the chunk paid a round trip per
// further chunk (a scan of 100 entries took three), so the next first chunk holds what it read
// and some room (withRoom). One that read under a quarter of a chunk the range had more for
// halves it, so a short scan after long ones wastes little and not for long; one that read
// less than the chunk less its room takes a sixteenth off (at least one entry), so scans of one
// length settle on withRoom of it: every entry read beyond costs the database's thread a step
// and a copy (a scan of 10 entries, 8.5 us with a first chunk of 16, 7.9 us with 10), every
// one short a whole round trip. Nothing is learned when the range ended the scan, nor from an
// iterator that read nothing (opened to be positioned by a seek, which then learns); a reader
// that turned around where its seek landed is counted from there, the other way. Iterators of
// one database race on the size harmlessly: it is a hint.
func (db *DB) learnScan(asked uint32, read int, ended bool) {
	switch {
	case read > int(asked):
		db.scanEntries.Store(uint32(min(max(withRoom(read), minChunk), maxChunk)))
	case ended, read == 0:
	case read*4 < int(asked):
		db.scanEntries.Store(max(asked/2, minChunk))
	case withRoom(read) < int(asked):
		db.scanEntries.Store(max(asked-max(asked/16, 1), minChunk))
	}
}

// withRoom is n entries, an eighth more and one: room for scans a little longer than the last
// (or a loop that looks at the entry after the last it keeps) without reading much past what
// they need.
func withRoom(n int) int {
	return n + n/8 + 1
}

// turnLearner says whether a database's seeks (SeekGE, SeekLT, and the turn-arounds that
// seek) bring the entries behind where they land (STRATA_SEEK_BEHIND), learned from whether
// its iterators lately turned around right there: a reader that looks for the entry before a
// key, or pages backwards from one, then pays one round trip per seek instead of two. Asking
// costs the engine a seek the other way and the entries it reads, so a seek after which the
// iterator moved on, or seeked again, counts against it: after a turn-around, seeks keep
// bringing them until turnMemory seeks in a row went without one. Iterators of one database
// race on it harmlessly: it is a hint.
type turnLearner struct {
	// credit is how many more seeks bring the entries behind them without a turn-around.
	credit atomic.Int32
	// force, for tests: 1 always brings them, 2 never, 0 learns.
	force atomic.Int32
}

// turnMemory is how many seeks without a turn-around still bring the entries behind them after
// one with.
const turnMemory = 4

// expected reports whether the next seek should bring the entries behind it.
func (l *turnLearner) expected() bool {
	switch l.force.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	return l.credit.Load() > 0
}

// learn records whether an iterator turned around where its last seek landed.
func (l *turnLearner) learn(turned bool) {
	switch {
	case turned:
		l.credit.Store(turnMemory)
	case l.credit.Load() > 0:
		l.credit.Add(-1)
	}
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

// copyBounds copies non-empty bounds into one new array (nil for an empty one).
func copyBounds(start, end []byte) (lower, upper []byte) {
	if len(start)+len(end) == 0 {
		return nil, nil
	}
	both := append(append(make([]byte, 0, len(start)+len(end)), start...), end...)
	if len(start) > 0 {
		lower = both[:len(start):len(start)]
	}
	if len(end) > 0 {
		upper = both[len(start):]
	}
	return lower, upper
}

// Next advances to the next entry and reports whether there is one: the next larger key, or
// the next smaller with IterOptions.Reverse. On a fresh iterator it moves to the first entry.
// After it returns false, check Err; a Prev then moves back onto the range's last entry. After
// the iterator's own Close, Next returns false; after its database's Close, it returns false
// and Err is ErrClosed, even for entries already fetched.
func (it *Iterator) Next() bool {
	return it.move(it.reverse)
}

// Prev moves to the previous entry (the next smaller key, or the next larger with
// IterOptions.Reverse) and reports whether there is one. On a fresh iterator it moves to the
// last entry (the first with Reverse). After it returns false it stays off the range, and a
// Next moves back onto the range's first entry.
func (it *Iterator) Prev() bool {
	return it.move(!it.reverse)
}

// First moves to the smallest key within the bounds and reports whether there is one.
func (it *Iterator) First() bool { return it.seek(C.STRATA_SEEK_FIRST, nil) }

// Last moves to the largest key within the bounds and reports whether there is one.
func (it *Iterator) Last() bool { return it.seek(C.STRATA_SEEK_LAST, nil) }

// SeekGE moves to the smallest key at or after key (within the bounds) and reports whether
// there is one. key may be changed once SeekGE returns.
func (it *Iterator) SeekGE(key []byte) bool { return it.seek(C.STRATA_SEEK_GE, key) }

// SeekLT moves to the largest key before key (within the bounds) and reports whether there is
// one. key may be changed once SeekLT returns.
func (it *Iterator) SeekLT(key []byte) bool { return it.seek(C.STRATA_SEEK_LT, key) }

// Valid reports whether the iterator is at an entry: Key and Value are then its key and value.
func (it *Iterator) Valid() bool { return it.key != nil && it.err == nil }

// SetBounds replaces the iterator's bounds with [lower, upper) (nil or empty: unbounded) and
// leaves it unpositioned: the next First, Last, SeekGE or SeekLT moves within the new bounds,
// and a Next or Prev starts at the end it walks from, as on a fresh iterator. The bounds are
// copied. A bound longer than MaxKeySize makes the iterator fail with ErrInvalidArgument. It
// reads at the same snapshot as before.
func (it *Iterator) SetBounds(lower, upper []byte) {
	if it.closed || it.err != nil {
		return
	}
	for _, bound := range [][]byte{lower, upper} {
		if err := checkBound(bound); err != nil {
			it.err = err
			it.key, it.value = nil, nil
			return
		}
	}
	it.lower, it.upper = copyBounds(lower, upper)
	it.key, it.value, it.chunk, it.pos, it.lastChunk = nil, nil, nil, 0, true
	it.behind, it.fromBehind = nil, false
	it.unpositioned = true
}

// move steps one entry down (down) or up, from wherever the iterator is.
func (it *Iterator) move(down bool) bool {
	if !it.usable("iterator next") {
		return false
	}
	switch {
	case it.unpositioned:
		if down {
			return it.seek(C.STRATA_SEEK_LAST, nil)
		}
		return it.seek(C.STRATA_SEEK_FIRST, nil)
	case down == it.down:
		it.behind = nil // moving on: the entries behind the seek are no longer adjacent
		return it.step()
	}
	// Turning around.
	if it.sought && it.read <= 1 {
		// Where the seek landed: that says nothing of how far scans go, but the walk the
		// other way does (a seek brings as many entries from behind as its chunk holds), so
		// the seek's count starts again here.
		it.turned, it.read = true, 0
		it.learnedTurn()
	} else {
		it.learned()
	}
	switch {
	case it.behind != nil:
		// The seek brought the entries behind where it landed (or behind the end it found).
		it.chunk, it.pos, it.down = it.behind, 0, down
		it.lastChunk, it.fromBehind, it.behind = it.behindDone, true, nil
		it.ended = it.behindDone
		return it.step()
	case it.key != nil:
		// Turning around at the current key: the next one the other way.
		key := bytes.Clone(it.key)
		if down {
			return it.seek(C.STRATA_SEEK_LT, key)
		}
		return it.seek(C.STRATA_SEEK_GT, key)
	case down:
		// Off the top end (or not yet started): the largest key is the one below.
		return it.seek(C.STRATA_SEEK_LAST, nil)
	default:
		return it.seek(C.STRATA_SEEK_FIRST, nil)
	}
}

// usable reports whether the iterator can still move; once its database closed it fails with
// ErrClosed (op names the move in the error).
func (it *Iterator) usable(op string) bool {
	if it.closed || it.err != nil {
		return false
	}
	// it.db is nil in a zero Iterator, which was never opened: it fails as a closed one.
	if it.db.isClosed() {
		it.err = opError(op, ErrClosed)
		it.key, it.value, it.chunk = nil, nil, nil
		return false
	}
	return true
}

// seek repositions the iterator in the engine (mode is a STRATA_SEEK_*) and moves onto the
// first entry of the chunk that comes back.
func (it *Iterator) seek(mode C.uint32_t, key []byte) bool {
	if !it.usable("iterator seek") {
		return false
	}
	if err := checkBound(key); err != nil {
		it.err = err
		it.key, it.value = nil, nil
		return false
	}
	it.learned()
	entries := it.db.scanChunk()
	// A seek from a key (not to First or Last) lands where the iterator may turn around.
	fromKey := mode != C.STRATA_SEEK_FIRST && mode != C.STRATA_SEEK_LAST
	behind := fromKey && it.db.turns.expected()
	sent := mode
	if behind {
		sent |= C.STRATA_SEEK_BEHIND
	}
	// The new chunk goes into the buffer of the one it replaces: Key and Value are valid only
	// until the next move (key, which the call copies, may be one of them).
	cl, err := it.chunkRequest("iterator seek", func(token, spin, limit C.uint64_t, room *C.uint8_t, roomLen C.size_t, out *C.strata_waited) C.int32_t {
		k, kn := bytesArg(key)
		s, sn := bytesArg(it.lower)
		e, en := bytesArg(it.upper)
		return C.strata_iter_seek_wait(C.uint64_t(it.handle), sent, k, kn, s, sn, e, en, entries, token, spin, limit, room, roomLen, out)
	}, func(token C.uint64_t) C.int32_t {
		k, kn := bytesArg(key)
		s, sn := bytesArg(it.lower)
		e, en := bytesArg(it.upper)
		return C.strata_iter_seek(C.uint64_t(it.handle), sent, k, kn, s, sn, e, en, entries, token)
	})
	it.key, it.value = nil, nil
	it.behind, it.fromBehind = nil, false
	if err != nil {
		it.err = err
		return false
	}
	it.unpositioned = false
	it.down = mode == C.STRATA_SEEK_LAST || mode == C.STRATA_SEEK_LE || mode == C.STRATA_SEEK_LT
	it.buf, it.chunk, it.pos = cl.data, cl.data, 0
	if behind {
		// behind_len:u32le, the entries behind, then the chunk.
		n := 4 + int(binary.LittleEndian.Uint32(cl.data))
		it.behind, it.chunk = cl.data[4:n:n], cl.data[n:]
		it.behindDone = cl.flags&C.STRATA_ITER_BEHIND_DONE != 0
	}
	it.lastChunk = cl.flags&C.STRATA_ITER_DONE != 0
	it.asked, it.read, it.ended = uint32(entries), 0, it.lastChunk
	it.sought = fromKey
	return it.step()
}

// learned tells the database how far the iterator read since its last open or seek
// (learnScan), and whether it turned around where that seek landed (turnLearner), once.
func (it *Iterator) learned() {
	if it.asked != 0 {
		it.db.learnScan(it.asked, it.read, it.ended)
		it.asked = 0
	}
	it.learnedTurn()
}

// learnedTurn is learned's second half: whether the iterator turned around where its last seek
// landed, once.
func (it *Iterator) learnedTurn() {
	if it.sought {
		it.db.turns.learn(it.turned)
		it.sought, it.turned = false, false
	}
}

// step moves to the next entry of the chunks arriving, fetching the next chunk when this one
// is used up.
func (it *Iterator) step() bool {
	for it.pos >= len(it.chunk) {
		if it.fromBehind && !it.lastChunk {
			// Past the entries a seek brought from behind it: the engine is elsewhere, so
			// go on from the last of them with a seek. The walk goes on too: the seek's
			// first chunk learns from all of it, not from its part after the seek.
			mode := C.uint32_t(C.STRATA_SEEK_GT)
			if it.down {
				mode = C.STRATA_SEEK_LT
			}
			walked := it.read
			it.asked = 0
			ok := it.seek(mode, bytes.Clone(it.key))
			it.read += walked
			return ok
		}
		if it.lastChunk || !it.fetch() {
			it.key, it.value = nil, nil
			return false
		}
	}
	it.read++
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
	// Into the buffer of the chunk it replaces, as seek does.
	cl, err := it.chunkRequest("iterator next", func(token, spin, limit C.uint64_t, room *C.uint8_t, roomLen C.size_t, out *C.strata_waited) C.int32_t {
		return C.strata_iter_next_wait(C.uint64_t(it.handle), token, spin, limit, room, roomLen, out)
	}, func(token C.uint64_t) C.int32_t {
		return C.strata_iter_next(C.uint64_t(it.handle), token)
	})
	if err != nil {
		it.err = err
		return false
	}
	it.buf, it.chunk, it.pos = cl.data, cl.data, 0
	it.lastChunk = cl.flags&C.STRATA_ITER_DONE != 0
	return true
}

// chunkRequest makes a request that brings a chunk (a seek or a next), the chunk read into the
// buffer of the one it replaces: a lone caller waits in its own call (wait) or goes through
// the completion queue (queued), whichever was faster lately (iterMoves), as opens choose;
// concurrent callers take the queue.
func (it *Iterator) chunkRequest(op string, wait submitWaiting, queued func(token C.uint64_t) C.int32_t) (result, error) {
	defer runtime.KeepAlive(it)
	dst := it.buf[:0]
	if completions == nil || !completions.alone() {
		return it.db.execAppend(it.ctx, op, opChunk, dst, queued)
	}
	waiting, started := iterMoves.choose()
	var cl result
	var err error
	if waiting {
		cl, err = it.db.execWaiting(it.ctx, op, opChunk, dst, wait)
	} else {
		cl, err = it.db.execAppend(it.ctx, op, opChunk, dst, queued)
	}
	iterMoves.record(waiting, started)
	return cl, err
}

// iterMoves picks how a lone caller's iterator seeks and fetches its next chunks, as iterOpens
// picks for opens.
var iterMoves pathChooser

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
		it.learned()
		it.cleanup.Stop()
		C.strata_iter_close(C.uint64_t(it.handle))
		runtime.KeepAlive(it)
		if it.pooled != nil {
			if cap(it.buf) > 0 && cap(it.buf) <= maxPooledChunk {
				*it.pooled = it.buf[:0]
			}
			chunkPool.Put(it.pooled)
			it.pooled = nil
		}
		it.key, it.value, it.chunk, it.buf, it.behind = nil, nil, nil, nil, nil
	}
	return it.err
}

// chunkPool holds the buffers iterators read their chunks into, which Close returns: a short
// scan then allocates no chunk (a scan of 10 entries allocated 2.3 KB, and the collections
// that caused slowed every strata thread sharing the cores with the collector).
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

// maxPooledChunk is the largest chunk buffer Close returns to chunkPool (a long scan's chunks
// reach 256 KiB, strata_iter_next's target, plus the entry that crosses it).
const maxPooledChunk = 512 << 10
