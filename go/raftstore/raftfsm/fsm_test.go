package raftfsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// putCommand applies commands "key=value" as a put of key, and counts the entries it applied
// under "count" (read, then written), so an entry applied twice shows.
func putCommand(l *raft.Log, db *strata.DB, b *Batch) (any, error) {
	key, value, ok := strings.Cut(string(l.Data), "=")
	if !ok {
		return nil, fmt.Errorf("command %q is not key=value", l.Data)
	}
	count, err := db.Get(context.Background(), []byte("count"))
	if errors.Is(err, strata.ErrNotFound) {
		count, err = []byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	b.Put([]byte(key), []byte(value))
	b.Put([]byte("count"), append(count, '+'))
	return key, nil
}

func openFSM(t *testing.T, dir string) *FSM {
	t.Helper()
	f, err := Open(dir, &strata.Options{NoSync: true}, putCommand)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func command(index, term uint64, data string) *raft.Log {
	return &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: []byte(data)}
}

// contents returns every key and value of the database, the FSM's own included.
func contents(t *testing.T, f *FSM) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := f.View(func(db *strata.DB) error {
		it, err := db.NewIterator(context.Background(), nil)
		if err != nil {
			return err
		}
		defer it.Close()
		for it.Next() {
			m[string(it.Key())] = string(it.Value())
		}
		return it.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func wantContents(t *testing.T, f *FSM, want map[string]string, index, term uint64) {
	t.Helper()
	want[string(appliedKey)] = string(encodeApplied(position{index, term}))
	if got := contents(t, f); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("contents = %q, want %q", got, want)
	}
	if f.AppliedIndex() != index || f.AppliedTerm() != term {
		t.Fatalf("applied = %d/%d, want %d/%d", f.AppliedIndex(), f.AppliedTerm(), index, term)
	}
}

func TestApplyWritesStateAndIndexInOneWrite(t *testing.T) {
	dir := t.TempDir()
	f := openFSM(t, dir)
	if f.AppliedIndex() != 0 {
		t.Fatalf("AppliedIndex of a new FSM = %d", f.AppliedIndex())
	}
	for i, cmd := range []string{"a=1", "b=2", "a=3"} {
		if resp := f.Apply(command(uint64(i+1), 2, cmd)); resp != cmd[:1] {
			t.Fatalf("Apply(%q) = %v", cmd, resp)
		}
	}
	want := map[string]string{"a": "3", "b": "2", "count": "+++"}
	wantContents(t, f, want, 3, 2)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	wantContents(t, openFSM(t, dir), want, 3, 2)
}

// An entry the application refuses, or whose batch is invalid, writes nothing but its index.
func TestRefusedEntriesAdvanceOnlyTheIndex(t *testing.T) {
	f := openFSM(t, t.TempDir())
	f.Apply(command(1, 1, "a=1"))
	for i, cmd := range []string{"no equals sign", ReservedPrefix + "applied=x", "=empty key"} {
		resp := f.Apply(command(uint64(i+2), 1, cmd))
		if err, ok := resp.(error); !ok {
			t.Fatalf("Apply(%q) = %v, want an error", cmd, resp)
		} else if i > 0 && !errors.Is(err, strata.ErrInvalidArgument) {
			t.Fatalf("Apply(%q) = %v, want ErrInvalidArgument", cmd, err)
		}
	}
	wantContents(t, f, map[string]string{"a": "1", "count": "+"}, 4, 1)
	if err := f.Err(); err != nil {
		t.Fatalf("Err after refused entries = %v", err)
	}
}

// raft replays the entries after its snapshot when a node starts; those the database already
// holds change nothing.
func TestReplayedEntriesAreSkipped(t *testing.T) {
	dir := t.TempDir()
	f := openFSM(t, dir)
	for i := uint64(1); i <= 3; i++ {
		f.Apply(command(i, 1, fmt.Sprintf("k%d=%d", i, i)))
	}
	f.Close()
	f = openFSM(t, dir)
	for i := uint64(1); i <= 4; i++ {
		resp := f.Apply(command(i, 1, fmt.Sprintf("k%d=replayed", i)))
		if i <= 3 && resp != nil {
			t.Fatalf("replayed entry %d: response %v, want nil (skipped)", i, resp)
		}
	}
	want := map[string]string{"k1": "1", "k2": "2", "k3": "3", "k4": "replayed", "count": "++++"}
	wantContents(t, f, want, 4, 1)
}

// Open finishes a swap that a crash interrupted between Restore's renames.
func TestOpenFinishesAnInterruptedSwap(t *testing.T) {
	dir := t.TempDir()
	f := openFSM(t, dir)
	f.Apply(command(1, 1, "a=old"))
	f.Close()
	next := t.TempDir()
	g := openFSM(t, next)
	g.Apply(command(7, 3, "a=new"))
	g.Close()
	if err := os.Rename(filepath.Join(dir, dbName), filepath.Join(dir, oldName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(next, dbName), filepath.Join(dir, nextName)); err != nil {
		t.Fatal(err)
	}
	f = openFSM(t, dir)
	wantContents(t, f, map[string]string{"a": "new", "count": "+"}, 7, 3)
	for _, name := range []string{oldName, nextName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s after Open: %v, want it removed", name, err)
		}
	}
}

// memorySink is a raft.SnapshotSink that keeps what Persist writes.
type memorySink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memorySink) ID() string    { return "memory" }
func (s *memorySink) Close() error  { s.closed = true; return nil }
func (s *memorySink) Cancel() error { s.cancelled = true; return nil }

// TestASecondFSMOnADirectoryIsLockedOut: a second Open of a directory an FSM holds fails with
// strata.ErrLocked before touching anything, so a restore the first has in progress
// (db.next) survives; once the first closes, the directory opens again.
func TestASecondFSMOnADirectoryIsLockedOut(t *testing.T) {
	dir := t.TempDir()
	apply := func(*raft.Log, *strata.DB, *Batch) (any, error) { return nil, nil }
	first, err := Open(dir, &strata.Options{NoSync: true}, apply)
	if err != nil {
		t.Fatal(err)
	}
	next := filepath.Join(dir, nextName)
	if err := os.Mkdir(next, 0o755); err != nil { // as if first were restoring
		t.Fatal(err)
	}
	if _, err := Open(dir, nil, apply); !errors.Is(err, strata.ErrLocked) {
		t.Fatalf("a second Open: %v, want strata.ErrLocked", err)
	}
	if _, err := os.Stat(next); err != nil {
		t.Fatalf("the second Open touched the first's db.next: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(dir, nil, apply)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}
