package strata

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestTransactionsReadTheirWritesAndConflict: a transaction reads its own writes over its
// snapshot; one whose read key was changed by a commit after its snapshot fails with
// ErrConflict and writes nothing; one whose reads are unchanged commits; a read-only one
// refuses writes.
func TestTransactionsReadTheirWritesAndConflict(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	mustPut(t, db, "a", "1")
	mustPut(t, db, "b", "1")

	tx, err := db.NewTransaction(true)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := tx.Get(ctx, []byte("a")); err != nil || string(v) != "1" {
		t.Fatalf("tx get a = %q, %v", v, err)
	}
	if err := tx.Put([]byte("a"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if v, err := tx.Get(ctx, []byte("a")); err != nil || string(v) != "2" {
		t.Fatalf("tx get a after its own put = %q, %v", v, err)
	}
	if _, err := tx.Get(ctx, []byte("b")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tx get b after its own delete: %v, want ErrNotFound", err)
	}
	wantValue(t, db, "a", "1")   // nothing visible before Commit
	mustPut(t, db, "a", "other") // a commit after tx's snapshot changes a key tx read
	if err := tx.Commit(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit after a conflicting write: %v, want ErrConflict", err)
	}
	wantValue(t, db, "a", "other")
	wantValue(t, db, "b", "1") // the conflicting transaction's delete was not written
	if err := tx.Commit(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("a second commit: %v, want ErrClosed", err)
	}

	// A write to a key the transaction did not read, and a rewrite of the same value to one
	// it did, leave nothing it saw changed.
	tx, err = db.NewTransaction(true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Get(ctx, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Get(ctx, []byte("absent")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	mustPut(t, db, "unread", "x")
	mustPut(t, db, "b", "1")
	if err := tx.Put([]byte("c"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit with unchanged reads: %v", err)
	}
	wantValue(t, db, "c", "3")

	// A key absent when read and present at commit is a change too.
	tx, _ = db.NewTransaction(true)
	if _, err := tx.Get(ctx, []byte("late")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	mustPut(t, db, "late", "now")
	tx.Put([]byte("d"), []byte("4"))
	if err := tx.Commit(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit after a read key appeared: %v, want ErrConflict", err)
	}

	err = db.View(ctx, func(tx *Tx) error {
		if v, err := tx.Get(ctx, []byte("c")); err != nil || string(v) != "3" {
			return fmt.Errorf("view get c = %q, %v", v, err)
		}
		return tx.Put([]byte("x"), []byte("y"))
	})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a write in View: %v, want ErrReadOnly", err)
	}
	if s, err := db.Stats(); err != nil || s.Snapshots != 0 {
		t.Fatalf("snapshots left open after the transactions: %d, %v", s.Snapshots, err)
	}
}

// TestConcurrentUpdatesAreSerializable: 16 goroutines each add to counters chosen per
// transaction, read-modify-write in DB.Update; whatever conflicts and retries happen, every
// increment counts exactly once, so the final counters equal a serial run's.
func TestConcurrentUpdatesAreSerializable(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, &Options{NoSync: true})
	const goroutines, perGoroutine, counters = 16, 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				// Each transaction moves one unit between two counters, so their sum is fixed
				// and each counter's final value is known.
				from, to := fmt.Sprint("c", (g+i)%counters), fmt.Sprint("c", (g+i+1)%counters)
				err := db.Update(ctx, func(tx *Tx) error {
					for _, k := range []string{from, to} {
						v, err := tx.Get(ctx, []byte(k))
						n := 0
						if err == nil {
							n, _ = strconv.Atoi(string(v))
						} else if !errors.Is(err, ErrNotFound) {
							return err
						}
						if k == from {
							n--
						} else {
							n++
						}
						if err := tx.Put([]byte(k), []byte(strconv.Itoa(n))); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
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
	// Serially: each (g, i) takes one from c[(g+i)%4] and gives one to c[(g+i+1)%4].
	want := make([]int, counters)
	for g := range goroutines {
		for i := range perGoroutine {
			want[(g+i)%counters]--
			want[(g+i+1)%counters]++
		}
	}
	for c := range counters {
		wantValue(t, db, fmt.Sprint("c", c), strconv.Itoa(want[c]))
	}
}

// TestCommitsWaitingInTheirOwnCall: a lone caller's commit waits in its call, others go
// through the queue; both commit, and both report a conflict.
func TestCommitsWaitingInTheirOwnCall(t *testing.T) {
	ctx := context.Background()
	for _, alone := range []bool{true, false} {
		db := openTest(t, &Options{NoSync: true})
		restore := forceAlone(t, alone)
		before := callsWaited.Load()
		for i, conflict := range []bool{false, true} {
			tx, err := db.NewTransaction(true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Get(ctx, []byte("k")); !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			if conflict {
				mustPut(t, db, "k", "meanwhile")
			}
			tx.Put([]byte("out"), []byte(strconv.Itoa(i)))
			err = tx.Commit(ctx)
			if conflict != errors.Is(err, ErrConflict) || (!conflict && err != nil) {
				t.Fatalf("alone %v, conflict %v: commit returned %v", alone, conflict, err)
			}
		}
		waited := callsWaited.Load() - before
		restore()
		if alone != (waited >= 2) {
			t.Fatalf("alone %v: %d calls waited in their own call", alone, waited)
		}
		wantValue(t, db, "out", "0")
	}
}

// TestTransactionSnapshotOpensWithTheFirstRead: a transaction takes its snapshot with its first
// read, in that read's request (found or not), both for a lone caller waiting in its call and
// through the completion queue; a transaction that writes without reading takes none.
func TestTransactionSnapshotOpensWithTheFirstRead(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, &Options{NoSync: true})
	snapshots := func() uint64 {
		t.Helper()
		s, err := db.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return s.Snapshots
	}
	defer completions.sharedAt.Store(0)
	for _, alone := range []bool{true, false} {
		// Now far behind (a lone caller waits in its call) or far ahead (callers overlap).
		path := func() {
			if alone {
				completions.sharedAt.Store(-int64(time.Hour))
			} else {
				completions.sharedAt.Store(int64(1000 * time.Hour))
			}
		}
		path()
		mustPut(t, db, "a", "1")
		tx, err := db.NewTransaction(true)
		if err != nil {
			t.Fatal(err)
		}
		if n := snapshots(); n != 0 {
			t.Fatalf("alone %v: %d snapshots open before the first read, want 0", alone, n)
		}
		mustPut(t, db, "a", "2") // before the first read: the transaction sees it
		path()
		before := getsWaited.Load()
		if v, err := tx.Get(ctx, []byte("a")); err != nil || string(v) != "2" {
			t.Fatalf("alone %v: first read = %q, %v; want the value written before it", alone, v, err)
		}
		if waited := getsWaited.Load() - before; waited != map[bool]int64{true: 1, false: 0}[alone] {
			t.Fatalf("alone %v: %d reads waited in their call", alone, waited)
		}
		if n := snapshots(); n != 1 {
			t.Fatalf("alone %v: %d snapshots open after the first read, want 1", alone, n)
		}
		mustPut(t, db, "a", "3") // after it: not seen, and a conflict at commit
		path()
		if v, err := tx.Get(ctx, []byte("a")); err != nil || string(v) != "2" {
			t.Fatalf("alone %v: second read = %q, %v; want the snapshot's value", alone, v, err)
		}
		tx.Put([]byte("b"), []byte("x"))
		if err := tx.Commit(ctx); !errors.Is(err, ErrConflict) {
			t.Fatalf("alone %v: commit after a write to a key read: %v, want ErrConflict", alone, err)
		}

		// A first read that finds nothing opens the snapshot all the same.
		tx, _ = db.NewTransaction(false)
		path()
		if _, err := tx.Get(ctx, []byte("absent")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("alone %v: first read of an absent key: %v", alone, err)
		}
		mustPut(t, db, "absent", "now")
		path()
		if _, err := tx.Get(ctx, []byte("absent")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("alone %v: the key written after the snapshot: %v, want ErrNotFound", alone, err)
		}
		if n := snapshots(); n != 1 {
			t.Fatalf("alone %v: %d snapshots open, want 1", alone, n)
		}
		tx.Discard()

		// Writes without a read take no snapshot and commit as a batch.
		tx, _ = db.NewTransaction(true)
		tx.Put([]byte("c"), []byte("3"))
		if n := snapshots(); n != 0 {
			t.Fatalf("alone %v: %d snapshots open for a transaction that did not read", alone, n)
		}
		path()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		wantValue(t, db, "c", "3")
		db.Delete(ctx, []byte("absent"))
	}
	if n := snapshots(); n != 0 {
		t.Fatalf("%d snapshots left open", n)
	}
}
