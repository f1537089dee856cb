// Package strata is an embedded, durable, ordered key-value store. The engine is written in
// Rust and linked into the Go binary as a static library; a Go program using strata still
// builds into one self-contained executable.
//
// Open a directory, read and write keys, iterate in order:
//
//	db, err := strata.Open("/var/lib/app/db", nil)
//	if err != nil { ... }
//	defer db.Close()
//	err = db.Put(ctx, []byte("k"), []byte("v"))
//	v, err := db.Get(ctx, []byte("k"))
//
// Writes are durable when they return (fsync, shared between concurrent writers) unless
// Options.NoSync is set. Keys are 1 to 64 KiB, values up to 64 MiB. Every method may be called
// from any goroutine. Errors are the sentinels in errors.go, tested with errors.Is.
//
// A Snapshot (DB.NewSnapshot) reads the database as it was when taken. Data lives in a
// log-structured merge tree: writes go to a write-ahead log and a memtable, memtables are
// flushed to tables, and tables are compacted down through levels, all in the background.
// DB.Flush, DB.Compact and DB.Checkpoint ask for that work explicitly; Check verifies a closed
// database; DB.Stats reports the tree's shape and its costs.
//
// A context passed to a method bounds the wait for the result: when it is done first, the
// method returns ctx.Err() at once. A write abandoned this way may still be applied. As in the
// standard library, ctx must not be nil (a nil ctx panics).
package strata

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
)

/*
#include "strata.h"
*/
import "C"

// Limits on keys, values and batches, in bytes. They equal strata.h's STRATA_MAX_* constants
// (the test TestLimitsMatchTheEngine checks).
const (
	// MaxKeySize is the largest key: 64 KiB. Keys must also be non-empty.
	MaxKeySize = 65536
	// MaxValueSize is the largest value: 64 MiB. Values may be empty.
	MaxValueSize = 67108864
	// MaxBatchSize is the largest encoded Batch: 256 MiB, where a put takes 9 bytes plus its
	// key and value, and a delete 5 bytes plus its key.
	MaxBatchSize = 268435456
)

// The limits as the engine states them, for TestLimitsMatchTheEngine.
const (
	engineMaxKeySize   = C.STRATA_MAX_KEY_LEN
	engineMaxValueSize = C.STRATA_MAX_VALUE_LEN
	engineMaxBatchSize = C.STRATA_MAX_BATCH_LEN
)

// Options configure Open. The zero value (and a nil *Options) gives the defaults. Sizes are
// in bytes; a negative size is an error (ErrInvalidArgument).
type Options struct {
	// NoSync acknowledges writes once they are handed to the operating system, without fsync.
	// A crash of the process loses nothing; an OS crash or power loss may lose the most recent
	// writes. Default false: every acknowledged write is durable.
	NoSync bool
	// MemtableBudget is the memory for memtables: the active memtable fills to half of it, then
	// is frozen and flushed to a table while a new one fills the other half. 0 means 64 MiB.
	MemtableBudget int64
	// BlockCacheSize is the memory for cached table blocks. 0 means 64 MiB.
	BlockCacheSize int64
	// MaxOpenFiles bounds the table files kept open at once. 0 derives it from the process's
	// limit on open files (RLIMIT_NOFILE, which the Go runtime raises to its hard limit at
	// start): half the soft limit less 32, between 16 and 512. Whatever the bound, a database
	// that runs out of descriptors closes half of its open tables and tries again, so a low
	// limit costs reopening tables, not failed reads.
	MaxOpenFiles int
	// Compression is how table blocks are stored. The zero value, CompressionDefault, is LZ4,
	// which keeps a block uncompressed when it would not shrink by an eighth. Only
	// uncompressed blocks are read in place from mapped tables; compressed ones are
	// decompressed into the block cache. With values LZ4 halves, CompressionNone took 1.4x
	// the disk and read 1.5x faster (docs/benchmarks.md).
	Compression Compression
	// ReadOnly opens an existing database to read it only: nothing in its directory is
	// created, changed or removed (the write-ahead log is replayed into memory, a torn tail
	// left on disk as it is), no flush or compaction runs, and Put, Delete, Write, Flush,
	// Compact and Checkpoint fail with ErrReadOnly. Its lock is shared: any number of
	// read-only handles, in any processes, may hold a database no writer holds (Open fails
	// with ErrLocked otherwise, both ways). A directory without a database fails with
	// ErrInvalidArgument (or ErrIO if it does not exist) instead of becoming one. Memory:
	// the replayed log stays in the memtable for as long as the handle is open.
	ReadOnly bool
	// NoMmap reads every table block with pread through the block cache. By default strata
	// maps table files into memory and reads uncompressed blocks in place: no copy and no
	// system call once their pages are resident, about twice the point reads and scans per
	// second (docs/benchmarks.md). The kernel's page cache then holds those pages, outside
	// BlockCacheSize; Stats.MappedResidentBytes reports them, and the kernel reclaims them
	// under memory pressure as it does any file cache. Each block's checksum is verified the
	// first time it is read from a map. A table file truncated by another program while
	// mapped makes the next read of its lost pages fault (SIGBUS): the process dies with a
	// report naming the strata frames, never reads wrong data.
	NoMmap bool
	// Logger receives the engine's log records for this database (opening and recovery,
	// flushes, compactions, failures) as structured records: the message, a "target" attribute
	// naming the Rust module, and the event's fields ("dir", "bytes", "elapsed_ms", ...).
	// Records about the runtime as a whole go to every open database's logger. strata asks the
	// engine only for levels the logger has enabled when the database opens. Records about
	// another database never reach it. Nil: no records
	// (the environment variable STRATA_LOG=info, or error, warn, debug, trace, still writes
	// them to stderr).
	Logger *slog.Logger
}

// Compression selects how table blocks are stored on disk (Options.Compression).
type Compression int

// Block compression choices.
const (
	// CompressionDefault is the engine's default, LZ4.
	CompressionDefault Compression = iota
	// CompressionNone stores blocks uncompressed.
	CompressionNone
	// CompressionLZ4 compresses blocks with LZ4.
	CompressionLZ4
)

// String returns the name of the compression choice.
func (c Compression) String() string {
	switch c {
	case CompressionDefault:
		return "default"
	case CompressionNone:
		return "none"
	case CompressionLZ4:
		return "lz4"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// cOptions translates opts (nil: defaults) to strata_options, rejecting values out of range.
func cOptions(opts *Options) (C.strata_options, error) {
	var c C.strata_options
	if opts == nil {
		return c, nil
	}
	if opts.NoSync {
		c.no_sync = 1
	}
	if opts.ReadOnly {
		c.flags |= C.STRATA_OPEN_READ_ONLY
	}
	if opts.NoMmap {
		c.flags |= C.STRATA_OPEN_NO_MMAP
	}
	switch opts.Compression {
	case CompressionDefault:
		c.compression = C.STRATA_COMPRESSION_DEFAULT
	case CompressionNone:
		c.compression = C.STRATA_COMPRESSION_NONE
	case CompressionLZ4:
		c.compression = C.STRATA_COMPRESSION_LZ4
	default:
		return c, fmt.Errorf("%w: unknown compression %v", ErrInvalidArgument, opts.Compression)
	}
	switch {
	case opts.MemtableBudget < 0:
		return c, fmt.Errorf("%w: MemtableBudget is %d", ErrInvalidArgument, opts.MemtableBudget)
	case opts.BlockCacheSize < 0:
		return c, fmt.Errorf("%w: BlockCacheSize is %d", ErrInvalidArgument, opts.BlockCacheSize)
	case opts.MaxOpenFiles < 0 || int64(opts.MaxOpenFiles) > math.MaxUint32:
		return c, fmt.Errorf("%w: MaxOpenFiles is %d", ErrInvalidArgument, opts.MaxOpenFiles)
	}
	c.memtable_budget = C.uint64_t(opts.MemtableBudget)
	c.block_cache_bytes = C.uint64_t(opts.BlockCacheSize)
	c.max_open_files = C.uint32_t(opts.MaxOpenFiles)
	return c, nil
}

// absDir returns dir as an absolute path, refusing an empty one; op names the caller.
func absDir(op, dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("%w: %s: empty directory path", ErrInvalidArgument, op)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("strata: %s %s: %w", op, dir, err)
	}
	return abs, nil
}

// Open opens the database in dir, creating the directory if needed. One handle per directory
// at a time: a second Open of a directory that is open (in this process or another) fails
// with ErrLocked; the lock is on the directory itself, not a file in it. Recovery replays the
// write-ahead log; damage to data that was durable fails with ErrCorruption naming the file.
// Every error message names the directory or file.
//
// Open never changes what it cannot prove is strata's. A directory is a database when it
// holds a MANIFEST; an empty (or missing) one becomes a new database. A directory holding
// other files and no MANIFEST is refused, untouched: with ErrCorruption when they are a
// strata database's tables or WAL (its MANIFEST was lost; see Repair), with
// ErrInvalidArgument when they are not strata's at all. Every table the MANIFEST lists is
// checked against its recorded size, number, database and checksum before anything is read:
// a swapped, truncated or foreign table fails with ErrCorruption naming it.
func Open(dir string, opts *Options) (*DB, error) {
	abs, err := absDir("open", dir)
	if err != nil {
		return nil, err
	}
	copts, err := cOptions(opts)
	if err != nil {
		return nil, err
	}
	var logger *slog.Logger
	noSync := false
	if opts != nil {
		logger, noSync = opts.Logger, opts.NoSync
	}
	// Registered before the open, so the records of recovery reach it.
	logs.register(abs, logger)
	path := []byte(abs)
	cl, err := do(context.Background(), "open", opOpenDB, func(token C.uint64_t) C.int32_t {
		p, n := bytesArg(path)
		return C.strata_db_open(p, n, &copts, C.sizeof_strata_options, token)
	})
	runtime.KeepAlive(path)
	if err != nil {
		logs.unregister(abs, logger)
		return nil, err // the engine's message names the directory or file
	}
	return newDB(cl.handle, abs, logger, noSync), nil
}
