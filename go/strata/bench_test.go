package strata

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"testing"
)

// Latency through the bridge. Sequential: one goroutine, one operation at a time (ns/op is the
// round-trip latency). Parallel16: 16 goroutines issue operations concurrently; ns/op is wall
// time per operation across all of them. Puts use NoSync so the numbers measure the bridge, not
// the disk; BenchmarkPutDurable shows fsync with group commit.

const benchKeys = 100_000

// rustAllocsPerOp starts counting Rust heap allocations (strata's counting allocator); the
// returned function reports them per operation as rust-allocs/op, next to go test's allocs/op,
// which counts only Go's. Call it after the set-up, defer the result.
func rustAllocsPerOp(b *testing.B) func() {
	before := ReadRustMemory().Allocations
	return func() {
		b.ReportMetric(float64(ReadRustMemory().Allocations-before)/float64(b.N), "rust-allocs/op")
	}
}

func benchDB(b *testing.B, opts *Options) *DB {
	db := openTest(b, opts)
	ctx := context.Background()
	batch := NewBatch()
	var key [8]byte
	for i := range benchKeys {
		binary.BigEndian.PutUint64(key[:], uint64(i))
		batch.Put(key[:], make([]byte, 100))
		if batch.Len() == 1000 {
			if err := db.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	return db
}

func BenchmarkGetSequential(b *testing.B) {
	getSequential(b, benchDB(b, &Options{NoSync: true}), 1)
}

func BenchmarkGetParallel16(b *testing.B) {
	getParallel16(b, benchDB(b, &Options{NoSync: true}), 1)
}

// GetAppend into a reused buffer: no allocation on either side.
func BenchmarkGetAppendSequential(b *testing.B) {
	getSequential(b, benchDB(b, &Options{NoSync: true}), 1, reuseBuffer)
}

// The same with a context that can be cancelled (a request's): the lone caller still waits in
// its own call, coming back every waitCheck to look at the context.
func BenchmarkGetAppendSequentialCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	getSequentialWith(b, ctx, benchDB(b, &Options{NoSync: true}), 1, reuseBuffer)
}

func BenchmarkGetAppendParallel16(b *testing.B) {
	getParallel16(b, benchDB(b, &Options{NoSync: true}), 1, reuseBuffer)
}

// Reads from tables rather than the memtable: see tablesDB.
func BenchmarkGetFromTablesSequential(b *testing.B) {
	getSequential(b, tablesDB(b), 7919)
}

func BenchmarkGetFromTablesParallel16(b *testing.B) {
	getParallel16(b, tablesDB(b), 7919)
}

// tablesDB is benchDB flushed, with a small block cache (2 MiB for about 12 MiB of blocks): every
// read searches tables and most read a block from the file, as reads of a database larger than
// its cache do.
func tablesDB(b *testing.B) *DB {
	db := benchDB(b, &Options{NoSync: true, BlockCacheSize: 2 << 20})
	if err := db.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return db
}

// reuseBuffer makes the get helpers read with GetAppend into one buffer per goroutine.
const reuseBuffer = true

// read is Get, or with reuse GetAppend into buf; it returns the buffer to pass next time.
func read(ctx context.Context, db *DB, key, buf []byte, reuse bool) ([]byte, error) {
	if reuse {
		return db.GetAppend(ctx, buf[:0], key)
	}
	return db.Get(ctx, key)
}

// getSequential reads one key at a time, each `stride` keys after the one before.
func getSequential(b *testing.B, db *DB, stride uint64, reuse ...bool) {
	getSequentialWith(b, context.Background(), db, stride, reuse...)
}

// getSequentialWith is getSequential under ctx.
func getSequentialWith(b *testing.B, ctx context.Context, db *DB, stride uint64, reuse ...bool) {
	var key [8]byte
	var buf []byte
	var err error
	b.ResetTimer()
	defer rustAllocsPerOp(b)()
	for i := uint64(0); b.Loop(); i++ {
		binary.BigEndian.PutUint64(key[:], i*stride%benchKeys)
		if buf, err = read(ctx, db, key[:], buf, len(reuse) > 0 && reuse[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// getParallel16 reads from 16 goroutines, each taking the key `stride` keys after the last one
// handed out.
func getParallel16(b *testing.B, db *DB, stride uint64, reuse ...bool) {
	ctx := context.Background()
	var n atomic.Uint64
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	defer rustAllocsPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		var key [8]byte
		var buf []byte
		var err error
		for pb.Next() {
			binary.BigEndian.PutUint64(key[:], n.Add(stride)%benchKeys)
			if buf, err = read(ctx, db, key[:], buf, len(reuse) > 0 && reuse[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPutSequential(b *testing.B) {
	db := benchDB(b, &Options{NoSync: true})
	ctx := context.Background()
	var key [8]byte
	value := make([]byte, 100)
	b.ResetTimer()
	defer rustAllocsPerOp(b)()
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint64(key[:], uint64(i%benchKeys))
		if err := db.Put(ctx, key[:], value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutParallel16(b *testing.B) {
	db := benchDB(b, &Options{NoSync: true})
	ctx := context.Background()
	var n atomic.Uint64
	value := make([]byte, 100)
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	defer rustAllocsPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		var key [8]byte
		for pb.Next() {
			binary.BigEndian.PutUint64(key[:], n.Add(1)%benchKeys)
			if err := db.Put(ctx, key[:], value); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPutDurableParallel16(b *testing.B) {
	db := openTest(b, nil)
	ctx := context.Background()
	var n atomic.Uint64
	value := make([]byte, 100)
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var key [8]byte
		for pb.Next() {
			binary.BigEndian.PutUint64(key[:], n.Add(1))
			if err := db.Put(ctx, key[:], value); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkScan10Sequential: one goroutine opens an iterator at a random key, reads 10
// entries and closes it; ns/op is the latency of a short scan.
func BenchmarkScan10Sequential(b *testing.B) { scanSequential(b, 10) }

// BenchmarkScan100Sequential: as Scan10Sequential, 100 entries per iterator: beyond the first
// chunk, so a scan takes more than one round trip.
func BenchmarkScan100Sequential(b *testing.B) { scanSequential(b, 100) }

// scanSequential opens an iterator at a key `n*7919` keys on, reads `entries` entries and
// closes it, one goroutine at a time.
func scanSequential(b *testing.B, entries int) {
	db := benchDB(b, &Options{NoSync: true})
	ctx := context.Background()
	var start [8]byte
	opts := &IterOptions{Start: start[:]}
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint64(start[:], uint64(i*7919)%benchKeys)
		it, err := db.NewIterator(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for n < entries && it.Next() {
			n++
		}
		if n != entries && binary.BigEndian.Uint64(start[:]) < benchKeys-uint64(entries) {
			b.Fatalf("read %d entries from %x: %v", n, start, it.Err())
		}
		if err := it.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLongScan: one goroutine iterates every entry of the database (100,000 of 100
// bytes) in key order; ns/op is the time of one full scan, entries/s its throughput.
func BenchmarkLongScan(b *testing.B) {
	db := benchDB(b, &Options{NoSync: true})
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		it, err := db.NewIterator(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for it.Next() {
			n++
		}
		if err := it.Close(); err != nil {
			b.Fatal(err)
		}
		if n != benchKeys {
			b.Fatalf("scanned %d entries, want %d", n, benchKeys)
		}
	}
	b.ReportMetric(float64(benchKeys)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkSeekGENext10: one goroutine keeps one iterator open and repositions it at a random
// key with SeekGE, then reads 10 entries; ns/op is the latency of a seek and a short scan on a
// live iterator (BenchmarkScan10Sequential opens a new iterator for each instead).
func BenchmarkSeekGENext10(b *testing.B) {
	seekAndStep(b, (*Iterator).Next, 10, func(at uint64) bool { return at < benchKeys-10 })
}

// BenchmarkSeekGEPrev10: as BenchmarkSeekGENext10, but stepping back 10 entries with Prev from
// where SeekGE landed (go/bench's seekprev): each operation turns the iterator around there.
func BenchmarkSeekGEPrev10(b *testing.B) {
	seekAndStep(b, (*Iterator).Prev, 11, func(at uint64) bool { return at >= 10 })
}

// seekAndStep repositions one live iterator at a random key with SeekGE and moves it with step
// until it has been on entries entries; whole reports whether a seek to key number at has that
// many entries that way.
func seekAndStep(b *testing.B, step func(*Iterator) bool, entries int, whole func(at uint64) bool) {
	db := benchDB(b, &Options{NoSync: true})
	it, err := db.NewIterator(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	var start [8]byte
	b.ResetTimer()
	for i := range b.N {
		at := uint64(i*7919) % benchKeys
		binary.BigEndian.PutUint64(start[:], at)
		n := 0
		for ok := it.SeekGE(start[:]); ok && n < entries; ok = step(it) {
			n++
		}
		if n != entries && whole(at) {
			b.Fatalf("read %d entries from %x: %v", n, start, it.Err())
		}
	}
}

// BenchmarkPutGetSequential: one goroutine alternates a Put and a Get of the same key on a
// NoSync database, the shape of a request handler; ns/op is the pair. Reads and writes that
// land on different strata threads, each asleep by the time its next request comes, cost a
// wake-up each; served by one thread they do not.
func BenchmarkPutGetSequential(b *testing.B) {
	db := benchDB(b, &Options{NoSync: true})
	ctx := context.Background()
	var key [8]byte
	value := make([]byte, 100)
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint64(key[:], uint64(i*7919)%benchKeys)
		if err := db.Put(ctx, key[:], value); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Get(ctx, key[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateSequential: one goroutine runs read-modify-write transactions (Get a counter,
// Put it back incremented) with DB.Update on a NoSync database; ns/op is one transaction.
func BenchmarkUpdateSequential(b *testing.B) {
	db := benchDB(b, &Options{NoSync: true})
	ctx := context.Background()
	var key [8]byte
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint64(key[:], uint64(i*7919)%benchKeys)
		err := db.Update(ctx, func(tx *Tx) error {
			v, err := tx.Get(ctx, key[:])
			if err != nil {
				return err
			}
			return tx.Put(key[:], v)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
