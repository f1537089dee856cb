package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

// benchJSON runs `strata bench --json` with args and decodes its one JSON object.
func benchJSON(t *testing.T, args ...string) benchResult {
	t.Helper()
	out := mustRun(t, append([]string{"bench", "--json"}, args...)...)
	var r benchResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("bench %v printed invalid JSON: %v\n%s", args, err, out)
	}
	if dec.More() {
		t.Fatalf("bench %v printed more than one JSON value:\n%s", args, out)
	}
	return r
}

// wantSane checks what every run reports: ops, positive rates, ordered latencies, counters.
func wantSane(t *testing.T, r benchResult, workload string, ops int, unit string) {
	t.Helper()
	switch {
	case r.Workload != workload || r.Ops != ops || r.LatencyUnit != unit:
		t.Fatalf("%s: workload %q, %d ops, latency per %q; want %q, %d, %q", workload, r.Workload, r.Ops, r.LatencyUnit, workload, ops, unit)
	case r.Seconds <= 0 || r.OpsPerSec <= 0:
		t.Fatalf("%s: %v s, %v ops/s; want both > 0", workload, r.Seconds, r.OpsPerSec)
	case r.P50Micros <= 0 || r.P50Micros > r.P99Micros || r.P99Micros > r.P999Micros || r.P999Micros > r.MaxMicros:
		t.Fatalf("%s: latency p50 %v, p99 %v, p99.9 %v, max %v µs; want 0 < p50 <= p99 <= p99.9 <= max",
			workload, r.P50Micros, r.P99Micros, r.P999Micros, r.MaxMicros)
	case r.Keys == 0 || r.ValueSize < 0 || r.Workload == "":
		t.Fatalf("%s: the report lacks the run's parameters: %+v", workload, r)
	case r.Stats.StrataThreads == 0 || r.Dir == "":
		t.Fatalf("%s: no final stats or directory in the report: %+v", workload, r)
	}
}

func TestBenchFillsThenReads(t *testing.T) {
	dir := t.TempDir()
	const keys = 2000
	entry := int64(benchKeySize + 100)

	r := benchJSON(t, "--dir", dir, "--workload", "fillrandom", "--keys", "2000", "--batch", "50")
	wantSane(t, r, "fillrandom", keys, "batch")
	if r.Bytes != keys*entry || r.MBPerSec <= 0 || r.Stats.BatchesWritten != keys/50 || r.PrefilledKeys != 0 {
		t.Fatalf("fillrandom: %d bytes, %v MB/s, %d batches written, %d prefilled; want %d, > 0, %d, 0",
			r.Bytes, r.MBPerSec, r.Stats.BatchesWritten, r.PrefilledKeys, keys*entry, keys/50)
	}
	wantBenchKeys(t, dir, keys)

	r = benchJSON(t, "--dir", dir, "--workload", "readrandom", "--keys", "2000")
	wantSane(t, r, "readrandom", keys, "op")
	if r.Found != keys || r.Bytes != keys*entry || r.PrefilledKeys != 0 {
		t.Fatalf("readrandom: %d found, %d bytes, %d prefilled; want %d, %d, 0", r.Found, r.Bytes, r.PrefilledKeys, keys, keys*entry)
	}

	r = benchJSON(t, "--dir", dir, "--workload", "readmissing", "--keys", "2000")
	wantSane(t, r, "readmissing", keys, "op")
	if r.Found != 0 || r.Bytes != 0 {
		t.Fatalf("readmissing: %d found, %d bytes; want 0", r.Found, r.Bytes)
	}

	r = benchJSON(t, "--dir", dir, "--workload", "scan", "--keys", "2000")
	wantSane(t, r, "scan", keys, "op")
	// Scans starting within the last 9 keys read fewer than 10 entries.
	if r.Found <= keys*(benchScanLength-1) || r.Found > keys*benchScanLength || r.Bytes != int64(r.Found)*entry {
		t.Fatalf("scan: %d entries, %d bytes; want about %d entries of %d bytes", r.Found, r.Bytes, keys*benchScanLength, entry)
	}
}

// wantBenchKeys checks that dir holds exactly the keys of counters 0 to n-1.
func wantBenchKeys(t *testing.T, dir string, n int) {
	t.Helper()
	db, err := strata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it, err := db.NewIterator(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	i := 0
	for ; it.Next(); i++ {
		if !bytes.Equal(it.Key(), benchKey(i)) || len(it.Value()) != 100 {
			t.Fatalf("entry %d is %x (%d-byte value), want key %x", i, it.Key(), len(it.Value()), benchKey(i))
		}
	}
	if it.Err() != nil || i != n {
		t.Fatalf("%d keys (err %v), want %d", i, it.Err(), n)
	}
}

func TestBenchFillseqAndFillsync(t *testing.T) {
	dir := t.TempDir()
	r := benchJSON(t, "--dir", dir, "--workload", "fillseq", "--keys", "2000", "--writers", "2", "--value-size", "10")
	wantSane(t, r, "fillseq", 2000, "batch")
	if r.Durable || r.Stats.BatchesWritten != 20 || r.Bytes != 2000*(benchKeySize+10) {
		t.Fatalf("fillseq: durable %v, %d batches, %d bytes; want false, 20, %d", r.Durable, r.Stats.BatchesWritten, r.Bytes, 2000*(benchKeySize+10))
	}

	r = benchJSON(t, "--dir", t.TempDir(), "--workload", "fillsync", "--keys", "200", "--writers", "4")
	wantSane(t, r, "fillsync", 200, "op")
	if !r.Durable || r.Stats.BatchesWritten != 200 || r.Stats.WALSyncs == 0 || r.Stats.WALSyncs > 200 {
		t.Fatalf("fillsync: durable %v, %d batches, %d fsyncs; want true, 200, 1 to 200", r.Durable, r.Stats.BatchesWritten, r.Stats.WALSyncs)
	}
}

func TestBenchReadOfAnEmptyDatabaseFillsItFirst(t *testing.T) {
	dir := t.TempDir()
	r := benchJSON(t, "--dir", dir, "--workload", "readrandom", "--keys", "2000")
	wantSane(t, r, "readrandom", 2000, "op")
	if r.PrefilledKeys != 2000 || r.Found != 2000 {
		t.Fatalf("readrandom of an empty database: %d prefilled, %d found; want 2000 and 2000", r.PrefilledKeys, r.Found)
	}
	out := mustRun(t, "bench", "--dir", t.TempDir(), "--workload", "scan", "--keys", "100")
	if !strings.Contains(out, "held no keys: fillrandom wrote 100 first") {
		t.Fatalf("scan of an empty database does not say it filled it:\n%s", out)
	}
}

func TestBenchText(t *testing.T) {
	out := mustRun(t, "bench", "--dir", t.TempDir(), "--workload", "fillseq", "--keys", "500")
	t.Logf("bench output:\n%s", out)
	for _, want := range []string{"fillseq: 500 keys of 16 bytes, 100-byte values, batches of 100", "500 ops in ", " ops/s, ",
		" MB/s\n", "latency per batch: p50 ", ", p99 ", ", p99.9 ", ", max ", "levels: ", "write amplification "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--workload", "fillseq"},
		{"--dir", dir},
		{"--dir", dir, "--workload", "fillsideways"},
		{"--dir", dir, "--workload", "fillseq", "--keys", "-1"},
		{"--dir", dir, "--workload", "fillseq", "--keys", "0"},
		{"--dir", dir, "--workload", "fillseq", "--batch", "0"},
		{"--dir", dir, "--workload", "fillseq", "--writers", "0"},
		{"--dir", dir, "--workload", "fillseq", "--value-size", "-1"},
	} {
		stdout, stderr, code := runCLI(t, append([]string{"bench"}, args...)...)
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "Usage: strata bench") {
			t.Errorf("bench %v: exit %d, stdout %q, stderr %q; want the usage status and a usage error", args, code, stdout, stderr)
		}
	}
}
