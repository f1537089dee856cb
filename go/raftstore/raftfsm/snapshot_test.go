package raftfsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

// persist takes a snapshot of f and returns the stream Persist wrote.
func persist(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memorySink
	if err := snap.Persist(&sink); err != nil || !sink.closed || sink.cancelled {
		t.Fatalf("Persist: %v (closed %v, cancelled %v)", err, sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

func TestSnapshotRestoresIntoAnotherFSM(t *testing.T) {
	src := openFSM(t, t.TempDir())
	for i := uint64(1); i <= 100; i++ {
		src.Apply(command(i, 1+i/50, fmt.Sprintf("k%03d=%d", i%60, i)))
	}
	if err := src.DB().Flush(t.Context()); err != nil { // tables and a log in the backup
		t.Fatal(err)
	}
	src.Apply(command(101, 3, "last=1"))
	stream := persist(t, src)

	dst := openFSM(t, t.TempDir())
	dst.Apply(command(1, 1, "only-in-dst=1"))
	if err := dst.Restore(io.NopCloser(bytes.NewReader(stream))); err != nil {
		t.Fatal(err)
	}
	want := contents(t, src)
	if got := contents(t, dst); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("restored contents differ:\n got %q\nwant %q", got, want)
	}
	if dst.AppliedIndex() != 101 || dst.AppliedTerm() != 3 {
		t.Fatalf("restored applied = %d/%d, want 101/3", dst.AppliedIndex(), dst.AppliedTerm())
	}
	// The restored FSM goes on applying, and skips what the snapshot holds.
	if resp := dst.Apply(command(101, 3, "last=2")); resp != nil {
		t.Fatalf("entry 101 again: %v, want skipped", resp)
	}
	dst.Apply(command(102, 3, "after=1"))
	if v, err := dst.DB().Get(t.Context(), []byte("after")); err != nil || string(v) != "1" {
		t.Fatalf("after the restore: %q, %v", v, err)
	}
}

func TestDamagedStreamLeavesTheOldState(t *testing.T) {
	src := openFSM(t, t.TempDir())
	src.Apply(command(1, 1, "a=1"))
	src.DB().Flush(t.Context())
	stream := persist(t, src)

	dst := openFSM(t, t.TempDir())
	dst.Apply(command(5, 2, "b=2"))
	want := contents(t, dst)
	flipped := bytes.Clone(stream)
	flipped[len(flipped)/3] ^= 0xff
	for name, damaged := range map[string][]byte{
		"truncated": stream[:len(stream)/2],
		"flipped":   flipped,
		"empty":     nil,
	} {
		err := dst.Restore(io.NopCloser(bytes.NewReader(damaged)))
		if !errors.Is(err, strata.ErrCorruption) {
			t.Fatalf("Restore of a %s stream = %v, want ErrCorruption", name, err)
		}
		if got := contents(t, dst); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after the %s stream: %q, want %q", name, got, want)
		}
	}
	if dst.Apply(command(6, 2, "c=3")) != "c" || dst.AppliedIndex() != 6 || dst.Err() != nil {
		t.Fatalf("Apply after failed restores: applied %d, err %v", dst.AppliedIndex(), dst.Err())
	}
}

// Reads through View go on during restores and always find an open database.
func TestReadsDuringRestore(t *testing.T) {
	src := openFSM(t, t.TempDir())
	src.Apply(command(1, 1, "a=1"))
	stream := persist(t, src)
	dst := openFSM(t, t.TempDir())
	dst.Apply(command(1, 1, "a=1"))

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				err := dst.View(func(db *strata.DB) error {
					v, err := db.Get(t.Context(), []byte("a"))
					if err == nil && string(v) != "1" {
						err = fmt.Errorf("a = %q", v)
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				reads.Add(1)
			}
		}()
	}
	for range 10 {
		if err := dst.Restore(io.NopCloser(bytes.NewReader(stream))); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("read during restore: %v", err)
	}
	t.Logf("%d reads during 10 restores", reads.Load())
}
