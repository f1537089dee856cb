package strata

/*
#include "strata.h"
*/
import "C"

// RustMemory is the Rust heap use of the whole process: what strata's engine holds allocated.
// Every allocation Rust makes inside strata is counted, so once every DB, Iterator and
// Snapshot is closed, LiveAllocations returns to where it was before they were opened (a few
// blocks of the process-wide runtime stay for the life of the process).
type RustMemory struct {
	// LiveBytes is the number of bytes allocated right now.
	LiveBytes uint64 `json:"live_bytes"`
	// LiveAllocations is the number of blocks allocated right now.
	LiveAllocations uint64 `json:"live_allocations"`
	// Allocations counts blocks allocated since the process started.
	Allocations uint64 `json:"allocations"`
}

// ReadRustMemory reads the process-wide Rust heap counters. It does not wait for strata's
// runtime thread, and works before any DB is opened and after all are closed.
func ReadRustMemory() RustMemory {
	var m C.strata_memory
	C.strata_memory_read(&m)
	return RustMemory{
		LiveBytes:       uint64(m.live_bytes),
		LiveAllocations: uint64(m.live_allocations),
		Allocations:     uint64(m.allocations),
	}
}
