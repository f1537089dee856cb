package strata

/*
#include "strata.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
)

// Batch collects puts and deletes that DB.Write applies atomically, in order: a later
// operation on the same key wins. A Batch holds its own copy of every key and value, up to
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
	kindPut    = C.STRATA_BATCH_PUT
	kindDelete = C.STRATA_BATCH_DELETE
)

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
	b.data = append(b.data, kindPut)
	b.data = binary.LittleEndian.AppendUint32(b.data, uint32(len(key)))
	b.data = append(b.data, key...)
	b.data = binary.LittleEndian.AppendUint32(b.data, uint32(len(value)))
	b.data = append(b.data, value...)
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
	b.data = append(b.data, kindDelete)
	b.data = binary.LittleEndian.AppendUint32(b.data, uint32(len(key)))
	b.data = append(b.data, key...)
	b.count++
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
