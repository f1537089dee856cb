package bench

import (
	"encoding/hex"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// testKeys is the key count of the harness test: small, so it checks the harness rather than
// measuring anything. STRATA_BENCH_TEST_KEYS raises it.
func testKeys(t *testing.T) int {
	if s := os.Getenv("STRATA_BENCH_TEST_KEYS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 20 {
			t.Fatalf("STRATA_BENCH_TEST_KEYS=%q: want a number >= 20", s)
		}
		return n
	}
	return 2000
}

// Every workload on every engine, at a tiny size: each row must exist and report what the
// workload did (the workloads themselves fail on a wrong read, a found missing key or a scan
// out of order).
func TestEveryWorkloadOnEveryEngine(t *testing.T) {
	keys := testKeys(t)
	cfg := DefaultConfig(t.TempDir(), keys)
	cfg.SyncOps = 200
	cfg.ReadThreads = []int{1, 4}
	cfg.MixThreads = []int{4}
	cfg.TxnThreads = []int{1, 4}
	cfg.TxnHotKeys = 10 // few enough that 4 goroutines conflict
	cfg.SyncWriters = []int{1, 8}
	cfg.RWWReaders = 3
	rows, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ks := NewKeyspace(keys, cfg.ValueSize)
	var scanned, scanned100, seekPrevFound, mixReads int64
	for i := range cfg.Scans {
		scanned += int64(min(ScanLength, keys-ks.Target(scanSeed, i)))
		scanned100 += int64(min(LongScanLength, keys-ks.Target(scanSeed, i)))
		seekPrevFound += int64(1 + min(SeekPrevSteps, ks.Target(seekPrevSeed, i)))
	}
	for i := range cfg.MixOps {
		mixReads += int64(splitmix64(mixSeed<<32+uint64(i)) & 1)
	}
	type want struct {
		label         string
		ops, found    int64
		mode, latency string
	}
	wants := []want{
		{"fillseq", int64(keys), 0, "fast", "batch"},
		{"fillrandom", int64(keys), 0, "fast", "batch"},
		{"readrandom/1", int64(cfg.Reads), int64(cfg.Reads), "fast", "op"},
		{"readrandom/4", int64(cfg.Reads), int64(cfg.Reads), "fast", "op"},
		{"readmissing", int64(cfg.Reads), 0, "fast", "op"},
		{"scan", int64(cfg.Scans), scanned, "fast", "op"},
		{"scan100/1", int64(cfg.Scans), scanned100, "fast", "op"},
		{"scan100/4", int64(cfg.Scans), scanned100, "fast", "op"},
		{"scanall", int64(cfg.FullScans * keys), int64(cfg.FullScans * keys), "fast", "pass"},
		{"seekprev", int64(cfg.Scans), seekPrevFound, "fast", "op"},
		{"mix/4", int64(cfg.MixOps), mixReads, "fast", "op"},
		{"txnrmw/1", int64(cfg.TxnOps), int64(cfg.TxnOps), "fast", "op"},
		{"txnrmw/4", int64(cfg.TxnOps), int64(cfg.TxnOps), "fast", "op"},
		{"readwhilewriting/3", int64(cfg.RWWWrites), 0, "fast", "op"},
		{"fillsync/1", int64(cfg.SyncOps), 0, "durable", "op"},
		{"fillsync/8", int64(cfg.SyncOps), 0, "durable", "op"},
	}
	if mixReads == 0 || mixReads == int64(cfg.MixOps) {
		t.Fatalf("the mix has %d reads in %d operations: not a mix", mixReads, cfg.MixOps)
	}
	wantRows := 0
	for _, e := range Engines {
		for _, w := range wants {
			i := slices.IndexFunc(rows, func(r Row) bool { return r.Engine == e.Name && r.Label() == w.label })
			workload, _, _ := strings.Cut(w.label, "/")
			if _, skipped := e.Skips[workload]; skipped {
				if i >= 0 {
					t.Errorf("%s %s: a row for a workload the engine skips", e.Name, w.label)
				}
				continue
			}
			wantRows++
			if i < 0 {
				t.Errorf("%s %s: no row", e.Name, w.label)
				continue
			}
			r := rows[i]
			if r.Ops != w.ops || r.Found != w.found || r.Mode != w.mode || r.LatencyUnit != w.latency {
				t.Errorf("%s %s: ops %d found %d mode %s per %s; want %d, %d, %s, %s",
					e.Name, w.label, r.Ops, r.Found, r.Mode, r.LatencyUnit, w.ops, w.found, w.mode, w.latency)
			}
			if r.OpsPerSec <= 0 || r.P50Micros <= 0 || r.P99Micros < r.P50Micros || r.Bytes <= 0 {
				t.Errorf("%s %s: implausible numbers %+v", e.Name, w.label, r)
			}
			// The process did some work, and no more than its cores could in the time
			// (with a millisecond of slack for the clocks' granularity).
			ceiling := (float64(runtime.NumCPU())*r.Secs*1e6 + 1000) / float64(r.Ops)
			if r.CPUMicrosPerOp <= 0 || r.CPUMicrosPerOp > ceiling {
				t.Errorf("%s %s: %.3f us of CPU per op, want above 0 and at most %.3f", e.Name, w.label, r.CPUMicrosPerOp, ceiling)
			}
			// bbolt's one writer never conflicts; only transactions retry.
			if r.Retries < 0 || (r.Retries > 0 && (r.Workload != "txnrmw" || e.Name == "bbolt")) {
				t.Errorf("%s %s: %d retries", e.Name, w.label, r.Retries)
			}
			if (r.ReadWhileWriting != nil) != (r.Workload == "readwhilewriting") {
				t.Errorf("%s %s: readwhilewriting numbers %+v", e.Name, w.label, r.ReadWhileWriting)
			}
			// Every reader reads at least once, and every read found its key.
			if rww := r.ReadWhileWriting; rww != nil && (rww.Readers != cfg.RWWReaders || rww.Reads < int64(rww.Readers) ||
				rww.ReadsPerSec <= 0 || rww.ReadP99Micros <= 0 || rww.SoloOpsPerSec <= 0 ||
				rww.SoloRatio != r.OpsPerSec/rww.SoloOpsPerSec) {
				t.Errorf("%s %s: implausible readwhilewriting numbers %+v", e.Name, w.label, rww)
			}
		}
	}
	if len(rows) != wantRows {
		t.Errorf("%d rows, want %d", len(rows), wantRows)
	}
}

// readwhilewriting's readers check what they read: on a database that lacks the keys, the
// run fails (and its writer stops early) instead of reporting a fast writer.
func TestReadWhileWritingFailsOnAWrongDatabase(t *testing.T) {
	for _, e := range Engines {
		t.Run(e.Name, func(t *testing.T) {
			cfg := DefaultConfig(t.TempDir(), 1000)
			cfg.RWWWrites = 1_000_000
			r := &runner{cfg: cfg, keyspace: NewKeyspace(cfg.Keys, cfg.ValueSize)}
			s, err := e.Open(t.TempDir(), OpenOptions{Mode: Fast, Writers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			writer, _, err := r.amongReaders(s, 2)
			if err == nil || !strings.Contains(err.Error(), "was not found") {
				t.Fatalf("readers on an empty database: %v", err)
			}
			if writer.ops >= int64(cfg.RWWWrites) {
				t.Errorf("the writer did all its %d Puts after a reader failed", writer.ops)
			}
		})
	}
}

// A fresh directory's store, filled in batches, must read back every key and scan in order
// after a reopen: the contract every workload relies on.
func TestStoresReadBackAfterReopen(t *testing.T) {
	const keys = 300
	ks := NewKeyspace(keys, 100)
	for _, e := range Engines {
		t.Run(e.Name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := e.Open(dir, OpenOptions{Mode: Durable, Writers: 1})
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < keys; j += FillBatch {
				var entries []Entry
				for n := j; n < min(j+FillBatch, keys); n++ {
					entries = append(entries, Entry{Key: PutKey(make([]byte, KeySize), n), Value: ks.Value(n)})
				}
				if err := s.Write(entries); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = e.Open(dir, OpenOptions{Mode: Fast, Writers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			key := make([]byte, KeySize+1)
			for n := range keys {
				if size, found, err := s.Get(PutKey(key, n)); err != nil || !found || size != ks.ValueSize {
					t.Fatalf("key %d: %d bytes, found %v, %v", n, size, found, err)
				}
				if _, found, err := s.Get(PutMissingKey(key, n)); err != nil || found {
					t.Fatalf("missing key after %d: found %v, %v", n, found, err)
				}
			}
			var got []string
			err = s.Scan(PutKey(key, keys-3), ScanLength, func(k, v []byte) {
				got = append(got, hex.EncodeToString(k)+"="+hex.EncodeToString(v[:4]))
			})
			var want []string
			for n := keys - 3; n < keys; n++ {
				want = append(want, hex.EncodeToString(PutKey(key, n))+"="+hex.EncodeToString(ks.Value(n)[:4]))
			}
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("scan of the last 3 keys: %v, %v; want %v", got, err, want)
			}
		})
	}
}

// lossyCounters is a Transactor that drops every tenth increment while reporting it done: a
// lost update, which txnrmw must catch.
type lossyCounters struct {
	Store
	mu       sync.Mutex
	counters map[string]uint64
	calls    int
}

func (l *lossyCounters) Increment(key []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls++; l.calls%10 != 0 {
		l.counters[string(key)]++
	}
	return 1, nil
}

func (l *lossyCounters) Counter(key []byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counters[string(key)], nil
}

func TestTxnRMWCatchesLostUpdates(t *testing.T) {
	cfg := DefaultConfig(t.TempDir(), 1000)
	cfg.TxnHotKeys = 10
	r := &runner{cfg: cfg, keyspace: NewKeyspace(cfg.Keys, cfg.ValueSize)}
	s, err := strataEngine.Open(t.TempDir(), OpenOptions{Mode: Fast, Writers: 2, Transactions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := r.increments(s, 2); err != nil {
		t.Fatalf("strata's transactions: %v", err)
	}
	_, err = r.increments(&lossyCounters{Store: s, counters: map[string]uint64{}}, 2)
	if err == nil || !strings.Contains(err.Error(), "updates were lost") {
		t.Fatalf("increments that lose one in ten: %v", err)
	}
}

// The same bytes as rust/bench's data.rs: its test values_match_the_go_harness checks the
// same constants, so strata through Go and strata native store identical data.
func TestKeyspaceMatchesRustBench(t *testing.T) {
	ks := NewKeyspace(1000, 100)
	if got := hex.EncodeToString(ks.Value(12345)[:16]); got != rustValuePrefix12345 {
		t.Errorf("value of key 12345 starts %s, rust/bench has %s", got, rustValuePrefix12345)
	}
	if got := hex.EncodeToString(PutKey(make([]byte, KeySize), 258)); got != "00000000000000000000000000000102" {
		t.Errorf("key 258 is %s", got)
	}
	if got := hex.EncodeToString(PutMissingKey(make([]byte, KeySize+1), 258)); got != "0000000000000000000000000000010200" {
		t.Errorf("missing key after 258 is %s", got)
	}
	var got []int
	for j := range 8 {
		got = append(got, ks.FillOrder(j))
	}
	if !slices.Equal(got, rustFillOrder1000) {
		t.Errorf("fill order of 1000 keys starts %v, rust/bench has %v", got, rustFillOrder1000)
	}
}

// Constants rust/bench's data.rs tests assert too.
var (
	rustValuePrefix12345 = "06e273a1952d343a9bdfd68a089f4e2d"
	rustFillOrder1000    = []int{594, 344, 430, 860, 12, 27, 785, 754}
)

func TestFillOrderIsAPermutation(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 64, 100, 1000, 4097, 50_000} {
		ks := &Keyspace{Keys: n}
		seen := make([]bool, n)
		for j := range n {
			k := ks.FillOrder(j)
			if k < 0 || k >= n || seen[k] {
				t.Fatalf("n=%d: write %d maps to key %d, out of range or repeated", n, j, k)
			}
			seen[k] = true
		}
	}
	// Scattered: the first writes of a large fill do not go to neighbouring keys.
	ks := &Keyspace{Keys: 1_000_000}
	close := 0
	for j := 1; j < 1000; j++ {
		if d := ks.FillOrder(j) - ks.FillOrder(j-1); d > -1000 && d < 1000 {
			close++
		}
	}
	if close > 10 {
		t.Errorf("%d of 1000 consecutive writes land within 1000 keys of the previous one", close)
	}
}
