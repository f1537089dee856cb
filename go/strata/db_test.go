package strata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t testing.TB, opts *Options) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// writeNumbered writes n keys, key i being fmt.Sprintf(keyFormat, i) with the value
// fmt.Sprintf(valueFormat, i), in one batch.
func writeNumbered(t testing.TB, db *DB, n int, keyFormat, valueFormat string) {
	t.Helper()
	b := NewBatch()
	for i := range n {
		b.Put(fmt.Appendf(nil, keyFormat, i), fmt.Appendf(nil, valueFormat, i))
	}
	if err := db.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func mustPut(t testing.TB, db *DB, k, v string) {
	t.Helper()
	if err := db.Put(context.Background(), []byte(k), []byte(v)); err != nil {
		t.Fatalf("put %q: %v", k, err)
	}
}

func wantValue(t testing.TB, db *DB, k, want string) {
	t.Helper()
	got, err := db.Get(context.Background(), []byte(k))
	if err != nil {
		t.Fatalf("get %q: %v", k, err)
	}
	if string(got) != want {
		t.Fatalf("get %q = %q, want %q", k, got, want)
	}
}

func wantNotFound(t testing.TB, db *DB, k string) {
	t.Helper()
	if v, err := db.Get(context.Background(), []byte(k)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get %q = %q, %v; want ErrNotFound", k, v, err)
	}
}

func TestPutGetDelete(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	mustPut(t, db, "a", "1")
	mustPut(t, db, "a", "2")
	wantValue(t, db, "a", "2")
	mustPut(t, db, "empty", "")
	wantValue(t, db, "empty", "")
	binary := []byte{0, 1, 0, 255}
	if err := db.Put(ctx, binary, binary); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Get(ctx, binary); err != nil || !bytes.Equal(got, binary) {
		t.Fatalf("binary round trip: %v %v", got, err)
	}
	if err := db.Delete(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, db, "a")
	if err := db.Delete(ctx, []byte("never-existed")); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

func TestGetResultIsOwnedByTheCaller(t *testing.T) {
	db := openTest(t, nil)
	mustPut(t, db, "k", "value")
	v, _ := db.Get(context.Background(), []byte("k"))
	v[0] = 'X'
	wantValue(t, db, "k", "value")
}

func TestGetAppend(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	mustPut(t, db, "k", "value")
	mustPut(t, db, "empty", "")
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	mustPut(t, db, "k", "newer")

	// Appended after dst's bytes, in dst's own array when it has the room.
	buf := make([]byte, 3, 64)
	copy(buf, "ab:")
	got, err := db.GetAppend(ctx, buf, []byte("k"))
	if err != nil || string(got) != "ab:newer" || &got[0] != &buf[0] {
		t.Fatalf("GetAppend = %q, %v (same array: %v); want \"ab:newer\" in buf", got, err, err == nil && &got[0] == &buf[0])
	}
	// Without the room, a new array, dst untouched.
	small := []byte("xy")
	if got, err := db.GetAppend(ctx, small[:1:1], []byte("k")); err != nil || string(got) != "xnewer" || string(small) != "xy" {
		t.Fatalf("GetAppend into a full slice = %q, %v; dst %q", got, err, small)
	}
	if got, err := snap.GetAppend(ctx, nil, []byte("k")); err != nil || string(got) != "value" {
		t.Fatalf("snapshot GetAppend = %q, %v; want the old value", got, err)
	}
	if got, err := db.GetAppend(ctx, nil, []byte("empty")); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("GetAppend of an empty value into nil = %#v, %v; want a non-nil empty slice", got, err)
	}
	if got, err := db.GetAppend(ctx, buf[:3], []byte("missing")); !errors.Is(err, ErrNotFound) || string(got) != "ab:" {
		t.Fatalf("GetAppend of a missing key = %q, %v; want dst and ErrNotFound", got, err)
	}
	if got, err := db.GetAppend(ctx, buf[:3], nil); !errors.Is(err, ErrInvalidArgument) || string(got) != "ab:" {
		t.Fatalf("GetAppend of an empty key = %q, %v; want dst and ErrInvalidArgument", got, err)
	}
	// A buffer with room: no Go allocation per read.
	key := []byte("k")
	allocs := testing.AllocsPerRun(200, func() {
		if buf, err = db.GetAppend(ctx, buf[:0], key); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("GetAppend into a buffer with room: %v allocations per call, want 0", allocs)
	}
}

// Append adds another batch's operations in order after the batch's own, copied, and takes
// over its remembered error.
func TestBatchAppend(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	mustPut(t, db, "gone", "x")
	first, second := NewBatch(), NewBatch()
	first.Put([]byte("k1"), []byte("v1"))
	second.Delete([]byte("gone"))
	second.Put([]byte("k1"), []byte("v1-later")) // after first's put: it wins
	second.Put([]byte("k2"), []byte("v2"))
	first.Append(second)
	second.Reset() // first holds its own copy
	second.Put([]byte("k3"), []byte("not appended"))
	if first.Len() != 4 {
		t.Fatalf("Len = %d, want 4", first.Len())
	}
	if err := db.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, "k1", "v1-later")
	wantValue(t, db, "k2", "v2")
	wantNotFound(t, db, "gone")
	wantNotFound(t, db, "k3")

	bad := NewBatch()
	bad.Put(nil, []byte("refused"))
	ok := NewBatch()
	ok.Put([]byte("k4"), []byte("v4"))
	ok.Append(bad)
	if err := db.Write(ctx, ok); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Write after appending an invalid batch = %v, want ErrInvalidArgument", err)
	}
	wantNotFound(t, db, "k4")
}

func TestBatchIsAtomicAndOrdered(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	mustPut(t, db, "gone", "x")
	b := NewBatch()
	b.Put([]byte("k1"), []byte("v1"))
	b.Put([]byte("k2"), []byte("v2"))
	b.Delete([]byte("gone"))
	b.Put([]byte("k1"), []byte("v1-final")) // later operations win
	if b.Len() != 4 {
		t.Fatalf("Len = %d", b.Len())
	}
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, "k1", "v1-final")
	wantValue(t, db, "k2", "v2")
	wantNotFound(t, db, "gone")

	// An invalid operation fails the whole batch: nothing is written.
	bad := NewBatch()
	bad.Put([]byte("ok"), []byte("1"))
	bad.Put(nil, []byte("2"))
	if err := db.Write(ctx, bad); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Write(bad) = %v, want ErrInvalidArgument", err)
	}
	wantNotFound(t, db, "ok")
	bad.Reset()
	bad.Put([]byte("ok"), []byte("1"))
	if err := db.Write(ctx, bad); err != nil {
		t.Fatalf("Write after Reset: %v", err)
	}
	wantValue(t, db, "ok", "1")
	if err := db.Write(ctx, NewBatch()); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	big := make([]byte, MaxKeySize+1)
	cases := map[string]error{
		"nil key put":       db.Put(ctx, nil, []byte("v")),
		"empty key put":     db.Put(ctx, []byte{}, []byte("v")),
		"oversized key":     db.Put(ctx, big, []byte("v")),
		"oversized value":   db.Put(ctx, []byte("k"), make([]byte, MaxValueSize+1)),
		"nil key delete":    db.Delete(ctx, nil),
		"nil batch":         db.Write(ctx, nil),
		"oversized bound":   func() error { _, err := db.NewIterator(ctx, &IterOptions{Start: big}); return err }(),
		"empty key get":     func() error { _, err := db.Get(ctx, nil); return err }(),
		"oversized get":     func() error { _, err := db.Get(ctx, big); return err }(),
		"empty dir to Open": func() error { _, err := Open("", nil); return err }(),
	}
	for name, err := range cases {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: got %v, want ErrInvalidArgument", name, err)
		}
	}
	// The largest allowed key and value work.
	maxKey := bytes.Repeat([]byte{'k'}, MaxKeySize)
	if err := db.Put(ctx, maxKey, []byte("v")); err != nil {
		t.Fatalf("max key: %v", err)
	}
	wantValue(t, db, string(maxKey), "v")
}

func TestLargeValueRoundTrip(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	v := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	if err := db.Put(context.Background(), []byte("big"), v); err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(context.Background(), []byte("big"))
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("16 MiB value: len %d, err %v", len(got), err)
	}
}

func TestClosedDatabase(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustPut(t, db, "k", "v")
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, getErr := db.Get(ctx, []byte("k"))
	_, statsErr := db.Stats()
	_, iterErr := db.NewIterator(ctx, nil)
	for name, err := range map[string]error{
		"put":          db.Put(ctx, []byte("k"), []byte("v")),
		"get":          getErr,
		"delete":       db.Delete(ctx, []byte("k")),
		"write":        db.Write(ctx, NewBatch()),
		"stats":        statsErr,
		"new iterator": iterErr,
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	// An iterator opened before Close fails on its next fetch.
	if it.Next() {
		t.Fatal("iterator of a closed database yielded an entry")
	}
	if !errors.Is(it.Err(), ErrClosed) {
		t.Fatalf("iterator Err = %v, want ErrClosed", it.Err())
	}
	if err := it.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("iterator Close = %v", err)
	}
}

func TestConcurrentCloseWithOperationsInFlight(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16*200)
	started := make(chan struct{}, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := []byte(fmt.Sprintf("g%d-%d", g, i))
				if err := db.Put(ctx, k, k); err != nil {
					errs <- err
					return
				}
				if i == 0 {
					started <- struct{}{}
				}
			}
		}()
	}
	<-started // close while the writers are mid-stream
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("operation racing Close failed with %v, want ErrClosed", err)
		}
	}
}

func TestSecondOpenOfAnOpenDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, nil)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}

func TestCancelledContext(t *testing.T) {
	db := openTest(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Put(ctx, []byte("k"), []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled ctx = %v", err)
	}
	if _, err := db.Get(ctx, []byte("k")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with cancelled ctx = %v", err)
	}
	if _, err := db.NewIterator(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("NewIterator with cancelled ctx = %v", err)
	}
	// Contexts that expire while operations are in flight: every call returns either its
	// result or ctx.Err(), and abandoned iterators are released (no snapshot stays pinned).
	for i := range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*time.Microsecond)
		it, err := db.NewIterator(ctx, nil)
		if err == nil {
			it.Close()
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("NewIterator: %v", err)
		}
		cancel()
	}
	// The poller releases an abandoned iterator before it wakes any later waiter. This Stats
	// queues behind every iterator open on the database's thread (a Get would not: reads go to
	// the reader threads), so once it returns every release has been submitted, and the next
	// Stats queues behind them.
	if _, err := db.Stats(); err != nil {
		t.Fatal(err)
	}
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenIterators != 0 || s.Snapshots != 0 {
		t.Fatalf("abandoned iterators leaked: %d open, %d snapshots", s.OpenIterators, s.Snapshots)
	}
}

func TestErrorsCarryEngineMessages(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(dir, nil)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("already open")) {
		t.Fatalf("locked error lacks the engine's explanation: %v", err)
	}
}

func TestLimitsMatchTheEngine(t *testing.T) {
	if MaxKeySize != engineMaxKeySize || MaxValueSize != engineMaxValueSize || MaxBatchSize != engineMaxBatchSize {
		t.Fatalf("Go limits %d/%d/%d, engine %d/%d/%d", MaxKeySize, MaxValueSize, MaxBatchSize,
			engineMaxKeySize, engineMaxValueSize, engineMaxBatchSize)
	}
}

// TestReadsWaitingInTheirOwnCall: a lone caller with no deadline reads through
// strata_db_get_wait (the value copied into its buffer, or into a scratch buffer for Get, or
// handed over in a buffer strata allocated when it does not fit), and gets exactly what the
// completion queue would give: values of every size, absent keys, errors with their messages.
func TestReadsWaitingInTheirOwnCall(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	sizes := []int{0, 1, 100, 4095, 4096, 4097, 70_000, 1 << 20}
	for _, n := range sizes {
		mustPut(t, db, fmt.Sprintf("k%d", n), strings.Repeat("v", n))
	}
	// No other caller overlapped lately (as far as alone knows): every read below is lone.
	completions.sharedAt.Store(-int64(time.Hour))
	before := getsWaited.Load()
	for _, n := range sizes {
		key := []byte(fmt.Sprintf("k%d", n))
		want := strings.Repeat("v", n)
		got, err := db.Get(ctx, key)
		if err != nil || string(got) != want || got == nil {
			t.Fatalf("Get of a %d-byte value: %d bytes (nil %v), %v", n, len(got), got == nil, err)
		}
		for _, room := range []int{0, 16, 1 << 21} {
			dst := append(make([]byte, 0, 3+room), "pre"...)
			got, err := db.GetAppend(ctx, dst, key)
			if err != nil || string(got) != "pre"+want {
				t.Fatalf("GetAppend of a %d-byte value with room %d: %d bytes, %v", n, room, len(got), err)
			}
		}
	}
	if _, err := db.Get(ctx, []byte("absent")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an absent key: %v", err)
	}
	if got, err := db.GetAppend(ctx, []byte("pre"), []byte("absent")); !errors.Is(err, ErrNotFound) || string(got) != "pre" {
		t.Fatalf("GetAppend of an absent key: %q, %v", got, err)
	}
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := snap.Get(ctx, []byte("k100")); err != nil || len(got) != 100 {
		t.Fatalf("snapshot Get: %d bytes, %v", len(got), err)
	}
	if waited := getsWaited.Load() - before; waited != int64(len(sizes)*4+3) {
		t.Fatalf("%d reads waited in their own call, want every one of the %d", waited, len(sizes)*4+3)
	}
	// An error from the runtime thread keeps its message: a read of a closed database's
	// snapshot handle (its close raced nothing here, so the handle is simply gone).
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	// The release needs no answer, and reads go to the reader thread, not the database's own:
	// a round trip through the database's thread sees the release done before the read.
	if _, err := db.Stats(); err != nil {
		t.Fatal(err)
	}
	_, err = db.get(ctx, "snapshot get", snap.handle, []byte("k1"), nil)
	if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("read at a released snapshot handle: %v", err)
	}
}

// TestWritesWaitingInTheirOwnCall: a lone caller's writes and batches, durable or not, wait in
// their own call (strata_db_write_wait), as do snapshots (strata_expect + strata_wait), and
// behave as through the queue; stats, opening, closing and maintenance keep the queue (see
// opKind.waitable).
func TestWritesWaitingInTheirOwnCall(t *testing.T) {
	ctx := context.Background()
	for _, noSync := range []bool{false, true} {
		db := openTest(t, &Options{NoSync: noSync})
		completions.sharedAt.Store(-int64(time.Hour))
		before := callsWaited.Load()
		mustPut(t, db, "a", "1")
		b := NewBatch()
		b.Put([]byte("b"), []byte("2"))
		b.Delete([]byte("a"))
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := db.Delete(ctx, []byte("b")); err != nil {
			t.Fatal(err)
		}
		mustPut(t, db, "c", "3")
		snap, err := db.NewSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		stats, err := db.Stats()
		if err != nil || stats.BatchesWritten != 4 {
			t.Fatalf("Stats: BatchesWritten %d, %v", stats.BatchesWritten, err)
		}
		if waited := callsWaited.Load() - before; waited != 5 {
			t.Fatalf("NoSync %v: %d calls waited in their own call, want 5 (4 writes and a snapshot)", noSync, waited)
		}
		mustPut(t, db, "d", "4")
		if got, err := snap.Get(ctx, []byte("c")); err != nil || string(got) != "3" {
			t.Fatalf("snapshot Get c: %q, %v", got, err)
		}
		if _, err := snap.Get(ctx, []byte("d")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("snapshot Get d (written after it): %v", err)
		}
		if err := snap.Close(); err != nil {
			t.Fatal(err)
		}
		before = callsWaited.Load()
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		dir := db.Dir()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := callsWaited.Load() - before; n != 0 {
			t.Errorf("flush, close and open: %d waited in their own call, want none", n)
		}
		for k, want := range map[string]string{"c": "3", "d": "4"} {
			wantValue(t, again, k, want)
		}
		wantNotFound(t, again, "a")
		wantNotFound(t, again, "b")
		if err := again.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWaitingInTheCallEndsWithItsContext: a lone caller with a cancellable context also waits
// in its own call, and when the context ends first the wait is interrupted and the call
// abandoned, returning ctx.Err(). Deterministic: the request here is never submitted, so only
// the interruption can end the wait.
func TestWaitingInTheCallEndsWithItsContext(t *testing.T) {
	db := openTest(t, nil)
	completions.sharedAt.Store(-int64(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // interrupts the wait as soon as it is registered; nothing will complete
	before := callsWaited.Load()
	_, err := completions.waitForNothing(ctx)
	token := completions.token.Load()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("an interrupted wait returned %v, want context.Canceled", err)
	}
	if callsWaited.Load() == before {
		t.Fatal("the call did not wait in its own call")
	}
	// The abandoned token is the poller's now, marked abandoned; nothing else is in flight.
	completions.mu.Lock()
	cl := completions.waiting[token]
	completions.mu.Unlock()
	if cl == nil || !cl.abandoned {
		t.Fatalf("the abandoned token %d is not the poller's to release: %+v", token, cl)
	}
	if q := completions.quick.Load(); q != 1 {
		t.Fatalf("quick calls in flight: %d, want the one abandoned", q)
	}
	completions.cancel(cl) // no result will ever come for it: take it out of flight
	// A real request with a cancellable context that does not end is served as usual.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	completions.sharedAt.Store(-int64(time.Hour))
	if err := db.Put(ctx2, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	gets := getsWaited.Load()
	if got, err := db.Get(ctx2, []byte("k")); err != nil || string(got) != "v" {
		t.Fatalf("Get with a live cancellable context: %q, %v", got, err)
	}
	if getsWaited.Load() == gets {
		t.Fatal("a lone Get under a cancellable context did not wait in its own call")
	}
}

// TestBulkWritesSleepInsteadOfSpinning: a lone caller's write without fsync spins for its
// result only when the batch is small enough for the database's thread to apply within the
// spin (at most bulkEntries operations and bulkBytes bytes); a larger one sleeps at once, and
// both still wait in their own call and land.
func TestBulkWritesSleepInsteadOfSpinning(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, &Options{NoSync: true})
	defer forceAlone(t, true)()
	written := 0
	for i, tc := range []struct {
		name              string
		entries, valueLen int
		sleeps            bool
	}{
		{"bulkEntries puts", bulkEntries, 8, false},
		{"one put more", bulkEntries + 1, 8, true},
		{"one put of bulkBytes", 1, bulkBytes, true},
		{"one small put", 1, 100, false},
	} {
		b := NewBatch()
		for j := range tc.entries {
			b.Put(fmt.Appendf(nil, "%d-%03d", i, j), make([]byte, tc.valueLen))
		}
		waited, slept := callsWaited.Load(), callsSlept.Load()
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		written += tc.entries
		if got := callsWaited.Load() - waited; got != 1 {
			t.Fatalf("%s: %d calls waited in their own call, want 1", tc.name, got)
		}
		if got := callsSlept.Load() - slept; (got == 1) != tc.sleeps {
			t.Fatalf("%s: %d calls slept without spinning, want sleeping %v", tc.name, got, tc.sleeps)
		}
		// A durable write sleeps whatever its size: the rule only spares NoSync writes a spin.
		if got := b.waitKind(opSync); got != opSync {
			t.Fatalf("%s: a durable write of it waits as kind %d, want opSync", tc.name, got)
		}
	}
	// A transaction's commit (it read, so it is checked, not written as a batch) alike.
	for _, puts := range []int{bulkEntries, bulkEntries + 1} {
		slept := callsSlept.Load()
		err := db.Update(ctx, func(tx *Tx) error {
			if _, err := tx.Get(ctx, []byte("0-000")); err != nil {
				return err
			}
			for j := range puts {
				if err := tx.Put(fmt.Appendf(nil, "tx%d-%03d", puts, j), []byte("v")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		written += puts
		if got, want := callsSlept.Load()-slept, int64(puts/(bulkEntries+1)); got != want {
			t.Fatalf("a transaction of %d puts: %d commits slept without spinning, want %d", puts, got, want)
		}
	}
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	if err := it.Err(); err != nil || n != written {
		t.Fatalf("%d keys after the writes, want %d (%v)", n, written, err)
	}
}
