package strata

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// Misuse of the API: every case ends in a documented error (tested with errors.Is), or for a
// nil context in a panic, never in a crash of the process or silent damage. Closed handles,
// malformed arguments and ownership mistakes are exercised here; TestClosedDatabase,
// TestSnapshotAfterClose, TestMaintenanceAfterClose and TestInvalidArguments cover the rest.

// The methods TestClosedDatabase and TestMaintenanceAfterClose leave out behave as documented
// after Close: a non-empty batch fails with ErrClosed and stays intact for another database,
// Dir still answers, and a snapshot taken before Close cannot open iterators.
func TestRemainingMethodsAfterClose(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustPut(t, db, "k", "v")
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	b := NewBatch()
	b.Put([]byte("a"), []byte("1"))
	b.Delete([]byte("k"))
	if err := db.Write(ctx, b); !errors.Is(err, ErrClosed) {
		t.Errorf("Write of a non-empty batch after Close: %v, want ErrClosed", err)
	}
	if db.Dir() != dir {
		t.Errorf("Dir after Close = %q, want %q", db.Dir(), dir)
	}
	if _, err := snap.NewIterator(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("snapshot NewIterator after the database closed: %v, want ErrClosed", err)
	}
	if err := snap.Close(); err != nil {
		t.Errorf("snapshot Close after the database closed: %v", err)
	}

	// The batch a closed database refused is unchanged and applies elsewhere.
	other := openTest(t, nil)
	mustPut(t, other, "k", "v")
	if b.Len() != 2 {
		t.Fatalf("batch Len after a refused Write = %d, want 2", b.Len())
	}
	if err := other.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	wantValue(t, other, "a", "1")
	wantNotFound(t, other, "k")
}

// An iterator's own Close ends it: Next reports no entry, Key and Value are nil, and Close
// stays idempotent.
func TestIteratorAfterItsClose(t *testing.T) {
	db := openTest(t, nil)
	for i := range 10 {
		mustPut(t, db, fmt.Sprintf("k%d", i), "v")
	}
	it, err := db.NewIterator(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if it.Key() != nil || it.Value() != nil {
		t.Fatalf("before the first Next: Key %q, Value %q; want nil", it.Key(), it.Value())
	}
	if !it.Next() {
		t.Fatalf("first Next: false, %v", it.Err())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if it.Key() != nil || it.Value() != nil {
		t.Fatalf("after Close: Key %q, Value %q; want nil", it.Key(), it.Value())
	}
	// Entries were still buffered from the first chunk; Close drops them.
	if it.Next() {
		t.Fatalf("Next after Close yielded %q", it.Key())
	}
	if err := it.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if s, err := db.Stats(); err != nil || s.OpenIterators != 0 || s.Snapshots != 0 {
		t.Fatalf("after Close: %d iterators, %d snapshots (err %v)", s.OpenIterators, s.Snapshots, err)
	}
}

// An iterator part-way through its entries when its database closes fails with ErrClosed on
// its next Next, as DB.Close documents, even though entries of the current chunk are still
// buffered in Go.
func TestIteratorMidChunkWhenItsDatabaseCloses(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		mustPut(t, db, fmt.Sprintf("k%d", i), "v")
	}
	it, err := db.NewIterator(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatalf("first Next: false, %v", it.Err())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() {
		n++
	}
	if n != 0 || !errors.Is(it.Err(), ErrClosed) {
		t.Errorf("after the database closed the iterator yielded %d more entries and Err %v; DB.Close documents ErrClosed on the next Next", n, it.Err())
	}
	if err := it.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("iterator Close = %v, want ErrClosed", err)
	}
}

// Many goroutines closing one database at once all get the first Close's result, and the
// directory is released: it opens again with its data.
func TestConcurrentCloseCalls(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k", "v")
	start := make(chan struct{})
	results := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results <- db.Close()
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Fatalf("concurrent Close: %v", err)
		}
	}
	reopened, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after concurrent Close: %v", err)
	}
	defer reopened.Close()
	wantValue(t, reopened, "k", "v")
}

// Close racing every kind of operation: each fails with ErrClosed or succeeds, nothing else;
// iterators and snapshots open at the time end with ErrClosed; and every acknowledged write is
// in the database when it is opened again (Close waits for writes in flight).
func TestCloseRacingEveryKindOfOperation(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("seed%03d", i), "v")
	}
	ctx := context.Background()
	const perKind = 4
	type result struct {
		op  string
		err error
	}
	var (
		wg      sync.WaitGroup
		results = make(chan result, 1<<16)
		ackMu   sync.Mutex
		acked   []string // keys whose Put or Write returned nil
		started sync.WaitGroup
	)
	ack := func(keys ...string) {
		ackMu.Lock()
		acked = append(acked, keys...)
		ackMu.Unlock()
	}
	// Each operation loop reports its first call, then runs until the database refuses it. A
	// loop still succeeding well after Close returned stops with an error instead of hanging.
	var closeReturned atomic.Bool
	const successesAfterClose = 100
	loop := func(name string, op func(i int) error) {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			late := 0
			for i := 0; ; i++ {
				err := op(i)
				if i == 0 {
					started.Done()
				}
				if err != nil {
					results <- result{name, err}
					return
				}
				if closeReturned.Load() {
					if late++; late > successesAfterClose {
						results <- result{name, fmt.Errorf("still succeeding %d calls after Close returned", late)}
						return
					}
				}
			}
		}()
	}
	for g := range perKind {
		loop("put", func(i int) error {
			k := fmt.Sprintf("put-%d-%d", g, i)
			err := db.Put(ctx, []byte(k), []byte("v"))
			if err == nil {
				ack(k)
			}
			return err
		})
		loop("write", func(i int) error {
			k1, k2 := fmt.Sprintf("batch-%d-%d-a", g, i), fmt.Sprintf("batch-%d-%d-b", g, i)
			b := NewBatch()
			b.Put([]byte(k1), []byte("v"))
			b.Put([]byte(k2), []byte("v"))
			err := db.Write(ctx, b)
			if err == nil {
				ack(k1, k2)
			}
			return err
		})
		loop("get", func(i int) error {
			_, err := db.Get(ctx, []byte(fmt.Sprintf("seed%03d", i%100)))
			return err
		})
		loop("delete", func(i int) error {
			return db.Delete(ctx, []byte(fmt.Sprintf("never-written-%d-%d", g, i)))
		})
		loop("iterator", func(i int) error {
			it, err := db.NewIterator(ctx, &IterOptions{Start: []byte("seed")})
			if err != nil {
				return err
			}
			for it.Next() {
			}
			return it.Close()
		})
		loop("snapshot", func(i int) error {
			snap, err := db.NewSnapshot()
			if err != nil {
				return err
			}
			_, getErr := snap.Get(ctx, []byte("seed000"))
			if err := snap.Close(); err != nil {
				return fmt.Errorf("snapshot Close: %w", err)
			}
			return getErr
		})
		loop("stats", func(i int) error {
			_, err := db.Stats()
			return err
		})
		loop("flush", func(i int) error {
			return db.Flush(ctx)
		})
	}
	// Long-lived handles open across Close.
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}

	started.Wait() // every loop has completed at least one call
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	closeReturned.Store(true)
	wg.Wait()
	close(results)
	counts := map[string]int{}
	for r := range results {
		if !errors.Is(r.err, ErrClosed) {
			t.Errorf("%s racing Close failed with %v, want ErrClosed", r.op, r.err)
		}
		counts[r.op]++
	}
	if len(counts) != 8 {
		t.Errorf("loops that ended with ErrClosed: %v; want all 8 kinds", counts)
	}
	for it.Next() {
	}
	if !errors.Is(it.Err(), ErrClosed) {
		t.Errorf("iterator open across Close: Err %v, want ErrClosed", it.Err())
	}
	if _, err := snap.Get(ctx, []byte("seed000")); !errors.Is(err, ErrClosed) {
		t.Errorf("snapshot open across Close: Get %v, want ErrClosed", err)
	}
	snap.Close()

	reopened, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer reopened.Close()
	ackMu.Lock()
	defer ackMu.Unlock()
	for _, k := range acked {
		wantValue(t, reopened, k, "v")
	}
	t.Logf("%d acknowledged writes survived Close; loops ended: %v", len(acked), counts)
}

// Concurrent use of one snapshot while another goroutine closes it: each Get returns the
// snapshot's value or ErrClosed.
func TestSnapshotClosedWhileInUse(t *testing.T) {
	db := openTest(t, nil)
	mustPut(t, db, "k", "old")
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k", "new")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	started := make(chan struct{}, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				v, err := snap.Get(ctx, []byte("k"))
				if i == 0 {
					started <- struct{}{}
				}
				switch {
				case errors.Is(err, ErrClosed):
					return
				case err != nil || string(v) != "old":
					errs <- fmt.Errorf("snapshot Get = %q, %v; want \"old\" or ErrClosed", v, err)
					return
				}
			}
		}()
	}
	for range 8 {
		<-started
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s, err := db.Stats(); err != nil || s.Snapshots != 0 {
		t.Fatalf("after Close: %d snapshots (err %v)", s.Snapshots, err)
	}
}

// Keys are 1 to MaxKeySize bytes (package doc, ErrInvalidArgument): a nil or empty key fails
// every operation that takes one, including in a batch, where it fails the whole Write. Values
// may be empty or nil and read back as empty, non-nil slices. Empty or nil range bounds mean
// unbounded.
func TestEmptyKeysAndValues(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for _, key := range [][]byte{nil, {}} {
		name := fmt.Sprintf("%#v", key)
		_, getErr := db.Get(ctx, key)
		_, snapErr := snap.Get(ctx, key)
		bp := NewBatch()
		bp.Put(key, []byte("v"))
		bd := NewBatch()
		bd.Delete(key)
		for op, err := range map[string]error{
			"put":             db.Put(ctx, key, []byte("v")),
			"get":             getErr,
			"delete":          db.Delete(ctx, key),
			"snapshot get":    snapErr,
			"batch put":       db.Write(ctx, bp),
			"batch delete":    db.Write(ctx, bd),
			"put, nil value":  db.Put(ctx, key, nil),
			"put, both empty": db.Put(ctx, key, []byte{}),
		} {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("%s with key %s: %v, want ErrInvalidArgument", op, name, err)
			}
		}
	}
	if s, err := db.Stats(); err != nil || s.BatchesWritten != 0 {
		t.Fatalf("rejected operations wrote %d batches (err %v)", s.BatchesWritten, err)
	}

	// Nil and empty values, directly and in a batch; a single zero byte is a valid key.
	if err := db.Put(ctx, []byte("nil-value"), nil); err != nil {
		t.Fatal(err)
	}
	b := NewBatch()
	b.Put([]byte("batch-nil-value"), nil)
	b.Put([]byte{0}, []byte{})
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"nil-value", "batch-nil-value", "\x00"} {
		v, err := db.Get(ctx, []byte(k))
		if err != nil || v == nil || len(v) != 0 {
			t.Errorf("get %q = %#v, %v; want an empty, non-nil value", k, v, err)
		}
	}
	all := []kv{{"\x00", ""}, {"batch-nil-value", ""}, {"nil-value", ""}}
	for _, opts := range []*IterOptions{nil, {}, {Start: []byte{}, End: []byte{}}, {Start: []byte{}, Reverse: true}} {
		want := all
		if opts != nil && opts.Reverse {
			want = slices.Clone(all)
			slices.Reverse(want)
		}
		if got := collect(t, db, opts); !slices.Equal(got, want) {
			t.Errorf("iterator with empty bounds %+v: %q, want %q", opts, got, want)
		}
	}
}

// Oversized keys, values and bounds fail with ErrInvalidArgument wherever they enter, batches
// included (TestInvalidArguments covers the direct Put and Get and an iterator's start).
func TestOversizedArgumentsEverywhere(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	bigKey := make([]byte, MaxKeySize+1)
	bigValue := make([]byte, MaxValueSize+1)

	_, snapGetErr := snap.Get(ctx, bigKey)
	_, endErr := db.NewIterator(ctx, &IterOptions{End: bigKey})
	_, snapIterErr := snap.NewIterator(ctx, &IterOptions{Start: bigKey})
	batchKey := NewBatch()
	batchKey.Put(bigKey, nil)
	batchDelete := NewBatch()
	batchDelete.Delete(bigKey)
	batchValue := NewBatch()
	batchValue.Put([]byte("k"), bigValue)
	for op, err := range map[string]error{
		"delete":                    db.Delete(ctx, bigKey),
		"snapshot get":              snapGetErr,
		"iterator end bound":        endErr,
		"snapshot iterator start":   snapIterErr,
		"compact end bound":         db.Compact(ctx, nil, bigKey),
		"batch put of a big key":    db.Write(ctx, batchKey),
		"batch delete of a big key": db.Write(ctx, batchDelete),
		"batch put of a big value":  db.Write(ctx, batchValue),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", op, err)
		}
	}

	// The largest value is accepted.
	if err := db.Put(ctx, []byte("max"), bigValue[:MaxValueSize]); err != nil {
		t.Fatalf("value of MaxValueSize: %v", err)
	}
}

// A batch over MaxBatchSize fails at the operation that crosses it, remembers that, ignores
// later operations and writes nothing; after Reset it works again. It builds about 192 MiB of
// batch, so -short skips it.
func TestBatchOverMaxBatchSize(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping a batch of MaxBatchSize bytes")
	}
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	maxValue := make([]byte, MaxValueSize)
	b := NewBatch()
	ops := 0
	for b.Len() == ops && ops <= MaxBatchSize/MaxValueSize {
		b.Put([]byte(fmt.Sprintf("part%d", ops)), maxValue)
		ops++
	}
	wantOps := MaxBatchSize / (MaxValueSize + 9 + len("part0"))
	if b.Len() != wantOps {
		t.Fatalf("batch accepted %d values of MaxValueSize bytes, want %d", b.Len(), wantOps)
	}
	b.Put([]byte("small"), []byte("v")) // ignored: the batch already failed
	if b.Len() != wantOps {
		t.Fatalf("a failed batch accepted another operation: Len %d", b.Len())
	}
	if err := db.Write(ctx, b); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Write of an oversized batch: %v, want ErrInvalidArgument", err)
	}
	wantNotFound(t, db, "part0")
	wantNotFound(t, db, "small")
	b.Reset()
	b.Put([]byte("small"), []byte("v"))
	if err := db.Write(ctx, b); err != nil {
		t.Fatalf("Write after Reset: %v", err)
	}
	wantValue(t, db, "small", "v")
}

// A nil context is a programming error (the context package panics on a nil parent too): every
// method that takes a ctx panics instead of returning an error, today with a plain nil
// dereference. It happens before anything reaches the engine, so the database keeps working and
// holds no leaked request or handle.
func TestNilContextPanicsBeforeReachingTheEngine(t *testing.T) {
	db := openTest(t, nil)
	mustPut(t, db, "k", "v")
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var nilCtx context.Context
	batch := NewBatch()
	batch.Put([]byte("b"), []byte("v"))
	calls := map[string]func(){
		"Put":                  func() { db.Put(nilCtx, []byte("k"), []byte("v2")) },
		"Get":                  func() { db.Get(nilCtx, []byte("k")) },
		"Delete":               func() { db.Delete(nilCtx, []byte("k")) },
		"Write":                func() { db.Write(nilCtx, batch) },
		"Write of an empty":    func() { db.Write(nilCtx, NewBatch()) },
		"NewIterator":          func() { db.NewIterator(nilCtx, nil) },
		"Flush":                func() { db.Flush(nilCtx) },
		"Compact":              func() { db.Compact(nilCtx, nil, nil) },
		"Checkpoint":           func() { db.Checkpoint(nilCtx, filepath.Join(t.TempDir(), "cp")) },
		"Snapshot.Get":         func() { snap.Get(nilCtx, []byte("k")) },
		"Snapshot.NewIterator": func() { snap.NewIterator(nilCtx, nil) },
	}
	for name, call := range calls {
		if !didPanic(call) {
			t.Errorf("%s with a nil ctx did not panic", name)
		}
	}
	// The engine saw none of them.
	wantValue(t, db, "k", "v")
	wantNotFound(t, db, "b")
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenIterators != 0 || s.Snapshots != 1 || s.BatchesWritten != 1 {
		t.Fatalf("after nil-ctx calls: %d iterators, %d snapshots, %d batches; want 0, 1, 1", s.OpenIterators, s.Snapshots, s.BatchesWritten)
	}
}

// didPanic reports whether f panicked.
func didPanic(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

// DB.Write neither consumes nor changes a batch: written again, it applies the same operations
// again; operations added after a Write go out with the earlier ones on the next Write; Reset
// starts afresh (DB.Write's doc: "may be reused (after Reset)"). Put copies its arguments, so
// the caller may reuse its buffers at once.
func TestBatchReusedAfterWrite(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	key, value := []byte("k1"), []byte("v1")
	b := NewBatch()
	b.Put(key, value)
	copy(key, "XX") // the batch holds its own copy
	copy(value, "YY")
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, "k1", "v1")
	if b.Len() != 1 {
		t.Fatalf("Len after Write = %d, want 1", b.Len())
	}

	mustPut(t, db, "k1", "changed in between")
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, "k1", "v1")

	b.Put([]byte("k2"), []byte("v2"))
	mustPut(t, db, "k1", "changed again")
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, "k1", "v1")
	wantValue(t, db, "k2", "v2")

	b.Reset()
	b.Delete([]byte("k2"))
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	wantValue(t, db, "k1", "v1")
	wantNotFound(t, db, "k2")
	if s, err := db.Stats(); err != nil || s.BatchesWritten != 6 {
		t.Fatalf("BatchesWritten = %d (err %v), want 6", s.BatchesWritten, err)
	}
}

// Iterator.Key and Value are valid until the next Next (their docs) and belong to the
// iterator. Whatever a caller does with them meanwhile stays local: appending cannot overwrite
// the entry that follows (their capacity ends with them), and writing into them changes
// neither the database nor other entries. After the last entry both are nil.
func TestIteratorKeyAndValueOwnership(t *testing.T) {
	db := openTest(t, nil)
	for i := range 5 {
		mustPut(t, db, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	it, err := db.NewIterator(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []kv
	for it.Next() {
		k, v := it.Key(), it.Value()
		got = append(got, kv{string(k), string(v)})
		_ = append(k, "-appended-over-the-next-entry"...)
		_ = append(v, "-appended-over-the-next-entry"...)
		copy(v, "XX")
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	want := []kv{{"k0", "v0"}, {"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"}, {"k4", "v4"}}
	if !slices.Equal(got, want) {
		t.Fatalf("entries seen while appending to and writing into Key and Value: %v, want %v", got, want)
	}
	if it.Key() != nil || it.Value() != nil {
		t.Fatalf("after the last entry: Key %q, Value %q; want nil", it.Key(), it.Value())
	}
	if got := collect(t, db, nil); !slices.Equal(got, want) {
		t.Fatalf("writing into Value changed the database: %v", got)
	}
}

// TestZeroValueHandlesFailAsClosedOnes: a DB, Snapshot, Iterator, Tx or TxIterator declared
// but never opened fails every call with ErrClosed, as a closed one does, instead of
// dereferencing nil; Close (Discard) on one is a no-op.
func TestZeroValueHandlesFailAsClosedOnes(t *testing.T) {
	ctx := context.Background()
	var db DB
	if _, err := db.Get(ctx, []byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("zero DB Get: %v, want ErrClosed", err)
	}
	if err := db.Put(ctx, []byte("k"), []byte("v")); !errors.Is(err, ErrClosed) {
		t.Errorf("zero DB Put: %v, want ErrClosed", err)
	}
	if _, err := db.NewSnapshot(); !errors.Is(err, ErrClosed) {
		t.Errorf("zero DB NewSnapshot: %v, want ErrClosed", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("zero DB Close: %v", err)
	}

	var snap Snapshot
	if _, err := snap.Get(ctx, []byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Snapshot Get: %v, want ErrClosed", err)
	}
	if _, err := snap.GetAppend(ctx, nil, []byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Snapshot GetAppend: %v, want ErrClosed", err)
	}
	if _, err := snap.NewIterator(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Snapshot NewIterator: %v, want ErrClosed", err)
	}
	for k, v := range snap.All(ctx, nil) {
		t.Errorf("zero Snapshot All yielded %q=%q", k, v)
	}
	if err := snap.Close(); err != nil {
		t.Errorf("zero Snapshot Close: %v", err)
	}

	var it Iterator
	if it.Next() {
		t.Error("zero Iterator Next returned true")
	}
	if !errors.Is(it.Err(), ErrClosed) {
		t.Errorf("zero Iterator Err: %v, want ErrClosed", it.Err())
	}
	if it.Key() != nil || it.Value() != nil {
		t.Error("zero Iterator has a key or value")
	}
	if err := it.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Iterator Close: %v, want its Err (ErrClosed)", err)
	}

	var tx Tx
	if _, err := tx.Get(ctx, []byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Tx Get: %v, want ErrClosed", err)
	}
	if err := tx.Put([]byte("k"), []byte("v")); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Tx Put: %v, want ErrClosed", err)
	}
	if _, err := tx.NewIterator(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Tx NewIterator: %v, want ErrClosed", err)
	}
	if err := tx.Commit(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("zero Tx Commit: %v, want ErrClosed", err)
	}
	tx.Discard()

	var txIt TxIterator
	if txIt.Next() || txIt.SeekGE([]byte("k")) || txIt.Valid() {
		t.Error("zero TxIterator moved")
	}
	txIt.SetBounds(nil, []byte("k"))
	if err := txIt.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("zero TxIterator Close: %v, want its Err (ErrClosed)", err)
	}
}
