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

// Stats describe one database and the strata runtime in this process (DB.Stats). The JSON
// names are stable (the CLI prints them). A Stats is a plain value, which later calls do
// not change.
type Stats struct {
	// TLSInits counts initializations of engine thread-local state in this process. It equals
	// StrataThreads as long as only strata's own threads ever run engine code, however many
	// OS threads call into strata.
	TLSInits uint64 `json:"tls_inits"`
	// StrataThreads counts the threads strata spawned in this process.
	StrataThreads uint64 `json:"strata_threads"`
	// RustLiveBytes is the Rust heap in use by strata in this process, in bytes (every
	// database's share together: memtables, block cache, buffers). See ReadRustMemory.
	RustLiveBytes uint64 `json:"rust_live_bytes"`
	// RustLiveAllocations is the number of Rust heap blocks in use by strata in this process.
	RustLiveAllocations uint64 `json:"rust_live_allocations"`
	// RustAllocations counts Rust heap blocks strata allocated since the process started.
	RustAllocations uint64 `json:"rust_allocations"`
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
	// Snapshots counts live snapshots: those of NewSnapshot, and one per open iterator.
	Snapshots uint64 `json:"snapshots"`
	// OpenIterators counts iterators not yet closed.
	OpenIterators uint64 `json:"open_iterators"`
	// FrozenMemtables counts full memtables waiting to be flushed to a table.
	FrozenMemtables uint64 `json:"frozen_memtables"`
	// Flushes counts memtables written to tables since Open.
	Flushes uint64 `json:"flushes"`
	// Compactions counts compactions (automatic and requested) finished since Open.
	Compactions uint64 `json:"compactions"`
	// FlushBytes counts bytes written to tables by flushes since Open.
	FlushBytes uint64 `json:"flush_bytes"`
	// CompactionBytesRead counts table bytes read by compactions since Open.
	CompactionBytesRead uint64 `json:"compaction_bytes_read"`
	// CompactionBytesWritten counts table bytes written by compactions since Open.
	CompactionBytesWritten uint64 `json:"compaction_bytes_written"`
	// CompactionDebt is the bytes by which levels exceed their targets, summed over levels:
	// compaction work still owed. Writes slow down and then stall while it grows.
	CompactionDebt uint64 `json:"compaction_debt"`
	// CacheHits counts table block reads served by the block cache since Open.
	CacheHits uint64 `json:"cache_hits"`
	// CacheMisses counts table block reads that went to the file since Open.
	CacheMisses uint64 `json:"cache_misses"`
	// CacheBytes is the memory the block cache holds now (at most Options.BlockCacheSize).
	CacheBytes uint64 `json:"cache_bytes"`
	// StalledWrites counts writes held back right now because compaction is behind.
	StalledWrites uint64 `json:"stalled_writes"`
	// LevelFiles counts the tables in each level, L0 first.
	LevelFiles [NumLevels]uint64 `json:"level_files"`
	// LevelBytes is the size of the tables in each level, L0 first.
	LevelBytes [NumLevels]uint64 `json:"level_bytes"`
	// MappedBytes is the size of the table files mapped into memory, those open now (a table
	// opens at its first read; 0 with Options.NoMmap): address space, not memory.
	MappedBytes uint64 `json:"mapped_bytes"`
	// MappedResidentBytes is how much of the mapped table files is resident in memory now:
	// file-backed pages of the kernel's page cache, which the kernel reclaims under memory
	// pressure, counted outside BlockCacheSize (and in the process's RSS as RssFile). Exact
	// for tables up to 8 MiB, estimated from sampled pages for larger ones.
	MappedResidentBytes uint64 `json:"mapped_resident_bytes"`
}

// NumLevels is the number of levels in a database's tree, L0 to L6 (7, strata.h's
// STRATA_NUM_LEVELS): the length of Stats.LevelFiles and Stats.LevelBytes.
const NumLevels = C.STRATA_NUM_LEVELS

// WriteAmplification is the bytes written to tables (by flushes and compactions) per byte
// written to the write-ahead log, since Open; 0 before any write. Table bytes written after
// Open for data logged before it (recovered memtables) count too, so it is only meaningful
// for a database open long enough to have written much.
func (s Stats) WriteAmplification() float64 {
	if s.WALBytesWritten == 0 {
		return 0
	}
	return float64(s.FlushBytes+s.CompactionBytesWritten) / float64(s.WALBytesWritten)
}

// CacheHitRate is the fraction of table block reads the block cache served since Open, from 0
// to 1; 0 before any block read.
func (s Stats) CacheHitRate() float64 {
	reads := s.CacheHits + s.CacheMisses
	if reads == 0 {
		return 0
	}
	return float64(s.CacheHits) / float64(reads)
}

// Stats returns the database's current counters and the tree's shape, read on strata's
// runtime thread. Counters described as "since Open" start at zero when the database
// opens. It fails with ErrClosed after Close.
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
	st := Stats{
		TLSInits:               uint64(s.tls_inits),
		StrataThreads:          uint64(s.strata_threads),
		RustLiveBytes:          uint64(s.rust_live_bytes),
		RustLiveAllocations:    uint64(s.rust_live_allocations),
		RustAllocations:        uint64(s.rust_allocations),
		VisibleSeq:             uint64(s.visible_seq),
		BatchesWritten:         uint64(s.batches_written),
		WALBytesWritten:        uint64(s.wal_bytes_written),
		WALWrites:              uint64(s.wal_writes),
		WALSyncs:               uint64(s.wal_syncs),
		WALSize:                uint64(s.wal_size),
		MemtableBytes:          uint64(s.memtable_bytes),
		MemtableVersions:       uint64(s.memtable_versions),
		RecoveredBatches:       uint64(s.recovered_batches),
		RecoveredTornBytes:     uint64(s.recovered_torn_bytes),
		Snapshots:              uint64(s.snapshots),
		OpenIterators:          uint64(s.open_iterators),
		FrozenMemtables:        uint64(s.frozen_memtables),
		Flushes:                uint64(s.flushes),
		Compactions:            uint64(s.compactions),
		FlushBytes:             uint64(s.flush_bytes),
		CompactionBytesRead:    uint64(s.compaction_bytes_read),
		CompactionBytesWritten: uint64(s.compaction_bytes_written),
		CompactionDebt:         uint64(s.compaction_debt),
		CacheHits:              uint64(s.cache_hits),
		CacheMisses:            uint64(s.cache_misses),
		CacheBytes:             uint64(s.cache_bytes),
		StalledWrites:          uint64(s.stalled_writes),
		MappedBytes:            uint64(s.mapped_bytes),
		MappedResidentBytes:    uint64(s.mapped_resident_bytes),
	}
	for i := range NumLevels {
		st.LevelFiles[i] = uint64(s.level_files[i])
		st.LevelBytes[i] = uint64(s.level_bytes[i])
	}
	return st, nil
}
