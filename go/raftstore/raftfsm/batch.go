package raftfsm

import (
	"bytes"
	"fmt"

	"github.com/strata-db/strata/go/strata"
)

// appliedRoom is the room a Batch keeps for the applied index's put: 9 bytes of framing, the
// key and 16 bytes of value.
var appliedRoom = 9 + len(appliedKey) + 16

// Batch collects the writes of one entry. It refuses what would make the entry's Write fail:
// a key that starts with ReservedPrefix, an empty or oversized key or value, a batch too large
// to leave room for the applied index. The first refusal is remembered, later operations are
// ignored, and Apply discards the batch and returns the refusal (wrapping
// strata.ErrInvalidArgument) as the entry's response, exactly as if ApplyFunc had returned it:
// an entry deterministically refused on every node, never a failed FSM.
type Batch struct {
	b    strata.Batch
	size int // bytes the operations take in the encoded batch
	err  error
}

// Put adds a put of key to value, copying both.
func (b *Batch) Put(key, value []byte) {
	if b.check(key, 9+len(key)+len(value)) && len(value) > strata.MaxValueSize {
		b.err = fmt.Errorf("%w: raftfsm: a value of %d bytes", strata.ErrInvalidArgument, len(value))
	}
	if b.err == nil {
		b.b.Put(key, value)
	}
}

// Delete adds a delete of key, copying it.
func (b *Batch) Delete(key []byte) {
	if b.check(key, 5+len(key)) {
		b.b.Delete(key)
	}
}

// Len is the number of operations in the batch.
func (b *Batch) Len() int { return b.b.Len() }

// Err returns the refusal the batch remembers, or nil.
func (b *Batch) Err() error { return b.err }

// check reports whether an operation on key that takes n bytes may be added, remembering why
// not.
func (b *Batch) check(key []byte, n int) bool {
	switch {
	case b.err != nil:
	case bytes.HasPrefix(key, []byte(ReservedPrefix)):
		b.err = fmt.Errorf("%w: raftfsm: key %q starts with the reserved prefix", strata.ErrInvalidArgument, key)
	case len(key) == 0 || len(key) > strata.MaxKeySize:
		b.err = fmt.Errorf("%w: raftfsm: a key of %d bytes", strata.ErrInvalidArgument, len(key))
	case b.size+n > strata.MaxBatchSize-appliedRoom:
		b.err = fmt.Errorf("%w: raftfsm: the entry's batch would exceed %d bytes", strata.ErrInvalidArgument, strata.MaxBatchSize-appliedRoom)
	default:
		b.size += n
		return true
	}
	return false
}

func (b *Batch) reset() {
	b.b.Reset()
	b.size = 0
	b.err = nil
}
