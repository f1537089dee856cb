package strata

/*
#include "strata.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
)

// Flush writes the memtable to a table and returns once it is durable there: every write
// acknowledged before the call is then in tables, not only in the write-ahead log. The engine
// flushes on its own as memtables fill (Options.MemtableBudget); call Flush before copying
// files or to bound recovery time.
func (db *DB) Flush(ctx context.Context) error {
	_, err := db.exec(ctx, "flush", opDisk, func(token C.uint64_t) C.int32_t {
		return C.strata_db_flush(C.uint64_t(db.handle), token)
	})
	return err
}

// Compact flushes, then compacts the keys in [start, end) down through the levels, dropping
// overwritten values and deleted keys that no snapshot or iterator still needs. A nil or empty
// bound is unbounded on that side. It returns when the compaction is done; a ctx that ends
// first stops the wait, not the compaction. The engine compacts on its own as levels fill,
// and compacts the newest level (L0) below its trigger once seeks through it have cost about
// what that compaction reads; Compact is for reclaiming space at once (after deleting a
// range, say).
func (db *DB) Compact(ctx context.Context, start, end []byte) error {
	for _, bound := range [][]byte{start, end} {
		if err := checkBound(bound); err != nil {
			return err
		}
	}
	_, err := db.exec(ctx, "compact", opDisk, func(token C.uint64_t) C.int32_t {
		s, sn := bytesArg(start)
		e, en := bytesArg(end)
		return C.strata_db_compact(C.uint64_t(db.handle), s, sn, e, en, token)
	})
	return err
}

// EstimateDiskUsage returns about how many bytes of the database's table files hold the keys
// in [start, end) (a nil or empty bound is unbounded): tables inside the range in full, and
// of a table the range cuts, the data blocks its index places in the range (so the estimate
// is good to within a block, 4 KiB, per table cut). It counts what is on disk: old versions
// and deleted keys not yet compacted away, and not the writes still only in the memtable
// and the write-ahead log (Flush first to count those). It reads only table indexes, which
// the engine keeps in memory.
func (db *DB) EstimateDiskUsage(ctx context.Context, start, end []byte) (uint64, error) {
	for _, bound := range [][]byte{start, end} {
		if err := checkBound(bound); err != nil {
			return 0, err
		}
	}
	cl, err := db.exec(ctx, "estimate disk usage", opPlain, func(token C.uint64_t) C.int32_t {
		s, sn := bytesArg(start)
		e, en := bytesArg(end)
		return C.strata_db_estimate_disk_usage(C.uint64_t(db.handle), s, sn, e, en, token)
	})
	if err != nil {
		return 0, err
	}
	if len(cl.data) != 8 {
		return 0, fmt.Errorf("%w: the disk usage estimate is %d bytes, want 8", ErrInternal, len(cl.data))
	}
	return binary.LittleEndian.Uint64(cl.data), nil
}

// Checkpoint writes a consistent copy of the database into dir, which must not exist or be
// empty (ErrInvalidArgument otherwise); a relative dir is taken from the working directory,
// as Open takes it. The copy holds exactly the writes acknowledged before the call and opens
// with Open like any database. Tables are hard-linked where the file system allows, so a
// checkpoint on the same file system costs little space until the database compacts. A ctx
// that ends first stops the wait; the checkpoint may still be written.
func (db *DB) Checkpoint(ctx context.Context, dir string) error {
	abs, err := absDir("checkpoint", dir)
	if err != nil {
		return err
	}
	path := []byte(abs)
	_, err = db.exec(ctx, "checkpoint", opDisk, func(token C.uint64_t) C.int32_t {
		p, n := bytesArg(path)
		return C.strata_db_checkpoint(C.uint64_t(db.handle), p, n, token)
	})
	runtime.KeepAlive(path)
	return err
}

// Check verifies every checksum of the database in dir, which must not be open for writing
// (ErrLocked otherwise, in this process or another; read-only handles, Options.ReadOnly, may
// hold it meanwhile), and returns its report: one line per file, "ok NAME:
// summary" or "damaged NAME: why". It changes nothing in dir, and also checks checkpoints.
// When any file is damaged it returns the whole report and an error that wraps ErrCorruption
// and names the damaged files; a directory that holds no strata database fails with
// ErrInvalidArgument.
func Check(dir string) (string, error) {
	abs, err := absDir("check", dir)
	if err != nil {
		return "", err
	}
	path := []byte(abs)
	cl, err := do(context.Background(), "check", opDisk, func(token C.uint64_t) C.int32_t {
		p, n := bytesArg(path)
		return C.strata_check(p, n, token)
	})
	runtime.KeepAlive(path)
	if cl.code == C.STRATA_ERR_CORRUPTION {
		// The completion carries the report; the error names the damaged files once.
		report := string(cl.data)
		return report, &codeError{sentinel: ErrCorruption, msg: "strata: check " + abs + ": damaged files:\n" + damagedLines(report)}
	}
	if err != nil {
		return "", err
	}
	return string(cl.data), nil
}

// Repair rebuilds the MANIFEST of the database in dir, which must not be open (ErrLocked
// otherwise), when it is missing or damaged: Open refuses such a directory with ErrCorruption
// rather than guess. Repair reads every table (checking every block), keeps those of the one
// database they belong to, and merges them into new tables; the WAL segments holding writes
// the tables lack are replayed by the next Open. It deletes nothing: the tables it read and a
// damaged MANIFEST are moved to dir/pre-repair-N/, to delete once the database reads right.
//
// It returns its report, one line per decision; lines that start with "damaged" or mention
// "lost" name what could not be recovered. It fails with ErrInvalidArgument when the MANIFEST
// is intact, when dir holds no strata table or WAL segment, or tables of several databases
// (it never mixes them), and with ErrCorruption when a WAL segment is damaged.
func Repair(dir string) (string, error) {
	abs, err := absDir("repair", dir)
	if err != nil {
		return "", err
	}
	path := []byte(abs)
	cl, err := do(context.Background(), "repair", opDisk, func(token C.uint64_t) C.int32_t {
		p, n := bytesArg(path)
		return C.strata_repair(p, n, token)
	})
	runtime.KeepAlive(path)
	if err != nil {
		return "", err
	}
	return string(cl.data), nil
}

// damagedLines keeps the report lines that name a damaged file.
func damagedLines(report string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(report, "\n"), "\n") {
		if strings.HasPrefix(line, "damaged ") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
