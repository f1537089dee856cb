package strata

/*
#include "strata.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
)

// Batch collects puts, deletes and range deletes that DB.Write applies atomically, in order:
// a later operation on the same key wins. A Batch holds its own copy of every key and value, up to
// MaxBatchSize bytes in all. A Batch is not safe for concurrent use. Invalid input (an empty
// or oversized key, say) is remembered, later operations are ignored, and DB.Write reports the
// error (wrapping ErrInvalidArgument) and writes nothing. DB.Write leaves the batch as it was:
// writing it again applies the same operations again; call Reset to start a new batch.
//
// A Batch is not a transaction: reads do not see its operations before DB.Write, and DB.Write
// does not check whether the keys changed since they were read.
type Batch struct {
	data  []byte // encoded as strata.h documents for strata_db_write
	count int
	err   error
}

const (
	kindPut         = C.STRATA_BATCH_PUT
	kindDelete      = C.STRATA_BATCH_DELETE
	kindDeleteRange = C.STRATA_BATCH_DELETE_RANGE
)

// A caller waiting in its own call for a write without fsync spins (waitSpin) only when the
// database's thread applies the batch within that spin: at most bulkEntries operations and
// bulkBytes bytes (natively a batch of 100 puts of 116 bytes takes 37 us, a third of a
// microsecond each). Spinning for a larger batch took a core that flushes and compactions
// needed: fillrandom's batches of 100, 0.85-0.87M -> 0.98-1.16M keys/s without the spin.
const (
	bulkEntries = 32
	bulkBytes   = 32 << 10
)

// waitKind is the kind of a write of b whose database writes as kind (DB.writeKind): opBulk
// for a batch too large to spin for, when the write does not wait for an fsync anyway.
func (b *Batch) waitKind(kind opKind) opKind {
	if kind == opPlain && (b.count > bulkEntries || len(b.data) > bulkBytes) {
		return opBulk
	}
	return kind
}

// NewBatch returns an empty batch. The zero Batch is empty too and ready to use.
func NewBatch() *Batch { return &Batch{} }

// Put adds a put of key to value. It copies both: the caller may reuse them at once.
func (b *Batch) Put(key, value []byte) {
	if b.err != nil {
		return
	}
	if err := checkKey(key); err != nil {
		b.fail(err)
		return
	}
	if err := checkValue(value); err != nil {
		b.fail(err)
		return
	}
	if !b.grow(9 + len(key) + len(value)) {
		return
	}
	b.data = appendField(appendField(append(b.data, kindPut), key), value)
	b.count++
}

// Delete adds a delete of key (deleting a missing key is not an error). It copies the key:
// the caller may reuse it at once.
func (b *Batch) Delete(key []byte) {
	if b.err != nil {
		return
	}
	if err := checkKey(key); err != nil {
		b.fail(err)
		return
	}
	if !b.grow(5 + len(key)) {
		return
	}
	b.data = appendField(append(b.data, kindDelete), key)
	b.count++
}

// DeleteRange adds a delete of every key in the half-open range [start, end): start itself
// is deleted, end is not. start == end deletes nothing; a start after end (in bytes.Compare
// order) or an empty start or end is invalid. It deletes what the batch's earlier operations
// put in the range, not what its later ones put there. It copies both bounds: the caller may
// reuse them at once.
//
// It is one operation whatever the range holds: the engine writes one range tombstone, in
// O(1), and reads skip what it covers. The deleted entries keep their space until compaction
// drops them, which the engine does in time as levels fill; db.Compact(ctx, start, end)
// reclaims it at once.
func (b *Batch) DeleteRange(start, end []byte) {
	if b.err != nil {
		return
	}
	if err := checkRange(start, end); err != nil {
		b.fail(err)
		return
	}
	if !b.grow(9 + len(start) + len(end)) {
		return
	}
	b.data = appendField(appendField(append(b.data, kindDeleteRange), start), end)
	b.count++
}

// appendField appends f after its length (u32le), as the encoding lays out keys, values and
// range bounds.
func appendField(data, f []byte) []byte {
	data = binary.LittleEndian.AppendUint32(data, uint32(len(f)))
	return append(data, f...)
}

// Append adds other's operations after b's, in order, as if each had been added to b (b
// takes over other's remembered error, if any, and fails as a Put would past MaxBatchSize).
// It copies them: other may be reused at once.
func (b *Batch) Append(other *Batch) {
	if b.err != nil || other == nil {
		return
	}
	if other.err != nil {
		b.err = other.err
		return
	}
	if !b.grow(len(other.data)) {
		return
	}
	b.data = append(b.data, other.data...)
	b.count += other.count
}

// Len is the number of operations in the batch, not counting the invalid one remembered.
func (b *Batch) Len() int { return b.count }

// Reset empties the batch (and forgets a remembered error), keeping its memory for reuse.
func (b *Batch) Reset() {
	b.data = b.data[:0]
	b.count = 0
	b.err = nil
}

func (b *Batch) grow(n int) bool {
	if len(b.data)+n > MaxBatchSize {
		b.fail(fmt.Errorf("%w: batch would exceed %d bytes", ErrInvalidArgument, MaxBatchSize))
		return false
	}
	return true
}

func (b *Batch) fail(err error) {
	b.err = fmt.Errorf("%w (batch operation %d)", err, b.count)
}
