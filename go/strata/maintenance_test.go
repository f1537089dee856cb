package strata

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// scanAll returns every entry of db in key order.
func scanAll(t *testing.T, db *DB) []kv {
	t.Helper()
	it, err := db.NewIterator(context.Background(), nil)
	return collectIter(t, it, err)
}

// wantModel checks that db holds exactly model: a full scan, and a point read of every key.
func wantModel(t *testing.T, db *DB, model map[string]string) {
	t.Helper()
	got, want := scanAll(t, db), modelRange(model, "", "", false)
	if !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("scan: %d entries, want %d; first difference at entry %d", len(got), len(want), i)
	}
	ctx := context.Background()
	for k, v := range model {
		got, err := db.Get(ctx, []byte(k))
		if err != nil || string(got) != v {
			t.Fatalf("get %x: %d bytes, %v; want %d bytes", k, len(got), err, len(v))
		}
	}
}

func mustStats(t *testing.T, db *DB) Stats {
	t.Helper()
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFlushWritesALevel0Table(t *testing.T) {
	db := openTest(t, nil)
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "v")
	}
	if s := mustStats(t, db); s.Flushes != 0 || s.LevelFiles[0] != 0 || s.MemtableVersions != 100 {
		t.Fatalf("before Flush: %d flushes, %d L0 tables, %d memtable versions; want 0, 0, 100", s.Flushes, s.LevelFiles[0], s.MemtableVersions)
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := mustStats(t, db)
	if s.Flushes < 1 || s.LevelFiles[0] < 1 || s.LevelBytes[0] == 0 || s.FlushBytes == 0 {
		t.Fatalf("after Flush: %d flushes, %d L0 tables of %d bytes, %d flush bytes; want all > 0", s.Flushes, s.LevelFiles[0], s.LevelBytes[0], s.FlushBytes)
	}
	if s.MemtableVersions != 0 || s.FrozenMemtables != 0 {
		t.Fatalf("after Flush: %d memtable versions, %d frozen memtables; want 0", s.MemtableVersions, s.FrozenMemtables)
	}
	wantValue(t, db, "k042", "v")
}

func TestOptionsAreValidated(t *testing.T) {
	for name, opts := range map[string]*Options{
		"negative MemtableBudget": {MemtableBudget: -1},
		"negative BlockCacheSize": {BlockCacheSize: -1},
		"negative MaxOpenFiles":   {MaxOpenFiles: -1},
		"unknown Compression":     {Compression: Compression(9)},
	} {
		dir := filepath.Join(t.TempDir(), "db")
		if db, err := Open(dir, opts); !errors.Is(err, ErrInvalidArgument) {
			if err == nil {
				db.Close()
			}
			t.Errorf("%s: Open = %v, want ErrInvalidArgument", name, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a refused Open created the directory", name)
		}
	}
}

// Compression reaches the engine: compressible values take far less room with LZ4.
func TestCompressionOption(t *testing.T) {
	sizes := map[Compression]uint64{}
	for _, c := range []Compression{CompressionNone, CompressionLZ4, CompressionDefault} {
		db := openTest(t, &Options{NoSync: true, Compression: c})
		b := NewBatch()
		for i := range 2000 {
			b.Put([]byte(fmt.Sprintf("k%05d", i)), bytes.Repeat([]byte("abcd"), 64))
		}
		if err := db.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		sizes[c] = mustStats(t, db).LevelBytes[0]
		wantValue(t, db, "k01999", strings.Repeat("abcd", 64))
	}
	if sizes[CompressionLZ4]*4 > sizes[CompressionNone] || sizes[CompressionDefault] != sizes[CompressionLZ4] {
		t.Fatalf("table bytes: none %d, lz4 %d, default %d; want lz4 = default, under a quarter of none",
			sizes[CompressionNone], sizes[CompressionLZ4], sizes[CompressionDefault])
	}
}

// benchKey is a 16-byte key: the big-endian counter n, zero-padded.
func benchKey(n uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, n)
	return k
}

// With a 256 KiB memtable budget, ~8 MB of writes flush many times and compact; a requested
// compaction leaves every key intact, before and after reopening.
func TestSmallMemtableFlushesAndCompacts(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{NoSync: true, MemtableBudget: 256 << 10}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	ctx := context.Background()
	const keys = 60_000
	rng := rand.New(rand.NewPCG(7, 8))
	model := map[string]string{}
	value := make([]byte, 120)
	b := NewBatch()
	write := func() {
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
	}
	// 60,000 fresh keys in random order, then 10,000 overwrites and 5,000 deletes: about 9 MB.
	for i, n := range rng.Perm(keys) {
		k := benchKey(uint64(n))
		binary.LittleEndian.PutUint64(value, uint64(i))
		b.Put(k, value)
		model[string(k)] = string(value)
		if b.Len() == 100 {
			write()
		}
	}
	for i := range 15_000 {
		k := benchKey(uint64(rng.IntN(keys)))
		if i%3 == 0 {
			b.Delete(k)
			delete(model, string(k))
		} else {
			binary.LittleEndian.PutUint64(value, uint64(keys+i))
			b.Put(k, value)
			model[string(k)] = string(value)
		}
		if b.Len() == 100 {
			write()
		}
	}
	write()
	if s := mustStats(t, db); s.Flushes == 0 || s.WALBytesWritten < 8<<20 {
		t.Fatalf("after %d WAL bytes: %d flushes; want 8 MB written and flushes > 0", s.WALBytesWritten, s.Flushes)
	}
	if err := db.Compact(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	s := mustStats(t, db)
	t.Logf("after Compact: %d flushes, %d compactions, level files %v, write amplification %.2f",
		s.Flushes, s.Compactions, s.LevelFiles, s.WriteAmplification())
	if s.Compactions == 0 || s.CompactionBytesWritten == 0 || s.CompactionBytesRead == 0 {
		t.Fatalf("after Compact: %d compactions, %d bytes read, %d written; want all > 0", s.Compactions, s.CompactionBytesRead, s.CompactionBytesWritten)
	}
	if s.LevelFiles[0] != 0 || s.MemtableVersions != 0 {
		t.Fatalf("after a full Compact: %d L0 tables, %d memtable versions; want 0 (everything compacted down)", s.LevelFiles[0], s.MemtableVersions)
	}
	if s.WriteAmplification() <= 1 {
		t.Fatalf("write amplification %.2f after flushing and compacting everything; want > 1", s.WriteAmplification())
	}
	wantModel(t, db, model)

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	wantModel(t, db, model)
}

func TestCompactRange(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	model := map[string]string{}
	for i := range 1000 {
		k := fmt.Sprintf("k%04d", i)
		mustPut(t, db, k, "v")
		model[k] = "v"
	}
	for i := 200; i < 400; i++ {
		k := fmt.Sprintf("k%04d", i)
		if err := db.Delete(ctx, []byte(k)); err != nil {
			t.Fatal(err)
		}
		delete(model, k)
	}
	if err := db.Compact(ctx, []byte("k0200"), []byte("k0400")); err != nil {
		t.Fatal(err)
	}
	if s := mustStats(t, db); s.Flushes == 0 {
		t.Fatalf("Compact did not flush first: %d flushes", s.Flushes)
	}
	wantModel(t, db, model)
	big := make([]byte, MaxKeySize+1)
	if err := db.Compact(ctx, big, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Compact with an oversized bound: %v, want ErrInvalidArgument", err)
	}
}

func TestCheckpointHoldsExactlyTheDataAtCheckpointTime(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	model := map[string]string{}
	// Some data in a table, some only in the memtable and WAL.
	for i := range 200 {
		k := fmt.Sprintf("k%03d", i)
		mustPut(t, db, k, "before")
		model[k] = "before"
		if i == 99 {
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	target := filepath.Join(t.TempDir(), "checkpoint")
	if err := db.Checkpoint(ctx, target); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "k000", "after")
	mustPut(t, db, "new", "after")
	if err := db.Delete(ctx, []byte("k150")); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	cp, err := Open(target, nil)
	if err != nil {
		t.Fatalf("opening the checkpoint: %v", err)
	}
	defer cp.Close()
	wantModel(t, cp, model)
	// The two databases are independent.
	mustPut(t, cp, "only-in-checkpoint", "x")
	wantNotFound(t, db, "only-in-checkpoint")
	wantValue(t, db, "k000", "after")

	if err := db.Checkpoint(ctx, target); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Checkpoint into a non-empty directory: %v, want ErrInvalidArgument", err)
	}
	if err := db.Checkpoint(ctx, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Checkpoint with an empty path: %v, want ErrInvalidArgument", err)
	}
}

func TestCheckpointRelativePathIsFromTheWorkingDirectory(t *testing.T) {
	db := openTest(t, nil)
	mustPut(t, db, "k", "v")
	wd := t.TempDir()
	t.Chdir(wd)
	if err := db.Checkpoint(context.Background(), "cp"); err != nil {
		t.Fatal(err)
	}
	cp, err := Open(filepath.Join(wd, "cp"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	wantValue(t, cp, "k", "v")
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		mustPut(t, db, fmt.Sprintf("k%04d", i), strings.Repeat("v", 100))
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("Check of an open database: %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	report, err := Check(dir)
	if err != nil {
		t.Fatalf("Check of an intact database: %v", err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) != 1 || !strings.Contains(report, "ok MANIFEST") ||
		!strings.Contains(report, "ok "+filepath.Base(tables[0])) || strings.Contains(report, "damaged") {
		t.Fatalf("report of an intact database with tables %v:\n%s", tables, report)
	}

	// Flip one byte in the middle of the table.
	data, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(tables[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	report, err = Check(dir)
	name := filepath.Base(tables[0])
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "damaged "+name) ||
		!strings.Contains(report, "ok MANIFEST") || !strings.Contains(report, "damaged "+name) {
		t.Fatalf("Check of a damaged table = %q, %v; want the full report and ErrCorruption naming %s", report, err, name)
	}

	if _, err := Check(t.TempDir()); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Check of a directory without a database: %v, want ErrInvalidArgument", err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := Check(missing); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Check of a missing directory: %v, want ErrIO naming it", err)
	}
	if _, err := Check(""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Check(\"\"): %v, want ErrInvalidArgument", err)
	}
}

func TestMaintenanceAfterClose(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	ctx := context.Background()
	for name, err := range map[string]error{
		"flush":      db.Flush(ctx),
		"compact":    db.Compact(ctx, nil, nil),
		"checkpoint": db.Checkpoint(ctx, filepath.Join(t.TempDir(), "cp")),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestEstimateDiskUsage: nothing before a flush; after it, the whole range is every table's
// bytes, half the keys about half of them, and a range outside the keys nothing.
func TestEstimateDiskUsage(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, &Options{NoSync: true, Compression: CompressionNone})
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%06d", i)) }
	b := NewBatch()
	for i := range 20_000 {
		b.Put(key(i), bytes.Repeat([]byte{byte(i)}, 100))
	}
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, err := db.EstimateDiskUsage(ctx, nil, nil); err != nil || got != 0 {
		t.Fatalf("before a flush: %d, %v; want 0 (only tables count)", got, err)
	}
	if err := db.Compact(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	stats, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var tables uint64
	for _, b := range stats.LevelBytes {
		tables += b
	}
	all, err := db.EstimateDiskUsage(ctx, nil, nil)
	if err != nil || all != tables || all == 0 {
		t.Fatalf("whole range: %d, %v; want the tables' %d bytes", all, err, tables)
	}
	half, err := db.EstimateDiskUsage(ctx, key(0), key(10_000))
	if err != nil || half < all*2/5 || half > all*3/5 {
		t.Fatalf("half the keys: %d, %v; want about half of %d", half, err, all)
	}
	if none, err := db.EstimateDiskUsage(ctx, []byte("x"), nil); err != nil || none != 0 {
		t.Fatalf("past every key: %d, %v; want 0", none, err)
	}
	if _, err := db.EstimateDiskUsage(ctx, make([]byte, MaxKeySize+1), nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("an oversized bound: %v, want ErrInvalidArgument", err)
	}
}
