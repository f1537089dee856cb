package strata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Range deletes (DB.DeleteRange, Batch.DeleteRange) against a map model: what they hide, what
// they leave, and that a tombstone keeps hiding the same keys wherever flushes, compactions
// and reopens move it and the keys it covers.

// rangeKeys are keys on both sides of and inside [rangeStart, rangeEnd): the start itself,
// keys that extend it, keys just below it and the end itself, which must all be told apart.
var rangeKeys = []string{"a", "az", "b", "b\x00", "ba", "c", "cz", "d", "d\x00", "e"}

const rangeStart, rangeEnd = "b", "d"

// inRange reports whether k is in [rangeStart, rangeEnd).
func inRange(k string) bool { return k >= rangeStart && k < rangeEnd }

// fillRangeKeys puts every rangeKeys key with a value naming it and returns the model.
func fillRangeKeys(t *testing.T, db *DB) map[string]string {
	t.Helper()
	model := map[string]string{}
	for _, k := range rangeKeys {
		mustPut(t, db, k, "v-"+k)
		model[k] = "v-" + k
	}
	return model
}

// deleteFromModel removes the keys of model in [start, end), as a range delete does.
// rangeDeleted opens a database holding rangeKeys with [rangeStart, rangeEnd) deleted, and
// its model.
func rangeDeleted(t *testing.T) (*DB, map[string]string) {
	t.Helper()
	db := openTest(t, nil)
	model := fillRangeKeys(t, db)
	if err := db.DeleteRange(context.Background(), []byte(rangeStart), []byte(rangeEnd)); err != nil {
		t.Fatal(err)
	}
	deleteFromModel(model, rangeStart, rangeEnd)
	return db, model
}

func deleteFromModel(model map[string]string, start, end string) {
	for k := range model {
		if k >= start && k < end {
			delete(model, k)
		}
	}
}

// wantRangeModel checks every rangeKeys key with Get and the whole database in both directions
// against model.
func wantRangeModel(t *testing.T, db *DB, model map[string]string, when string) {
	t.Helper()
	for _, k := range rangeKeys {
		v, err := db.Get(context.Background(), []byte(k))
		want, ok := model[k]
		switch {
		case ok && (err != nil || string(v) != want):
			t.Fatalf("%s: get %q = %q, %v; want %q", when, k, v, err, want)
		case !ok && !errors.Is(err, ErrNotFound):
			t.Fatalf("%s: get %q = %q, %v; want ErrNotFound", when, k, v, err)
		}
	}
	for _, reverse := range []bool{false, true} {
		got := collect(t, db, &IterOptions{Reverse: reverse})
		if want := modelRange(model, "", "", reverse); !slices.Equal(got, want) {
			t.Fatalf("%s: scan (reverse %v):\n got %v\nwant %v", when, reverse, got, want)
		}
	}
}

func TestDeleteRangeHidesExactlyTheRange(t *testing.T) {
	db := openTest(t, nil)
	model := fillRangeKeys(t, db)
	if err := db.DeleteRange(context.Background(), []byte(rangeStart), []byte(rangeEnd)); err != nil {
		t.Fatal(err)
	}
	deleteFromModel(model, rangeStart, rangeEnd)
	if len(model) != 5 {
		t.Fatalf("the model kept %d keys, want a, az, d, d\\x00, e", len(model))
	}
	wantRangeModel(t, db, model, "after DeleteRange")
	// Bounded scans that start or end inside the range.
	for _, b := range [][2]string{{"b", ""}, {"", "c"}, {"ba", "d\x00"}, {"az", "b\x00"}} {
		for _, reverse := range []bool{false, true} {
			got := collect(t, db, &IterOptions{Start: []byte(b[0]), End: []byte(b[1]), Reverse: reverse})
			if want := modelRange(model, b[0], b[1], reverse); !slices.Equal(got, want) {
				t.Fatalf("scan [%q, %q) reverse %v:\n got %v\nwant %v", b[0], b[1], reverse, got, want)
			}
		}
	}
}

func TestDeleteRangeOfEqualBoundsDeletesNothing(t *testing.T) {
	db := openTest(t, nil)
	model := fillRangeKeys(t, db)
	if err := db.DeleteRange(context.Background(), []byte("c"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	wantRangeModel(t, db, model, "after DeleteRange(c, c)")
}

func TestPutAfterDeleteRangeIsVisible(t *testing.T) {
	db, model := rangeDeleted(t)
	ctx := context.Background()
	for _, k := range []string{"b", "c"} {
		mustPut(t, db, k, "again-"+k)
		model[k] = "again-" + k
	}
	wantRangeModel(t, db, model, "after puts into a deleted range")
	// And after the tombstone and the new puts reach tables.
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wantRangeModel(t, db, model, "after puts into a deleted range and a flush")
}

func TestSnapshotBeforeDeleteRangeSeesTheKeys(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	before := fillRangeKeys(t, db)
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := db.DeleteRange(ctx, []byte(rangeStart), []byte(rangeEnd)); err != nil {
		t.Fatal(err)
	}
	after := maps.Clone(before)
	deleteFromModel(after, rangeStart, rangeEnd)
	wantRangeModel(t, db, after, "the database after DeleteRange")
	// The snapshot reads as before, also once the tombstone is flushed and compacted (which
	// must keep what the snapshot still needs).
	for _, step := range []string{"memtable", "flush", "compact"} {
		switch step {
		case "flush":
			err = db.Flush(ctx)
		case "compact":
			err = db.Compact(ctx, nil, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range rangeKeys {
			if v, err := snap.Get(ctx, []byte(k)); err != nil || string(v) != before[k] {
				t.Fatalf("%s: snapshot get %q = %q, %v; want %q", step, k, v, err, before[k])
			}
		}
		for _, reverse := range []bool{false, true} {
			it, err := snap.NewIterator(ctx, &IterOptions{Reverse: reverse})
			if got, want := collectIter(t, it, err), modelRange(before, "", "", reverse); !slices.Equal(got, want) {
				t.Fatalf("%s: snapshot scan (reverse %v):\n got %v\nwant %v", step, reverse, got, want)
			}
		}
		wantRangeModel(t, db, after, step+": the database")
	}
}

func TestPositionedIteratorSkipsADeletedRange(t *testing.T) {
	db, model := rangeDeleted(t)
	ctx := context.Background()
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	at := func(what string, ok bool, want string) {
		t.Helper()
		if !ok || string(it.Key()) != want {
			t.Fatalf("%s: valid %v at %q (err %v), want %q", what, ok, it.Key(), it.Err(), want)
		}
	}
	at("SeekGE(b), the start", it.SeekGE([]byte("b")), "d")
	at("SeekGE(c), inside", it.SeekGE([]byte("c")), "d")
	at("Prev from d, into the range", it.Prev(), "az")
	at("Next from az, into the range", it.Next(), "d")
	at("SeekLT(d), the end", it.SeekLT([]byte("d")), "az")
	at("SeekLT(cz), inside", it.SeekLT([]byte("cz")), "az")
	at("SeekLT(d\\x00)", it.SeekLT([]byte("d\x00")), "d")
	at("Prev from d", it.Prev(), "az")
	// Every kind of move, from many positions, against the model, on a fresh iterator.
	it, err = db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	m := newPosModel(model, "", "")
	for i, k := range []string{"b", "ba", "c", "d", "a", "e", "b\x00"} {
		for op := range 20 {
			if did, err := posMove(it, m, op+i, func() string { return k }, func() string { return "" }); err != nil {
				t.Fatalf("%s: %v", did, err)
			}
		}
	}
}

// TestDeleteRangeAcrossFlushCompactionAndReopen: the keys start in tables or in the memtable,
// the tombstone is written over them, and then each of flush, compaction and reopen moves it;
// after every step the database must equal the model, and the keys written after the
// tombstone must stay.
func TestDeleteRangeAcrossFlushCompactionAndReopen(t *testing.T) {
	for _, keysFlushed := range []bool{false, true} {
		t.Run(fmt.Sprintf("keys flushed %v", keysFlushed), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			db, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { db.Close() }()
			model := fillRangeKeys(t, db)
			if keysFlushed {
				if err := db.Compact(ctx, nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.DeleteRange(ctx, []byte(rangeStart), []byte(rangeEnd)); err != nil {
				t.Fatal(err)
			}
			deleteFromModel(model, rangeStart, rangeEnd)
			mustPut(t, db, "ba", "after")
			model["ba"] = "after"
			wantRangeModel(t, db, model, "after DeleteRange")
			for _, step := range []string{"flush", "reopen", "compact", "reopen"} {
				switch step {
				case "flush":
					err = db.Flush(ctx)
				case "compact":
					err = db.Compact(ctx, nil, nil)
				case "reopen":
					if err = db.Close(); err == nil {
						db, err = Open(dir, nil)
					}
				}
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				wantRangeModel(t, db, model, "after "+step)
			}
		})
	}
}

// TestDeleteRangeInABatch: a batch applies its operations in order, so a range delete hides
// what the batch put in the range before it, and not what it put there after.
func TestDeleteRangeInABatch(t *testing.T) {
	db := openTest(t, nil)
	model := fillRangeKeys(t, db)
	b := NewBatch()
	b.Put([]byte("bb"), []byte("before"))
	b.Put([]byte("a"), []byte("outside"))
	b.DeleteRange([]byte(rangeStart), []byte(rangeEnd))
	b.Put([]byte("c"), []byte("after"))
	if b.Len() != 4 {
		t.Fatalf("batch Len = %d, want 4", b.Len())
	}
	if err := db.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	model["a"] = "outside"
	deleteFromModel(model, rangeStart, rangeEnd)
	model["c"] = "after"
	wantRangeModel(t, db, model, "after the batch")
	wantNotFound(t, db, "bb")
}

func TestDeleteRangeRejectsInvalidRanges(t *testing.T) {
	db := openTest(t, nil)
	model := fillRangeKeys(t, db)
	ctx := context.Background()
	big := make([]byte, MaxKeySize+1)
	for name, r := range map[string][2][]byte{
		"start after end":   {[]byte("d"), []byte("b")},
		"end a prefix":      {[]byte("ba"), []byte("b")},
		"nil start":         {nil, []byte("d")},
		"empty end":         {[]byte("b"), {}},
		"oversized start":   {big, big},
		"oversized end":     {[]byte("b"), big},
		"both empty":        {nil, nil},
		"start after a nil": {[]byte("b"), nil},
	} {
		err := db.DeleteRange(ctx, r[0], r[1])
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: DeleteRange = %v, want ErrInvalidArgument", name, err)
		}
		b := NewBatch()
		b.Put([]byte("x"), []byte("y"))
		b.DeleteRange(r[0], r[1])
		b.Put([]byte("y"), []byte("z"))
		if b.Len() != 1 {
			t.Errorf("%s: batch Len = %d after the invalid range delete, want 1", name, b.Len())
		}
		if err := db.Write(ctx, b); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "batch operation 1") {
			t.Errorf("%s: Write = %v, want ErrInvalidArgument naming batch operation 1", name, err)
		}
	}
	if err := db.DeleteRange(ctx, []byte("d"), []byte("b")); err == nil || !strings.Contains(err.Error(), "sorts after its end") {
		t.Errorf("an inverted range's error says %v, want it to say the start sorts after the end", err)
	}
	wantRangeModel(t, db, model, "after the refused range deletes")
}

// TestEngineRejectsAnInvertedRange sends strata_db_write a range delete whose start sorts
// after its end, past Go's own check: the engine must refuse it and change nothing.
func TestEngineRejectsAnInvertedRange(t *testing.T) {
	db := openTest(t, nil)
	model := fillRangeKeys(t, db)
	b := NewBatch()
	b.DeleteRange([]byte("b"), []byte("d"))
	// Swap the bounds in the encoding: kind, 4-byte length, "b", 4-byte length, "d".
	if len(b.data) != 11 || b.data[5] != 'b' || b.data[10] != 'd' {
		t.Fatalf("unexpected encoding %q", b.data)
	}
	b.data[5], b.data[10] = 'd', 'b'
	for name, opts := range map[string][]WriteOptions{"queued": nil, "synced": {Sync}} {
		if err := db.Write(context.Background(), b, opts...); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%s: Write of an inverted range delete = %v, want ErrInvalidArgument", name, err)
		}
	}
	wantRangeModel(t, db, model, "after the refused batch")
}

func TestDeleteRangeOnClosedReadOnlyAndCancelled(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fillRangeKeys(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteRange(ctx, []byte("b"), []byte("d")); !errors.Is(err, ErrClosed) {
		t.Fatalf("DeleteRange after Close = %v, want ErrClosed", err)
	}
	r, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]WriteOptions{nil, {Sync}} {
		if err := r.DeleteRange(ctx, []byte("b"), []byte("d"), opts...); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("DeleteRange %v on a read-only handle = %v, want ErrReadOnly", opts, err)
		}
	}
	wantValue(t, r, "c", "v-c")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.DeleteRange(cancelled, []byte("b"), []byte("d")); !errors.Is(err, context.Canceled) {
		t.Fatalf("DeleteRange with a cancelled ctx = %v, want context.Canceled", err)
	}
	// strata.Sync in a NoSync database.
	if err := db.DeleteRange(ctx, []byte("b"), []byte("d"), Sync); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, db, "c")
	wantValue(t, db, "d", "v-d")
}

// TestCompactReclaimsADeletedRange: after a range delete of most of the data, compacting the
// range drops the deleted entries, so the tables' size over the range falls to a fraction.
func TestCompactReclaimsADeletedRange(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	// Random values, so compression cannot shrink the tables to nothing.
	rng := rand.New(rand.NewPCG(1, 2))
	values := map[string][]byte{}
	b := NewBatch()
	const n = 20000
	for i := range n {
		k, v := fmt.Sprintf("key%06d", i), make([]byte, 200)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		values[k] = v
		b.Put([]byte(k), v)
	}
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	start, end := []byte("key001000"), []byte("key019000")
	before, err := db.EstimateDiskUsage(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if before < n*200/2 {
		t.Fatalf("%d keys of 200 bytes use only %d bytes on disk: the test measures nothing", n, before)
	}
	if err := db.DeleteRange(ctx, start, end); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	flushed, err := db.EstimateDiskUsage(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if flushed < before {
		t.Fatalf("a flushed range delete shrank the tables from %d to %d bytes before any compaction", before, flushed)
	}
	if err := db.Compact(ctx, start, end); err != nil {
		t.Fatal(err)
	}
	after, err := db.EstimateDiskUsage(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2,000 of 20,000 keys are left: a tenth, with room for the tables a compaction of a
	// range leaves around its edges.
	if after > before/5 {
		t.Fatalf("compacting the deleted range left %d of %d bytes, want at most a fifth", after, before)
	}
	wantValue(t, db, "key000999", string(values["key000999"]))
	wantNotFound(t, db, "key001000")
	wantNotFound(t, db, "key018999")
	wantValue(t, db, "key019000", string(values["key019000"]))
	if got := len(collect(t, db, nil)); got != 2000 {
		t.Fatalf("%d keys left after compaction, want 2000", got)
	}
}
