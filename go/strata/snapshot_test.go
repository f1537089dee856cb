package strata

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// snapshotFixture writes k000..k099 = "old", takes a snapshot, then changes the database under
// it: an overwrite, a delete and a new key. It returns the snapshot and the model it must show.
func snapshotFixture(t *testing.T, db *DB) (*Snapshot, map[string]string) {
	t.Helper()
	model := map[string]string{}
	for i := range 100 {
		k := fmt.Sprintf("k%03d", i)
		mustPut(t, db, k, "old")
		model[k] = "old"
	}
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Close() })
	mustPut(t, db, "k050", "new")
	mustPut(t, db, "k999", "new")
	if err := db.Delete(context.Background(), []byte("k080")); err != nil {
		t.Fatal(err)
	}
	return snap, model
}

func collectIter(t *testing.T, it *Iterator, err error) []kv {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []kv
	for it.Next() {
		out = append(out, kv{string(it.Key()), string(it.Value())})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantSnapshotState checks point reads and a full scan of snap against model.
func wantSnapshotState(t *testing.T, snap *Snapshot, model map[string]string) {
	t.Helper()
	ctx := context.Background()
	for _, k := range []string{"k050", "k080", "k000"} {
		if v, err := snap.Get(ctx, []byte(k)); err != nil || string(v) != model[k] {
			t.Fatalf("snapshot get %q = %q, %v; want %q", k, v, err, model[k])
		}
	}
	if v, err := snap.Get(ctx, []byte("k999")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("snapshot get of a key written after it = %q, %v; want ErrNotFound", v, err)
	}
	it, err := snap.NewIterator(ctx, nil)
	if got, want := collectIter(t, it, err), modelRange(model, "", "", false); !slices.Equal(got, want) {
		t.Fatalf("snapshot scan: %d entries, want %d", len(got), len(want))
	}
	it, err = snap.NewIterator(ctx, &IterOptions{Start: []byte("k075"), End: []byte("k085"), Reverse: true})
	if got, want := collectIter(t, it, err), modelRange(model, "k075", "k085", true); !slices.Equal(got, want) {
		t.Fatalf("bounded reverse snapshot scan: got %v, want %v", got, want)
	}
}

func TestSnapshotIsolation(t *testing.T) {
	db := openTest(t, nil)
	snap, model := snapshotFixture(t, db)
	wantSnapshotState(t, snap, model)
	// The latest state has moved on.
	wantValue(t, db, "k050", "new")
	wantValue(t, db, "k999", "new")
	wantNotFound(t, db, "k080")
}

// A snapshot survives its versions moving to tables and being compacted: compaction keeps the
// versions a live snapshot can see.
func TestSnapshotSurvivesFlushAndCompaction(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	snap, model := snapshotFixture(t, db)
	ctx := context.Background()
	if err := db.Compact(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	wantSnapshotState(t, snap, model)
	wantNotFound(t, db, "k080")
}

func TestSnapshotIteratorOutlivesTheSnapshot(t *testing.T) {
	db := openTest(t, nil)
	snap, model := snapshotFixture(t, db)
	ctx := context.Background()
	it, err := snap.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k010", "after the snapshot closed")
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Snapshots != 1 || s.OpenIterators != 1 {
		t.Fatalf("with the snapshot closed and its iterator open: %d snapshots, %d iterators; want 1 and 1", s.Snapshots, s.OpenIterators)
	}
	if got, want := collectIter(t, it, nil), modelRange(model, "", "", false); !slices.Equal(got, want) {
		t.Fatalf("iterator of a closed snapshot: %d entries, want %d", len(got), len(want))
	}
	if s, err = db.Stats(); err != nil || s.Snapshots != 0 || s.OpenIterators != 0 {
		t.Fatalf("after closing both: %d snapshots, %d iterators (err %v); want 0", s.Snapshots, s.OpenIterators, err)
	}
}

func TestSnapshotAfterClose(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k", "v")
	ctx := context.Background()
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, getErr := snap.Get(ctx, []byte("k"))
	_, iterErr := snap.NewIterator(ctx, nil)
	for name, err := range map[string]error{"get": getErr, "new iterator": iterErr} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("snapshot %s after Close: %v, want ErrClosed", name, err)
		}
	}
	if s, err := db.Stats(); err != nil || s.Snapshots != 0 {
		t.Fatalf("after Close: %d snapshots (err %v), want 0", s.Snapshots, err)
	}

	// Closing the database closes its snapshots.
	open, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := open.Get(ctx, []byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("snapshot get after the database closed: %v, want ErrClosed", err)
	}
	if err := open.Close(); err != nil {
		t.Errorf("snapshot Close after the database closed: %v", err)
	}
	if _, err := db.NewSnapshot(); !errors.Is(err, ErrClosed) {
		t.Errorf("NewSnapshot after Close: %v, want ErrClosed", err)
	}
}

func TestSnapshotHonoursContext(t *testing.T) {
	db := openTest(t, nil)
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := snap.Get(ctx, []byte("k")); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled ctx: %v", err)
	}
	if _, err := snap.NewIterator(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("NewIterator with a cancelled ctx: %v", err)
	}
	if _, err := snap.Get(context.Background(), nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Get of an empty key: %v, want ErrInvalidArgument", err)
	}
}
