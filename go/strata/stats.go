package strata

/*
#include "strata.h"
*/
import "C"

import (
	"context"
	"fmt"
	"unsafe"
)

// Stats describe one database and the strata runtime in this process. The JSON names are
// stable (the CLI prints them).
type Stats struct {
	// TLSInits counts initializations of engine thread-local state in this process. It equals
	// StrataThreads as long as only strata's own threads ever run engine code, however many
	// OS threads call into strata.
	TLSInits uint64 `json:"tls_inits"`
	// StrataThreads counts the threads strata spawned in this process.
	StrataThreads uint64 `json:"strata_threads"`
	// VisibleSeq is the last sequence number visible to reads.
	VisibleSeq uint64 `json:"visible_seq"`
	// BatchesWritten counts acknowledged writes since Open (a Put or Delete is a batch of one).
	BatchesWritten uint64 `json:"batches_written"`
	// WALBytesWritten counts bytes appended to the write-ahead log since Open.
	WALBytesWritten uint64 `json:"wal_bytes_written"`
	// WALWrites counts write calls that handed log groups to the OS.
	WALWrites uint64 `json:"wal_writes"`
	// WALSyncs counts completed log fsyncs; fewer than BatchesWritten when concurrent writers
	// shared them (group commit).
	WALSyncs uint64 `json:"wal_syncs"`
	// WALSize is the current write-ahead log size in bytes.
	WALSize uint64 `json:"wal_size"`
	// MemtableBytes approximates the memory held by the memtable.
	MemtableBytes uint64 `json:"memtable_bytes"`
	// MemtableVersions counts values and tombstones held by the memtable.
	MemtableVersions uint64 `json:"memtable_versions"`
	// RecoveredBatches counts batches replayed from the log at Open.
	RecoveredBatches uint64 `json:"recovered_batches"`
	// RecoveredTornBytes counts bytes of a torn log tail discarded at Open.
	RecoveredTornBytes uint64 `json:"recovered_torn_bytes"`
	// Snapshots counts live snapshots, including one per open iterator.
	Snapshots uint64 `json:"snapshots"`
	// OpenIterators counts iterators not yet closed.
	OpenIterators uint64 `json:"open_iterators"`
}

// Stats returns current counters.
func (db *DB) Stats() (Stats, error) {
	cl, err := db.exec(context.Background(), "stats", opPlain, func(token C.uint64_t) C.int32_t {
		return C.strata_db_stats(C.uint64_t(db.handle), token)
	})
	if err != nil {
		return Stats{}, err
	}
	if len(cl.data) != C.sizeof_strata_stats {
		return Stats{}, fmt.Errorf("%w: stats are %d bytes, want %d", ErrInternal, len(cl.data), C.sizeof_strata_stats)
	}
	var s C.strata_stats
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&s)), C.sizeof_strata_stats), cl.data)
	return Stats{
		TLSInits:           uint64(s.tls_inits),
		StrataThreads:      uint64(s.strata_threads),
		VisibleSeq:         uint64(s.visible_seq),
		BatchesWritten:     uint64(s.batches_written),
		WALBytesWritten:    uint64(s.wal_bytes_written),
		WALWrites:          uint64(s.wal_writes),
		WALSyncs:           uint64(s.wal_syncs),
		WALSize:            uint64(s.wal_size),
		MemtableBytes:      uint64(s.memtable_bytes),
		MemtableVersions:   uint64(s.memtable_versions),
		RecoveredBatches:   uint64(s.recovered_batches),
		RecoveredTornBytes: uint64(s.recovered_torn_bytes),
		Snapshots:          uint64(s.snapshots),
		OpenIterators:      uint64(s.open_iterators),
	}, nil
}
