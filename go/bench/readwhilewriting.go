package bench

// readwhilewriting: one writer among readers, the shape of a server whose many readers must
// not starve its one writer. The performance issue's target is that a writer among 15 readers
// keeps at least half of its rate alone (Targets).
//
// The writer does Config.RWWWrites single-key Puts without fsync, of random existing keys
// (Keyspace.Target with rwwSeed), each with its own value again: the database keeps the
// contents fillrandom gave it, so every read still finds its key with its full value. The
// Config.RWWReaders readers read random existing keys (readrandom's sequence, split as timed
// splits it) and check each, as readrandom does. The stopping rule: the writer's Puts are the
// fixed count; each reader stops once it sees the writer done, after at least one read, so
// the row's ops (the Puts) are the same every run and only the number of reads varies.
//
// The same writer is timed alone right before, so the row carries both rates. Each of the
// two measurements opens its own byte-for-byte copy of the fillrandom database: both start
// from the same files, and neither leaves the other its memtable or its flushed Puts.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ReadWhileWriting is what a readwhilewriting row adds to Row, whose ops, latencies and
// ops/s are the writer's among the readers.
type ReadWhileWriting struct {
	// Readers is the number of reader goroutines (Row.Threads too); one writer runs beside.
	Readers int `json:"readers"`
	// Reads counts the readers' point reads, every one of an existing key found with its
	// full value, from the start until the last reader stopped (ReadSecs).
	Reads         int64   `json:"reads"`
	ReadSecs      float64 `json:"read_secs"`
	ReadsPerSec   float64 `json:"reads_per_sec"`
	ReadP50Micros float64 `json:"read_p50_us"`
	ReadP99Micros float64 `json:"read_p99_us"`
	// Solo* are the same writer's numbers alone: the same Puts on an identical copy of the
	// database, with no reader, measured right before.
	SoloSecs      float64 `json:"solo_secs"`
	SoloOpsPerSec float64 `json:"solo_ops_per_sec"`
	SoloP50Micros float64 `json:"solo_p50_us"`
	SoloP99Micros float64 `json:"solo_p99_us"`
	// SoloRatio is the writer's ops/s among the readers over its ops/s alone: 1 means the
	// readers cost the writer nothing.
	SoloRatio float64 `json:"solo_ratio"`
}

// errReaderFailed stops the writer when a reader has failed; the reader's error is the one
// reported.
var errReaderFailed = errors.New("a reader failed")

// readWhileWriting measures the writer alone, then among Config.RWWReaders readers.
func (r *runner) readWhileWriting(e Engine) (Row, error) {
	readers := r.cfg.RWWReaders
	solo, _, _, err := r.writeOnCopy(e, 0)
	if err != nil {
		return Row{}, fmt.Errorf("the writer alone: %w", err)
	}
	writer, reads, peak, err := r.writeOnCopy(e, readers)
	if err != nil {
		return Row{}, fmt.Errorf("the writer among %d readers: %w", readers, err)
	}
	row := writer.row(e, "readwhilewriting", readers, Fast, "op")
	row.PeakRSSBytes = peak
	soloRow := solo.row(e, "readwhilewriting", 0, Fast, "op")
	rww := &ReadWhileWriting{
		Readers: readers, Reads: reads.ops, ReadSecs: reads.elapsed.Seconds(),
		ReadP50Micros: micros(reads.latency.Quantile(500)),
		ReadP99Micros: micros(reads.latency.Quantile(990)),
		SoloSecs:      soloRow.Secs, SoloOpsPerSec: soloRow.OpsPerSec,
		SoloP50Micros: soloRow.P50Micros, SoloP99Micros: soloRow.P99Micros,
	}
	if rww.ReadSecs > 0 {
		rww.ReadsPerSec = float64(reads.ops) / rww.ReadSecs
	}
	if rww.SoloOpsPerSec > 0 {
		rww.SoloRatio = row.OpsPerSec / rww.SoloOpsPerSec
	}
	row.ReadWhileWriting = rww
	return row, nil
}

// writeOnCopy copies the fillrandom database, opens the copy, runs the writer beside readers
// readers (0: alone), closes it and removes it. peak is the process's peak RSS from open to
// close.
func (r *runner) writeOnCopy(e Engine, readers int) (writer, reads measurement, peak int64, err error) {
	dir, err := r.fresh(e, "readwhilewriting")
	if err != nil {
		return writer, reads, 0, err
	}
	if err := copyDir(r.dir(e, "fillrandom"), dir); err != nil {
		return writer, reads, 0, err
	}
	rss := startPeakRSS()
	s, err := e.Open(dir, OpenOptions{Mode: Fast, Writers: 1})
	if err != nil {
		return writer, reads, 0, err
	}
	writer, reads, err = r.amongReaders(s, readers)
	err = errors.Join(err, s.Close())
	peak = rss.peak()
	return writer, reads, peak, errors.Join(err, os.RemoveAll(dir))
}

// amongReaders runs the writer (Config.RWWWrites Puts, one goroutine) beside readers reader
// goroutines, which start together with it and each read until they see it done, at least
// once. reads' elapsed time runs from the start until the last reader stopped.
func (r *runner) amongReaders(s Store, readers int) (writer, reads measurement, err error) {
	var ready, stopped sync.WaitGroup
	start := make(chan struct{})
	var writerDone, readerFailed atomic.Bool
	parts := make([]measurement, readers)
	readErrs := make([]error, readers)
	ready.Add(readers)
	stopped.Add(readers)
	for g := range readers {
		go func(p *measurement, read unit) {
			defer stopped.Done()
			ready.Done()
			<-start
			for i := g; ; i += readers {
				t0 := time.Now()
				t, err := read(i)
				if err != nil {
					readErrs[g] = err
					readerFailed.Store(true)
					return
				}
				p.latency.Add(time.Since(t0))
				p.add(t)
				if writerDone.Load() {
					return
				}
			}
		}(&parts[g], r.reader(s, false))
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	writer, writeErr := timed(1, r.cfg.RWWWrites, func() unit {
		put := r.overwriter(s)
		return func(i int) (tally, error) {
			if readerFailed.Load() {
				return tally{}, errReaderFailed
			}
			return put(i)
		}
	})
	writerDone.Store(true)
	stopped.Wait()
	reads.elapsed = time.Since(t0)
	for i := range parts {
		reads.add(parts[i].tally)
		reads.latency.Merge(&parts[i].latency)
	}
	if err := errors.Join(readErrs...); err != nil {
		return writer, reads, err
	}
	return writer, reads, writeErr
}

// overwriter puts random existing keys, each with its own value again, so the database keeps
// what fillrandom wrote.
func (r *runner) overwriter(s Store) unit {
	ks := r.keyspace
	key := make([]byte, KeySize)
	return func(i int) (tally, error) {
		n := ks.Target(rwwSeed, i)
		if err := s.Put(PutKey(key, n), ks.Value(n)); err != nil {
			return tally{}, err
		}
		return tally{ops: 1, bytes: ks.EntryBytes()}, nil
	}
}

// copyDir copies the directories and regular files under src into dst (a closed database:
// no engine's files are anything else).
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(path, target)
		}
		return fmt.Errorf("%s: neither a directory nor a regular file", path)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
