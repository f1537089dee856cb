package strata

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

func TestAllRangesOverEntries(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	for i := range 300 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	var err error
	var keys []string
	for k, v := range db.All(ctx, &IterOptions{Start: []byte("k100"), End: []byte("k200"), Err: &err}) {
		if i, err := strconv.Atoi(string(v)); err != nil || fmt.Sprintf("k%03d", i) != string(k) {
			t.Fatalf("entry %q = %q", k, v)
		}
		keys = append(keys, string(k))
	}
	if err != nil || len(keys) != 100 || keys[0] != "k100" || keys[99] != "k199" {
		t.Fatalf("range over [k100, k200) gave %d keys (%v...), err %v", len(keys), keys[:min(3, len(keys))], err)
	}

	// Reverse, a nil opts, and an early break, which closes the iterator.
	n := 0
	for k := range db.All(ctx, &IterOptions{Reverse: true}) {
		if n == 0 && string(k) != "k299" {
			t.Fatalf("first key in reverse = %q", k)
		}
		if n++; n == 5 {
			break
		}
	}
	total := 0
	for range db.All(ctx, nil) {
		total++
	}
	if total != 300 {
		t.Fatalf("All(nil) gave %d entries, want 300", total)
	}
	if s, err := db.Stats(); err != nil || s.OpenIterators != 0 {
		t.Fatalf("after the loops: %d open iterators (err %v); a loop must close its iterator", s.OpenIterators, err)
	}
}

func TestAllOnASnapshotAndItsErrors(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	mustPut(t, db, "a", "1")
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "b", "2")
	count := 0
	for range snap.All(ctx, nil) {
		count++
	}
	if count != 1 {
		t.Fatalf("snapshot loop saw %d entries, want the 1 written before it", count)
	}
	snap.Close()

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = nil
	for range db.All(cancelled, &IterOptions{Err: &err}) {
		t.Fatal("a loop with a cancelled context yielded an entry")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("loop error = %v, want context.Canceled", err)
	}
	db.Close()
	err = nil
	for range db.All(ctx, &IterOptions{Err: &err}) {
		t.Fatal("a loop over a closed database yielded an entry")
	}
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("loop error after Close = %v, want ErrClosed", err)
	}
}
