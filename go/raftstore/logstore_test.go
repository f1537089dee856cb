package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// openStore opens a Store in a fresh temporary directory, closed when the test ends.
func openStore(t testing.TB, opts *strata.Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// reopen closes s and opens its directory again.
func reopen(t *testing.T, s *Store, dir string, opts *strata.Options) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testLog is the entry the tests store at index. One in four is 2,500 bytes long: under
// testLimits it is stored in parts, and a few of them fill a batch.
func testLog(index uint64) *raft.Log {
	data := fmt.Appendf(nil, "command %d", index)
	if index%4 == 3 {
		data = append(data, bytes.Repeat([]byte{byte(index)}, 2500-len(data))...)
	}
	return &raft.Log{
		Index:      index,
		Term:       index/10 + 1,
		Type:       raft.LogType(index % 6),
		Data:       data,
		Extensions: fmt.Appendf(nil, "ext %d", index%3),
		AppendedAt: time.Unix(1_700_000_000+int64(index), int64(index)),
	}
}

func testLogs(indexes ...uint64) []*raft.Log {
	logs := make([]*raft.Log, len(indexes))
	for i, index := range indexes {
		logs[i] = testLog(index)
	}
	return logs
}

func indexRange(lo, hi uint64) []uint64 {
	var r []uint64
	for i := lo; i <= hi; i++ {
		r = append(r, i)
	}
	return r
}

func mustStoreLogs(t testing.TB, s *Store, indexes ...uint64) {
	t.Helper()
	if err := s.StoreLogs(testLogs(indexes...)); err != nil {
		t.Fatal(err)
	}
}

func mustDeleteRange(t testing.TB, s *Store, lo, hi uint64) {
	t.Helper()
	if err := s.DeleteRange(lo, hi); err != nil {
		t.Fatal(err)
	}
}

// wantBounds checks FirstIndex and LastIndex.
func wantBounds(t testing.TB, s *Store, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if f != first || l != last {
		t.Fatalf("FirstIndex, LastIndex = %d, %d; want %d, %d", f, l, first, last)
	}
}

// wantLogs checks that exactly the entries at indexes are present among [lo, hi].
func wantLogs(t testing.TB, s *Store, lo, hi uint64, indexes ...uint64) {
	t.Helper()
	for i := lo; i <= hi; i++ {
		var got raft.Log
		err := s.GetLog(i, &got)
		switch {
		case slices.Contains(indexes, i) && err != nil:
			t.Fatalf("GetLog(%d): %v", i, err)
		case slices.Contains(indexes, i) && !sameLog(&got, testLog(i)):
			t.Fatalf("GetLog(%d) = %+v, want %+v", i, got, testLog(i))
		case !slices.Contains(indexes, i) && !errors.Is(err, raft.ErrLogNotFound):
			t.Fatalf("GetLog(%d) of a missing entry returned %v, want raft.ErrLogNotFound", i, err)
		}
	}
}

func TestEmptyLog(t *testing.T) {
	s, _ := openStore(t, nil)
	wantBounds(t, s, 0, 0)
	wantLogs(t, s, 0, 3)
	mustDeleteRange(t, s, 1, 10)
	if err := s.StoreLogs(nil); err != nil {
		t.Fatalf("StoreLogs(nil): %v", err)
	}
	wantBounds(t, s, 0, 0)
}

func TestStoreAndGetLogs(t *testing.T) {
	s, _ := openStore(t, nil)
	mustStoreLogs(t, s, indexRange(1, 10)...)
	if err := s.StoreLog(testLog(11)); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, 1, 11)
	wantLogs(t, s, 0, 13, indexRange(1, 11)...)

	// Storing an index again replaces the entry (a follower overwriting a conflicting tail).
	replacement := testLog(11)
	replacement.Term, replacement.Data = 99, []byte("new leader's entry")
	if err := s.StoreLog(replacement); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(11, &got); err != nil || !sameLog(&got, replacement) {
		t.Fatalf("GetLog(11) = %+v, %v; want the replacement %+v", got, err, replacement)
	}
	wantBounds(t, s, 1, 11)
}

func TestLogGaps(t *testing.T) {
	s, _ := openStore(t, nil)
	mustStoreLogs(t, s, 20, 5, 10) // out of order, with gaps
	wantBounds(t, s, 5, 20)
	wantLogs(t, s, 0, 25, 5, 10, 20)

	mustStoreLogs(t, s, 2)
	wantBounds(t, s, 2, 20)

	mustDeleteRange(t, s, 1, 7) // through the first entry, ending in a gap
	wantBounds(t, s, 10, 20)
	mustDeleteRange(t, s, 15, 30) // through the last entry, starting in a gap
	wantBounds(t, s, 10, 10)
	mustDeleteRange(t, s, 11, 19) // nothing there
	wantBounds(t, s, 10, 10)
	wantLogs(t, s, 0, 25, 10)
}

func TestDeleteRange(t *testing.T) {
	for _, tc := range []struct {
		name        string
		lo, hi      uint64
		first, last uint64
		remaining   []uint64
	}{
		{name: "prefix, as raft compacts after a snapshot", lo: 1, hi: 6, first: 7, last: 10, remaining: indexRange(7, 10)},
		{name: "suffix, as a follower drops a conflicting tail", lo: 8, hi: 10, first: 1, last: 7, remaining: indexRange(1, 7)},
		{name: "middle", lo: 4, hi: 6, first: 1, last: 10, remaining: []uint64{1, 2, 3, 7, 8, 9, 10}},
		{name: "everything", lo: 1, hi: 10},
		{name: "wider than the log", lo: 0, hi: 1<<64 - 1},
		{name: "one entry", lo: 5, hi: 5, first: 1, last: 10, remaining: []uint64{1, 2, 3, 4, 6, 7, 8, 9, 10}},
		{name: "past the end", lo: 11, hi: 20, first: 1, last: 10, remaining: indexRange(1, 10)},
		{name: "empty range", lo: 6, hi: 5, first: 1, last: 10, remaining: indexRange(1, 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := openStore(t, &strata.Options{NoSync: true})
			mustStoreLogs(t, s, indexRange(1, 10)...)
			mustDeleteRange(t, s, tc.lo, tc.hi)
			wantBounds(t, s, tc.first, tc.last)
			wantLogs(t, s, 0, 11, tc.remaining...)
			// The bounds kept in memory agree with those found on disk.
			s = reopen(t, s, dir, &strata.Options{NoSync: true})
			wantBounds(t, s, tc.first, tc.last)
		})
	}
}

// raft never stores index 0, but raft's benchmarks do, and raft-boltdb and raft's InmemStore
// take it. Its bounds are raft-boltdb's: the smallest and largest index present, so a log
// whose only entry is 0 reads as empty, as it does on both.
func TestIndexZero(t *testing.T) {
	s, dir := openStore(t, &strata.Options{NoSync: true})
	mustStoreLogs(t, s, 0)
	wantBounds(t, s, 0, 0)
	wantLogs(t, s, 0, 2, 0)
	s = reopen(t, s, dir, &strata.Options{NoSync: true})
	wantBounds(t, s, 0, 0)
	wantLogs(t, s, 0, 2, 0)

	mustStoreLogs(t, s, 1, 2)
	wantBounds(t, s, 0, 2)
	mustDeleteRange(t, s, 0, 0)
	wantBounds(t, s, 1, 2)
	wantLogs(t, s, 0, 3, 1, 2)

	mustStoreLogs(t, s, 0)
	mustDeleteRange(t, s, 1, 5) // everything but entry 0
	wantBounds(t, s, 0, 0)
	wantLogs(t, s, 0, 3, 0)
	s = reopen(t, s, dir, &strata.Options{NoSync: true})
	wantBounds(t, s, 0, 0)
	mustDeleteRange(t, s, 0, 10)
	wantBounds(t, s, 0, 0)
	wantLogs(t, s, 0, 3)
}

// An entry the Store refuses (over MaxEntrySize) fails the whole call before anything is
// written; the log stays as it was, and the bounds right.
func TestRefusedStoreLogsWritesNothing(t *testing.T) {
	lowerLimits(t, testLimits)
	s, _ := openStore(t, &strata.Options{NoSync: true})
	mustStoreLogs(t, s, 1, 2, 3)
	tooBig := testLog(4)
	tooBig.Data = make([]byte, limits.entry-len(tooBig.Extensions)+1)
	err := s.StoreLogs([]*raft.Log{testLog(5), tooBig})
	if !errors.Is(err, strata.ErrInvalidArgument) {
		t.Fatalf("StoreLogs of an entry over the limit returned %v, want strata.ErrInvalidArgument", err)
	}
	wantBounds(t, s, 1, 3)
	wantLogs(t, s, 0, 6, 1, 2, 3)
	mustStoreLogs(t, s, 4)
	wantBounds(t, s, 1, 4)
}

// Random stores and deletes against a model of the log; the Store's answers and the bounds it
// recovers at Open must match the model throughout. Under testLimits, one entry in four is
// stored in parts and a StoreLogs call often takes several batches.
func TestLogMatchesModel(t *testing.T) {
	for name, l := range map[string]storeLimits{"strata limits": limits, "test limits": testLimits} {
		t.Run(name, func(t *testing.T) {
			lowerLimits(t, l)
			testLogMatchesModel(t)
		})
	}
}

func testLogMatchesModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	opts := &strata.Options{NoSync: true}
	s, dir := openStore(t, opts)
	model := map[uint64]bool{}
	const span = 200

	for step := range 300 {
		switch op := rng.IntN(10); {
		case op < 6:
			var indexes []uint64
			start := rng.Uint64N(span + 1) // from 0, which raft's benchmarks store
			for i := range rng.Uint64N(8) + 1 {
				if rng.IntN(4) > 0 { // leave some gaps
					indexes = append(indexes, start+i)
				}
			}
			if len(indexes) == 0 {
				continue
			}
			rng.Shuffle(len(indexes), func(i, j int) { indexes[i], indexes[j] = indexes[j], indexes[i] })
			mustStoreLogs(t, s, indexes...)
			for _, i := range indexes {
				model[i] = true
			}
		case op < 9:
			lo := rng.Uint64N(span + 10)
			hi := lo + rng.Uint64N(40)
			mustDeleteRange(t, s, lo, hi)
			for i := range model {
				if i >= lo && i <= hi {
					delete(model, i)
				}
			}
		default:
			s = reopen(t, s, dir, opts)
		}
		first, last := uint64(1<<64-1), uint64(0)
		for i := range model {
			first, last = min(first, i), max(last, i)
		}
		if len(model) == 0 {
			first = 0
		}
		f, ferr := s.FirstIndex()
		l, lerr := s.LastIndex()
		if ferr != nil || lerr != nil || f != first || l != last {
			t.Fatalf("step %d: FirstIndex, LastIndex = %d (%v), %d (%v); model says %d, %d", step, f, ferr, l, lerr, first, last)
		}
		if step%50 == 0 {
			var present []uint64
			for i := range model {
				present = append(present, i)
			}
			wantLogs(t, s, 0, span+50, present...)
		}
	}
	// Every part left belongs to an entry the model holds.
	wantParts(t, s, func(index uint64) bool { return model[index] })
}

func TestClosedStore(t *testing.T) {
	s, _ := openStore(t, nil)
	mustStoreLogs(t, s, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The bounds were cached before Close; they must not outlive it.
	if _, err := s.FirstIndex(); !errors.Is(err, strata.ErrClosed) {
		t.Errorf("FirstIndex after Close returned %v, want strata.ErrClosed", err)
	}
	if _, err := s.LastIndex(); !errors.Is(err, strata.ErrClosed) {
		t.Errorf("LastIndex after Close returned %v, want strata.ErrClosed", err)
	}
	var l raft.Log
	for name, err := range map[string]error{
		"GetLog":      s.GetLog(1, &l),
		"StoreLogs":   s.StoreLogs(testLogs(2)),
		"DeleteRange": s.DeleteRange(1, 1),
		"Set":         s.Set([]byte("k"), []byte("v")),
	} {
		if !errors.Is(err, strata.ErrClosed) {
			t.Errorf("%s after Close returned %v, want strata.ErrClosed", name, err)
		}
	}
	if _, err := s.Get([]byte("k")); !errors.Is(err, strata.ErrClosed) {
		t.Errorf("Get after Close returned %v, want strata.ErrClosed", err)
	}
}

func TestOpenRefusesAnOpenDirectory(t *testing.T) {
	_, dir := openStore(t, nil)
	if s, err := Open(dir, nil); !errors.Is(err, strata.ErrLocked) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("second Open of %s returned %v, want strata.ErrLocked", dir, err)
	}
}
