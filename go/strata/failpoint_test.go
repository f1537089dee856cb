//go:build strata_failpoints

package strata

// Tests that make the engine panic or fault on purpose, through failpoints compiled only into
// the checked engine build: go test -tags strata_failpoints (scripts/test.sh runs them).

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// faultChildEnv makes the test binary a child that faults on a strata thread (see init).
const faultChildEnv = "STRATA_FAULT_CHILD"

func init() {
	point := os.Getenv(faultChildEnv)
	if point == "" {
		return
	}
	db, err := Open(os.Getenv(childDirEnv), nil)
	if err != nil {
		os.Stderr.WriteString("open failed: " + err.Error() + "\n")
		os.Exit(3)
	}
	ctx := context.Background()
	if err := db.Put(ctx, []byte("k"), []byte("v")); err != nil {
		os.Exit(4)
	}
	if err := ArmFailpoint(point, FailSegfault); err != nil {
		os.Exit(5)
	}
	switch point {
	case "db.get":
		db.Get(ctx, []byte("k"))
	case "flush":
		db.Flush(ctx)
	}
	// Reaching this line means the fault did not end the process.
	os.Stderr.WriteString("survived the fault\n")
	os.Exit(0)
}

// truncatedTableChildEnv makes the test binary a child that reads a mapped table another
// program cut short (see init).
const truncatedTableChildEnv = "STRATA_TRUNCATED_TABLE_CHILD"

func init() {
	if os.Getenv(truncatedTableChildEnv) == "" {
		return
	}
	dir := os.Getenv(childDirEnv)
	fail := func(code int, err error) {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(code)
	}
	db, err := Open(dir, &Options{NoSync: true, Compression: CompressionNone})
	if err != nil {
		fail(3, err)
	}
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 100)
	for i := range 1000 {
		if err := db.Put(ctx, fmt.Appendf(nil, "k%04d", i), value); err != nil {
			fail(4, err)
		}
	}
	if err := db.Flush(ctx); err != nil {
		fail(5, err)
	}
	// The first read opens and maps the table.
	if _, err := db.Get(ctx, []byte("k0000")); err != nil {
		fail(6, err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) != 1 {
		fail(7, fmt.Errorf("tables %v, want one", tables))
	}
	if err := os.Truncate(tables[0], 4096); err != nil {
		fail(8, err)
	}
	// The last key's block lies past the cut: its page is gone from under the map.
	v, err := db.Get(ctx, []byte("k0999"))
	fmt.Fprintf(os.Stderr, "survived the fault: %q, %v\n", v, err)
	os.Exit(0)
}

func armed(t *testing.T, point string, action FailpointAction) {
	t.Helper()
	if err := ArmFailpoint(point, action); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(DisarmFailpoints)
}

func TestPanicInAWriteMakesOnlyThatDatabaseReadOnly(t *testing.T) {
	ctx := context.Background()
	hit, other := openTest(t, nil), openTest(t, nil)
	mustPut(t, hit, "before", "1")
	mustPut(t, other, "before", "1")

	armed(t, "db.prepare", FailPanic)
	err := hit.Put(ctx, []byte("k"), []byte("v"))
	if !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), "failpoint db.prepare fired") {
		t.Fatalf("put through a panicking engine = %v; want ErrInternal naming the panic", err)
	}
	// Every later write says why; reads keep working.
	for range 3 {
		err := hit.Put(ctx, []byte("k2"), []byte("v"))
		if !errors.Is(err, ErrPoisoned) || !strings.Contains(err.Error(), "failpoint db.prepare fired") {
			t.Fatalf("write after the panic = %v; want ErrPoisoned naming the panic", err)
		}
	}
	wantValue(t, hit, "before", "1")
	wantNotFound(t, hit, "k")
	// The other database, on the same runtime thread, is untouched.
	mustPut(t, other, "after", "2")
	wantValue(t, other, "after", "2")
	if err := hit.Close(); err != nil {
		t.Fatalf("close after the panic: %v", err)
	}
}

func TestPanicInAReadFailsThatReadOnly(t *testing.T) {
	db := openTest(t, nil)
	mustPut(t, db, "k", "v")
	armed(t, "db.get", FailPanic)
	if _, err := db.Get(context.Background(), []byte("k")); !errors.Is(err, ErrInternal) {
		t.Fatalf("get through a panicking engine = %v; want ErrInternal", err)
	}
	wantValue(t, db, "k", "v")
}

// TestPanicReadingAChunkAheadPoisonsTheDatabase: once an iterator asks for a chunk after its
// first, its database's thread reads the next one ahead; a panic there poisons the database
// as one in a request does (later writes say why), and the iterator still reads every entry,
// its next chunk read on demand.
func TestPanicReadingAChunkAheadPoisonsTheDatabase(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, &Options{NoSync: true})
	writeNumbered(t, db, 1000, "k%04d", "v%d")
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	armed(t, "iter.read_ahead", FailPanic)
	read := 0
	// Past the first chunk (at most 256 entries), so one more was asked for.
	for read < 300 && it.Next() {
		read++
	}
	// The chunk after it is read once the thread has nothing else to do: writes succeed
	// until then, and fail from then on.
	var werr error
	for start := time.Now(); werr == nil && time.Since(start) < 10*time.Second; {
		werr = db.Put(ctx, []byte("probe"), []byte("v"))
	}
	if !errors.Is(werr, ErrPoisoned) || !strings.Contains(werr.Error(), "failpoint iter.read_ahead fired") {
		t.Fatalf("write after the read ahead panicked = %v; want ErrPoisoned naming it", werr)
	}
	for it.Next() {
		if want := fmt.Sprintf("k%04d", read); string(it.Key()) != want {
			t.Fatalf("entry %d is %q, want %q", read, it.Key(), want)
		}
		read++
	}
	if err := it.Err(); err != nil || read != 1000 {
		t.Fatalf("iterator read %d entries, err %v; want all 1000", read, err)
	}
}

func TestPanicOnTheFlushThreadMakesTheDatabaseReadOnly(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	mustPut(t, db, "k", "v")
	armed(t, "flush", FailPanic)
	err := db.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "panic in flush") {
		t.Fatalf("flush through a panicking flush thread = %v; want an error naming the panic", err)
	}
	if err := db.Put(ctx, []byte("k2"), []byte("v")); !errors.Is(err, ErrPoisoned) || !strings.Contains(err.Error(), "panic in flush") {
		t.Fatalf("write after the flush panicked = %v; want ErrPoisoned naming it", err)
	}
	wantValue(t, db, "k", "v")
	// The data stays safe: reopening replays the log the flush never replaced.
	dir := db.Dir()
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	again, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	wantValue(t, again, "k", "v")
	mustPut(t, again, "k2", "v2")
}

// TestPanicOnTheFlushThreadLeavesNoReplayBehind: a flush that panicked leaves its frozen
// memtable in a WAL segment beside the active one. The next Open flushes what it replayed
// before returning, so the open after it replays nothing, and no open adds a segment.
func TestPanicOnTheFlushThreadLeavesNoReplayBehind(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	dir := db.Dir()
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "v")
	}
	armed(t, "flush", FailPanic)
	if err := db.Flush(ctx); err == nil {
		t.Fatal("flush through a panicking flush thread succeeded")
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wals := func() []string {
		names, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
		return names
	}
	if n := len(wals()); n != 2 {
		t.Fatalf("after the failed flush: %d WAL segments, want the frozen one and the active one", n)
	}
	for round := range 3 {
		again, err := Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		stats, err := again.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]uint64{true: 100, false: 0}[round == 0]; stats.RecoveredBatches != want {
			t.Errorf("open %d replayed %d batches, want %d", round, stats.RecoveredBatches, want)
		}
		wantValue(t, again, "k099", "v")
		if err := again.Close(); err != nil {
			t.Fatal(err)
		}
		if n := len(wals()); n != 1 {
			t.Errorf("after open %d: WAL segments %v, want one", round, wals())
		}
	}
}

func TestPanicOnTheCompactionThreadFailsTheCompaction(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	for i := range 4 {
		mustPut(t, db, string(rune('a'+i)), "v")
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	armed(t, "compaction", FailPanic)
	if err := db.Compact(ctx, nil, nil); err == nil || !strings.Contains(err.Error(), "panic in compaction") {
		t.Fatalf("compact through a panicking compaction thread = %v; want an error naming the panic", err)
	}
	if err := db.Put(ctx, []byte("z"), []byte("v")); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("write after the compaction panicked = %v; want ErrPoisoned", err)
	}
	wantValue(t, db, "c", "v")
}

func TestSIGPIPEOnAStrataThreadLeavesTheProcessRunning(t *testing.T) {
	db := openTest(t, nil)
	mustPut(t, db, "k", "v")
	armed(t, "db.get", FailBrokenPipe)
	// The runtime thread writes to a pipe with no reader while serving this Get. Were SIGPIPE
	// deliverable there, the Go runtime would treat it as fatal on a non-Go thread.
	wantValue(t, db, "k", "v")
	wantValue(t, db, "k", "v")
}

// hasSymbols reports whether the executable at path keeps its symbol table. `go test` links
// test binaries with -s -w (no symbols), so function names can only be printed by a binary
// built with `go test -c` or `go build`, which keep them.
func hasSymbols(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Section(".symtab") != nil
}

func TestFaultOnAStrataThreadReportsTheRustFrames(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	symbols := hasSymbols(t, exe)
	if !symbols && os.Getenv("STRATA_REQUIRE_SYMBOLS") != "" {
		t.Fatal("this test binary has no symbol table; build it with `go test -c` (scripts/test.sh does)")
	}
	for point, function := range map[string]string{
		"db.get": "strata_engine::db::Db::get_at",
		"flush":  "strata_engine::tree::Tree::flush",
	} {
		t.Run(point, func(t *testing.T) {
			out := faultingChild(t, exe, syscall.SIGSEGV, faultChildEnv+"="+point)
			want := []string{`strata: fatal SIGSEGV (segmentation violation) at address 0x0 on strata thread "strata-`}
			if symbols {
				// The Rust function that faulted, and the engine function that called it.
				want = append(want, "strata_engine::failpoint::deliberate_fault", function)
			} else {
				t.Log("no symbol table in this test binary: function names not checked")
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("stderr lacks %q; stderr:\n%s", w, out)
				}
			}
			if strings.Contains(out, "survived the fault") {
				t.Errorf("the process kept running after a fault on a strata thread")
			}
		})
	}
}

// A table file cut short by another program while strata has it mapped: the next read of a
// lost page faults (SIGBUS), and the process dies with a report naming the signal, its likely
// cause and the Rust frames of the read, never returning wrong data.
func TestTruncatedMappedTableFaultsWithAReport(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := faultingChild(t, exe, syscall.SIGBUS, truncatedTableChildEnv+"=1")
	want := []string{
		`strata: fatal SIGBUS (bus error) at address 0x`,
		`memory-mapped table file that another program truncated`,
	}
	if hasSymbols(t, exe) {
		want = append(want, "strata_engine::sstable::table::reader::Table::data_block")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("stderr lacks %q; stderr:\n%s", w, out)
		}
	}
}

// faultingChild runs the test binary exe as a child with env added (and a database directory
// of its own), which must die by sig; it returns the child's stderr.
func faultingChild(t *testing.T, exe string, sig syscall.Signal, env string) string {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), env, childDirEnv+"="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	out := stderr.String()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("child exited with %v; want death by %v. stderr:\n%s", err, sig, out)
	}
	// The Go runtime ends a process whose non-Go thread faulted by re-raising the signal with
	// its default action (a core dump where enabled), printing nothing itself.
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != sig {
		t.Errorf("child ended with %v; want it killed by %v. stderr:\n%s", exit, sig, out)
	}
	return out
}
