package strata

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// forceAlone makes completions.alone report a lone caller (alone true) or callers sharing
// the engine (false) until the returned function restores it.
func forceAlone(t *testing.T, alone bool) func() {
	t.Helper()
	if err := startRuntime(); err != nil {
		t.Fatal(err)
	}
	at := int64(math.MaxInt64 / 2) // callers overlapped in the far future: never alone
	if alone {
		at = -int64(time.Hour)
	}
	completions.sharedAt.Store(at)
	return func() { completions.sharedAt.Store(0) }
}

func walSyncs(t *testing.T, db *DB) uint64 {
	t.Helper()
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s.WALSyncs
}

// TestSyncWritesInANoSyncDatabase: in a NoSync database, plain writes fsync nothing, a write
// with strata.Sync (Put, Delete, Write) fsyncs its group, and DB.Sync fsyncs once when some
// write is not yet durable and not at all when none is; both from a lone caller (waiting in
// its call) and from concurrent ones (through the queue).
func TestSyncWritesInANoSyncDatabase(t *testing.T) {
	for _, mode := range []struct {
		name  string
		alone bool
	}{{"waiting", true}, {"queued", false}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			db := openTest(t, &Options{NoSync: true})
			defer forceAlone(t, mode.alone)()
			waitedBefore := callsWaited.Load()
			base := walSyncs(t, db)
			mustPut(t, db, "plain", "1")
			if got := walSyncs(t, db); got != base {
				t.Fatalf("a NoSync Put fsynced (%d -> %d)", base, got)
			}
			b := NewBatch()
			b.Put([]byte("batched"), []byte("2"))
			for i, write := range []func() error{
				func() error { return db.Put(ctx, []byte("synced"), []byte("3"), Sync) },
				func() error { return db.Delete(ctx, []byte("plain"), Sync) },
				func() error { return db.Write(ctx, b, Sync) },
			} {
				before := walSyncs(t, db)
				if err := write(); err != nil {
					t.Fatal(err)
				}
				if got := walSyncs(t, db); got != before+1 {
					t.Fatalf("synced write %d: WALSyncs %d -> %d, want one fsync", i, before, got)
				}
			}
			waited := callsWaited.Load() - waitedBefore
			if mode.alone != (waited >= 3) {
				t.Fatalf("alone %v: %d calls waited in their own call", mode.alone, waited)
			}
			wantValue(t, db, "synced", "3")
			wantValue(t, db, "batched", "2")
			wantNotFound(t, db, "plain")

			mustPut(t, db, "later", "4")
			before := walSyncs(t, db)
			if err := db.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if got := walSyncs(t, db); got != before+1 {
				t.Fatalf("Sync after a NoSync Put: WALSyncs %d -> %d, want one fsync", before, got)
			}
			if err := db.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if got := walSyncs(t, db); got != before+1 {
				t.Fatalf("Sync with nothing to sync: WALSyncs %d -> %d, want none", before+1, got)
			}
		})
	}
}

func TestSyncRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k", "v")
	if err := db.Sync(ctx); err != nil {
		t.Fatalf("Sync of a durable database: %v", err)
	}
	db.Close()
	if err := db.Sync(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v, want ErrClosed", err)
	}
	ro, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Sync(ctx); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Sync of a read-only database: %v, want ErrReadOnly", err)
	}
	if err := ro.Put(ctx, []byte("k"), []byte("v"), Sync); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a synced Put to a read-only database: %v, want ErrReadOnly", err)
	}
}
