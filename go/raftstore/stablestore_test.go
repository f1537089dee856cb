package raftstore

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// raft.StableStore documents a missing key as an empty value or 0, without an error.
func TestStableStoreMissingKeys(t *testing.T) {
	s, _ := openStore(t, nil)
	v, err := s.Get([]byte("CurrentTerm"))
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get of a missing key = %q (nil: %v), %v; want an empty slice and no error", v, v == nil, err)
	}
	n, err := s.GetUint64([]byte("CurrentTerm"))
	if err != nil || n != 0 {
		t.Fatalf("GetUint64 of a missing key = %d, %v; want 0, no error", n, err)
	}
	// What raft.NewRaft asks of a new store.
	existing, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore())
	if err != nil || existing {
		t.Fatalf("HasExistingState of a new store = %v, %v; want false, no error", existing, err)
	}
}

func TestStableStoreSetAndGet(t *testing.T) {
	s, _ := openStore(t, nil)
	for _, kv := range []struct{ key, val string }{
		{"LastVoteCand", "node-2"},
		{"", "the empty key is a key"},
		{"empty value", ""},
		{"LastVoteCand", "node-3"}, // overwrites
	} {
		if err := s.Set([]byte(kv.key), []byte(kv.val)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get([]byte(kv.key))
		if err != nil || !bytes.Equal(got, []byte(kv.val)) {
			t.Fatalf("Get(%q) = %q, %v; want %q", kv.key, got, err, kv.val)
		}
	}

	for _, n := range []uint64{0, 1, 42, 1<<64 - 1} {
		if err := s.SetUint64([]byte("CurrentTerm"), n); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUint64([]byte("CurrentTerm"))
		if err != nil || got != n {
			t.Fatalf("GetUint64 after SetUint64(%d) = %d, %v", n, got, err)
		}
	}
	if _, err := s.GetUint64([]byte("LastVoteCand")); !errors.Is(err, strata.ErrCorruption) {
		t.Fatalf("GetUint64 of a 6-byte value returned %v, want strata.ErrCorruption", err)
	}
}

// Stable keys and log entries live apart: a stable key spelled like a log key is not a log
// entry, and deleting log entries leaves stable keys alone.
func TestStableKeysAndLogsDoNotMix(t *testing.T) {
	s, _ := openStore(t, nil)
	if err := s.Set(logKey(7), []byte("not a log entry")); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, 0, 0)
	mustStoreLogs(t, s, 1, 2)
	mustDeleteRange(t, s, 0, 1<<64-1)
	got, err := s.Get(logKey(7))
	if err != nil || string(got) != "not a log entry" {
		t.Fatalf("Get after DeleteRange of every index = %q, %v; want the stored value", got, err)
	}
}

// Closing and reopening a directory keeps the log and the stable store: what a restarted raft
// node relies on.
func TestReopenKeepsState(t *testing.T) {
	s, dir := openStore(t, nil)
	mustStoreLogs(t, s, indexRange(1, 50)...)
	mustDeleteRange(t, s, 1, 20)
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-1")); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s, dir, nil)
	wantBounds(t, s, 21, 50)
	wantLogs(t, s, 0, 51, indexRange(21, 50)...)
	if term, err := s.GetUint64([]byte("CurrentTerm")); err != nil || term != 7 {
		t.Fatalf("CurrentTerm after reopen = %d, %v; want 7", term, err)
	}
	if cand, err := s.Get([]byte("LastVoteCand")); err != nil || string(cand) != "node-1" {
		t.Fatalf("LastVoteCand after reopen = %q, %v; want node-1", cand, err)
	}
	existing, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore())
	if err != nil || !existing {
		t.Fatalf("HasExistingState after reopen = %v, %v; want true", existing, err)
	}
}
