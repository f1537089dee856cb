package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// testLimits make entries in parts and StoreLogs in several batches cheap: a 2,500-byte
// entry (testLog's long ones) takes three values, and a batch holds one or two of them.
var testLimits = storeLimits{batch: 4 << 10, value: 1 << 10, entry: 3 << 10}

// lowerLimits sets the limits StoreLogs plans with until the test ends.
func lowerLimits(t testing.TB, l storeLimits) {
	saved := limits
	limits = l
	t.Cleanup(func() { limits = saved })
}

// errInjected is the failure interceptCommits injects.
var errInjected = errors.New("injected write failure")

// interceptCommits counts the batches s writes from now on, and makes the failAt-th fail
// without writing it (none if failAt is 0). It returns the count.
func interceptCommits(s *Store, failAt int) *int {
	commit := s.commit
	var n int
	s.commit = func(b *strata.Batch) error {
		n++
		if n == failAt {
			return errInjected
		}
		return commit(b)
	}
	return &n
}

// parts returns the continuation keys in s's database, as index and part number.
func parts(t testing.TB, s *Store) [][2]uint64 {
	t.Helper()
	var found [][2]uint64
	var err error
	for key := range s.db.All(t.Context(), &strata.IterOptions{Prefix: []byte{continuationPrefix}, Err: &err}) {
		if len(key) != continuationKeyLen {
			t.Fatalf("continuation key %x of %d bytes", key, len(key))
		}
		found = append(found, [2]uint64{binary.BigEndian.Uint64(key[1:]), uint64(binary.BigEndian.Uint32(key[9:]))})
	}
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// wantParts checks that every continuation key in s's database belongs to an index for which
// present returns true.
func wantParts(t testing.TB, s *Store, present func(index uint64) bool) {
	t.Helper()
	for _, p := range parts(t, s) {
		if !present(p[0]) {
			t.Fatalf("part %d of entry %d outlived its entry", p[1], p[0])
		}
	}
}

func reversed(indexes []uint64) []uint64 {
	slices.Reverse(indexes)
	return indexes
}

// largeLog is an entry at index whose Data and Extensions hold size bytes together.
func largeLog(index uint64, size int) *raft.Log {
	data := make([]byte, size-3)
	for i := range data {
		data[i] = byte(i*7 + int(index))
	}
	return &raft.Log{Index: index, Term: 3, Type: raft.LogCommand, Data: data, Extensions: []byte("ext"),
		AppendedAt: time.Unix(1_700_000_000, 1)}
}

// wantLog checks that the entry at want.Index reads back as want.
func wantLog(t testing.TB, s *Store, want *raft.Log) {
	t.Helper()
	var got raft.Log
	if err := s.GetLog(want.Index, &got); err != nil {
		t.Fatalf("GetLog(%d): %v", want.Index, err)
	}
	if !sameLog(&got, want) {
		t.Fatalf("GetLog(%d) returned a different entry (%d bytes of data, want %d)", want.Index, len(got.Data), len(want.Data))
	}
}

// A StoreLogs call larger than a batch (what a lagging follower receives, or a leader
// appends for many large commands at once) is written in several.
func TestStoreLogsInSeveralBatches(t *testing.T) {
	lowerLimits(t, testLimits)
	s, dir := openStore(t, &strata.Options{NoSync: true})
	written := interceptCommits(s, 0)
	mustStoreLogs(t, s, indexRange(1, 40)...)
	// Ten 2,500-byte entries alone need more than six 4 KiB batches.
	if *written < 7 {
		t.Fatalf("40 entries, 10 of 2,500 bytes, took %d batches of %d bytes", *written, limits.batch)
	}
	wantBounds(t, s, 1, 40)
	wantLogs(t, s, 0, 41, indexRange(1, 40)...)
	s = reopen(t, s, dir, &strata.Options{NoSync: true})
	wantBounds(t, s, 1, 40)
	wantLogs(t, s, 0, 41, indexRange(1, 40)...)
}

// A batch that fails part of the way through StoreLogs (as a crash would stop it) leaves the
// entries up to some index written and none after it, whatever order they were given in; the
// bounds follow what was written, and the call can be repeated.
func TestFailedBatchLeavesAPrefix(t *testing.T) {
	lowerLimits(t, testLimits)
	for _, tc := range []struct {
		name    string
		indexes []uint64
	}{
		{"in order", indexRange(10, 30)},
		{"reversed", reversed(indexRange(10, 30))},
		{"shuffled", []uint64{25, 11, 30, 17, 10, 22, 14, 28, 19, 12, 27, 16, 21, 13, 29, 18, 23, 15, 26, 20, 24}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := openStore(t, &strata.Options{NoSync: true})
			mustStoreLogs(t, s, 1, 2)
			written := interceptCommits(s, 3)
			err := s.StoreLogs(testLogs(tc.indexes...))
			if !errors.Is(err, errInjected) || *written != 3 {
				t.Fatalf("StoreLogs returned %v after %d batches, want the injected failure of the third", err, *written)
			}
			// Find how far the two batches that went through reached.
			last := uint64(9)
			for i := uint64(10); i <= 30; i++ {
				var l raft.Log
				if s.GetLog(i, &l) == nil {
					last = i
				}
			}
			if last < 11 || last >= 29 {
				t.Fatalf("two batches wrote entries 10..%d, want a few but not all", last)
			}
			present := append([]uint64{1, 2}, indexRange(10, last)...)
			wantBounds(t, s, 1, last)
			wantLogs(t, s, 0, 31, present...)
			wantParts(t, s, func(index uint64) bool { return slices.Contains(present, index) })
			s = reopen(t, s, dir, &strata.Options{NoSync: true})
			wantBounds(t, s, 1, last)

			mustStoreLogs(t, s, tc.indexes...)
			wantBounds(t, s, 1, 30)
			wantLogs(t, s, 0, 31, append([]uint64{1, 2}, indexRange(10, 30)...)...)
		})
	}
}

// Entries larger than a value are stored in parts, read back whole, and never counted as
// log entries.
func TestEntriesInParts(t *testing.T) {
	lowerLimits(t, testLimits)
	s, dir := openStore(t, &strata.Options{NoSync: true})
	sizes := []int{limits.value - 100, limits.value, limits.value + 1, 2 * limits.value, limits.entry}
	var logs []*raft.Log
	for i, size := range sizes {
		logs = append(logs, largeLog(uint64(i+5), size))
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		wantLog(t, s, l)
	}
	wantBounds(t, s, 5, 9)
	s = reopen(t, s, dir, &strata.Options{NoSync: true})
	wantBounds(t, s, 5, 9)
	for _, l := range logs {
		wantLog(t, s, l)
	}
	// The first entry fits one value; the others (with their encodings' fields) do not.
	wantParts(t, s, func(index uint64) bool { return index >= 6 && index <= 9 })
	if n := len(parts(t, s)); n < 1+1+2+3 {
		t.Fatalf("%d continuation values, want at least 7", n)
	}

	// An entry in parts replaced by a smaller one, as a follower overwrites a tail.
	small := testLog(9)
	if err := s.StoreLog(small); err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, small)
	wantBounds(t, s, 5, 9)
}

// The Store takes an entry of a strata value or more at strata's own limits: the size that
// the store refused before entries were stored in parts.
func TestEntryLargerThanAValue(t *testing.T) {
	s, _ := openStore(t, &strata.Options{NoSync: true})
	l := largeLog(1, strata.MaxValueSize+1)
	if err := s.StoreLogs([]*raft.Log{l, testLog(2)}); err != nil {
		t.Fatal(err)
	}
	wantLog(t, s, l)
	wantBounds(t, s, 1, 2)
}

// DeleteRange deletes the parts of the entries it deletes, in the same batch, and those an
// entry left when a smaller one replaced it.
func TestDeleteRangeDeletesParts(t *testing.T) {
	lowerLimits(t, testLimits)
	s, _ := openStore(t, &strata.Options{NoSync: true})
	mustStoreLogs(t, s, indexRange(1, 20)...) // 3, 7, 11, 15 and 19 are in parts
	replaced := testLog(11)
	replaced.Data = []byte("small now")
	if err := s.StoreLog(replaced); err != nil {
		t.Fatal(err)
	}
	written := interceptCommits(s, 0)
	mustDeleteRange(t, s, 5, 12)
	if *written != 1 {
		t.Fatalf("DeleteRange wrote %d batches, want 1", *written)
	}
	present := append(indexRange(1, 4), indexRange(13, 20)...)
	wantParts(t, s, func(index uint64) bool { return slices.Contains(present, index) })
	wantLogs(t, s, 0, 21, present...)
	mustDeleteRange(t, s, 0, math.MaxUint64)
	if p := parts(t, s); len(p) != 0 {
		t.Fatalf("parts left after deleting every index: %v", p)
	}
	wantBounds(t, s, 0, 0)
}

// A part gone missing is corruption, not a missing entry.
func TestMissingPartIsCorruption(t *testing.T) {
	lowerLimits(t, testLimits)
	s, _ := openStore(t, &strata.Options{NoSync: true})
	mustStoreLogs(t, s, 3)
	ctx := t.Context()
	if err := s.db.Delete(ctx, continuationKey(3, 2)); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	if err := s.GetLog(3, &l); !errors.Is(err, strata.ErrCorruption) {
		t.Fatalf("GetLog of an entry missing a part returned %v, want strata.ErrCorruption", err)
	}
	// A part too many is corruption too.
	if err := s.db.Put(ctx, continuationKey(3, 2), bytes.Repeat([]byte{1}, limits.value)); err != nil {
		t.Fatal(err)
	}
	if err := s.GetLog(3, &l); !errors.Is(err, strata.ErrCorruption) {
		t.Fatalf("GetLog of an entry with a part too long returned %v, want strata.ErrCorruption", err)
	}
}

// MaxEntrySize (and the entry limits the tests lower it to) fits one batch with the largest fields an
// entry can have, so StoreLogs never meets an entry it cannot write whole.
func TestLargestEntryFitsOneBatch(t *testing.T) {
	for _, l := range []storeLimits{limits, testLimits, clusterLimits} {
		fields := encodeLog(nil, &raft.Log{Index: math.MaxUint64, Term: math.MaxUint64, Type: raft.LogType(255),
			AppendedAt: time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)})
		// Data and Extensions split as unevenly as their length prefixes allow.
		lengthPrefixes := len(binary.AppendUvarint(nil, uint64(l.entry))) - 1
		// The bytes are never read: a large zeroed slice costs address space, not memory.
		encoded := make([]byte, len(fields)+lengthPrefixes+l.entry)
		head, parts := splitLog(math.MaxUint64, encoded, l.value)
		if n := entryBatchSize(head, parts); n > l.batch {
			t.Errorf("limits %+v: the largest entry takes %d bytes of a batch", l, n)
		}
		if len(head) > l.value {
			t.Errorf("limits %+v: head of %d bytes", l, len(head))
		}
		for _, p := range parts {
			if len(p) > l.value {
				t.Errorf("limits %+v: part of %d bytes", l, len(p))
			}
		}
	}
}

// CheckCommand refuses what StoreLogs would refuse, so a leader can refuse it at Apply.
func TestCheckCommand(t *testing.T) {
	lowerLimits(t, testLimits)
	if err := CheckCommand(make([]byte, limits.entry)); err != nil {
		t.Fatalf("CheckCommand at the limit: %v", err)
	}
	if err := CheckCommand(make([]byte, limits.entry+1)); !errors.Is(err, strata.ErrInvalidArgument) {
		t.Fatalf("CheckCommand over the limit returned %v, want strata.ErrInvalidArgument", err)
	}
	s, _ := openStore(t, &strata.Options{NoSync: true})
	if err := s.StoreLog(&raft.Log{Index: 1, Data: make([]byte, limits.entry)}); err != nil {
		t.Fatalf("StoreLog of a command CheckCommand accepts: %v", err)
	}
}
