package strata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// reversedMoves is a Reverse iterator seen from the other side: its Prev walks up and its Next
// down, so posMove (whose model's next is the larger key) can drive it.
type reversedMoves struct{ positioned }

func (r reversedMoves) Next() bool { return r.positioned.Prev() }
func (r reversedMoves) Prev() bool { return r.positioned.Next() }

// TestTxIteratorMatchesAMergedModel: a transaction's random puts and deletes over a snapshot
// of 600 possible keys (which the database changes afterwards), iterated with random bounds,
// prefixes and directions, both as loops (NewIterator, All) and as positioned moves, against
// the snapshot's model merged with the transaction's writes. An iterator keeps the writes made
// before it opened, and the keys checked at Commit are exactly the keys iterators returned
// from the snapshot.
func TestTxIteratorMatchesAMergedModel(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, &Options{NoSync: true})
	rng := rand.New(rand.NewPCG(11, 12))
	key := func() string { return fmt.Sprintf("k%03d", rng.IntN(600)) }
	model := map[string]string{}
	for i := range 900 {
		k := key()
		if i%4 == 3 {
			if err := db.Delete(ctx, []byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
			continue
		}
		model[k] = fmt.Sprintf("snapshot %d", i)
		mustPut(t, db, k, model[k])
		if i == 450 {
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	tx, err := db.NewTransaction(true)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Discard()
	tx.Snapshot()       // takes the transaction's snapshot now, before its first read
	for i := range 50 { // later commits, which the transaction must not see
		mustPut(t, db, key(), fmt.Sprint("later ", i))
	}

	prefixes := []string{"k", "k1", "k2", "k05", "k59", "k6", "j"}
	randomOpts := func() *IterOptions {
		o := &IterOptions{Reverse: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			o.Start = []byte(key())
		}
		if rng.IntN(2) == 0 {
			o.End = []byte(key())
		}
		if rng.IntN(3) == 0 {
			o.Prefix = []byte(prefixes[rng.IntN(len(prefixes))])
		}
		return o
	}
	// want is the model's entries within o, in o's direction.
	want := func(model map[string]string, o *IterOptions) []kv {
		var out []kv
		for _, e := range modelRange(model, string(o.Start), string(o.End), o.Reverse) {
			if strings.HasPrefix(e.k, string(o.Prefix)) {
				out = append(out, e)
			}
		}
		return out
	}
	wantReads := map[string]struct{}{}
	// noteReturned records a key an iterator returned, reading writes as of its open.
	noteReturned := func(k string, own map[string]txWrite) {
		if _, wrote := own[k]; !wrote {
			wantReads[k] = struct{}{}
		}
	}
	collectTx := func(it *TxIterator, err error, own map[string]txWrite) []kv {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		var out []kv
		for it.Next() {
			out = append(out, kv{string(it.Key()), string(it.Value())})
			noteReturned(string(it.Key()), own)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	// write makes one random put or delete in the transaction and the model.
	write := func() {
		t.Helper()
		k := key()
		if rng.IntN(3) == 0 {
			if err := tx.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
			return
		}
		model[k] = fmt.Sprintf("tx %d", rng.IntN(1000))
		if err := tx.Put([]byte(k), []byte(model[k])); err != nil {
			t.Fatal(err)
		}
	}
	var (
		early      *TxIterator // opened a round ago: must still show that round's writes
		earlyOpts  *IterOptions
		earlyModel map[string]string
		earlyOwn   map[string]txWrite
	)
	for round := range 8 {
		for range 40 {
			write()
		}
		own := maps.Clone(tx.own)
		if early != nil {
			if got, w := collectTx(early, nil, earlyOwn), want(earlyModel, earlyOpts); !slices.Equal(got, w) {
				t.Fatalf("round %d: an iterator opened before the round's writes: %d entries, want %d", round, len(got), len(w))
			}
		}
		earlyOpts = randomOpts()
		if early, err = tx.NewIterator(ctx, earlyOpts); err != nil {
			t.Fatal(err)
		}
		earlyModel, earlyOwn = maps.Clone(model), own

		for range 10 {
			if rng.IntN(2) == 0 { // a single put or delete between iterators
				write()
				own = maps.Clone(tx.own)
			}
			o := randomOpts()
			w := want(model, o)
			it, err := tx.NewIterator(ctx, o)
			if got := collectTx(it, err, own); !slices.Equal(got, w) {
				t.Fatalf("round %d, %+v: got %d entries, want %d\ngot  %v\nwant %v", round, o, len(got), len(w), got, w)
			}
			var loopErr error
			o.Err = &loopErr
			var got []kv
			for k, v := range tx.All(ctx, o) {
				got = append(got, kv{string(k), string(v)})
				noteReturned(string(k), own)
			}
			if loopErr != nil || !slices.Equal(got, w) {
				t.Fatalf("round %d, All %+v: got %d entries (err %v), want %d", round, o, len(got), loopErr, len(w))
			}
		}

		// Positioned moves, with the bounds a prefix stands for, in either direction.
		o := randomOpts()
		it, err := tx.NewIterator(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Prefix) > 0 {
			o = prefixBounds(o)
		}
		m := newPosModel(model, string(o.Start), string(o.End))
		var p positioned = it
		if o.Reverse {
			p = reversedMoves{it}
		}
		randomBound := func() string {
			if rng.IntN(3) == 0 {
				return ""
			}
			return key()
		}
		var ops []string
		for step := range 400 {
			did, err := posMove(p, m, rng.IntN(20), key, randomBound)
			ops = append(ops, did)
			if err != nil {
				t.Fatalf("round %d (reverse %v) step %d: %v; last moves %q", round, o.Reverse, step, err, ops[max(0, len(ops)-8):])
			}
			if it.Valid() {
				noteReturned(string(it.Key()), own)
			}
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got, w := collectTx(early, nil, earlyOwn), want(earlyModel, earlyOpts); !slices.Equal(got, w) {
		t.Fatalf("the last round's iterator: %d entries, want %d", len(got), len(w))
	}
	if !maps.Equal(tx.read, wantReads) {
		t.Fatalf("the transaction checks %d keys at Commit, want the %d iterators returned from its snapshot", len(tx.read), len(wantReads))
	}
}

// TestTxIteratorReadsAreCheckedAtCommit: a key a transaction's iterator returned from the
// snapshot, changed or deleted by a later commit, fails its Commit with ErrConflict; a key it
// did not return (beyond where the loop stopped, or inserted into the range it walked) and a
// key it returned from its own writes do not. Update runs a function whose scan conflicted
// again, and the second run commits.
func TestTxIteratorReadsAreCheckedAtCommit(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	reset := func() {
		for _, k := range []string{"a", "b", "c"} {
			mustPut(t, db, k, "1")
		}
	}
	scan := func(tx *Tx, stopAfter string) {
		t.Helper()
		for k := range tx.All(ctx, &IterOptions{End: []byte("d")}) {
			if string(k) == stopAfter {
				break
			}
		}
	}
	cases := []struct {
		name      string
		stopAfter string
		own       bool // the transaction wrote b before it scanned
		other     func()
		want      error
	}{
		{"returned key changed", "", false, func() { mustPut(t, db, "b", "2") }, ErrConflict},
		{"returned key deleted", "", false, func() { db.Delete(ctx, []byte("c")) }, ErrConflict},
		{"key past the loop's break changed", "a", false, func() { mustPut(t, db, "c", "2") }, nil},
		{"key inserted into the walked range (a phantom)", "", false, func() { mustPut(t, db, "bb", "2") }, nil},
		{"own write changed by another commit", "", true, func() { mustPut(t, db, "b", "2") }, nil},
	}
	for _, tc := range cases {
		reset()
		tx, err := db.NewTransaction(true)
		if err != nil {
			t.Fatal(err)
		}
		if tc.own {
			tx.Put([]byte("b"), []byte("mine"))
		}
		scan(tx, tc.stopAfter)
		tc.other()
		tx.Put([]byte("written"), []byte(tc.name))
		if err := tx.Commit(ctx); !errors.Is(err, tc.want) {
			t.Fatalf("%s: commit: %v, want %v", tc.name, err, tc.want)
		}
		v, err := db.Get(ctx, []byte("written"))
		if applied := err == nil && string(v) == tc.name; applied != (tc.want == nil) {
			t.Fatalf("%s: the transaction's write applied: %v, want %v", tc.name, applied, tc.want == nil)
		}
	}

	// The sum of n/a and n/b, scanned: a commit to n/a during the first run makes Update run
	// the function again, and the sum written is the one over the new value.
	mustPut(t, db, "n/a", "1")
	mustPut(t, db, "n/b", "2")
	runs := 0
	err := db.Update(ctx, func(tx *Tx) error {
		runs++
		sum := 0
		for _, v := range tx.All(ctx, &IterOptions{Prefix: []byte("n/")}) {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return err
			}
			sum += n
		}
		if runs == 1 {
			mustPut(t, db, "n/a", "10")
		}
		return tx.Put([]byte("sum"), []byte(strconv.Itoa(sum)))
	})
	if err != nil || runs != 2 {
		t.Fatalf("Update: %v after %d runs, want success after 2", err, runs)
	}
	wantValue(t, db, "sum", "12")
}

// TestTxIteratorAfterTheTransactionEnds: an iterator's moves fail with ErrClosed once its
// transaction committed or was discarded, a new one cannot be opened then, and a read-only
// transaction's iterator reads.
func TestTxIteratorAfterTheTransactionEnds(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	mustPut(t, db, "a", "1")
	mustPut(t, db, "b", "2")
	tx, err := db.NewTransaction(true)
	if err != nil {
		t.Fatal(err)
	}
	it, err := tx.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || string(it.Key()) != "a" {
		t.Fatalf("first entry %q, want a", it.Key())
	}
	tx.Discard()
	if it.Next() || it.Valid() || !errors.Is(it.Err(), ErrClosed) {
		t.Fatalf("Next after Discard: valid %v, err %v; want ErrClosed", it.Valid(), it.Err())
	}
	if err := it.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Close returned %v, want the iterator's ErrClosed", err)
	}
	if _, err := tx.NewIterator(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewIterator after Discard: %v, want ErrClosed", err)
	}

	err = db.View(ctx, func(tx *Tx) error {
		var keys []string
		for k := range tx.All(ctx, &IterOptions{Reverse: true}) {
			keys = append(keys, string(k))
		}
		if !slices.Equal(keys, []string{"b", "a"}) {
			return fmt.Errorf("a read-only transaction's reverse loop read %q", keys)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := db.Stats(); err != nil || s.OpenIterators != 0 || s.Snapshots != 0 {
		t.Fatalf("left open: %d iterators, %d snapshots (err %v)", s.OpenIterators, s.Snapshots, err)
	}
}
