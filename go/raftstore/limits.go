package raftstore

import "github.com/strata-db/strata/go/strata"

// storeLimits are the sizes StoreLogs plans its writes with, in bytes.
type storeLimits struct {
	batch int // one strata batch, counted as strata.Batch counts it (see batchPutSize)
}

// limits are strata's, except in tests, which lower them so that StoreLogs in several
// batches needs only kilobytes.
var limits = storeLimits{batch: strata.MaxBatchSize}

// batchPutSize is the bytes a put of a key and a value of these lengths adds to a strata
// batch (strata.MaxBatchSize documents it).
func batchPutSize(key, value int) int {
	return 9 + key + value
}
