package raftstore

import (
	"errors"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// testLimits make StoreLogs in several batches cheap: a batch holds one or two of testLog's
// 2,500-byte entries.
var testLimits = storeLimits{batch: 4 << 10}

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

func reversed(indexes []uint64) []uint64 {
	slices.Reverse(indexes)
	return indexes
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
			s = reopen(t, s, dir, &strata.Options{NoSync: true})
			wantBounds(t, s, 1, last)

			mustStoreLogs(t, s, tc.indexes...)
			wantBounds(t, s, 1, 30)
			wantLogs(t, s, 0, 31, append([]uint64{1, 2}, indexRange(10, 30)...)...)
		})
	}
}
