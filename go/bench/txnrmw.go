package bench

// txnrmw: read-modify-write transactions on a few hot keys, the shape of counters, balances
// and sequence numbers. Each operation is one transaction through the engine's own update
// call: it reads an 8-byte big-endian counter and writes it back plus one. The key is one of
// Config.TxnHotKeys (computed from the operation's index, uniformly), in a fresh database
// whose counters start at 0 (written untimed), so goroutines collide on a key as often as the
// hot set is small. A transaction that conflicts with a concurrent commit runs again, as each
// engine says to: strata's DB.Update retries by itself, Badger's returns ErrConflict and the
// caller retries, bbolt runs one writer at a time and never conflicts. Row.Retries counts the
// runs beyond the first. Afterwards the counters must add up to the transactions run: a lost
// update fails the workload.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// Transactor is a Store of an engine with read-write transactions (Pebble has none).
type Transactor interface {
	// Increment runs one read-write transaction through the engine's update call: read the
	// counter under key (0 when absent) and write it back plus one, running the transaction
	// again after a conflict. runs is how many times it ran (1 when it committed at once).
	Increment(key []byte) (runs int, err error)
	// Counter reads the counter under key (0 when absent).
	Counter(key []byte) (uint64, error)
}

// counterSize is the size of a counter's value.
const counterSize = 8

// decodeCounter reads a counter's value; nil (absent) is 0.
func decodeCounter(v []byte) (uint64, error) {
	switch len(v) {
	case 0:
		return 0, nil
	case counterSize:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("a counter of %d bytes, not %d", len(v), counterSize)
}

// incremented returns the value of the counter v plus one.
func incremented(v []byte) ([]byte, error) {
	n, err := decodeCounter(v)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(nil, n+1), nil
}

// txnRMW runs Config.TxnOps transactions on threads goroutines in a fresh database and checks
// that the hot counters add up to them.
func (r *runner) txnRMW(e Engine, threads int) (Row, error) {
	dir, err := r.fresh(e, fmt.Sprintf("txnrmw%d", threads))
	if err != nil {
		return Row{}, err
	}
	rss := startPeakRSS()
	s, err := e.Open(dir, OpenOptions{Mode: Fast, Writers: threads, Transactions: true})
	if err != nil {
		return Row{}, err
	}
	m, err := r.increments(s, threads)
	if err = errors.Join(err, s.Close()); err != nil {
		return Row{}, err
	}
	row := m.row(e, "txnrmw", threads, Fast, "op")
	row.PeakRSSBytes = rss.peak()
	return row, os.RemoveAll(dir)
}

// increments writes the hot counters at 0, runs the timed transactions and adds up the
// counters.
func (r *runner) increments(s Store, threads int) (measurement, error) {
	tx, ok := s.(Transactor)
	if !ok {
		return measurement{}, errors.New("the store has no transactions")
	}
	hot := r.cfg.TxnHotKeys
	zero := make([]byte, counterSize)
	for j := 0; j < hot; j += FillBatch {
		var entries []Entry
		for n := j; n < min(j+FillBatch, hot); n++ {
			entries = append(entries, Entry{Key: PutKey(make([]byte, KeySize), n), Value: zero})
		}
		if err := s.Write(entries); err != nil {
			return measurement{}, err
		}
	}
	m, err := timed(threads, r.cfg.TxnOps, func() unit {
		key := make([]byte, KeySize)
		return func(i int) (tally, error) {
			runs, err := tx.Increment(PutKey(key, hotKey(i, hot)))
			if err != nil {
				return tally{}, err
			}
			// The counter read and written by the run that committed.
			return tally{ops: 1, found: 1, bytes: 2 * (KeySize + counterSize), retries: int64(runs - 1)}, nil
		}
	})
	if err != nil {
		return m, err
	}
	var sum uint64
	key := make([]byte, KeySize)
	for n := range hot {
		c, err := tx.Counter(PutKey(key, n))
		if err != nil {
			return m, err
		}
		sum += c
	}
	if sum != uint64(r.cfg.TxnOps) {
		return m, fmt.Errorf("the %d counters add up to %d after %d increments: updates were lost", hot, sum, r.cfg.TxnOps)
	}
	return m, nil
}

// hotKey is the counter the i-th transaction increments: uniform over hot keys, the same
// sequence for every engine and goroutine count.
func hotKey(i, hot int) int { return int(splitmix64(txnSeed+uint64(i)) % uint64(hot)) }
