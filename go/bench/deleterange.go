package bench

// deleterange: dropping a large key range at once, the way a user drops a tenant, a table or
// a time window. The store is loaded with Keys + Keys/10 keys and compacted, so every key is
// in its tables; then one range delete removes Keys of them (the middle of the key space,
// leaving Keys/20 keys live on each side). Measured: the range delete itself (one durable
// write), a full scan right after it (what reads pay while the deleted data is still on
// disk), the compaction of the range, and the bytes on disk before, after the delete, and
// after the compaction, with the store closed and reopened so nothing waits in memory. Only
// engines with range deletes (strata, Pebble) run it: bbolt and Badger would delete the keys
// one by one.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/strata-db/strata/go/strata"
)

// deleteRangeBatch is the number of keys in each (durable) batch that loads the store.
const deleteRangeBatch = 10_000

// RangeDeleter is a Store that deletes a key range in one write and compacts a range on
// request.
type RangeDeleter interface {
	// DeleteRange durably deletes every key in [start, end).
	DeleteRange(start, end []byte) error
	// CompactRange compacts the keys in [start, end] and returns once done.
	CompactRange(start, end []byte) error
}

// DeleteRangeRow is one engine's deleterange result.
//
// DeleteMicros is one sample (one durable write, after a warm-up write): compare it with
// fillsync's latencies rather than read much into a single number.
type DeleteRangeRow struct {
	Engine string `json:"engine"`
	// Loaded is the number of keys written; Deleted how many the range delete covers.
	Loaded  int `json:"loaded"`
	Deleted int `json:"deleted"`
	// DeleteMicros is the range delete, a durable write.
	DeleteMicros float64 `json:"delete_us"`
	// ScanAfterSecs is a full scan right after the delete; ScanLive the keys it returned.
	ScanAfterSecs float64 `json:"scan_after_secs"`
	ScanLive      int     `json:"scan_live"`
	// CompactSecs is the compaction of the deleted range.
	CompactSecs float64 `json:"compact_secs"`
	// Bytes on disk (every file of the directory) with the store closed: after loading and
	// compacting, after the range delete, and after its compaction.
	BytesBefore       int64 `json:"bytes_before"`
	BytesAfterDelete  int64 `json:"bytes_after_delete"`
	BytesAfterCompact int64 `json:"bytes_after_compact"`
}

// RunDeleteRange runs deleterange on every engine of cfg that has range deletes.
func RunDeleteRange(cfg Config) ([]DeleteRangeRow, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	var rows []DeleteRangeRow
	for _, e := range cfg.Engines {
		if e.Name != "strata" && e.Name != "pebble" {
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "  deleterange %-7s skipped: no range delete\n", e.Name)
			}
			continue
		}
		row, err := deleteRange(cfg, e)
		if err != nil {
			return rows, fmt.Errorf("deleterange on %s: %w", e.Name, err)
		}
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "  deleterange %-7s delete %8.0f us  scan after %6.3f s (%d live)  compact %6.3f s  disk %s -> %s -> %s\n",
				row.Engine, row.DeleteMicros, row.ScanAfterSecs, row.ScanLive, row.CompactSecs,
				mib(row.BytesBefore), mib(row.BytesAfterDelete), mib(row.BytesAfterCompact))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func deleteRange(cfg Config, e Engine) (DeleteRangeRow, error) {
	dir := filepath.Join(cfg.Dir, "deleterange-"+e.Name)
	if err := os.RemoveAll(dir); err != nil {
		return DeleteRangeRow{}, err
	}
	defer os.RemoveAll(dir)
	total := cfg.Keys + cfg.Keys/10
	first, end := cfg.Keys/20, cfg.Keys/20+cfg.Keys
	row := DeleteRangeRow{Engine: e.Name, Loaded: total, Deleted: end - first}
	ks := NewKeyspace(total, cfg.ValueSize)
	low, high := PutKey(make([]byte, KeySize), 0), PutKey(make([]byte, KeySize), total)
	open := func() (Store, RangeDeleter, error) {
		s, err := e.Open(dir, OpenOptions{Mode: Durable, Writers: 1})
		if err != nil {
			return nil, nil, err
		}
		rd, ok := s.(RangeDeleter)
		if !ok {
			return nil, nil, errors.Join(errors.New("the store has no range delete"), s.Close())
		}
		return s, rd, nil
	}

	s, rd, err := open()
	if err != nil {
		return row, err
	}
	entries := make([]Entry, 0, deleteRangeBatch)
	for i := 0; i < total; i += deleteRangeBatch {
		entries = entries[:0]
		for j := i; j < min(i+deleteRangeBatch, total); j++ {
			entries = append(entries, Entry{Key: PutKey(make([]byte, KeySize), j), Value: ks.Value(j)})
		}
		if err := s.Write(entries); err != nil {
			return row, errors.Join(err, s.Close())
		}
	}
	if err := rd.CompactRange(low, high); err != nil {
		return row, errors.Join(err, s.Close())
	}
	if err := s.Close(); err != nil {
		return row, err
	}
	if row.BytesBefore, err = dirBytes(dir); err != nil {
		return row, err
	}

	if s, rd, err = open(); err != nil {
		return row, err
	}
	// An empty range first, so the timed delete is not the reopened store's first write.
	if err := rd.DeleteRange(high, high); err != nil {
		return row, errors.Join(err, s.Close())
	}
	start := time.Now()
	err = rd.DeleteRange(PutKey(make([]byte, KeySize), first), PutKey(make([]byte, KeySize), end))
	row.DeleteMicros = float64(time.Since(start).Nanoseconds()) / 1e3
	if err != nil {
		return row, errors.Join(err, s.Close())
	}
	start = time.Now()
	err = s.Scan(low, total, func(key, value []byte) { row.ScanLive++ })
	row.ScanAfterSecs = time.Since(start).Seconds()
	if err == nil && row.ScanLive != total-row.Deleted {
		err = fmt.Errorf("a scan after the delete found %d keys, want %d", row.ScanLive, total-row.Deleted)
	}
	if err != nil {
		return row, errors.Join(err, s.Close())
	}
	if err := s.Close(); err != nil {
		return row, err
	}
	if row.BytesAfterDelete, err = dirBytes(dir); err != nil {
		return row, err
	}

	if s, rd, err = open(); err != nil {
		return row, err
	}
	start = time.Now()
	err = rd.CompactRange(low, high)
	row.CompactSecs = time.Since(start).Seconds()
	if err != nil {
		return row, errors.Join(err, s.Close())
	}
	if _, found, err := s.Get(PutKey(make([]byte, KeySize), first+1)); err != nil || found {
		return row, errors.Join(fmt.Errorf("a deleted key reads back (found %v, error %v)", found, err), s.Close())
	}
	if _, found, err := s.Get(PutKey(make([]byte, KeySize), end)); err != nil || !found {
		return row, errors.Join(fmt.Errorf("the key at the range's end is gone (error %v)", err), s.Close())
	}
	if err := s.Close(); err != nil {
		return row, err
	}
	row.BytesAfterCompact, err = dirBytes(dir)
	return row, err
}

// dirBytes is the size of every file under dir.
func dirBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}

func (s *strataStore) DeleteRange(start, end []byte) error {
	return s.db.DeleteRange(context.Background(), start, end, strata.Sync)
}

func (s *strataStore) CompactRange(start, end []byte) error {
	return s.db.Compact(context.Background(), start, end)
}

func (s *pebbleStore) DeleteRange(start, end []byte) error {
	return s.db.DeleteRange(start, end, pebble.Sync)
}

func (s *pebbleStore) CompactRange(start, end []byte) error {
	return s.db.Compact(context.Background(), start, end, true)
}
