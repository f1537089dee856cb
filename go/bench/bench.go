// Package bench runs the same workloads against strata (through its Go SDK), Pebble, Badger
// and bbolt in one process, and turns those results and rust/bench's native ones into the
// generated section of docs/benchmarks.md and its ratio chart.
//
// It is a module of its own (go/bench/go.mod), so the peers are never dependencies of the
// strata module. cmd/peerbench runs the workloads; cmd/benchreport writes the report;
// bridge/ holds micro-benchmarks of the cgo boundary. scripts/bench.sh runs all three.
//
// Workloads run in the order of WorkloadNames; within a workload every engine runs back to
// back, each in a fresh directory, so engines see the same machine state. Read workloads and
// the mix reopen the database that fillrandom produced (running an untimed fillrandom first
// if it was not selected); readwhilewriting (readwhilewriting.go) copies it instead; txnrmw
// (txnrmw.go) writes its own counters into a fresh one. Every workload checks what it reads,
// so a wrong engine setup fails the run instead of producing a fast number. An engine without
// an equivalent of a workload (Engine.Skips: Pebble has no transactions, Badger's iterators
// do not turn around) has no row for it.
//
// With Config.Busy, every row is measured twice, quiet and then loaded: the second time while
// that many busy processes (busy.go) keep the cores busy, as other processes do on a loaded
// server. The report puts loaded over quiet beside each engine's.
package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/strata-db/strata/internal/latency"
)

// FillBatch is the number of keys in each batch of fillseq and fillrandom.
const FillBatch = 100

// ScanLength is the number of entries each scan reads (the seek's and 9 more); LongScanLength
// is scan100's.
const (
	ScanLength     = 10
	LongScanLength = 100
)

// WorkloadNames lists the workloads in the order they run.
var WorkloadNames = []string{"fillseq", "fillrandom", "readrandom", "readmissing", "scan", "scan100", "scanall", "seekprev", "mix", "txnrmw", "readwhilewriting", "fillsync"}

// Config is what one run does.
type Config struct {
	// Dir holds one directory per engine and workload; created if needed, left in place.
	Dir       string
	Keys      int
	ValueSize int
	// Reads is the number of point reads of readrandom and readmissing.
	Reads int
	// Scans is the number of scans, and of seekprev's seeks.
	Scans int
	// FullScans is the number of times scanall reads the whole database.
	FullScans int
	// MixOps is the number of operations of the mix, half reads, half writes.
	MixOps int
	// SyncOps is the number of durable single-key writes of fillsync, split among the writers.
	SyncOps int
	// TxnOps is the number of txnrmw's transactions, and TxnHotKeys the number of counters
	// they pick from.
	TxnOps     int
	TxnHotKeys int
	// RWWWrites is the number of Puts of readwhilewriting's writer, and RWWReaders the number
	// of goroutines that read meanwhile (one row).
	RWWWrites  int
	RWWReaders int
	// ReadThreads, MixThreads, TxnThreads and SyncWriters are the goroutine counts to run
	// readrandom, the mix, txnrmw and fillsync with; one row each.
	ReadThreads []int
	MixThreads  []int
	TxnThreads  []int
	SyncWriters []int
	Engines     []Engine
	// Workloads are names from WorkloadNames; they run in that order whatever the order here.
	Workloads []string
	// Busy, when above 0, measures every row a second time while Busy busy processes run
	// (Row.Loaded). runtime.NumCPU() is the count the project reports.
	Busy int
	// Progress receives a line per finished row (nil: none).
	Progress io.Writer
}

// DefaultConfig returns the defaults scripts/bench.sh uses for keys keys.
func DefaultConfig(dir string, keys int) Config {
	return Config{
		Dir:         dir,
		Keys:        keys,
		ValueSize:   100,
		Reads:       keys,
		Scans:       max(keys/10, 1),
		FullScans:   5,
		MixOps:      keys,
		SyncOps:     20_000,
		TxnOps:      max(keys/10, 1),
		TxnHotKeys:  1000,
		RWWWrites:   max(keys/10, 1),
		RWWReaders:  15,
		ReadThreads: []int{1, 16},
		MixThreads:  []int{16},
		TxnThreads:  []int{1, 16},
		SyncWriters: []int{1, 32},
		Engines:     Engines,
		Workloads:   WorkloadNames,
	}
}

// Row is one engine's result for one workload and goroutine count.
type Row struct {
	Engine   string `json:"engine"`
	Workload string `json:"workload"`
	Threads  int    `json:"threads"`
	// Mode is "fast" (no fsync) or "durable"; reads run on a store opened fast.
	Mode string `json:"mode"`
	// Ops counts keys written, keys looked up, scans, entries read by scanall, or mix
	// operations; for readwhilewriting,
	// whose Threads counts the readers, the writer's Puts (its reads are in ReadWhileWriting).
	Ops int64 `json:"ops"`
	// Found counts keys found by reads (the mix's and txnrmw's included), or entries returned
	// by scans and seekprev.
	Found     int64   `json:"found"`
	Bytes     int64   `json:"bytes"`
	Secs      float64 `json:"secs"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"`
	// LatencyUnit is what one latency sample timed: "batch" (of FillBatch keys), "pass" (a
	// whole scanall pass) or "op".
	LatencyUnit string  `json:"latency_unit"`
	P50Micros   float64 `json:"p50_us"`
	P99Micros   float64 `json:"p99_us"`
	MaxMicros   float64 `json:"max_us"`
	// CPUMicrosPerOp is the process's CPU time (user and system, every thread: the engine's
	// own and its background work included) over the timed region, per operation: what an
	// operation costs the machine, whichever threads did the work.
	CPUMicrosPerOp float64 `json:"cpu_us_per_op"`
	// CloseSecs is the time to close after a fill (memtables flushed), not part of Secs.
	CloseSecs float64 `json:"close_secs,omitempty"`
	// PeakRSSBytes is the process's peak resident memory from opening the store to closing
	// it (0 where the kernel cannot reset the peak).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
	// AnonRSSBytes and FileRSSBytes split the process's resident memory at the end of the
	// timed region, before the store closes: anonymous memory (heaps, caches an engine
	// allocates) and file-backed pages (files an engine maps: strata's tables, bbolt's file),
	// which the kernel can reclaim. They are the whole process's: engines that ran earlier in
	// it may still hold heap the Go runtime has not returned. 0 where /proc/self/status lacks
	// them.
	AnonRSSBytes int64 `json:"anon_rss_bytes,omitempty"`
	FileRSSBytes int64 `json:"file_rss_bytes,omitempty"`
	// Retries counts txnrmw's transaction runs beyond the first, after conflicts.
	Retries int64 `json:"retries,omitempty"`
	// ReadWhileWriting is readwhilewriting's readers and solo writer; nil for other workloads.
	ReadWhileWriting *ReadWhileWriting `json:"readwhilewriting,omitempty"`
	// Loaded is the same row measured again on a busy machine (Config.Busy); nil otherwise.
	Loaded *Loaded `json:"loaded,omitempty"`
}

// Loaded is a row's second measurement, made while Results.Busy busy processes ran. It did
// the same operations as the quiet one (the harness checks), so only times differ.
type Loaded struct {
	Secs      float64 `json:"secs"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"`
	P50Micros float64 `json:"p50_us"`
	P99Micros float64 `json:"p99_us"`
	MaxMicros float64 `json:"max_us"`
	// Ratio is OpsPerSec over the quiet row's: 1 means the load cost nothing.
	Ratio float64 `json:"ratio"`
	// Retries is Row.Retries of the loaded measurement.
	Retries int64 `json:"retries,omitempty"`
	// BusyCores is how many cores the busy processes used on average while the row ran
	// (from open to close): evidence that they did keep the machine busy.
	BusyCores float64 `json:"busy_cores"`
	// ReadWhileWriting is the loaded measurement's readers and solo writer (readwhilewriting).
	ReadWhileWriting *ReadWhileWriting `json:"readwhilewriting,omitempty"`
}

// Label is the workload name, with the goroutine count for the workloads that vary it.
func (r Row) Label() string { return Label(r.Workload, r.Threads) }

// Label names a workload run with threads goroutines as the report does.
func Label(workload string, threads int) string {
	switch workload {
	case "readrandom", "scan100", "mix", "txnrmw", "readwhilewriting", "fillsync":
		return fmt.Sprintf("%s/%d", workload, threads)
	}
	return workload
}

// Run runs the configured workloads on the configured engines.
func Run(cfg Config) ([]Row, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, keyspace: NewKeyspace(cfg.Keys, cfg.ValueSize), filled: map[string]bool{}}
	var rows []Row
	for _, w := range WorkloadNames {
		if !slices.Contains(cfg.Workloads, w) {
			continue
		}
		for _, e := range cfg.Engines {
			if why, ok := e.Skips[w]; ok {
				if cfg.Progress != nil {
					fmt.Fprintf(cfg.Progress, "  %-19s %-7s skipped: %s\n", w, e.Name, why)
				}
				continue
			}
			got, err := r.run(e, w)
			if err != nil {
				return rows, fmt.Errorf("%s on %s: %w", w, e.Name, err)
			}
			for _, row := range got {
				if cfg.Progress != nil {
					fmt.Fprintln(cfg.Progress, progressLine(row))
				}
			}
			rows = append(rows, got...)
		}
	}
	return rows, nil
}

// progressLine is a row of the table Run writes to Config.Progress: ops/s and latencies,
// quiet and, when measured, loaded.
func progressLine(row Row) string {
	line := fmt.Sprintf("  %-19s %-7s %12.0f ops/s  p50 %8.1f us  p99 %9.1f us  cpu %6.2f us/op",
		row.Label(), row.Engine, row.OpsPerSec, row.P50Micros, row.P99Micros, row.CPUMicrosPerOp)
	if row.Workload == "txnrmw" {
		line += fmt.Sprintf("  retries/txn %.3f", retryRate(row.Retries, row.Ops))
	}
	if row.AnonRSSBytes > 0 || row.FileRSSBytes > 0 {
		line += fmt.Sprintf("  rss anon/file %.0f/%.0f MiB", float64(row.AnonRSSBytes)/(1<<20), float64(row.FileRSSBytes)/(1<<20))
	}
	if l := row.Loaded; l != nil {
		line += fmt.Sprintf("  | busy %10.0f ops/s  p50 %8.1f us  p99 %9.1f us  loaded/quiet %.2f (busy: %.1f cores)",
			l.OpsPerSec, l.P50Micros, l.P99Micros, l.Ratio, l.BusyCores)
	}
	if rww := row.ReadWhileWriting; rww != nil {
		line += "\n" + rwwProgress("quiet", rww)
		if l := row.Loaded; l != nil && l.ReadWhileWriting != nil {
			line += "\n" + rwwProgress("busy", l.ReadWhileWriting)
		}
	}
	return line
}

// retryRate is retries per transaction that committed.
func retryRate(retries, ops int64) float64 {
	if ops == 0 {
		return 0
	}
	return float64(retries) / float64(ops)
}

// rwwProgress is the line under a readwhilewriting row: the writer alone and the readers.
func rwwProgress(machine string, rww *ReadWhileWriting) string {
	return fmt.Sprintf("    %-5s writer alone %10.0f ops/s  among %d readers / alone %.2f  readers %11.0f reads/s  p99 %9.1f us",
		machine, rww.SoloOpsPerSec, rww.Readers, rww.SoloRatio, rww.ReadsPerSec, rww.ReadP99Micros)
}

func (c *Config) check() error {
	for _, w := range c.Workloads {
		if !slices.Contains(WorkloadNames, w) {
			return fmt.Errorf("unknown workload %q (known: %s)", w, strings.Join(WorkloadNames, ","))
		}
	}
	positive := map[string]int{"keys": c.Keys, "reads": c.Reads, "scans": c.Scans, "full scans": c.FullScans, "mix ops": c.MixOps, "sync ops": c.SyncOps,
		"txnrmw transactions": c.TxnOps, "txnrmw hot keys": c.TxnHotKeys,
		"readwhilewriting writes": c.RWWWrites, "readwhilewriting readers": c.RWWReaders}
	for name, n := range positive {
		if n < 1 {
			return fmt.Errorf("%s must be at least 1, not %d", name, n)
		}
	}
	for _, list := range [][]int{c.ReadThreads, c.MixThreads, c.TxnThreads, c.SyncWriters} {
		if len(list) == 0 || slices.Min(list) < 1 {
			return errors.New("goroutine counts must be at least 1")
		}
	}
	switch {
	case c.ValueSize < 1:
		return fmt.Errorf("value size must be at least 1, not %d", c.ValueSize)
	case len(c.Engines) == 0:
		return errors.New("no engine selected")
	case c.Dir == "":
		return errors.New("no directory given")
	case c.Busy < 0:
		return fmt.Errorf("busy process count must be at least 0, not %d", c.Busy)
	}
	return nil
}

type runner struct {
	cfg      Config
	keyspace *Keyspace
	// filled: engines whose fillrandom database is ready to be reopened.
	filled map[string]bool
}

func (r *runner) dir(e Engine, name string) string { return filepath.Join(r.cfg.Dir, e.Name+"-"+name) }

// fresh returns an empty directory for one engine's database.
func (r *runner) fresh(e Engine, name string) (string, error) {
	dir := r.dir(e, name)
	return dir, os.RemoveAll(dir)
}

func (r *runner) run(e Engine, workload string) ([]Row, error) {
	switch workload {
	case "fillseq", "fillrandom":
		row, err := r.twice(func() (Row, error) { return r.fill(e, workload) })
		return []Row{row}, err
	case "readrandom", "readmissing", "scan", "scan100", "scanall", "seekprev", "mix":
		if err := r.needFilled(e); err != nil {
			return nil, err
		}
		threads := []int{1}
		switch workload {
		case "readrandom", "scan100":
			threads = r.cfg.ReadThreads
		case "mix":
			threads = r.cfg.MixThreads
		}
		var rows []Row
		for _, t := range threads {
			row, err := r.twice(func() (Row, error) { return r.onFilled(e, workload, t) })
			if err != nil {
				return rows, err
			}
			rows = append(rows, row)
		}
		return rows, nil
	case "readwhilewriting":
		if err := r.needFilled(e); err != nil {
			return nil, err
		}
		row, err := r.twice(func() (Row, error) { return r.readWhileWriting(e) })
		return []Row{row}, err
	case "txnrmw":
		var rows []Row
		for _, t := range r.cfg.TxnThreads {
			row, err := r.twice(func() (Row, error) { return r.txnRMW(e, t) })
			if err != nil {
				return rows, err
			}
			rows = append(rows, row)
		}
		return rows, nil
	case "fillsync":
		var rows []Row
		for _, w := range r.cfg.SyncWriters {
			row, err := r.twice(func() (Row, error) { return r.fillSync(e, w) })
			if err != nil {
				return rows, err
			}
			rows = append(rows, row)
		}
		return rows, nil
	}
	return nil, fmt.Errorf("unknown workload %q", workload)
}

// needFilled makes sure e's fillrandom database exists, by an untimed fillrandom if it was
// not selected.
func (r *runner) needFilled(e Engine) error {
	if r.filled[e.Name] {
		return nil
	}
	fmt.Fprintf(progress(r.cfg.Progress), "  (%s: untimed fillrandom to read from)\n", e.Name)
	_, err := r.fill(e, "fillrandom")
	return err
}

// twice runs measure quiet and, with Config.Busy, again while the busy processes run, and
// returns the quiet row with the loaded one in Row.Loaded. The processes run from before the
// store opens to after it closes, and are stopped whatever happens.
func (r *runner) twice(measure func() (Row, error)) (Row, error) {
	quiet, err := measure()
	if err != nil || r.cfg.Busy == 0 {
		return quiet, err
	}
	busy, err := StartBusy(r.cfg.Busy)
	if err != nil {
		return quiet, err
	}
	defer busy.Stop() // if measure panics; the Stop below reports what went wrong
	loaded, err := measure()
	cores, coresErr := busy.Cores()
	if err = errors.Join(err, coresErr, busy.Stop()); err != nil {
		return quiet, fmt.Errorf("on a busy machine: %w", err)
	}
	if loaded.Ops != quiet.Ops || loaded.Found != quiet.Found || loaded.Bytes != quiet.Bytes {
		return quiet, fmt.Errorf("on a busy machine: %d ops, %d found, %d bytes; quiet: %d, %d, %d",
			loaded.Ops, loaded.Found, loaded.Bytes, quiet.Ops, quiet.Found, quiet.Bytes)
	}
	quiet.Loaded = &Loaded{
		Secs: loaded.Secs, OpsPerSec: loaded.OpsPerSec, MBPerSec: loaded.MBPerSec,
		P50Micros: loaded.P50Micros, P99Micros: loaded.P99Micros, MaxMicros: loaded.MaxMicros,
		BusyCores: cores, ReadWhileWriting: loaded.ReadWhileWriting, Retries: loaded.Retries,
	}
	if quiet.OpsPerSec > 0 {
		quiet.Loaded.Ratio = loaded.OpsPerSec / quiet.OpsPerSec
	}
	return quiet, nil
}

func progress(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// fill writes every key once in batches of FillBatch, in key order (fillseq) or in the
// computed random order (fillrandom), then closes the store (timed apart).
func (r *runner) fill(e Engine, workload string) (Row, error) {
	dir, err := r.fresh(e, workload)
	if err != nil {
		return Row{}, err
	}
	order := func(j int) int { return j }
	if workload == "fillrandom" {
		order = r.keyspace.FillOrder
	}
	ks := r.keyspace
	rss := startPeakRSS()
	s, err := e.Open(dir, OpenOptions{Mode: Fast, Writers: 1})
	if err != nil {
		return Row{}, err
	}
	batches := (ks.Keys + FillBatch - 1) / FillBatch
	m, err := timed(1, batches, func() unit {
		keys := make([]byte, FillBatch*KeySize)
		entries := make([]Entry, 0, FillBatch)
		return func(i int) (tally, error) {
			entries = entries[:0]
			for j := i * FillBatch; j < min((i+1)*FillBatch, ks.Keys); j++ {
				n := order(j)
				key := PutKey(keys[len(entries)*KeySize:], n)
				entries = append(entries, Entry{Key: key, Value: ks.Value(n)})
			}
			if err := s.Write(entries); err != nil {
				return tally{}, err
			}
			return tally{ops: int64(len(entries)), bytes: int64(len(entries)) * ks.EntryBytes()}, nil
		}
	})
	anon, file := residentNow()
	t := time.Now()
	err = errors.Join(err, s.Close())
	closeSecs := time.Since(t).Seconds()
	if err != nil {
		return Row{}, err
	}
	row := m.row(e, workload, 1, Fast, "batch")
	row.CloseSecs = closeSecs
	row.PeakRSSBytes = rss.peak()
	row.AnonRSSBytes, row.FileRSSBytes = anon, file
	if workload == "fillrandom" {
		r.filled[e.Name] = true
	} else if err := os.RemoveAll(dir); err != nil {
		return Row{}, err
	}
	return row, nil
}

// onFilled runs a read workload or the mix on the database fillrandom wrote.
func (r *runner) onFilled(e Engine, workload string, threads int) (Row, error) {
	rss := startPeakRSS()
	s, err := e.Open(r.dir(e, "fillrandom"), OpenOptions{Mode: Fast, Writers: threads})
	if err != nil {
		return Row{}, err
	}
	var m measurement
	switch workload {
	case "readrandom", "readmissing":
		m, err = timed(threads, r.cfg.Reads, func() unit { return r.reader(s, workload == "readmissing") })
	case "scan":
		m, err = timed(threads, r.cfg.Scans, func() unit { return r.scanner(s, ScanLength) })
	case "scan100":
		m, err = timed(threads, r.cfg.Scans, func() unit { return r.scanner(s, LongScanLength) })
	case "scanall":
		m, err = timed(1, r.cfg.FullScans, func() unit { return r.fullScanner(s) })
	case "seekprev":
		m, err = r.seekPrev(s)
	case "mix":
		m, err = timed(threads, r.cfg.MixOps, func() unit { return r.mixer(s) })
	}
	anon, file := residentNow()
	if err = errors.Join(err, s.Close()); err != nil {
		return Row{}, err
	}
	unit := "op"
	if workload == "scanall" {
		unit = "pass"
	}
	row := m.row(e, workload, threads, Fast, unit)
	row.PeakRSSBytes = rss.peak()
	row.AnonRSSBytes, row.FileRSSBytes = anon, file
	return row, nil
}

// reader looks up random existing keys (each must be found with its value's length) or, with
// missing, keys that sort between existing ones (none may be found).
func (r *runner) reader(s Store, missing bool) unit {
	ks := r.keyspace
	key := make([]byte, KeySize+1)
	seed := uint64(readSeed)
	if missing {
		seed = missingSeed
	}
	return func(i int) (tally, error) {
		n := ks.Target(seed, i)
		k := PutKey(key, n)
		if missing {
			k = PutMissingKey(key, n)
		}
		size, found, err := s.Get(k)
		switch {
		case err != nil:
			return tally{}, err
		case found && missing:
			return tally{}, fmt.Errorf("missing key after %d was found", n)
		case !found && !missing:
			return tally{}, fmt.Errorf("key %d was not found", n)
		case found && size != ks.ValueSize:
			return tally{}, fmt.Errorf("key %d has a %d-byte value, not %d", n, size, ks.ValueSize)
		case found:
			return tally{ops: 1, found: 1, bytes: ks.EntryBytes()}, nil
		}
		return tally{ops: 1, bytes: int64(len(k))}, nil
	}
}

// scanner seeks to a random existing key and reads length entries; they must be that key and
// the ones after it, in order (the keys are dense), each with a full value.
func (r *runner) scanner(s Store, length int) unit {
	ks := r.keyspace
	start := make([]byte, KeySize)
	want := make([]byte, KeySize)
	return func(i int) (tally, error) {
		n := ks.Target(scanSeed, i)
		t := tally{ops: 1}
		var bad error
		err := s.Scan(PutKey(start, n), length, func(key, value []byte) {
			if bad != nil {
				return
			}
			m := n + int(t.found)
			if !bytes.Equal(key, PutKey(want, m)) || len(value) != ks.ValueSize {
				bad = fmt.Errorf("scan from key %d: entry %d is %x (%d-byte value), want key %d", n, t.found, key, len(value), m)
				return
			}
			t.found++
			t.bytes += int64(len(key) + len(value))
		})
		if err = errors.Join(err, bad); err != nil {
			return tally{}, err
		}
		if wantN := int64(min(length, ks.Keys-n)); t.found != wantN {
			return tally{}, fmt.Errorf("scan from key %d returned %d entries, not %d", n, t.found, wantN)
		}
		return t, nil
	}
}

// fullScanner reads every entry of the database in key order from the first, checking each
// key and value length; its operations are the entries read, so a row's ops/s is entries/s.
func (r *runner) fullScanner(s Store) unit {
	ks := r.keyspace
	want := make([]byte, KeySize)
	return func(int) (tally, error) {
		var t tally
		var bad error
		err := s.Scan(PutKey(want, 0), ks.Keys, func(key, value []byte) {
			if bad != nil {
				return
			}
			if !bytes.Equal(key, PutKey(want, int(t.found))) || len(value) != ks.ValueSize {
				bad = fmt.Errorf("full scan: entry %d is %x (%d-byte value), want key %d", t.found, key, len(value), t.found)
				return
			}
			t.found++
			t.bytes += int64(len(key) + len(value))
		})
		if err = errors.Join(err, bad); err != nil {
			return tally{}, err
		}
		if t.found != int64(ks.Keys) {
			return tally{}, fmt.Errorf("full scan returned %d entries, not %d", t.found, ks.Keys)
		}
		t.ops = t.found
		return t, nil
	}
}

// mixer does, per operation, a read of a random existing key or a write of one (its own
// value again), half and half by a hash of the operation's index.
func (r *runner) mixer(s Store) unit {
	ks := r.keyspace
	key := make([]byte, KeySize)
	return func(i int) (tally, error) {
		n := ks.Target(mixSeed, i)
		k := PutKey(key, n)
		if splitmix64(mixSeed<<32+uint64(i))&1 == 0 {
			if err := s.Put(k, ks.Value(n)); err != nil {
				return tally{}, err
			}
			return tally{ops: 1, bytes: ks.EntryBytes()}, nil
		}
		size, found, err := s.Get(k)
		switch {
		case err != nil:
			return tally{}, err
		case !found || size != ks.ValueSize:
			return tally{}, fmt.Errorf("key %d: found %v, %d-byte value", n, found, size)
		}
		return tally{ops: 1, found: 1, bytes: ks.EntryBytes()}, nil
	}
}

// fillSync writes keys 0 to SyncOps-1, one durable Put each, from writers goroutines (writer
// w takes keys w, w+writers, ...), into a fresh database.
func (r *runner) fillSync(e Engine, writers int) (Row, error) {
	dir, err := r.fresh(e, fmt.Sprintf("fillsync%d", writers))
	if err != nil {
		return Row{}, err
	}
	ks := r.keyspace
	rss := startPeakRSS()
	s, err := e.Open(dir, OpenOptions{Mode: Durable, Writers: writers})
	if err != nil {
		return Row{}, err
	}
	m, err := timed(writers, r.cfg.SyncOps, func() unit {
		key := make([]byte, KeySize)
		return func(i int) (tally, error) {
			if err := s.Put(PutKey(key, i), ks.Value(i)); err != nil {
				return tally{}, err
			}
			return tally{ops: 1, bytes: ks.EntryBytes()}, nil
		}
	})
	if err = errors.Join(err, s.Close()); err != nil {
		return Row{}, err
	}
	row := m.row(e, "fillsync", writers, Durable, "op")
	row.PeakRSSBytes = rss.peak()
	return row, os.RemoveAll(dir)
}

// tally is what timed units did: operations counted for ops/s (keys, for a batch), entries
// found, key and value bytes moved, and transactions run again after a conflict.
type tally struct {
	ops, found, bytes, retries int64
}

func (t *tally) add(u tally) {
	t.ops += u.ops
	t.found += u.found
	t.bytes += u.bytes
	t.retries += u.retries
}

// unit runs the i-th timed unit of a workload. Each goroutine gets its own (so its buffers
// are its own).
type unit func(i int) (tally, error)

// measurement is the sum of a run's tallies, its wall time, and the latency of each unit.
type measurement struct {
	tally
	elapsed time.Duration
	// cpu is the process's CPU time over the same region.
	cpu     time.Duration
	latency latency.Histogram
}

// selfCPU is the CPU time (user and system) this process has used so far, every thread.
func selfCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// timed runs units 0 to n-1 on threads goroutines (unit i on goroutine i % threads), timing
// each unit. The first error stops its goroutine and is returned.
func timed(threads, n int, newUnit func() unit) (measurement, error) {
	type part struct {
		m   measurement
		err error
	}
	parts := make([]part, threads)
	units := make([]unit, threads)
	for w := range units {
		units[w] = newUnit()
	}
	var wg sync.WaitGroup
	cpu := selfCPU()
	start := time.Now()
	for w := range parts {
		wg.Add(1)
		go func(p *part, run unit) {
			defer wg.Done()
			for i := w; i < n; i += threads {
				t0 := time.Now()
				t, err := run(i)
				if err != nil {
					p.err = err
					return
				}
				p.m.latency.Add(time.Since(t0))
				p.m.add(t)
			}
		}(&parts[w], units[w])
	}
	wg.Wait()
	total := measurement{elapsed: time.Since(start), cpu: selfCPU() - cpu}
	var errs []error
	for i := range parts {
		errs = append(errs, parts[i].err)
		total.add(parts[i].m.tally)
		total.latency.Merge(&parts[i].m.latency)
	}
	return total, errors.Join(errs...)
}

func (m *measurement) row(e Engine, workload string, threads int, mode Mode, latencyUnit string) Row {
	secs := m.elapsed.Seconds()
	row := Row{
		Engine: e.Name, Workload: workload, Threads: threads, Mode: mode.String(),
		Ops: m.ops, Found: m.found, Bytes: m.bytes, Retries: m.retries, Secs: secs, LatencyUnit: latencyUnit,
		P50Micros: micros(m.latency.Quantile(500)),
		P99Micros: micros(m.latency.Quantile(990)),
		MaxMicros: micros(m.latency.Max()),
	}
	if secs > 0 {
		row.OpsPerSec = float64(m.ops) / secs
		row.MBPerSec = float64(m.bytes) / 1e6 / secs
	}
	if m.ops > 0 {
		row.CPUMicrosPerOp = micros(m.cpu) / float64(m.ops)
	}
	return row
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// peakRSS measures the process's peak resident memory from its creation on.
type peakRSS struct{ reset bool }

// startPeakRSS returns freed Go memory to the OS and resets the kernel's peak-RSS mark
// (writing 5 to /proc/self/clear_refs), so the next peak is this row's.
func startPeakRSS() peakRSS {
	runtime.GC()
	debug.FreeOSMemory()
	err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return peakRSS{reset: err == nil}
}

// peak is VmHWM since the reset, in bytes; 0 if the mark could not be reset or read.
func (p peakRSS) peak() int64 {
	if !p.reset {
		return 0
	}
	return statusBytes("VmHWM")[0]
}

// residentNow is the process's anonymous and file-backed resident memory now (RssAnon and
// RssFile), in bytes.
func residentNow() (anon, file int64) {
	b := statusBytes("RssAnon", "RssFile")
	return b[0], b[1]
}

// statusBytes reads the named kB fields of /proc/self/status, in bytes (0 for one missing).
func statusBytes(fields ...string) []int64 {
	out := make([]int64, len(fields))
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(status), "\n") {
		for i, f := range fields {
			if rest, ok := strings.CutPrefix(line, f+":"); ok {
				var kb int64
				if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
					out[i] = kb << 10
				}
			}
		}
	}
	return out
}
