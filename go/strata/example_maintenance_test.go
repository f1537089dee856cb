package strata_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-db/strata/go/strata"
)

func ExampleDB_Checkpoint() {
	parent, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(parent)
	db, err := strata.Open(filepath.Join(parent, "db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	for _, k := range []string{"a", "b", "c"} {
		if err := db.Put(ctx, []byte(k), []byte("before")); err != nil {
			log.Fatal(err)
		}
	}
	// The copy holds exactly the writes acknowledged before Checkpoint; its directory must
	// not exist yet (or be empty).
	backup := filepath.Join(parent, "backup")
	if err := db.Checkpoint(ctx, backup); err != nil {
		log.Fatal(err)
	}
	if err := db.Put(ctx, []byte("d"), []byte("after")); err != nil {
		log.Fatal(err)
	}

	// A checkpoint is a database: open it like any other.
	copied, err := strata.Open(backup, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer copied.Close()
	it, err := copied.NewIterator(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%s=%s\n", it.Key(), it.Value())
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// a=before
	// b=before
	// c=before
}

// Deleted keys keep their space until a compaction drops them: Compact the range to reclaim
// it at once instead of when the engine's own compactions reach it. Here the keys a scan
// finds are deleted one by one; ExampleDB_DeleteRange deletes a whole range in one write.
func ExampleDB_Compact() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, &strata.Options{NoSync: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	for i := range 1000 {
		if err := db.Put(ctx, fmt.Appendf(nil, "log/%04d", i), []byte("entry")); err != nil {
			log.Fatal(err)
		}
	}
	// Flush moves the memtable into a table, as the engine does on its own once the memtable
	// is full.
	if err := db.Flush(ctx); err != nil {
		log.Fatal(err)
	}

	start, end := []byte("log/"), []byte("log0") // every key with the prefix "log/"
	b := strata.NewBatch()
	it, err := db.NewIterator(ctx, &strata.IterOptions{Start: start, End: end})
	if err != nil {
		log.Fatal(err)
	}
	for it.Next() {
		b.Delete(it.Key()) // Delete copies the key, which is only valid until Next
	}
	if err := it.Close(); err != nil {
		log.Fatal(err)
	}
	if err := db.Write(ctx, b); err != nil {
		log.Fatal(err)
	}

	// With no snapshot or iterator open, compaction drops the values and the tombstones.
	if err := db.Compact(ctx, start, end); err != nil {
		log.Fatal(err)
	}
	s, err := db.Stats()
	if err != nil {
		log.Fatal(err)
	}
	var tableBytes uint64
	for _, n := range s.LevelBytes {
		tableBytes += n
	}
	fmt.Println("deleted:", b.Len(), "bytes left in tables:", tableBytes)
	// Output: deleted: 1000 bytes left in tables: 0
}

// DeleteRange deletes every key in [start, end) with one write, however many keys the range
// holds; Compact over the range then reclaims their space.
func ExampleDB_DeleteRange() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, &strata.Options{NoSync: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	for i := range 1000 {
		if err := db.Put(ctx, fmt.Appendf(nil, "log/%04d", i), []byte("entry")); err != nil {
			log.Fatal(err)
		}
	}
	if err := db.Put(ctx, []byte("meta"), []byte("kept")); err != nil {
		log.Fatal(err)
	}

	// The keys with the prefix "log/": from "log/" up to, not including, the prefix's end.
	start := []byte("log/")
	if err := db.DeleteRange(ctx, start, strata.PrefixEnd(start)); err != nil {
		log.Fatal(err)
	}
	_, err = db.Get(ctx, []byte("log/0500"))
	fmt.Println("log/0500 deleted:", errors.Is(err, strata.ErrNotFound))
	for k, v := range db.All(ctx, nil) {
		fmt.Printf("left: %s=%s\n", k, v)
	}

	// Until a compaction drops them, the deleted entries keep their place in the tables.
	if err := db.Compact(ctx, start, strata.PrefixEnd(start)); err != nil {
		log.Fatal(err)
	}
	part, err := db.EstimateDiskUsage(ctx, start, strata.PrefixEnd(start))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("table bytes of the range after Compact:", part)
	// Output:
	// log/0500 deleted: true
	// left: meta=kept
	// table bytes of the range after Compact: 0
}

func ExampleDB_Stats() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	for _, k := range []string{"a", "b", "c"} {
		if err := db.Put(ctx, []byte(k), []byte("v")); err != nil {
			log.Fatal(err)
		}
	}
	if err := db.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	s, err := db.Stats()
	if err != nil {
		log.Fatal(err)
	}
	// Counters since Open; s.WriteAmplification() and s.CacheHitRate() derive ratios from them.
	fmt.Println("writes:", s.BatchesWritten)
	fmt.Println("flushes:", s.Flushes)
	fmt.Println("tables in L0:", s.LevelFiles[0])
	fmt.Println("memtable versions:", s.MemtableVersions)
	// Output:
	// writes: 3
	// flushes: 1
	// tables in L0: 1
	// memtable versions: 0
}

func ExampleCheck() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Put(ctx, []byte("k"), []byte("v")); err != nil {
		log.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	// Check needs the database closed: it takes the directory lock.
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	report, err := strata.Check(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(report)

	// Damage the table: Check names it and its error wraps ErrCorruption.
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	data, _ := os.ReadFile(tables[0])
	data[0] ^= 0xff
	if err := os.WriteFile(tables[0], data, 0o644); err != nil {
		log.Fatal(err)
	}
	// The report still covers every file; each damaged line says why (here, with the path).
	report, err = strata.Check(dir)
	fmt.Println("corruption:", errors.Is(err, strata.ErrCorruption))
	for _, line := range strings.Split(strings.TrimSpace(report), "\n") {
		verdict, _, _ := strings.Cut(line, ":")
		fmt.Println(verdict)
	}
	// Output:
	// ok MANIFEST: 1 tables, log from segment 2
	// ok 000003.sst: 1 entries, live
	// ok 000002.wal: 0 records
	// corruption: true
	// ok MANIFEST
	// damaged 000003.sst
	// ok 000002.wal
}
