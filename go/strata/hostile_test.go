package strata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// Hostile environments: what the world outside the engine does to a database directory, and
// what strata must do about it. Each test sets up one such situation and checks the promise
// that covers it:
//
//   - A directory that is not (or no longer) provably a strata database is refused, and not
//     one byte in it changes: a database whose MANIFEST was deleted (ErrCorruption, pointing
//     at `strata repair`), another engine's directory (ErrInvalidArgument).
//   - Damage is reported, never answered with wrong data or a silent cut: a flipped byte
//     before the seal of a cleanly closed WAL (with and without NoSync), tables swapped,
//     truncated or taken from another database.
//   - The directory lock holds even when someone deletes a LOCK file, in this process and in
//     another.
//   - A directory deleted under an open database stops its writes: nothing is acknowledged
//     once the deletion is visible.
//   - Few file descriptors (ulimit -n 64) cost table reopens, never failed reads.
//   - Reopening a database whose log outgrew a memtable does not replay it again each time.
//
// Tests that need a process of their own (a second lock holder, a lowered RLIMIT_NOFILE)
// re-execute this test binary with hostileChildEnv set; see init below.

const (
	// hostileChildEnv makes the test binary a child running one hostile scenario (see init);
	// childDirEnv (crash_test.go) names its database directory.
	hostileChildEnv = "STRATA_HOSTILE_CHILD"
	// lowFilesTables and lowFilesKeysPerTable shape the database of TestHostileLowFileLimit;
	// parent and child share them.
	lowFilesTables       = 220
	lowFilesKeysPerTable = 4
	// lowFileLimit is the RLIMIT_NOFILE of that test's child, as `ulimit -n 64` sets it.
	lowFileLimit = 64
)

func init() {
	mode := os.Getenv(hostileChildEnv)
	if mode == "" {
		return
	}
	dir := os.Getenv(childDirEnv)
	var err error
	switch mode {
	case "open":
		err = childReportOpen(dir)
	case "low-files":
		err = childReadUnderLowFileLimit(dir)
	default:
		err = fmt.Errorf("unknown %s %q", hostileChildEnv, mode)
	}
	if err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runHostileChild runs this test binary as the child of mode on dir, with env added to its
// environment, and returns its standard output and error and its exit error.
func runHostileChild(t *testing.T, mode, dir string, env ...string) (stdout, stderr string, err error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), hostileChildEnv+"="+mode, childDirEnv+"="+dir)
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// dirState is every entry of a directory: a file's contents, or "<dir>" for a subdirectory.
type dirState map[string]string

// readDirState reads every entry of dir, recursively.
func readDirState(t testing.TB, dir string) dirState {
	t.Helper()
	state := dirState{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			state[rel] = "<dir>"
			return nil
		}
		data, err := os.ReadFile(path)
		state[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// wantDirUnchanged fails the test when dir differs from before: an entry created, deleted or
// changed by a single byte.
func wantDirUnchanged(t testing.TB, dir string, before dirState, after string) {
	t.Helper()
	now := readDirState(t, dir)
	for _, name := range slices.Sorted(maps.Keys(before)) {
		switch got, ok := now[name]; {
		case !ok:
			t.Errorf("after %s, %s is gone", after, name)
		case got != before[name]:
			t.Errorf("after %s, %s changed (%d bytes, was %d)", after, name, len(got), len(before[name]))
		}
	}
	for name := range now {
		if _, ok := before[name]; !ok {
			t.Errorf("after %s, %s appeared", after, name)
		}
	}
}

// wantRefused checks that err wraps sentinel and mentions every one of wants.
func wantRefused(t testing.TB, what string, err, sentinel error, wants ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s = %v, want %v", what, err, sentinel)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: the error does not mention %q: %v", what, want, err)
		}
	}
}

// wantCheckDamaged runs Check on dir and requires ErrCorruption with a "damaged NAME:" line
// for each of names, in the error and in the report. It returns the report.
func wantCheckDamaged(t testing.TB, dir string, names ...string) string {
	t.Helper()
	report, err := Check(dir)
	if !errors.Is(err, ErrCorruption) {
		t.Fatalf("Check = %v, want ErrCorruption; report:\n%s", err, report)
	}
	for _, name := range names {
		line := "damaged " + name + ": "
		if !strings.Contains(err.Error(), line) || !strings.Contains(report, line) {
			t.Errorf("Check does not report %s damaged: error %v; report:\n%s", name, err, report)
		}
	}
	return report
}

// mustClose closes db, failing the test on an error.
func mustClose(t testing.TB, db *DB) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// filesWithSuffix lists the names of dir's files ending in suffix, sorted.
func filesWithSuffix(t testing.TB, dir, suffix string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

// TestHostileManifestDeleted deletes the MANIFEST of a closed database that holds data in
// tables and in its WAL (or in its WAL alone). Open must refuse with ErrCorruption naming the
// manifest and the way out (strata repair), Check must report the manifest damaged, and
// neither may create, change or delete anything: the tables and the log are all a repair has.
func TestHostileManifestDeleted(t *testing.T) {
	for _, flushed := range []bool{true, false} {
		name := "tables and WAL"
		if !flushed {
			name = "WAL only"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := range 100 {
				mustPut(t, db, fmt.Sprintf("k%03d", i), "in a table")
			}
			if flushed {
				if err := db.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 50 {
				mustPut(t, db, fmt.Sprintf("w%03d", i), "in the WAL")
			}
			mustClose(t, db)
			if n := len(filesWithSuffix(t, dir, ".sst")); flushed != (n > 0) {
				t.Fatalf("%d tables after the flush: the fixture is not what the test needs", n)
			}
			if n := len(filesWithSuffix(t, dir, ".wal")); n == 0 {
				t.Fatal("no WAL segment: the fixture is not what the test needs")
			}
			if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
				t.Fatal(err)
			}
			before := readDirState(t, dir)

			_, err = Open(dir, nil)
			wantRefused(t, "Open without a MANIFEST", err, ErrCorruption,
				filepath.Join(dir, "MANIFEST"), "missing", "strata repair")
			wantDirUnchanged(t, dir, before, "Open")

			report := wantCheckDamaged(t, dir, "MANIFEST")
			if line := reportLine(report, "MANIFEST"); !strings.Contains(line, "missing") {
				t.Errorf("Check's MANIFEST line does not say it is missing: %q", line)
			}
			wantDirUnchanged(t, dir, before, "Check")
		})
	}
}

// TestHostileForeignEngineDirectory points Open and Check at a directory laid out like a
// RocksDB or LevelDB database (numbered .sst and .log files, CURRENT, a MANIFEST-NNNNNN, a
// LOCK). Neither may take it for a damaged strata database or clean it up: both refuse with
// ErrInvalidArgument, and the directory stays byte for byte as it was.
func TestHostileForeignEngineDirectory(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 3))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	foreign := map[string]string{
		"000005.sst":      random(4096),
		"000006.sst":      "", // a table another engine just created
		"000003.log":      random(700),
		"CURRENT":         "MANIFEST-000002\n",
		"MANIFEST-000002": random(300),
		"LOCK":            "",
		"LOG":             "2026/12/06-14:00:00.000000 7f00 RocksDB version: 9.0.0\n",
		"OPTIONS-000007":  "[Version]\n  rocksdb_version=9.0.0\n",
	}
	for name, data := range foreign {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := readDirState(t, dir)

	_, err := Open(dir, nil)
	wantRefused(t, "Open of another engine's directory", err, ErrInvalidArgument,
		dir, "not a strata database", "Nothing was changed")
	wantDirUnchanged(t, dir, before, "Open")

	report, err := Check(dir)
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Check of another engine's directory = %v (report %q), want ErrInvalidArgument", err, report)
	}
	wantDirUnchanged(t, dir, before, "Check")
}

// TestHostileWALByteFlippedBeforeSeal closes a database cleanly after 200 single writes, then
// flips one byte about a tenth of the way into the WAL's records. The seal Close wrote vouches
// for every byte before it, so the flip is damage, not a torn tail: Open and Check must report
// it as ErrCorruption naming the segment, with NoSync too (whose records on their own vouch for
// nothing), and Open must not cut or rewrite the log it refused.
func TestHostileWALByteFlippedBeforeSeal(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		name := "durable"
		if noSync {
			name = "NoSync"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, &Options{NoSync: noSync})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				mustPut(t, db, fmt.Sprintf("k%03d", i), fmt.Sprintf("value %03d of a sealed log", i))
			}
			mustClose(t, db)
			wals := filesWithSuffix(t, dir, ".wal")
			if len(wals) != 1 {
				t.Fatalf("WAL segments %v, want one", wals)
			}
			path := filepath.Join(dir, wals[0])
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			spans := walRecordSpans(t, data)
			seal := spans[len(spans)-1]
			if len(spans) != 201 || seal[1]-seal[0] != walRecordHeaderLen || seal[1] != len(data) {
				t.Fatalf("the WAL holds %d records ending with %v in %d bytes, want 200 and a seal at the end",
					len(spans), seal, len(data))
			}
			at := walHeaderLen + (seal[0]-walHeaderLen)/10
			data[at] ^= 0x40
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			before := readDirState(t, dir)

			_, err = Open(dir, &Options{NoSync: noSync})
			wantRefused(t, fmt.Sprintf("Open after a flip at byte %d of %d", at, len(data)), err, ErrCorruption, wals[0])
			wantDirUnchanged(t, dir, before, "Open")

			wantCheckDamaged(t, dir, wals[0])
			wantDirUnchanged(t, dir, before, "Check")
		})
	}
}

// tableIdentityFixture writes a closed database into dir with three tables that all hold the
// same keys, each round overwriting the one before, so a table read in another's place would
// return older (or newer) values. It returns the table names, oldest first, and the values
// acknowledged last.
func tableIdentityFixture(t *testing.T, dir string, salt string) ([]string, map[string]string) {
	t.Helper()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	model := map[string]string{}
	for round := range 3 {
		b := NewBatch()
		for i := range 200 {
			k := fmt.Sprintf("k%03d", i)
			v := fmt.Sprintf("%s round %d of %s", salt, round, k)
			b.Put([]byte(k), []byte(v))
			model[k] = v
		}
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, db)
	tables := filesWithSuffix(t, dir, ".sst")
	if len(tables) != 3 {
		t.Fatalf("tables %v, want 3", tables)
	}
	return tables, model
}

// TestHostileTableIdentity damages the tables of a closed database the ways a careless copy,
// restore or rename does: two tables swapped, one truncated, one replaced by the table of the
// same name from another database. Each time Open must refuse with ErrCorruption naming a
// damaged table, and Check must report it damaged. Were Open to accept the directory, every
// read must still be the acknowledged value or ErrCorruption: never another table's value.
func TestHostileTableIdentity(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string, tables []string) []string // returns the damaged tables
	}{
		{"swapped", func(t *testing.T, dir string, tables []string) []string {
			a, b := filepath.Join(dir, tables[0]), filepath.Join(dir, tables[2])
			tmp := filepath.Join(t.TempDir(), "swap")
			for _, mv := range [][2]string{{a, tmp}, {b, a}, {tmp, b}} {
				if err := os.Rename(mv[0], mv[1]); err != nil {
					t.Fatal(err)
				}
			}
			return []string{tables[0], tables[2]}
		}},
		{"truncated", func(t *testing.T, dir string, tables []string) []string {
			path := filepath.Join(dir, tables[1])
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, info.Size()-3); err != nil {
				t.Fatal(err)
			}
			return []string{tables[1]}
		}},
		{"from another database", func(t *testing.T, dir string, tables []string) []string {
			other := t.TempDir()
			// Values as long as this database's: the same keys, sizes and file numbers, so
			// only the identity the table carries tells it apart.
			others, _ := tableIdentityFixture(t, other, "that")
			data, err := os.ReadFile(filepath.Join(other, others[1]))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tables[1]), data, 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{tables[1]}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			tables, model := tableIdentityFixture(t, dir, "this")
			damaged := c.damage(t, dir, tables)
			before := readDirState(t, dir)

			db, err := Open(dir, nil)
			if err == nil {
				t.Errorf("Open accepted a directory whose tables %v are damaged", damaged)
				wantRightValueOrCorruption(t, db, model)
				mustClose(t, db)
			} else {
				if !errors.Is(err, ErrCorruption) {
					t.Fatalf("Open = %v, want ErrCorruption", err)
				}
				if !slices.ContainsFunc(damaged, func(name string) bool { return strings.Contains(err.Error(), name) }) {
					t.Errorf("Open's error names none of the damaged tables %v: %v", damaged, err)
				}
				wantDirUnchanged(t, dir, before, "Open")
			}
			before = readDirState(t, dir)
			wantCheckDamaged(t, dir, damaged...)
			wantDirUnchanged(t, dir, before, "Check")
		})
	}
}

// wantRightValueOrCorruption reads every key of model, and the whole database, failing on any
// answer but the acknowledged value or ErrCorruption.
func wantRightValueOrCorruption(t *testing.T, db *DB, model map[string]string) {
	t.Helper()
	ctx := context.Background()
	wrong := 0
	for _, k := range slices.Sorted(maps.Keys(model)) {
		got, err := db.Get(ctx, []byte(k))
		if err != nil && !errors.Is(err, ErrCorruption) {
			t.Errorf("Get %s = %v, want the value or ErrCorruption", k, err)
		} else if err == nil && string(got) != model[k] {
			if wrong++; wrong == 1 {
				t.Errorf("Get %s = %q, acknowledged %q: a wrong value", k, got, model[k])
			}
		}
	}
	if wrong > 1 {
		t.Errorf("%d of %d Gets returned a wrong value", wrong, len(model))
	}
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		if !errors.Is(err, ErrCorruption) {
			t.Errorf("NewIterator = %v, want nil or ErrCorruption", err)
		}
		return
	}
	for it.Next() {
		if want, ok := model[string(it.Key())]; !ok || want != string(it.Value()) {
			t.Errorf("iteration returned %q = %q, acknowledged %q (present %v)", it.Key(), it.Value(), want, ok)
			break
		}
	}
	if err := it.Close(); err != nil && !errors.Is(err, ErrCorruption) {
		t.Errorf("iteration ended with %v, want nil or ErrCorruption", err)
	}
}

// childReportOpen opens dir and prints what happened: "locked", "opened", or the error.
func childReportOpen(dir string) error {
	db, err := Open(dir, nil)
	switch {
	case errors.Is(err, ErrLocked):
		fmt.Println("locked:", err)
	case err != nil:
		fmt.Println("open failed:", err)
	default:
		fmt.Println("opened")
		return db.Close()
	}
	return nil
}

// TestHostileLockFileDeleted deletes and recreates a LOCK file while the database is open (as
// a cleanup script or an older strata might). The lock is on the directory itself, so a second
// Open, from this process or another, still fails with ErrLocked; and what the first handle
// acknowledged is all there after it closes.
func TestHostileLockFileDeleted(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		mustPut(t, db, fmt.Sprintf("k%02d", i), fmt.Sprintf("acknowledged %d", i))
	}
	lock := filepath.Join(dir, "LOCK")
	if _, err := os.Stat(lock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created a LOCK file (stat: %v); the lock is on the directory", err)
	}
	if err := os.Remove(lock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	if second, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
		if err == nil {
			second.Close()
		}
		t.Fatalf("second Open in this process = %v, want ErrLocked", err)
	}
	if _, err := Check(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("Check of the open directory = %v, want ErrLocked", err)
	}
	out, errOut, err := runHostileChild(t, "open", dir)
	if err != nil || !strings.HasPrefix(out, "locked:") {
		t.Errorf("Open from another process: %q (exit: %v, stderr %q), want ErrLocked", out, err, errOut)
	}
	for i := 20; i < 30; i++ {
		mustPut(t, db, fmt.Sprintf("k%02d", i), fmt.Sprintf("acknowledged %d", i))
	}
	mustClose(t, db)

	// The LOCK file is still there, and an old one is no obstacle.
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen beside a leftover LOCK file: %v", err)
	}
	defer db.Close()
	for i := range 30 {
		wantValue(t, db, fmt.Sprintf("k%02d", i), fmt.Sprintf("acknowledged %d", i))
	}
}

// TestHostileDirectoryDeletedWhileOpen deletes the directory of an open database (rm -rf).
// A write acknowledged after that would be lost at once, so none may be: the first durable
// write fails at its fsync (NoSync ones within 64 write groups), saying the files were
// deleted, every later write fails too, reads of what was acknowledged still work, and Close
// returns without recreating anything.
func TestHostileDirectoryDeletedWhileOpen(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		name := "durable"
		if noSync {
			name = "NoSync"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			db, err := Open(dir, &Options{NoSync: noSync})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			mustPut(t, db, "before", "acknowledged")
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}

			// A durable Put checks after its fsync: the first one fails. NoSync writes are
			// checked every 64 write groups (each sequential Put is one): one of the first 64
			// fails, and the ones before it stay readable until Close.
			attempts := 1
			if noSync {
				attempts = 64
			}
			acked := 0
			for ; acked < attempts; acked++ {
				if err = db.Put(ctx, []byte(fmt.Sprintf("after%d", acked)), []byte("v")); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatalf("%d Puts after the directory was deleted were all acknowledged", attempts)
			}
			if !errors.Is(err, ErrIO) && !errors.Is(err, ErrPoisoned) {
				t.Errorf("Put after the deletion = %v, want ErrIO or ErrPoisoned", err)
			}
			if !strings.Contains(err.Error(), "deleted") {
				t.Errorf("the error does not say the files were deleted: %v", err)
			}
			for i := range 3 {
				err := db.Put(ctx, []byte(fmt.Sprintf("later%d", i)), []byte("v"))
				if !errors.Is(err, ErrPoisoned) || !strings.Contains(err.Error(), "deleted") {
					t.Errorf("Put %d after the first failure = %v, want ErrPoisoned saying the files were deleted", i, err)
				}
			}
			b := NewBatch()
			b.Put([]byte("batch"), []byte("v"))
			if err := db.Write(ctx, b); !errors.Is(err, ErrPoisoned) {
				t.Errorf("Write after the first failure = %v, want ErrPoisoned", err)
			}
			wantValue(t, db, "before", "acknowledged")
			wantNotFound(t, db, fmt.Sprintf("after%d", acked))

			if _, err := finishes(t, "Close", func() (struct{}, error) { return struct{}{}, db.Close() }); err != nil {
				t.Logf("Close after the deletion: %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the deleted directory is back after Close (stat: %v)", err)
			}
		})
	}
}

// lowFilesKey and lowFilesValue are the entries of TestHostileLowFileLimit's database: table
// t holds keys t*lowFilesKeysPerTable... in ascending order, so every flush is a table of its
// own that compaction moves down without merging.
func lowFilesKey(table, i int) string { return fmt.Sprintf("t%04d-%d", table, i) }
func lowFilesValue(key string) string { return key + " " + strings.Repeat("v", 40) }

// childReadUnderLowFileLimit lowers RLIMIT_NOFILE to lowFileLimit (the Go runtime raised the
// soft limit to the hard one at start, so a shell's ulimit alone would not stay), then reads
// every key and scans the database, first with the default table cache (derived from the
// limit), then with one far larger than the limit allows, which must shrink on EMFILE.
func childReadUnderLowFileLimit(dir string) error {
	limit := syscall.Rlimit{Cur: lowFileLimit, Max: lowFileLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil || limit.Cur != lowFileLimit {
		return fmt.Errorf("RLIMIT_NOFILE is %d after setrlimit (%v)", limit.Cur, err)
	}
	for _, opts := range []*Options{nil, {MaxOpenFiles: 4096}} {
		if err := readAllUnderLimit(dir, opts); err != nil {
			return err
		}
	}
	fmt.Println("ok")
	return nil
}

func readAllUnderLimit(dir string, opts *Options) (err error) {
	what := "default options"
	if opts != nil {
		what = fmt.Sprintf("MaxOpenFiles %d", opts.MaxOpenFiles)
	}
	db, err := Open(dir, opts)
	if err != nil {
		return fmt.Errorf("%s: open: %w", what, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%s: close: %w", what, cerr)
		}
	}()
	ctx := context.Background()
	for round := range 2 { // the second round finds most tables closed again
		for table := range lowFilesTables {
			for i := range lowFilesKeysPerTable {
				k := lowFilesKey(table, i)
				v, err := db.Get(ctx, []byte(k))
				if err != nil {
					return fmt.Errorf("%s: round %d: Get %s: %w", what, round, k, err)
				}
				if string(v) != lowFilesValue(k) {
					return fmt.Errorf("%s: Get %s = %q, want %q", what, k, v, lowFilesValue(k))
				}
			}
		}
	}
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: NewIterator: %w", what, err)
	}
	n := 0
	for it.Next() {
		table, i := n/lowFilesKeysPerTable, n%lowFilesKeysPerTable
		if k := lowFilesKey(table, i); string(it.Key()) != k || string(it.Value()) != lowFilesValue(k) {
			it.Close()
			return fmt.Errorf("%s: scan entry %d is %q = %q, want %q", what, n, it.Key(), it.Value(), k)
		}
		n++
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("%s: scan after %d entries: %w", what, n, err)
	}
	if want := lowFilesTables * lowFilesKeysPerTable; n != want {
		return fmt.Errorf("%s: scan returned %d entries, want %d", what, n, want)
	}
	return nil
}

// TestHostileLowFileLimit builds a database of more than 200 tables, then reads all of it in
// a child process limited to 64 open files, as under `ulimit -n 64`: every Get and the full
// scan must succeed with the right values, with the default table cache (derived from the
// limit) and with one set far above what the limit allows, which must run out of descriptors
// and shrink instead of failing reads.
func TestHostileLowFileLimit(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for table := range lowFilesTables {
		b := NewBatch()
		for i := range lowFilesKeysPerTable {
			k := lowFilesKey(table, i)
			b.Put([]byte(k), []byte(lowFilesValue(k)))
		}
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, db)
	if n := len(filesWithSuffix(t, dir, ".sst")); n < 200 {
		t.Fatalf("the database has %d tables, want at least 200 (more than the file limit allows open)", n)
	}

	// STRATA_LOG=warn has the engine write its warnings to the child's stderr as they happen,
	// among them the one that proves the table cache ran out of descriptors and shrank.
	out, errOut, err := runHostileChild(t, "low-files", dir, "STRATA_LOG=warn")
	if err != nil || out != "ok\n" {
		t.Fatalf("reading under RLIMIT_NOFILE %d: exit %v, stdout:\n%s\nstderr:\n%s", lowFileLimit, err, out, errOut)
	}
	if !strings.Contains(errOut, "out of file descriptors") {
		t.Fatalf("the child never ran out of file descriptors, so shrinking the table cache went untested; stderr:\n%s", errOut)
	}
}

// TestHostileRepeatedOpenAfterBigReplay closes a database with 6 MiB in its WAL and no table,
// then opens and closes it five times with a memtable budget whose half the replay exceeds.
// The first open must flush what it replayed before returning, so later opens replay nothing,
// and no cycle may pile up WAL segments; the data stays intact throughout.
func TestHostileRepeatedOpenAfterBigReplay(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const batches, perBatch, valueSize = 24, 64, 4096 // 6 MiB of values
	model := map[string]string{}
	rng := rand.New(rand.NewPCG(6, 6))
	for n := range batches {
		b := NewBatch()
		for i := range perBatch {
			k := fmt.Sprintf("r%02d-%03d", n, i)
			v := make([]byte, valueSize)
			for j := range v {
				v[j] = 'a' + byte(rng.IntN(26))
			}
			b.Put([]byte(k), v)
			model[k] = string(v)
		}
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if s := mustStats(t, db); s.Flushes != 0 {
		t.Fatalf("%d flushes before close: the replay would not be big", s.Flushes)
	}
	mustClose(t, db)
	if tables := filesWithSuffix(t, dir, ".sst"); len(tables) != 0 {
		t.Fatalf("tables %v before the first reopen, want none", tables)
	}

	small := &Options{MemtableBudget: 2 << 20}
	var tablesAfterFirst []string
	for cycle := 1; cycle <= 5; cycle++ {
		db, err := Open(dir, small)
		if err != nil {
			t.Fatalf("reopen %d: %v", cycle, err)
		}
		s := mustStats(t, db)
		mustClose(t, db)
		if cycle == 1 && s.RecoveredBatches != batches {
			t.Errorf("reopen 1 replayed %d batches, want %d", s.RecoveredBatches, batches)
		}
		if cycle > 1 && s.RecoveredBatches != 0 {
			t.Errorf("reopen %d replayed %d batches again, want 0: the first reopen did not flush its replay", cycle, s.RecoveredBatches)
		}
		wals, tables := filesWithSuffix(t, dir, ".wal"), filesWithSuffix(t, dir, ".sst")
		if len(wals) > 2 {
			t.Errorf("after reopen %d the directory holds WAL segments %v, want at most 2", cycle, wals)
		}
		if cycle == 1 {
			tablesAfterFirst = tables
			if len(tables) == 0 {
				t.Errorf("reopen 1 wrote no table for its replay")
			}
		} else if !slices.Equal(tables, tablesAfterFirst) {
			t.Errorf("after reopen %d the tables are %v, after reopen 1 %v", cycle, tables, tablesAfterFirst)
		}
	}

	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for k, want := range model {
		got, err := db.Get(ctx, []byte(k))
		if err != nil || !bytes.Equal(got, []byte(want)) {
			t.Fatalf("Get %s after the reopens: %d bytes, %v; want the %d bytes written", k, len(got), err, len(want))
		}
	}
	if got := collect(t, db, nil); len(got) != len(model) {
		t.Fatalf("iteration after the reopens returned %d entries, want %d", len(got), len(model))
	}
}
