package bench

// seekprev: positioned moves on one live iterator, the shape of a reader that pages backwards
// or looks for the entry before a key. One goroutine opens one iterator on the fillrandom
// database and keeps it for the whole run; each operation seeks it to a random existing key
// (SeekGE) and steps back SeekPrevSteps entries with Prev, so every operation turns the
// iterator around once. What it reads is checked as scan's is: the key sought, then the keys
// before it in descending order (fewer near the first key), each with a full value. Badger's
// iterators walk in the one direction they were opened with, so it has no equivalent.

import (
	"bytes"
	"errors"
	"fmt"
)

// SeekPrevSteps is the number of Prev moves after each seek of seekprev.
const SeekPrevSteps = 10

// Cursor is a positioned iterator over a store's state when it opened, kept open across seeks.
// It is used by one goroutine.
type Cursor interface {
	// SeekGE moves to the first key at or after key and reports whether there is one.
	SeekGE(key []byte) bool
	// Prev moves to the previous key and reports whether there is one.
	Prev() bool
	// Entry is the current key and value, valid until the next move.
	Entry() (key, value []byte, err error)
	// Err is the error that made a move report false, if any.
	Err() error
	Close() error
}

// Seeker is a Store whose iterators move both ways (seekprev).
type Seeker interface {
	NewCursor() (Cursor, error)
}

// seekPrev runs Config.Scans seeks, each followed by SeekPrevSteps Prevs, on one cursor.
func (r *runner) seekPrev(s Store) (measurement, error) {
	seeker, ok := s.(Seeker)
	if !ok {
		return measurement{}, errors.New("the store has no iterator that moves both ways")
	}
	var cursors []Cursor
	m, err := timed(1, r.cfg.Scans, func() unit {
		c, err := seeker.NewCursor()
		if err != nil {
			return func(int) (tally, error) { return tally{}, err }
		}
		cursors = append(cursors, c)
		return r.seekPrevUnit(c)
	})
	for _, c := range cursors {
		err = errors.Join(err, c.Close())
	}
	return m, err
}

// seekPrevUnit seeks c to a random existing key and steps back, checking every entry.
func (r *runner) seekPrevUnit(c Cursor) unit {
	ks := r.keyspace
	want := make([]byte, KeySize)
	return func(i int) (tally, error) {
		n := ks.Target(seekPrevSeed, i)
		t := tally{ops: 1}
		for ok, m := c.SeekGE(PutKey(want, n)), n; ok; ok, m = c.Prev(), m-1 {
			key, value, err := c.Entry()
			if err != nil {
				return tally{}, err
			}
			if !bytes.Equal(key, PutKey(want, m)) || len(value) != ks.ValueSize {
				return tally{}, fmt.Errorf("seek to key %d, %d back: %x (%d-byte value), want key %d", n, n-m, key, len(value), m)
			}
			t.found++
			t.bytes += int64(len(key) + len(value))
			if n-m == SeekPrevSteps {
				break
			}
		}
		if err := c.Err(); err != nil {
			return tally{}, err
		}
		if wantN := int64(1 + min(SeekPrevSteps, n)); t.found != wantN {
			return tally{}, fmt.Errorf("seek to key %d and %d back returned %d entries, not %d", n, SeekPrevSteps, t.found, wantN)
		}
		return t, nil
	}
}
