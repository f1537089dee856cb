package raftstore

import (
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// MaxEntrySize is the largest log entry a Store takes: the bytes of its Data and Extensions
// together (255 MiB). StoreLogs refuses a larger entry, and writes nothing of its call.
//
// The limit comes from strata's: every part of one entry goes into one atomic batch, so an
// entry is at most strata.MaxBatchSize, less room for keys and the encoding's fields. An entry
// larger than one strata value (strata.MaxValueSize, 64 MiB) is stored in several values.
const MaxEntrySize = strata.MaxBatchSize - 1<<20

// CheckCommand returns an error wrapping strata.ErrInvalidArgument if a command of data is
// too large for a Store (more than MaxEntrySize bytes), and nil otherwise. A leader calls it
// before raft.Apply: raft does not know the log store's limit, so an oversized command would
// reach StoreLogs, fail the whole group of commands the leader was appending with it, and
// make the leader step down. For raft.ApplyLog, the limit is on Data and Extensions together.
func CheckCommand(data []byte) error {
	if len(data) > limits.entry {
		return fmt.Errorf("%w: raftstore: command of %d bytes, the limit is %d (MaxEntrySize)",
			strata.ErrInvalidArgument, len(data), limits.entry)
	}
	return nil
}

// storeLimits are the sizes StoreLogs plans its writes with, in bytes.
type storeLimits struct {
	batch int // one strata batch, counted as strata.Batch counts it (see batchPutSize)
	value int // one value; more than headReserve
	entry int // an entry's Data and Extensions together; such an entry fits one batch
}

// limits are strata's, except in tests, which lower them so that entries in parts and
// StoreLogs in several batches need only kilobytes.
var limits = storeLimits{batch: strata.MaxBatchSize, value: strata.MaxValueSize, entry: MaxEntrySize}

// checkEntry returns an error wrapping strata.ErrInvalidArgument if l is over limits.entry.
func checkEntry(l *raft.Log) error {
	if n := len(l.Data) + len(l.Extensions); n > limits.entry {
		return fmt.Errorf("%w: raftstore: log %d holds %d bytes of data and extensions, the limit is %d (MaxEntrySize)",
			strata.ErrInvalidArgument, l.Index, n, limits.entry)
	}
	return nil
}

// batchPutSize is the bytes a put of a key and a value of these lengths adds to a strata
// batch (strata.MaxBatchSize documents it).
func batchPutSize(key, value int) int {
	return 9 + key + value
}

// entryBatchSize is the bytes the puts of one entry's head and parts add to a strata batch.
func entryBatchSize(head []byte, parts [][]byte) int {
	n := batchPutSize(logKeyLen, len(head))
	for _, p := range parts {
		n += batchPutSize(continuationKeyLen, len(p))
	}
	return n
}
