package strata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// memoryOps is the number of mixed operations TestRustMemoryReturnsToBaseline runs:
// 100,000, or 20,000 under the race detector (STRATA_MEMORY_OPS overrides both).
func memoryOps() int {
	if n, err := strconv.Atoi(os.Getenv("STRATA_MEMORY_OPS")); err == nil && n > 0 {
		return n
	}
	if raceEnabled {
		return 20_000
	}
	return 100_000
}

// useAndClose opens a database in dir, runs fn, and closes it.
func useAndClose(t *testing.T, dir string, fn func(db *DB)) {
	t.Helper()
	db, err := Open(dir, &Options{MemtableBudget: 256 << 10, BlockCacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	fn(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// settledLiveAllocations reads live Rust allocations once every handle the Go side dropped
// has been closed: a GC runs the cleanups of dropped iterators and snapshots, which send their
// close requests; a round trip to the runtime thread after them sees them handled.
func settledLiveAllocations(t *testing.T) uint64 {
	t.Helper()
	runtime.GC()
	runtime.GC()
	// A database open and close is one more round trip through the runtime thread and two
	// drains of the completion queue, so buffers the last drain handed out are freed too.
	useAndClose(t, t.TempDir(), func(*DB) {})
	return ReadRustMemory().LiveAllocations
}

func TestRustMemoryReturnsToBaseline(t *testing.T) {
	dir := t.TempDir()
	// Warm up with every kind of operation: the process-wide runtime, its channels, queues and
	// handle tables (which keep their capacity once grown) exist from here on.
	useAndClose(t, dir, func(db *DB) {
		if err := mixedOperations(db, -1, 2000); err != nil {
			t.Fatal(err)
		}
	})
	baseline := settledLiveAllocations(t)

	ops := memoryOps()
	const workers = 8
	var done sync.WaitGroup
	var failures sync.Map
	useAndClose(t, dir, func(db *DB) {
		for w := range workers {
			done.Add(1)
			go func() {
				defer done.Done()
				if err := mixedOperations(db, w, ops/workers); err != nil {
					failures.Store(w, err)
				}
			}()
		}
		done.Wait()
		during := ReadRustMemory()
		t.Logf("during: %d live allocations, %d live bytes, %d allocations so far",
			during.LiveAllocations, during.LiveBytes, during.Allocations)
		if during.LiveAllocations <= baseline {
			t.Errorf("an open database with data holds %d live allocations, no more than the %d of none: the counter does not count", during.LiveAllocations, baseline)
		}
	})
	failures.Range(func(w, err any) bool {
		t.Errorf("worker %d: %v", w, err)
		return true
	})
	after := settledLiveAllocations(t)
	t.Logf("%d mixed operations: live Rust allocations %d before, %d after", ops, baseline, after)
	if after != baseline {
		t.Fatalf("live Rust allocations %d after closing everything, %d before: %+d leaked", after, baseline, int64(after)-int64(baseline))
	}
}

// mixedOperations runs n operations of every kind against db: puts, gets of present and
// missing keys, deletes, batches, iterators closed half-way and dropped unclosed, snapshots
// closed and dropped, and calls whose context is already cancelled.
func mixedOperations(db *DB, worker, n int) error {
	rng := rand.New(rand.NewPCG(uint64(worker), 42))
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	key := func() []byte {
		k := make([]byte, 12)
		copy(k, "k")
		binary.BigEndian.PutUint64(k[4:], uint64(rng.IntN(4096)))
		return k
	}
	value := make([]byte, 100)
	for i := range n {
		switch op := rng.IntN(100); {
		case op < 35:
			if err := db.Put(ctx, key(), value[:rng.IntN(100)]); err != nil {
				return fmt.Errorf("put: %w", err)
			}
		case op < 65:
			if _, err := db.Get(ctx, key()); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("get: %w", err)
			}
		case op < 72:
			if err := db.Delete(ctx, key()); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
		case op < 80:
			b := NewBatch()
			for range 1 + rng.IntN(8) {
				b.Put(key(), value[:10])
			}
			b.Delete(key())
			if err := db.Write(ctx, b); err != nil {
				return fmt.Errorf("batch: %w", err)
			}
		case op < 88:
			it, err := db.NewIterator(ctx, &IterOptions{Start: key(), Reverse: op%2 == 0})
			if err != nil {
				return fmt.Errorf("iterator: %w", err)
			}
			for steps := rng.IntN(300); steps > 0 && it.Next(); steps-- {
			}
			if i%5 != 0 {
				it.Close() // abandoned half-way; every fifth is dropped unclosed instead
			}
		case op < 93:
			s, err := db.NewSnapshot()
			if err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			s.Get(ctx, key())
			if i%3 != 0 {
				s.Close() // every third is dropped unclosed
			}
		default:
			// Already cancelled: each call must fail with the context's error and leak nothing,
			// whether it was refused before or after reaching the runtime thread.
			var err error
			switch op % 3 {
			case 0:
				_, err = db.Get(cancelled, key())
			case 1:
				err = db.Put(cancelled, key(), value)
			default:
				var it *Iterator
				if it, err = db.NewIterator(cancelled, nil); err == nil {
					it.Close()
				}
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("cancelled call: %w", err)
			}
			if i%1000 == 0 {
				// A context cancelled while the call waits, too.
				short, stop := context.WithTimeout(ctx, time.Microsecond)
				db.Get(short, key())
				stop()
			}
		}
	}
	return nil
}
