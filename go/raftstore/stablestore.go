package raftstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

var _ raft.StableStore = (*Store)(nil)

// Set stores val under key, durably: with strata's default options it is fsynced before Set
// returns. key may be empty; key and val must fit strata's limits (strata.MaxKeySize less
// one byte of prefix, strata.MaxValueSize).
func (s *Store) Set(key, val []byte) error {
	if err := s.db.Put(context.Background(), stableKey(key), val); err != nil {
		return fmt.Errorf("raftstore: set %q: %w", key, err)
	}
	return nil
}

// Get returns the value stored under key. As raft.StableStore documents, a key that was never
// set returns an empty slice and no error.
func (s *Store) Get(key []byte) ([]byte, error) {
	val, err := s.db.Get(context.Background(), stableKey(key))
	if errors.Is(err, strata.ErrNotFound) {
		return []byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raftstore: get %q: %w", key, err)
	}
	return val, nil
}

// SetUint64 stores val under key as 8 big-endian bytes, durably (see Set).
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the number SetUint64 stored under key. As raft.StableStore documents, a
// key that was never set returns 0 and no error. A value that is not 8 bytes long (one that
// Set stored, say) returns an error wrapping strata.ErrCorruption.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	val, err := s.Get(key)
	switch {
	case err != nil:
		return 0, err
	case len(val) == 0:
		return 0, nil
	case len(val) != 8:
		return 0, fmt.Errorf("%w: raftstore: %q holds %d bytes, not a uint64", strata.ErrCorruption, key, len(val))
	}
	return binary.BigEndian.Uint64(val), nil
}
