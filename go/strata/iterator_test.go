package strata

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

type kv struct{ k, v string }

func collect(t *testing.T, db *DB, opts *IterOptions) []kv {
	t.Helper()
	it, err := db.NewIterator(context.Background(), opts)
	return collectIter(t, it, err)
}

// modelRange is the reference: the model's entries in [start, end), in the asked direction.
func modelRange(model map[string]string, start, end string, reverse bool) []kv {
	var out []kv
	for k, v := range model {
		if (start == "" || k >= start) && (end == "" || k < end) {
			out = append(out, kv{k, v})
		}
	}
	slices.SortFunc(out, func(a, b kv) int {
		if reverse {
			a, b = b, a
		}
		return bytes.Compare([]byte(a.k), []byte(b.k))
	})
	return out
}

func TestIterationMatchesAModel(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{}
	for i := range 3000 {
		k := fmt.Sprintf("key%04d", rng.IntN(1500))
		if rng.IntN(4) == 0 {
			if err := db.Delete(ctx, []byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
			continue
		}
		v := fmt.Sprintf("v%d", i)
		mustPut(t, db, k, v)
		model[k] = v
	}
	bounds := [][2]string{{"", ""}, {"key0100", "key0900"}, {"key0500", ""}, {"", "key0003"}, {"key0700", "key0700"}, {"key0900", "key0100"}}
	for _, b := range bounds {
		for _, reverse := range []bool{false, true} {
			opts := &IterOptions{Start: []byte(b[0]), End: []byte(b[1]), Reverse: reverse}
			got := collect(t, db, opts)
			want := modelRange(model, b[0], b[1], reverse)
			if !slices.Equal(got, want) {
				t.Fatalf("bounds %q reverse=%v: got %d entries, want %d", b, reverse, len(got), len(want))
			}
		}
	}
}

func TestIteratorReadsASnapshot(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "old")
	}
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	// Writes after the iterator opened, including while it is mid-way, stay invisible to it.
	n := 0
	for it.Next() {
		if string(it.Value()) != "old" {
			t.Fatalf("iterator saw a later write at %q", it.Key())
		}
		if n == 10 {
			mustPut(t, db, "k050", "new")
			mustPut(t, db, "k999", "new")
			if err := db.Delete(ctx, []byte("k080")); err != nil {
				t.Fatal(err)
			}
		}
		n++
	}
	if it.Err() != nil || n != 100 {
		t.Fatalf("iterated %d entries, err %v; want 100", n, it.Err())
	}
	s, _ := db.Stats()
	if s.OpenIterators != 1 || s.Snapshots != 1 {
		t.Fatalf("stats while open: %d iterators, %d snapshots", s.OpenIterators, s.Snapshots)
	}
	it.Close()
	wantValue(t, db, "k050", "new")
}

func TestIteratorAbandonedHalfWayIsReleasedByClose(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	for i := range 500 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "v")
	}
	for range 50 {
		it, err := db.NewIterator(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		it.Next()
		it.Next()
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if it.Next() {
			t.Fatal("Next after Close returned true")
		}
	}
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenIterators != 0 || s.Snapshots != 0 {
		t.Fatalf("after Close: %d open iterators, %d snapshots", s.OpenIterators, s.Snapshots)
	}
}
