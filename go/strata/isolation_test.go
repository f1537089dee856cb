package strata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// Isolation: each database has a thread of its own, so a database whose directory blocks
// holds up only itself. Each test blocks one database's file work for good (until the test
// releases it) and checks that another database in the same process keeps serving reads,
// durable writes and scans. The latencies are logged; the assertion is that every operation
// on the healthy database finishes before a deadline far beyond any latency it shows
// unblocked (before each database had its own thread, none finished at all).

// healthyDeadline bounds each operation on the healthy database: generous, because a miss
// means it waited on the blocked one, not that the machine was slow.
const healthyDeadline = 20 * time.Second

// serveBesideBlocked runs reads, durable writes and a scan on db, every one under
// healthyDeadline, and logs the read latencies.
func serveBesideBlocked(t *testing.T, db *DB, what string) {
	t.Helper()
	const keys, reads = 200, 2000
	for i := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), healthyDeadline)
		err := db.Put(ctx, fmt.Appendf(nil, "k%04d", i), []byte("value"))
		cancel()
		if err != nil {
			t.Fatalf("%s: durable put %d on the healthy database: %v", what, i, err)
		}
	}
	latencies := make([]time.Duration, 0, reads)
	for i := range reads {
		ctx, cancel := context.WithTimeout(context.Background(), healthyDeadline)
		start := time.Now()
		_, err := db.Get(ctx, fmt.Appendf(nil, "k%04d", i%keys))
		latencies = append(latencies, time.Since(start))
		cancel()
		if err != nil {
			t.Fatalf("%s: get %d on the healthy database: %v", what, i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthyDeadline)
	defer cancel()
	var scanErr error
	n := 0
	for range db.All(ctx, &IterOptions{Err: &scanErr}) {
		n++
	}
	if scanErr != nil || n != keys {
		t.Fatalf("%s: scan of the healthy database: %d entries, %v", what, n, scanErr)
	}
	slices.Sort(latencies)
	t.Logf("%s: %d gets on the healthy database: p50 %v, p99 %v, max %v", what, reads,
		latencies[reads/2], latencies[reads*99/100], latencies[reads-1])
}

// A FIFO where the MANIFEST should be: opening the database blocks in open(2) until a writer
// appears. The blocked Open holds its own thread only.
func TestIsolationOpenBlockedOnAFIFO(t *testing.T) {
	healthy := openTest(t, nil)
	blockedDir := t.TempDir()
	fifo := filepath.Join(blockedDir, "MANIFEST")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A writer's open returns once a reader (the Open) has the FIFO open too; holding it
	// open without writing keeps that reader blocked in read(2).
	writer := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		writer <- w
	}()
	opened := make(chan error, 1)
	go func() {
		db, err := Open(blockedDir, nil)
		if err == nil {
			db.Close()
		}
		opened <- err
	}()
	var w *os.File
	select {
	case w = <-writer:
	case <-time.After(healthyDeadline):
		t.Fatal("Open never opened its MANIFEST")
	}
	if w == nil {
		t.FailNow()
	}

	serveBesideBlocked(t, healthy, "open blocked on a FIFO")
	select {
	case err := <-opened:
		t.Fatalf("the blocked Open returned while its MANIFEST had a silent writer: %v", err)
	default:
	}

	// Release it: the writer leaves having written nothing, so the MANIFEST reads empty, which
	// Open refuses as damage.
	w.Close()
	if err := <-opened; !errors.Is(err, ErrCorruption) {
		t.Fatalf("Open of a database whose MANIFEST is an empty FIFO: %v, want ErrCorruption", err)
	}
}

// A frozen file system (fsfreeze): every write to it blocks until it thaws. A durable Put
// and then Close on the database there block its thread; a database on another file system
// serves meanwhile. Needs root and a loop device; skipped where the machine has neither.
func TestIsolationFrozenFileSystem(t *testing.T) {
	mnt := mountScratchExt4(t)
	frozenDB, err := Open(filepath.Join(mnt, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, frozenDB, "before", "freeze")
	healthy := openTest(t, nil)

	if out, err := exec.Command("fsfreeze", "-f", mnt).CombinedOutput(); err != nil {
		frozenDB.Close()
		t.Skipf("fsfreeze -f: %v: %s", err, out)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			if out, err := exec.Command("fsfreeze", "-u", mnt).CombinedOutput(); err != nil {
				t.Errorf("fsfreeze -u: %v: %s", err, out)
			}
		}
	}
	t.Cleanup(thaw) // before the unmount registered earlier
	blocked := make(chan error, 2)
	go func() {
		blocked <- frozenDB.Put(context.Background(), []byte("during"), []byte("freeze"))
		blocked <- frozenDB.Close()
	}()

	serveBesideBlocked(t, healthy, "another database's file system frozen")
	select {
	case err := <-blocked:
		t.Fatalf("a durable Put on a frozen file system returned before the thaw: %v", err)
	default:
	}

	thaw()
	for _, what := range []string{"put", "close"} {
		if err := <-blocked; err != nil {
			t.Fatalf("%s on the thawed database: %v", what, err)
		}
	}
	reopened, err := Open(filepath.Join(mnt, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	wantValue(t, reopened, "during", "freeze")
}

// mountScratchExt4 mounts a fresh 64 MiB ext4 image on a loop device and returns the mount
// point; it unmounts at cleanup. Skips the test where that is not possible.
func mountScratchExt4(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a scratch file system needs root")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount", "fsfreeze"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	dir := t.TempDir()
	image := filepath.Join(dir, "fs.img")
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(image, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(image, 64<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", image).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", image, mnt).CombinedOutput(); err != nil {
		t.Skipf("mount -o loop: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}
