package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/go/strata"

	"github.com/strata-db/strata/internal/latency"
)

var benchUsage = usage{
	name:    "bench",
	args:    "--dir DIR --workload NAME [--keys N] [--value-size BYTES] [--batch N] [--writers N] [--json] [--progress]",
	summary: "Measure a workload through the Go SDK: ops/s, MB/s, latency percentiles, levels.",
	details: `Prints a table for people, or with --json one object: workload, keys, value_size, ops,
ops_per_sec, mb_per_sec, p50_us, p99_us, p999_us, max_us (latency_unit says whether a sample
timed one operation or one batch), write_amplification, cache_hit_rate and the final stats.
SIGINT or SIGTERM stops the run after the operations in flight, closes the database and says
how many operations were done; no report is printed.`,
	example: "strata bench --dir /tmp/bench --workload fillrandom --keys 200000",
}

// Bench keys are benchKeySize bytes: a big-endian counter below --keys, then zero padding.
// Values are random bytes, so compression gains nothing and MB/s counts real bytes.
const (
	benchKeySize         = 16
	benchScanLength      = 10 // entries a scan reads after its seek
	benchSeed            = 0x5eed
	benchDefaultKeys     = 1_000_000
	benchDefaultSyncKeys = 10_000 // fillsync pays an fsync per key
)

// benchWorkload is one workload --workload names.
type benchWorkload struct {
	name  string
	about string // for --help
	// durable: write with fsync (the others open with Options.NoSync).
	durable bool
	// batched: a timed unit is a batch of --batch keys, not one operation.
	batched bool
	// reads: the workload reads keys an earlier fill wrote.
	reads bool
	run   func(b *bench) (measurement, error)
}

var benchWorkloads = []benchWorkload{
	{name: "fillseq", about: "write the keys in order, --batch keys per batch, without fsync", batched: true,
		run: func(b *bench) (measurement, error) { return b.fillBatches(b.sequential()) }},
	{name: "fillrandom", about: "write the keys in a random order (a seeded permutation), likewise", batched: true,
		run: func(b *bench) (measurement, error) { return b.fillBatches(b.permutation()) }},
	{name: "fillsync", about: "write the keys in a random order, one durable Put per key",
		durable: true,
		run:     func(b *bench) (measurement, error) { return b.fillDurable(b.permutation()) }},
	{name: "readrandom", about: "read random keys of an earlier fill", reads: true,
		run: func(b *bench) (measurement, error) { return b.read(false) }},
	{name: "readmissing", about: "read random absent keys, each sorting between two present ones", reads: true,
		run: func(b *bench) (measurement, error) { return b.read(true) }},
	{name: "scan", about: fmt.Sprintf("seek to a random key and read the next %d entries", benchScanLength), reads: true,
		run: func(b *bench) (measurement, error) { return b.scan() }},
}

// benchConfig is what the command line asked for.
type benchConfig struct {
	dir       string
	workload  benchWorkload
	keys      int
	valueSize int
	batch     int
	writers   int
	json      bool
	progress  *progressMode
}

// runBench implements `strata bench`. Read workloads expect an earlier fill of the same --keys
// in --dir; on a database without keys they run fillrandom first and say so. Fills are timed
// until their last write is acknowledged (the sync at close is not timed). The counters
// printed at the end are those of this run's open of the database.
func runBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cfg, code, ok := parseBench(args, stdout, stderr)
	if !ok {
		return code
	}
	res, err := runBenchWorkload(ctx, cfg, stderr)
	var halt *benchStopped
	if errors.As(err, &halt) {
		return stopped(ctx, stderr, halt.Error())
	}
	if err == nil {
		if cfg.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			err = enc.Encode(res)
		} else {
			err = res.print(stdout)
		}
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// parseBench parses and checks bench's flags; see usage.parse for what it returns.
func parseBench(args []string, stdout, stderr io.Writer) (benchConfig, int, bool) {
	fs := benchUsage.flags()
	dir := fs.String("dir", "", "database `directory`, created if needed (required)")
	var names []string
	for _, w := range benchWorkloads {
		names = append(names, fmt.Sprintf("\n\t%-12s%s", w.name, w.about))
	}
	workload := fs.String("workload", "", "workload `name` (required), one of:"+strings.Join(names, ""))
	keys := fs.Int("keys", 0, fmt.Sprintf("`number` of keys to write or read (default %d; %d for fillsync)", benchDefaultKeys, benchDefaultSyncKeys))
	valueSize := fs.Int("value-size", 100, "value size in `bytes`")
	batch := fs.Int("batch", 100, "`N` keys per batch of fillseq and fillrandom")
	writers := fs.Int("writers", 1, "`N` goroutines issuing operations concurrently")
	asJSON := fs.Bool("json", false, "print one JSON object")
	mode := progressFlag(fs)
	if code, ok := benchUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return benchConfig{}, code, false
	}
	keysSet := false
	fs.Visit(func(f *flag.Flag) { keysSet = keysSet || f.Name == "keys" })
	i := slices.IndexFunc(benchWorkloads, func(w benchWorkload) bool { return w.name == *workload })
	var err error
	switch {
	case *dir == "":
		err = errNoDir
	case *workload == "":
		err = errors.New("--workload is required")
	case i < 0:
		err = fmt.Errorf("unknown workload %q", *workload)
	case keysSet && *keys < 1:
		err = errors.New("--keys must be at least 1")
	case *valueSize < 0 || *valueSize > strata.MaxValueSize:
		err = fmt.Errorf("--value-size must be from 0 to %d", strata.MaxValueSize)
	case *batch < 1:
		err = errors.New("--batch must be at least 1")
	case *writers < 1:
		err = errors.New("--writers must be at least 1")
	}
	if err != nil {
		return benchConfig{}, benchUsage.usageError(stderr, err), false
	}
	cfg := benchConfig{dir: *dir, workload: benchWorkloads[i], keys: *keys, valueSize: *valueSize,
		batch: *batch, writers: *writers, json: *asJSON, progress: mode}
	if !keysSet {
		cfg.keys = benchDefaultKeys
		if cfg.workload.durable {
			cfg.keys = benchDefaultSyncKeys
		}
	}
	return cfg, exitOK, true
}

// runBenchWorkload opens the database, runs the workload and reports it. When ctx ends, the
// workload stops after the operations in flight and the error is a *benchStopped; progress goes
// to stderr.
func runBenchWorkload(ctx context.Context, cfg benchConfig, stderr io.Writer) (*benchResult, error) {
	db, err := strata.Open(cfg.dir, &strata.Options{NoSync: !cfg.workload.durable})
	if err != nil {
		return nil, err
	}
	b := &bench{db: db, cfg: cfg, values: newValueSource(cfg.valueSize), stderr: stderr}
	// A flag, not ctx.Err() in the loop: the writers check it before every operation.
	unwatch := context.AfterFunc(ctx, func() { b.stop.Store(true) })
	res, err := b.run()
	unwatch()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// run runs the workload, after a fill when it reads an empty database.
func (b *bench) run() (*benchResult, error) {
	db, cfg := b.db, b.cfg
	res := &benchResult{
		Workload:  cfg.workload.name,
		Dir:       db.Dir(),
		Keys:      cfg.keys,
		ValueSize: cfg.valueSize,
		Batch:     cfg.batch,
		Writers:   cfg.writers,
		Durable:   cfg.workload.durable,
	}
	if cfg.workload.reads {
		empty, err := b.empty()
		if err != nil {
			return nil, err
		}
		if empty {
			b.phase = "prefill"
			if _, err := b.fillBatches(b.permutation()); err != nil {
				return nil, fmt.Errorf("filling the empty database first: %w", err)
			}
			res.PrefilledKeys = cfg.keys
		}
	}
	b.phase = cfg.workload.name
	m, err := cfg.workload.run(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.workload.name, err)
	}
	st, err := db.Stats()
	if err != nil {
		return nil, err
	}
	res.record(m, st, cfg.workload.batched)
	return res, nil
}

// bench runs one workload against an open database.
type bench struct {
	db     *strata.DB
	cfg    benchConfig
	values valueSource

	stderr io.Writer   // where progress goes
	phase  string      // what runs now: "prefill" or the workload's name
	stop   atomic.Bool // set when the run must stop (a signal)
	done   atomic.Int64
}

// benchStopped is the error of a run stopped before its end: phase did ops of total operations.
type benchStopped struct {
	phase      string
	ops, total int
}

func (e *benchStopped) Error() string {
	return fmt.Sprintf("%s did %s of %s ops", e.phase, formatCount(int64(e.ops)), formatCount(int64(e.total)))
}

// tally is what one timed unit did: operations counted for ops/s (keys, for a batch), entries
// it found (reads and scans), and key and value bytes it moved.
type tally struct {
	ops   int
	found int
	bytes int64
}

func (t *tally) add(u tally) {
	t.ops += u.ops
	t.found += u.found
	t.bytes += u.bytes
}

// measurement is the sum of a run's tallies, its wall time, and the latency of each unit.
type measurement struct {
	tally
	elapsed time.Duration
	latency latency.Histogram
}

// timed runs units 0 to n-1 over the configured goroutines (unit i on goroutine i % writers),
// timing each unit. The first error stops its goroutine and is returned; b.stop stops every
// goroutine before its next unit, and the error is then a *benchStopped. Progress counts the
// operations (keys) of the units done, out of --keys.
func (b *bench) timed(n int, unit func(i int) (tally, error)) (measurement, error) {
	type part struct {
		m       measurement
		err     error
		stopped bool
	}
	bar := newProgress(b.stderr, b.cfg.progress, b.phase, int64(b.cfg.keys), opsUnit)
	b.done.Store(0)
	stopBar := bar.follow(b.done.Load)
	parts := make([]part, b.cfg.writers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range parts {
		wg.Add(1)
		go func(p *part) {
			defer wg.Done()
			for i := w; i < n; i += len(parts) {
				if b.stop.Load() {
					p.stopped = true
					return
				}
				t0 := time.Now()
				t, err := unit(i)
				if err != nil {
					p.err = err
					return
				}
				p.m.latency.Add(time.Since(t0))
				p.m.add(t)
				if bar != nil {
					b.done.Add(int64(t.ops))
				}
			}
		}(&parts[w])
	}
	wg.Wait()
	stopBar()
	bar.finish()
	total := measurement{elapsed: time.Since(start)}
	stopped := false
	for _, p := range parts {
		if p.err != nil {
			return total, p.err
		}
		stopped = stopped || p.stopped
		total.add(p.m.tally)
		total.latency.Merge(&p.m.latency)
	}
	if stopped {
		return total, &benchStopped{phase: b.phase, ops: total.ops, total: b.cfg.keys}
	}
	return total, nil
}

// benchKey returns the key of counter n.
func benchKey(n int) []byte {
	k := make([]byte, benchKeySize)
	binary.BigEndian.PutUint64(k, uint64(n))
	return k
}

// missingKey returns a key no fill writes, sorting just after the key of counter n.
func missingKey(n int) []byte {
	k := benchKey(n)
	k[benchKeySize-1] = 1
	return k
}

// order maps the i-th operation of a run to a key counter. Orders are computed, not stored,
// so the harness's own memory stays small next to the database's (a stored permutation of 10M
// keys would add 80 MB to the process being measured).
type order func(i int) int

func (b *bench) sequential() order { return func(i int) int { return i } }

// permutation visits every counter below --keys once, in a scattered order: i -> (a*i + c) mod
// n with a coprime to n is a bijection. The same for every run with the same --keys.
func (b *bench) permutation() order {
	n := uint64(b.cfg.keys)
	a := uint64(2654435761) % n
	for a < 2 || gcd(a, n) != 1 {
		a++
	}
	c := uint64(benchSeed) % n
	return func(i int) int { return int((a*uint64(i) + c) % n) }
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// targets picks random counters below --keys (repeats allowed), the same for every run.
func (b *bench) targets() order {
	n := uint64(b.cfg.keys)
	seed, gamma := uint64(benchSeed), uint64(0x9E3779B97F4A7C15)
	start := seed * gamma // wraps, as splitmix64 intends
	return func(i int) int {
		// splitmix64 of the operation index: independent, uniform, reproducible.
		z := uint64(i) + start
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return int((z ^ (z >> 31)) % n)
	}
}

// fillBatches writes the keys in order, --batch per batch; one unit is one batch.
func (b *bench) fillBatches(keyAt order) (measurement, error) {
	size := b.cfg.batch
	keys := b.cfg.keys
	batches := (keys + size - 1) / size
	return b.timed(batches, func(i int) (tally, error) {
		batch := strata.NewBatch()
		for j := i * size; j < min((i+1)*size, keys); j++ {
			n := keyAt(j)
			batch.Put(benchKey(n), b.values.value(n))
		}
		if err := b.db.Write(context.Background(), batch); err != nil {
			return tally{}, err
		}
		return tally{ops: batch.Len(), bytes: int64(batch.Len() * (benchKeySize + b.cfg.valueSize))}, nil
	})
}

// fillDurable writes the keys in order with one Put each.
func (b *bench) fillDurable(keyAt order) (measurement, error) {
	return b.timed(b.cfg.keys, func(i int) (tally, error) {
		n := keyAt(i)
		if err := b.db.Put(context.Background(), benchKey(n), b.values.value(n)); err != nil {
			return tally{}, err
		}
		return tally{ops: 1, bytes: benchKeySize + int64(b.cfg.valueSize)}, nil
	})
}

// read looks up --keys random keys, present ones or (missing) absent ones.
func (b *bench) read(missing bool) (measurement, error) {
	target := b.targets()
	return b.timed(b.cfg.keys, func(i int) (tally, error) {
		key := benchKey(target(i))
		if missing {
			key = missingKey(target(i))
		}
		v, err := b.db.Get(context.Background(), key)
		switch {
		case errors.Is(err, strata.ErrNotFound):
			return tally{ops: 1}, nil
		case err != nil:
			return tally{}, err
		}
		return tally{ops: 1, found: 1, bytes: int64(len(key) + len(v))}, nil
	})
}

// scan runs --keys scans, each from a random key for benchScanLength entries.
func (b *bench) scan() (measurement, error) {
	target := b.targets()
	return b.timed(b.cfg.keys, func(i int) (tally, error) {
		it, err := b.db.NewIterator(context.Background(), &strata.IterOptions{Start: benchKey(target(i))})
		if err != nil {
			return tally{}, err
		}
		t := tally{ops: 1}
		for t.found < benchScanLength && it.Next() {
			t.found++
			t.bytes += int64(len(it.Key()) + len(it.Value()))
		}
		return t, it.Close()
	})
}

// empty reports whether the database holds no keys.
func (b *bench) empty() (bool, error) {
	it, err := b.db.NewIterator(context.Background(), nil)
	if err != nil {
		return false, err
	}
	found := it.Next()
	return !found, it.Close()
}

// valueSource hands out values of one size, cut from a buffer of random bytes.
type valueSource struct {
	buf  []byte
	size int
}

// valueWindow is how many distinct value offsets the source has.
const valueWindow = 1 << 20

func newValueSource(size int) valueSource {
	rng := rand.New(rand.NewPCG(benchSeed, 3))
	buf := make([]byte, valueWindow+size)
	for i := 0; i < len(buf); i += 8 {
		var word [8]byte
		binary.LittleEndian.PutUint64(word[:], rng.Uint64())
		copy(buf[i:], word[:])
	}
	return valueSource{buf: buf, size: size}
}

// value returns the value of counter n; the caller must not modify it.
func (v valueSource) value(n int) []byte {
	off := (n * 7919) % valueWindow
	return v.buf[off : off+v.size : off+v.size]
}

// benchResult is one run's report; its JSON form is what --json prints.
type benchResult struct {
	Workload  string `json:"workload"`
	Dir       string `json:"dir"`
	Keys      int    `json:"keys"`
	ValueSize int    `json:"value_size"`
	Batch     int    `json:"batch"`
	Writers   int    `json:"writers"`
	Durable   bool   `json:"durable"`
	// PrefilledKeys is the keys fillrandom wrote before a read workload found no keys.
	PrefilledKeys int `json:"prefilled_keys"`

	// Ops counts keys written, keys looked up, or scans.
	Ops int `json:"ops"`
	// Found counts keys found by reads, or entries read by scans.
	Found     int     `json:"found"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"`
	// LatencyUnit is what one latency sample timed: "batch" for fillseq and fillrandom, else
	// "op".
	LatencyUnit string  `json:"latency_unit"`
	P50Micros   float64 `json:"p50_us"`
	P99Micros   float64 `json:"p99_us"`
	P999Micros  float64 `json:"p999_us"`
	MaxMicros   float64 `json:"max_us"`

	WriteAmplification float64      `json:"write_amplification"`
	CacheHitRate       float64      `json:"cache_hit_rate"`
	Stats              strata.Stats `json:"stats"`
}

// record fills in the measured numbers and the final counters; batched says each latency
// sample timed a batch.
func (r *benchResult) record(m measurement, st strata.Stats, batched bool) {
	r.Ops, r.Found, r.Bytes = m.ops, m.found, m.bytes
	r.Seconds = m.elapsed.Seconds()
	if r.Seconds > 0 {
		r.OpsPerSec = float64(m.ops) / r.Seconds
		r.MBPerSec = float64(m.bytes) / 1e6 / r.Seconds
	}
	r.LatencyUnit = "op"
	if batched {
		r.LatencyUnit = "batch"
	}
	r.P50Micros = micros(m.latency.Quantile(500))
	r.P99Micros = micros(m.latency.Quantile(990))
	r.P999Micros = micros(m.latency.Quantile(999))
	r.MaxMicros = micros(m.latency.Max())
	r.Stats = st
	r.WriteAmplification = st.WriteAmplification()
	r.CacheHitRate = st.CacheHitRate()
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// print writes the report for people.
func (r *benchResult) print(w io.Writer) error {
	var b strings.Builder
	switch r.Workload {
	case "fillseq", "fillrandom":
		fmt.Fprintf(&b, "%s: %d keys of %d bytes, %d-byte values, batches of %d, %d writer(s), no fsync\n",
			r.Workload, r.Keys, benchKeySize, r.ValueSize, r.Batch, r.Writers)
	case "fillsync":
		fmt.Fprintf(&b, "%s: %d keys of %d bytes, %d-byte values, one durable put each, %d writer(s)\n",
			r.Workload, r.Keys, benchKeySize, r.ValueSize, r.Writers)
	case "scan":
		fmt.Fprintf(&b, "%s: %d scans of %d entries from random keys of %d, %d reader(s): %d entries read\n",
			r.Workload, r.Ops, benchScanLength, r.Keys, r.Writers, r.Found)
	default:
		fmt.Fprintf(&b, "%s: %d random reads of %d keys, %d reader(s): %d found\n",
			r.Workload, r.Ops, r.Keys, r.Writers, r.Found)
	}
	if r.PrefilledKeys > 0 {
		fmt.Fprintf(&b, "  (the database held no keys: fillrandom wrote %d first)\n", r.PrefilledKeys)
	}
	fmt.Fprintf(&b, "  %d ops in %.3fs: %.0f ops/s, %.1f MB/s\n", r.Ops, r.Seconds, r.OpsPerSec, r.MBPerSec)
	fmt.Fprintf(&b, "  latency per %s: p50 %s, p99 %s, p99.9 %s, max %s\n", r.LatencyUnit,
		fmtMicros(r.P50Micros), fmtMicros(r.P99Micros), fmtMicros(r.P999Micros), fmtMicros(r.MaxMicros))
	fmt.Fprintf(&b, "  levels: %s\n", levelSummary(r.Stats))
	fmt.Fprintf(&b, "  since open: %d flushes, %d compactions, write amplification %.2f, block cache hit rate %.1f%%\n",
		r.Stats.Flushes, r.Stats.Compactions, r.WriteAmplification, 100*r.CacheHitRate)
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtMicros(us float64) string {
	return time.Duration(us * float64(time.Microsecond)).Round(time.Microsecond).String()
}
