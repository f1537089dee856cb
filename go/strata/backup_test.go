package strata

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// TestBackupRestoresExactlyWhatWasAcknowledged: a backup taken while a writer goes on
// restores every write acknowledged before Backup was called and, of the writer's later
// writes, a prefix (a consistent moment); the restored database opens and passes Check, and
// no staging directory is left beside either database.
func TestBackupRestoresExactlyWhatWasAcknowledged(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	db, err := Open(filepath.Join(parent, "db"), &Options{NoSync: true, MemtableBudget: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%06d", i)) }
	const before = 3000
	for i := range before {
		if err := db.Put(ctx, key(i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Delete(ctx, key(7)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // keeps writing while the backup runs
		defer wg.Done()
		for i := before; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.Put(ctx, key(i), []byte("later")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var stream bytes.Buffer
	err = db.Backup(ctx, &stream)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(parent, "restored")
	if err := Restore(ctx, restored, bytes.NewReader(stream.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(restored); err != nil {
		t.Fatal(err)
	}
	r, err := Open(restored, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := collect(t, r, nil)
	for i := range before {
		if i == 7 {
			continue
		}
		if len(got) == 0 || got[0].k != string(key(i)) || got[0].v != string(bytes.Repeat([]byte{byte(i)}, 100)) {
			t.Fatalf("restored database lacks write %d (next entry %v)", i, got[:min(1, len(got))])
		}
		got = got[1:]
	}
	for j, e := range got { // the later writes: a prefix of the writer's sequence
		if e.k != string(key(before+j)) || e.v != "later" {
			t.Fatalf("later write %d restored as %v: not a prefix", j, e)
		}
	}
	for _, d := range []string{parent} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if e.Name() != "db" && e.Name() != "restored" {
				t.Errorf("%s left behind in %s", e.Name(), d)
			}
		}
	}
}

// backupOf returns a backup stream of a small database.
func backupOf(t *testing.T) []byte {
	t.Helper()
	db := openTest(t, nil)
	for i := range 200 {
		mustPut(t, db, fmt.Sprintf("k%04d", i), fmt.Sprintf("value %d", i))
	}
	var stream bytes.Buffer
	if err := db.Backup(context.Background(), &stream); err != nil {
		t.Fatal(err)
	}
	return stream.Bytes()
}

// TestRestoreRefusesWhatIsNotAnIntactBackup: a non-empty target, a flipped byte in a table,
// a stream cut short, and a stream with an entry a backup never holds each fail, leaving the
// target as it was (absent or empty).
func TestRestoreRefusesWhatIsNotAnIntactBackup(t *testing.T) {
	ctx := context.Background()
	stream := backupOf(t)

	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "mine"), []byte("x"), 0o644)
	if err := Restore(ctx, busy, bytes.NewReader(stream)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("restore into a non-empty directory: %v, want ErrInvalidArgument", err)
	}
	if entries, _ := os.ReadDir(busy); len(entries) != 1 {
		t.Fatalf("restore changed a non-empty directory: %d entries", len(entries))
	}

	// The first table's data starts after the tar header (512 bytes) and the table header.
	flipped := slices.Clone(stream)
	flipped[512+100] ^= 0x40
	truncated := stream[:len(stream)/2]
	var foreign bytes.Buffer
	tw := tar.NewWriter(&foreign)
	tw.WriteHeader(&tar.Header{Name: "../escape.sst", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	for name, damaged := range map[string][]byte{
		"a flipped byte":     flipped,
		"a truncated stream": truncated,
		"a foreign entry":    foreign.Bytes(),
		"no stream at all":   []byte("not a tar archive, certainly not a backup stream: ......."),
	} {
		target := filepath.Join(t.TempDir(), "restored")
		err := Restore(ctx, target, bytes.NewReader(damaged))
		if !errors.Is(err, ErrCorruption) {
			t.Fatalf("%s: %v, want ErrCorruption", name, err)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Fatalf("%s: the target exists after a failed restore (%v)", name, err)
		}
		if entries, _ := os.ReadDir(filepath.Dir(target)); len(entries) != 0 {
			t.Fatalf("%s: %d entries left beside the target", name, len(entries))
		}
	}
	// A read error from the stream itself is returned as it is.
	boom := errors.New("boom")
	err := Restore(ctx, filepath.Join(t.TempDir(), "r"), io.MultiReader(bytes.NewReader(stream[:1024]), errReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("a failing reader: %v, want its error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestRestoreReplacesNoFileThatAppeared: a file that appeared in the target after Restore
// found it empty is neither replaced nor left beside a partial restore.
func TestRestoreReplacesNoFileThatAppeared(t *testing.T) {
	staging, dir := t.TempDir(), t.TempDir()
	for _, name := range []string{"000003.sst", "000004.sst", "MANIFEST"} {
		if err := os.WriteFile(filepath.Join(staging, name), []byte("restored "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "000004.sst"), []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := moveInto(staging, dir); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("moveInto over an existing file: %v, want ErrInvalidArgument", err)
	}
	entries, _ := os.ReadDir(dir)
	if got, _ := os.ReadFile(filepath.Join(dir, "000004.sst")); len(entries) != 1 || string(got) != "someone else's" {
		t.Fatalf("after a refused restore the directory holds %d entries, 000004.sst = %q", len(entries), got)
	}
}
