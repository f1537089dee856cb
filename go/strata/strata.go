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
// A context passed to a method bounds the wait for the result: when it is done first, the
// method returns ctx.Err() at once. A write abandoned this way may still be applied.
package strata

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
)

/*
#include "strata.h"
*/
import "C"

// Limits on keys, values and batches, in bytes.
const (
	MaxKeySize   = C.STRATA_MAX_KEY_LEN
	MaxValueSize = C.STRATA_MAX_VALUE_LEN
	MaxBatchSize = C.STRATA_MAX_BATCH_LEN
)

// Options configure Open. The zero value (and a nil *Options) gives the defaults.
type Options struct {
	// NoSync acknowledges writes once they are handed to the operating system, without fsync.
	// A crash of the process loses nothing; an OS crash or power loss may lose the most recent
	// writes. Default false: every acknowledged write is durable.
	NoSync bool
}

// Open opens the database in dir, creating the directory if needed. One handle per directory
// at a time: a second Open of a directory that is open (in this process or another) fails
// with ErrLocked. Recovery replays the write-ahead log; damage to data that was durable fails
// with ErrCorruption naming the file. Every error message names the directory or file.
func Open(dir string, opts *Options) (*DB, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty directory path", ErrInvalidArgument)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("strata: open %s: %w", dir, err)
	}
	var copts C.strata_options
	if opts != nil && opts.NoSync {
		copts.no_sync = 1
	}
	path := []byte(abs)
	cl, err := do(context.Background(), "open", opOpenDB, func(token C.uint64_t) C.int32_t {
		p, n := bytesArg(path)
		return C.strata_db_open(p, n, &copts, token)
	})
	runtime.KeepAlive(path)
	if err != nil {
		return nil, err // the engine's message names the directory or file
	}
	return newDB(cl.handle, abs), nil
}
