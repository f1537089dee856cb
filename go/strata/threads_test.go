package strata

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// Calls from many goroutines, each locked to its own OS thread, never run engine code on those
// threads: engine thread-local state is initialized once per strata thread and never more.
func TestLockedOSThreadsNeverInitializeEngineThreadLocals(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	const goroutines, ops = 64, 300
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := range ops {
				k := []byte(fmt.Sprintf("g%02d-%04d", g, i))
				if err := db.Put(ctx, k, k); err != nil {
					errs <- err
					return
				}
				if v, err := db.Get(ctx, k); err != nil || string(v) != string(k) {
					errs <- fmt.Errorf("get %s = %q, %v", k, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.StrataThreads == 0 || s.TLSInits != s.StrataThreads {
		t.Fatalf("TLSInits = %d, StrataThreads = %d: a non-strata thread initialized engine state", s.TLSInits, s.StrataThreads)
	}
	if s.BatchesWritten != goroutines*ops {
		t.Fatalf("BatchesWritten = %d, want %d", s.BatchesWritten, goroutines*ops)
	}
}

// Concurrent durable writers share fsyncs: the log is synced fewer times than batches land.
func TestConcurrentWritersShareFsyncs(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := db.Put(ctx, []byte(fmt.Sprintf("w%02d-%03d", w, i)), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.BatchesWritten != writers*each {
		t.Fatalf("BatchesWritten = %d", s.BatchesWritten)
	}
	// Each writer waits for its own fsync before its next write, so with 16 writers most
	// fsyncs must cover several of them.
	if s.WALSyncs >= s.BatchesWritten {
		t.Fatalf("no group commit: %d fsyncs for %d batches", s.WALSyncs, s.BatchesWritten)
	}
	t.Logf("%d batches, %d WAL writes, %d fsyncs", s.BatchesWritten, s.WALWrites, s.WALSyncs)
}

// Two databases in one process are independent.
func TestTwoDatabasesInOneProcess(t *testing.T) {
	a, b := openTest(t, nil), openTest(t, nil)
	mustPut(t, a, "k", "a")
	mustPut(t, b, "k", "b")
	wantValue(t, a, "k", "a")
	wantValue(t, b, "k", "b")
	a.Close()
	wantValue(t, b, "k", "b")
}
