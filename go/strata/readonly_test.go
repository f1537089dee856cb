package strata

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestReadOnlyOpensShareADatabaseAndChangeNothing: a database with keys in tables and in its
// log, opened read-only twice at once, reads the same through Get, iterators and snapshots
// from both; every change fails with ErrReadOnly; a writer is locked out meanwhile and
// locks read-only opens out after; not a byte of the directory changes.
func TestReadOnlyOpensShareADatabaseAndChangeNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, w, "table/a", "1")
	mustPut(t, w, "table/b", "2")
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mustPut(t, w, "log/c", "3") // only in the log when the writer closes
	if err := w.Delete(ctx, []byte("table/b")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before := readDirState(t, dir)

	var readers []*DB
	for range 2 {
		r, err := Open(dir, &Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, r)
	}
	if _, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("a writer's Open beside read-only handles: %v, want ErrLocked", err)
	}
	want := []kv{{"log/c", "3"}, {"table/a", "1"}}
	for _, r := range readers {
		wantValue(t, r, "log/c", "3")
		wantNotFound(t, r, "table/b")
		if got := collect(t, r, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("scan = %v, want %v", got, want)
		}
		snap, err := r.NewSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if v, err := snap.Get(ctx, []byte("table/a")); err != nil || string(v) != "1" {
			t.Fatalf("snapshot get = %q, %v", v, err)
		}
		snap.Close()
		if _, err := r.Stats(); err != nil {
			t.Fatal(err)
		}
		batch := NewBatch()
		batch.Put([]byte("x"), []byte("y"))
		for what, err := range map[string]error{
			"Put":        r.Put(ctx, []byte("x"), []byte("y")),
			"Delete":     r.Delete(ctx, []byte("log/c")),
			"Write":      r.Write(ctx, batch),
			"Flush":      r.Flush(ctx),
			"Compact":    r.Compact(ctx, nil, nil),
			"Checkpoint": r.Checkpoint(ctx, filepath.Join(t.TempDir(), "copy")),
		} {
			if !errors.Is(err, ErrReadOnly) {
				t.Fatalf("%s on a read-only handle: %v, want ErrReadOnly", what, err)
			}
		}
		wantValue(t, r, "log/c", "3")
	}
	for _, r := range readers {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	wantDirUnchanged(t, dir, before, "two read-only opens")

	w, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Open(dir, &Options{ReadOnly: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("a read-only Open beside a writer: %v, want ErrLocked", err)
	}
	wantValue(t, w, "log/c", "3")
}

// TestReadOnlyOpenCreatesNothing: a read-only Open of an empty or missing directory fails and
// leaves it as it was.
func TestReadOnlyOpenCreatesNothing(t *testing.T) {
	empty := t.TempDir()
	if _, err := Open(empty, &Options{ReadOnly: true}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("read-only Open of an empty directory: %v, want ErrInvalidArgument", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("a read-only Open left %d entries in an empty directory", len(entries))
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := Open(missing, &Options{ReadOnly: true}); !errors.Is(err, ErrIO) {
		t.Fatalf("read-only Open of a missing directory: %v, want ErrIO", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a read-only Open created %s (%v)", missing, err)
	}
}

// TestCheckRunsBesideReadOnlyHandles: Check only reads, so it shares a database with read-only
// handles, and is still locked out by a writer.
func TestCheckRunsBesideReadOnlyHandles(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, w, "k", "v")
	if _, err := Check(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("Check beside a writer: %v, want ErrLocked", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := Check(dir); err != nil {
		t.Fatalf("Check beside a read-only handle: %v", err)
	}
	wantValue(t, r, "k", "v")
}
