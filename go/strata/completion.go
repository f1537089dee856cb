package strata

/*
#include <stdlib.h>
#include "strata.h"
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// drainBatch is how many completions one drain call moves.
const drainBatch = 256

// After a drain, the poller keeps re-draining an empty queue (yielding its P between tries)
// before it sleeps on the eventfd, for a window counted from its last completion: pollSpin,
// which covers a sequential caller's turn-around, or pollSpinBusy while several requests that
// are quick (not opDisk or opSync) are in flight (concurrent readers: their results come in bursts, one per group
// the runtime thread serves, up to a few hundred microseconds apart). A result that lands within
// the window saves the runtime thread an eventfd write and Go a netpoller wake-up. Nothing spins
// for fsyncs, and an idle process spins at most pollSpin after its last operation. On this
// project's 2-core VM a 250 us busy window served 16 concurrent readers 20-35% faster than
// 60 us, and 1 ms no better; a window that shrank after spins ending in sleep (to spare the
// core of an oversubscribed machine) lost 20% of that (docs/benchmarks.md).
const (
	pollSpin     = 60 * time.Microsecond
	pollSpinBusy = 250 * time.Microsecond
)

// opKind says what a request was, so an abandoned result that carries a handle (a database,
// iterator or snapshot nobody waits for any more) can be closed instead of leaked, and whether
// its result is due soon (the poller keeps spinning for those).
type opKind uint8

const (
	opPlain opKind = iota
	opOpenDB
	opOpenIter
	opOpenSnapshot
	// opDisk is a plain request that waits on the disk: a flush, a compaction, a checkpoint,
	// a check, a close. Not worth spinning for.
	opDisk
	// opSync is a durable write: it waits for an fsync, like opDisk.
	opSync
	// opChunk is an iterator's next chunk: a plain request.
	opChunk
	// opGetSnapshot is a point read that opens its snapshot (snapshotNew): its result's
	// handle is that snapshot, found or not.
	opGetSnapshot
	// opBulk is a write without fsync of a batch the database's thread takes longer to apply
	// than a caller spins (Batch.waitKind): a caller waiting in its own call sleeps at once.
	opBulk
)

// quick reports whether a request's result is due within microseconds (worth spinning for).
func (k opKind) quick() bool { return k != opDisk && k != opSync && k != opBulk }

// waitable reports whether a lone caller waits for the request in its own cgo call through
// strata_expect/strata_wait: snapshots. Point reads (getWaiting), writes (DB.write) and
// iterator opens have one-call exports of their own, which a lone caller takes always (point
// reads and writes: for a durable write an fsync dwarfs what the calls cost, and the hops saved
// after it count, fillsync/1 4.1k-5.5k writes/s vs 3.4k-3.8k through the queue; see DB.write)
// or while they measure faster than the queue (iterator opens: see pathChooser). Opening, closing
// and maintenance keep the queue: their log records must reach the database's logger before
// the call returns, and records travel only through the completion queue.
func (k opKind) waitable() bool { return k == opOpenSnapshot }

// call is one request in flight. The poller fills the result fields, then signals done.
// Calls are reused (callPool): a sequential caller allocates none in steady state. A call whose
// waiter gave up is never reused, since the poller may still touch it.
type call struct {
	token uint64
	kind  opKind
	done  chan struct{} // capacity 1: the poller's one send never blocks

	// dst, when non-nil: a successful result's bytes are appended to it (by the poller, before
	// done) instead of copied into a new slice. Set before submission.
	dst []byte

	// Written by the poller before done is closed.
	code   int32
	handle uint64
	flags  uint32
	data   []byte

	// Guarded by completer.mu: the waiter gave up (context done) before the result arrived.
	abandoned bool
	// The waiter took the result: the poller is done with the call, which may be reused.
	consumed bool
}

// err returns the call's error, or nil on success.
func (c *call) err() error {
	if c.code == 0 {
		return nil
	}
	return errorFromCode(c.code, string(c.data))
}

// result is what a caller keeps of a completed call, by value, so the call can be reused.
type result struct {
	code   int32
	handle uint64
	flags  uint32
	data   []byte
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// completer owns the poller goroutine and the table of calls in flight.
type completer struct {
	mu      sync.Mutex
	waiting map[uint64]*call
	// quick counts the calls in flight whose kind is quick: results due within microseconds.
	quick atomic.Int64
	// blocked counts the callers waiting inside their own cgo call (getWaiting).
	blocked atomic.Int64
	// sharedAt is when (time.Since(processStart)) alone last saw another call in flight.
	sharedAt atomic.Int64
	token    atomic.Uint64
	events   *os.File
	out      *C.strata_completion // C memory, drainBatch entries, owned for the process lifetime
}

var (
	runtimeOnce sync.Once
	runtimeErr  error
	completions *completer
)

// startRuntime starts strata's runtime thread and the poller goroutine, once per process.
func startRuntime() error {
	runtimeOnce.Do(func() {
		if runtimeErr = checkEngineIdentity(); runtimeErr != nil {
			return
		}
		var fd C.int32_t
		if code := C.strata_runtime_start(&fd); code != 0 {
			runtimeErr = submitError("start runtime", int32(code))
			return
		}
		// The descriptor is non-blocking, so os.NewFile registers it with the netpoller and
		// reads park the poller goroutine without holding an OS thread.
		c := &completer{
			waiting: make(map[uint64]*call),
			events:  os.NewFile(uintptr(fd), "strata-completions"),
			out:     (*C.strata_completion)(C.calloc(drainBatch, C.sizeof_strata_completion)),
		}
		completions = c
		go c.poll()
	})
	return runtimeErr
}

// alone reports whether this caller has been the only one for a while: no other call in
// flight now, through the queue or blocked in a cgo call, and none for sharedQuiet. A lone
// sequential caller is served fastest by waiting in its own call; concurrent callers are not,
// since each one blocked in a cgo call holds one of Go's Ps until sysmon takes it back, so
// with callers sharing the engine everyone uses the queue (16 concurrent readers on 2 cores
// lost a third when one of them at a time took the blocking path).
func (c *completer) alone() bool {
	now := int64(time.Since(processStart))
	if c.quick.Load() != 0 || c.blocked.Load() != 0 {
		c.sharedAt.Store(now)
		return false
	}
	return now-c.sharedAt.Load() > int64(sharedQuiet)
}

// sharedQuiet is how long after callers last overlapped a lone caller waits in its own call.
const sharedQuiet = time.Millisecond

// processStart anchors alone's monotonic clock.
var processStart = time.Now()

// newCall registers a request about to be submitted.
func (c *completer) newCall(kind opKind) *call {
	cl := callPool.Get().(*call)
	cl.token, cl.kind = c.token.Add(1), kind
	c.mu.Lock()
	c.waiting[cl.token] = cl
	c.mu.Unlock()
	if kind.quick() {
		c.quick.Add(1)
	}
	return cl
}

// cancel forgets a call whose submission the C side refused, so no completion will come.
func (c *completer) cancel(cl *call) {
	c.mu.Lock()
	delete(c.waiting, cl.token)
	c.mu.Unlock()
	c.left(cl)
}

// left counts a call out of flight.
func (c *completer) left(cl *call) {
	if cl.kind.quick() {
		c.quick.Add(-1)
	}
}

// wait blocks until the call completes or ctx is done.
func (c *completer) wait(ctx context.Context, cl *call) error {
	if ctx.Done() == nil {
		<-cl.done
		cl.consumed = true
		return cl.err()
	}
	select {
	case <-cl.done:
		cl.consumed = true
		return cl.err()
	case <-ctx.Done():
	}
	c.mu.Lock()
	_, pending := c.waiting[cl.token]
	if pending {
		// The poller will see the mark and release any handle the result carries.
		cl.abandoned = true
	}
	c.mu.Unlock()
	if !pending {
		// The result is being delivered right now: take it and release it here.
		<-cl.done
		releaseOrphan(cl)
	}
	return ctx.Err()
}

// poll is the poller goroutine: drain completions, wake waiters, sleep on the eventfd.
func (c *completer) poll() {
	out := unsafe.Slice(c.out, drainBatch)
	var wake [8]byte
	ready := make([]*call, 0, drainBatch)
	var records [][]byte // engine log records of one drain
	lastWork := time.Now()
	for {
		n := int(C.strata_completions_drain(c.out, drainBatch))
		if n == 0 {
			window := pollSpin
			if c.quick.Load() > 1 {
				window = pollSpinBusy
			}
			if time.Since(lastWork) < window {
				runtime.Gosched()
				continue
			}
			if _, err := c.events.Read(wake[:]); err != nil {
				panic(fmt.Sprintf("strata: reading the completion eventfd failed: %v", err))
			}
			continue
		}
		lastWork = time.Now()
		ready = ready[:0]
		c.mu.Lock()
		for i := range n {
			comp := &out[i]
			if comp.flags&C.STRATA_COMPLETION_LOG != 0 {
				// Copied now (the next drain frees it), decoded and routed outside the lock.
				records = append(records, C.GoBytes(unsafe.Pointer(comp.data), C.int(comp.len)))
				continue
			}
			cl, ok := c.waiting[uint64(comp.token)]
			if !ok {
				continue // token 0: a request nobody waits for (a cleanup close)
			}
			delete(c.waiting, cl.token)
			c.left(cl)
			cl.code = int32(comp.code)
			cl.handle = uint64(comp.handle)
			cl.flags = uint32(comp.flags)
			switch {
			case cl.dst != nil && comp.code == 0 && !cl.abandoned:
				// Into the waiter's buffer: it is blocked in the call, and it cannot give up
				// meanwhile (that takes c.mu). Copy now: the next drain frees the Rust buffer.
				src := unsafe.Slice((*byte)(unsafe.Pointer(comp.data)), int(comp.len))
				cl.data = append(cl.dst, src...)
			case comp.len > 0:
				cl.data = C.GoBytes(unsafe.Pointer(comp.data), C.int(comp.len))
			}
			ready = append(ready, cl)
		}
		c.mu.Unlock()
		for i, rec := range records {
			logs.deliver(rec)
			records[i] = nil
		}
		records = records[:0]
		for _, cl := range ready {
			// abandoned is final once the call left the table under the lock above.
			if cl.abandoned {
				releaseOrphan(cl)
			}
			cl.done <- struct{}{} // the last touch: after it the waiter may reuse the call
		}
	}
}

// releaseOrphan closes a handle that a completed but abandoned request created.
func releaseOrphan(cl *call) {
	if cl.kind == opGetSnapshot && cl.handle != 0 {
		C.strata_snapshot_close(C.uint64_t(cl.handle)) // found or not, the read opened it
		return
	}
	if cl.code != 0 || cl.handle == 0 {
		return
	}
	switch cl.kind {
	case opOpenDB:
		C.strata_db_close(C.uint64_t(cl.handle), 0)
	case opOpenIter:
		C.strata_iter_close(C.uint64_t(cl.handle))
	case opOpenSnapshot:
		C.strata_snapshot_close(C.uint64_t(cl.handle))
	}
}

// do registers a call, submits it with the given C function, and waits for its completion.
// submit returns the C status code for the submission. On an engine error the result still
// carries the completion's code and data (Check reads its report from there).
func do(ctx context.Context, op string, kind opKind, submit func(token C.uint64_t) C.int32_t) (result, error) {
	return doAppend(ctx, op, kind, nil, submit)
}

// doAppend is do for a request whose result bytes, on success, are appended to dst (when
// non-nil) as append would, instead of copied into a new slice.
func doAppend(ctx context.Context, op string, kind opKind, dst []byte, submit func(token C.uint64_t) C.int32_t) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	if err := startRuntime(); err != nil {
		return result{}, err
	}
	c := completions
	if kind.waitable() && c.alone() {
		return c.doWaiting(ctx, op, kind, dst, submit)
	}
	cl := c.newCall(kind)
	cl.dst = dst
	if code := submit(C.uint64_t(cl.token)); code != 0 {
		c.cancel(cl)
		recycle(cl)
		return result{}, submitError(op, int32(code))
	}
	err := c.wait(ctx, cl)
	if !cl.consumed {
		return result{}, err // abandoned: the poller may still hold cl, so it is not reused
	}
	res := result{code: cl.code, handle: cl.handle, flags: cl.flags, data: cl.data}
	recycle(cl)
	return res, err
}

// doWaiting is doAppend for a lone caller: it announces the token (strata_expect), submits,
// and waits for the result inside its own cgo call (await), which the runtime thread wakes
// directly instead of going through the queue, the eventfd, the netpoller and the poller
// goroutine.
func (c *completer) doWaiting(ctx context.Context, op string, kind opKind, dst []byte, submit func(token C.uint64_t) C.int32_t) (result, error) {
	c.blocked.Add(1)
	defer c.blocked.Add(-1)
	callsWaited.Add(1)
	token := C.uint64_t(c.token.Add(1))
	if code := C.strata_expect(token); code != 0 {
		return result{}, submitError(op, int32(code))
	}
	if code := submit(token); code != 0 {
		C.strata_forget(token)
		return result{}, submitError(op, int32(code))
	}
	w := waitPool.Get().(*waitCall)
	defer waitPool.Put(w)
	return c.await(ctx, token, kind, dst, w, true)
}

// submitWaiting submits a request with token and waits for its result in the same cgo call
// (the strata_*_wait exports): spinning up to spin, giving up after limit (0: never) with
// STRATA_INTERRUPTED, the result in room (roomLen bytes) and out as strata_wait leaves them.
type submitWaiting func(token, spin, limit C.uint64_t, room *C.uint8_t, roomLen C.size_t, out *C.strata_waited) C.int32_t

// execWaiting is doWaiting in one cgo call rather than three (strata_expect, the submission,
// strata_wait): for a lone caller, through an export that submits and waits. The result's data
// is appended to dst (nil: a new slice).
func (db *DB) execWaiting(ctx context.Context, op string, kind opKind, dst []byte, submit submitWaiting) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	if db.isClosed() {
		return result{}, opError(op, ErrClosed)
	}
	c := completions
	c.blocked.Add(1)
	defer c.blocked.Add(-1)
	callsWaited.Add(1)
	w := waitPool.Get().(*waitCall)
	defer waitPool.Put(w)
	room, roomPtr := w.room(dst)
	token := C.uint64_t(c.token.Add(1))
	limit := C.uint64_t(0)
	if ctx.Done() != nil {
		limit = C.uint64_t(waitCheck)
	}
	// Spin only for results due within microseconds, as await does: not for an fsync.
	spin := C.uint64_t(0)
	if kind.quick() {
		spin = C.uint64_t(waitSpin)
	} else {
		callsSlept.Add(1)
	}
	out := &w.waited
	code := int32(submit(token, spin, limit, roomPtr, C.size_t(len(room)), out))
	runtime.KeepAlive(room)
	runtime.KeepAlive(db)
	switch {
	case code == C.STRATA_INTERRUPTED:
		return c.await(ctx, token, kind, dst, w, false)
	case code != C.STRATA_OK && out.len == 0:
		// Refused before it reached a strata thread (which always says why).
		return result{}, submitError(op, code)
	default:
		return waitedResult(code, dst, room, out)
	}
}

// pathChooser decides, for a lone caller, between waiting for a request in its own cgo call and
// going through the completion queue, by which of the two took less time lately: the faster one
// depends on the machine's load, which no setting can know. Each way's latency is an average
// over its recent calls (an exponentially weighted one, weight 1/8 for the newest). Calls go in
// blocks of chooserBurst: the first block of every chooserPeriod takes the way currently
// slower, so a change of load is noticed within a few periods, and only the second half of
// each block is timed, since the first calls after a switch pay for waking the other way (the
// poller sleeps while callers wait in their calls, and the reverse). Callers race on the
// averages harmlessly: a lost update is one sample fewer.
type pathChooser struct {
	calls atomic.Uint64
	// waitNs and queueNs are the averages in nanoseconds; 0 until the first sample.
	waitNs, queueNs atomic.Int64
	// force, for tests: 1 always waits in the call, 2 always takes the queue, 0 chooses.
	force atomic.Int32
}

const (
	// chooserBurst is how many calls in a row take one way before any is timed.
	chooserBurst = 16
	// chooserPeriod is how often (in calls) a pathChooser tries the way it considers slower.
	chooserPeriod = 512
)

// choose reports whether to wait in the call, and the time to pass to record (zero: the call
// is not timed).
func (p *pathChooser) choose() (waiting bool, started time.Time) {
	switch p.force.Load() {
	case 1:
		return true, time.Time{}
	case 2:
		return false, time.Time{}
	}
	phase := p.calls.Add(1) % chooserPeriod
	w, q := p.waitNs.Load(), p.queueNs.Load()
	switch {
	case w == 0:
		waiting = true
	case q == 0:
		waiting = false
	default:
		waiting = (w <= q) != (phase < chooserBurst)
	}
	if phase%chooserBurst < chooserBurst/2 {
		return waiting, time.Time{}
	}
	return waiting, time.Now()
}

// record adds a call that started at started (from choose) to its way's average.
func (p *pathChooser) record(waiting bool, started time.Time) {
	if started.IsZero() {
		return
	}
	d := int64(time.Since(started))
	avg := &p.queueNs
	if waiting {
		avg = &p.waitNs
	}
	old := avg.Load()
	if old == 0 {
		avg.Store(max(d, 1))
		return
	}
	avg.Store(max(old+(d-old)/8, 1))
}

// waitCheck is how often a caller waiting in its own call under a context that can end comes
// back to look at it: the longest a cancellation waits to be noticed. (context.AfterFunc
// would notice at once, but costs three allocations per call.)
const waitCheck = time.Millisecond

// await waits in the call (strata_wait) for the announced token's result and returns it as
// the poller would: a success appended to dst (when non-nil), else the bytes copied (a value,
// a chunk, a report, a message). It spins first (spin) only for results due within
// microseconds. Under a context that can end it wakes every waitCheck to look at it, and once
// the context ended it abandons the call (abandonWaiting) and returns ctx.Err().
func (c *completer) await(ctx context.Context, token C.uint64_t, kind opKind, dst []byte, w *waitCall, spin bool) (result, error) {
	room, roomPtr := w.room(dst)
	spinFor := C.uint64_t(0)
	if spin && kind.quick() {
		spinFor = C.uint64_t(waitSpin)
	}
	limit := C.uint64_t(0)
	if ctx.Done() != nil {
		limit = C.uint64_t(waitCheck)
	}
	out := &w.waited
	var code int32
	for {
		code = int32(C.strata_wait(token, spinFor, limit, roomPtr, C.size_t(len(room)), out))
		if code != C.STRATA_INTERRUPTED {
			break
		}
		if ctx.Err() != nil {
			code = c.abandonWaiting(token, kind, roomPtr, len(room), out)
			if code == C.STRATA_INTERRUPTED {
				return result{}, ctx.Err()
			}
			break // the result came before the wait was abandoned: returned as usual
		}
		spinFor = 0
	}
	runtime.KeepAlive(room)
	return waitedResult(code, dst, room, out)
}

// waitedResult turns what a waiting call left in room (dst's spare capacity, or a scratch buffer
// when dst is nil) and out into a result, as the poller would: a success appended to dst
// (when non-nil), else the bytes copied (a value, a chunk, a report, a message). A buffer
// strata handed over is released here.
func waitedResult(code int32, dst, room []byte, out *C.strata_waited) (result, error) {
	n := int(out.len)
	bytes := room[:min(n, len(room))]
	if out.data != nil {
		bytes = unsafe.Slice((*byte)(unsafe.Pointer(out.data)), n)
		defer C.strata_value_free(out.data, out.len)
	}
	res := result{code: code, handle: uint64(out.handle), flags: uint32(out.flags)}
	switch {
	case code == 0 && dst != nil && out.data == nil:
		res.data = dst[:len(dst)+n]
	case code == 0 && dst != nil:
		res.data = append(dst, bytes...)
	case n > 0:
		res.data = append([]byte(nil), bytes...)
	}
	if code != 0 {
		return res, errorFromCode(code, string(res.data))
	}
	return res, nil
}

// waitForNothing waits in the call for a token announced but never submitted, until ctx
// ends: only the context's end can end it, which TestWaitingInTheCallEndsWithItsContext needs
// (a test file cannot write the cgo-typed submit function itself).
func (c *completer) waitForNothing(ctx context.Context) (result, error) {
	return c.doWaiting(ctx, "wait", opPlain, nil, func(C.uint64_t) C.int32_t { return C.STRATA_OK })
}

// abandonWaiting gives up a wait that ctx ended: the token is handed to the poller as an
// abandoned call first (so a result that reaches the queue is released there, handles
// included), then abandoned in Rust. If the result had come already, strata_abandon returns
// it (into room or out, as strata_wait would) and the poller's entry is withdrawn; else it
// returns STRATA_INTERRUPTED.
func (c *completer) abandonWaiting(token C.uint64_t, kind opKind, room *C.uint8_t, roomLen int, out *C.strata_waited) int32 {
	cl := callPool.Get().(*call)
	cl.token, cl.kind, cl.abandoned = uint64(token), kind, true
	c.mu.Lock()
	c.waiting[cl.token] = cl
	c.mu.Unlock()
	if kind.quick() {
		c.quick.Add(1)
	}
	code := int32(C.strata_abandon(token, room, C.size_t(roomLen), out))
	if code != C.STRATA_INTERRUPTED {
		c.cancel(cl)
		recycle(cl)
	}
	return code
}

// recycle returns a call whose completion was consumed (or will never come) to the pool.
func recycle(cl *call) {
	*cl = call{done: cl.done}
	callPool.Put(cl)
}
