package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rww gives a readwhilewriting row its readers' and solo writer's numbers.
func rww(row Row, soloOpsPerSec float64) Row {
	row.ReadWhileWriting = &ReadWhileWriting{Readers: row.Threads, Reads: 5000, ReadsPerSec: 5000, ReadP99Micros: 7,
		SoloOpsPerSec: soloOpsPerSec, SoloP99Micros: 3, SoloRatio: row.OpsPerSec / soloOpsPerSec}
	return row
}

// txn gives a txnrmw row its transactions and retries.
func txn(row Row, retries int64) Row {
	row.Ops, row.Retries = 1000, retries
	return row
}

func sampleReport() *Report {
	row := func(engine, workload string, threads int, opsPerSec float64) Row {
		return Row{Engine: engine, Workload: workload, Threads: threads, Mode: "fast", OpsPerSec: opsPerSec,
			LatencyUnit: "op", P50Micros: 1, P99Micros: 2}
	}
	return NewReport(ReportInput{
		Go: &Results{Keys: 1_000_000, ValueSize: 100, GoVersion: "go1.x", TxnOps: 1000, TxnHotKeys: 10,
			Settings: map[string]string{"strata": "defaults", "pebble": "defaults", "bbolt": "defaults"},
			Rows: []Row{
				row("strata", "readrandom", 1, 60), row("pebble", "readrandom", 1, 100), row("bbolt", "readrandom", 1, 30),
				row("strata", "readrandom", 16, 90), row("pebble", "readrandom", 16, 100),
				row("strata", "scan", 1, 10), row("pebble", "scan", 1, 100),
				rww(row("strata", "readwhilewriting", 15, 26), 100), rww(row("pebble", "readwhilewriting", 15, 260), 300),
				txn(row("strata", "txnrmw", 16, 50), 250), txn(row("bbolt", "txnrmw", 16, 40), 0),
			}},
		Native: []NativeRow{{Engine: "strata", Workload: "readrandom", Threads: 16, OpsPerSec: 100, LatencyUnit: "op"}},
		Bridge: []BridgeResult{{Name: "CgoNoop", NsPerOp: 61}},
		Chart:  "chart.png",
		Commit: "abc1234",
	})
}

func TestReportRatiosAndTargets(t *testing.T) {
	r := sampleReport()
	if v, ok := r.Ratio("readrandom/1", "pebble"); !ok || v != 0.6 {
		t.Errorf("readrandom/1 strata/pebble = %v, %v; want 0.6", v, ok)
	}
	if v, ok := r.Ratio("readrandom/16", "native"); !ok || v != 0.9 {
		t.Errorf("readrandom/16 Go/native = %v, %v; want 0.9", v, ok)
	}
	if _, ok := r.Ratio("scan", "bbolt"); ok {
		t.Error("a ratio against a row that does not exist")
	}
	md := r.Markdown()
	for _, want := range []string{
		"| readrandom, 1 goroutine | 0.60 | >= 1.0 | **missed** |",
		"| readrandom, 16 goroutines | 0.90 | >= 1.0 | **missed** |",
		"| scan (seek + next 10) | 0.10 | >= 1.0 | **missed** |",
		"| fillrandom, batches of 100 | - | >= 1.0 | not measured |",
		"| strata from Go / strata native (readrandom/16) | 0.90 | >= 0.8 | met |",
		"| readrandom, 1 goroutine, against bbolt | 2.00 | >= 1.0 | met |",
		"| readrandom/1 | 0.60 | 2.00 | - |",
		"| readrandom/16 | strata native | | 100 |",
		"| strata's writer among 15 readers / alone (readwhilewriting/15) | 0.26 | >= 0.5 | **missed** |",
		"| readwhilewriting/15 | 0.10 | - | - |",
		"### One writer among readers (readwhilewriting)",
		"| readwhilewriting/15 | strata | quiet | 26 | 100 | 0.26 | 2.0 / 3.0 | 5000 | 7.0 |\n",
		"| readwhilewriting/15 | pebble | quiet | 260 | 300 | 0.87 | 2.0 / 3.0 | 5000 | 7.0 |\n",
		"| CgoNoop | 61 |",
		"### Read-modify-write transactions (txnrmw)",
		"| txnrmw/16 | strata | 50 | 1.0 | 2.0 | 0.250 |\n",
		"| txnrmw/16 | bbolt | 40 | 1.0 | 2.0 | 0.000 |\n",
		"| txnrmw/16 | - | 1.25 | - |\n",
		"pebble has no txnrmw row: no transactions",
		"1000 read-modify-write transactions",
		"| commit | abc1234 |",
		"](chart.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if !strings.HasPrefix(md, GeneratedBegin) || !strings.HasSuffix(md, GeneratedEnd+"\n") {
		t.Error("the section is not enclosed in its markers")
	}
}

// Results with loaded measurements go through JSON (as peerbench writes them and benchreport
// reads them) into the busy-machine table and the busy targets.
func TestBusyResultsRoundTripIntoTheReport(t *testing.T) {
	row := func(engine, workload string, threads int, quiet, loaded float64) Row {
		return Row{Engine: engine, Workload: workload, Threads: threads, Mode: "fast", OpsPerSec: quiet,
			LatencyUnit: "op", P50Micros: 1, P99Micros: 2,
			Loaded: &Loaded{OpsPerSec: loaded, P50Micros: 3, P99Micros: 40, Ratio: loaded / quiet, BusyCores: 1.5}}
	}
	results := &Results{Keys: 200_000, ValueSize: 100, Busy: 2, Machine: Machine{Cores: 2}, Rows: []Row{
		row("strata", "readrandom", 1, 100, 50), row("pebble", "readrandom", 1, 100, 40),
		row("strata", "readrandom", 16, 100, 50), row("pebble", "readrandom", 16, 100, 60),
		row("strata", "scan", 1, 100, 80), row("pebble", "scan", 1, 100, 80),
		row("strata", "fillsync", 1, 100, 90),
		rww(row("strata", "readwhilewriting", 15, 100, 30), 200),
	}}
	last := &results.Rows[len(results.Rows)-1]
	last.Loaded.ReadWhileWriting = &ReadWhileWriting{Readers: 15, Reads: 5000, ReadsPerSec: 5000, ReadP99Micros: 7,
		SoloOpsPerSec: 150, SoloP99Micros: 3, SoloRatio: 30.0 / 150}
	path := filepath.Join(t.TempDir(), "go.json")
	data, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	read, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	readLast := read.Rows[len(read.Rows)-1]
	if readLast.ReadWhileWriting == nil || *readLast.ReadWhileWriting != *last.ReadWhileWriting ||
		readLast.Loaded.ReadWhileWriting == nil || *readLast.Loaded.ReadWhileWriting != *last.Loaded.ReadWhileWriting {
		t.Fatalf("read back readwhilewriting %+v, loaded %+v", readLast.ReadWhileWriting, readLast.Loaded.ReadWhileWriting)
	}
	if read.Busy != 2 || read.Rows[0].Loaded == nil || *read.Rows[0].Loaded != *results.Rows[0].Loaded {
		t.Fatalf("read back busy %d, first row's loaded %+v", read.Busy, read.Rows[0].Loaded)
	}
	r := NewReport(ReportInput{Go: read})
	if v, ok := r.LoadedRatio("pebble", "readrandom/16"); !ok || v != 0.6 {
		t.Errorf("pebble readrandom/16 loaded/quiet = %v, %v; want 0.6", v, ok)
	}
	md := r.Markdown()
	for _, want := range []string{
		"### Busy machine (2 busy processes): loaded / quiet",
		"| readrandom/1 | strata | 100 | 50 | 0.50 | 2.0 | 40.0 | 1.5 |",
		"| fillsync/1 | strata | 100 | 90 | 0.90 | 2.0 | 40.0 | 1.5 |",
		"| readwhilewriting/15 | strata | 100 | 30 | 0.30 | 2.0 | 40.0 | 1.5 |",
		"| readwhilewriting/15 | strata | quiet | 100 | 200 | 0.50 | 2.0 / 3.0 | 5000 | 7.0 | - |",
		"| readwhilewriting/15 | strata | busy | 30 | 150 | 0.20 | 40.0 / 3.0 | 5000 | 7.0 | 0.30 |",
		"| strata's writer among 15 readers / alone (readwhilewriting/15) | 0.50 | >= 0.5 | met |",
		"| busy machine, readrandom/1: strata's loaded / quiet at least Pebble's | 0.50 | >= 0.40 | met |",
		"| busy machine, readrandom/16: strata's loaded / quiet at least Pebble's | 0.50 | >= 0.60 | **missed** |",
		"| busy machine, scan: strata's loaded / quiet at least Pebble's | 0.80 | >= 0.80 | met |",
		"| busy machine, fillsync/1: strata's loaded / quiet at least Pebble's | - | - | not measured |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// JSON written before the busy mode existed still reads, and its report has no busy parts.
func TestResultsWithoutLoadedNumbers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.json")
	old := `{"keys": 1000000, "value_size": 100, "settings": {}, "rows": [
		{"engine": "strata", "workload": "scan", "threads": 1, "mode": "fast", "ops": 10, "ops_per_sec": 60, "latency_unit": "op", "p50_us": 1, "p99_us": 2},
		{"engine": "pebble", "workload": "scan", "threads": 1, "mode": "fast", "ops": 10, "ops_per_sec": 100, "latency_unit": "op", "p50_us": 1, "p99_us": 2}]}`
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	read, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if read.Busy != 0 || read.Rows[0].Loaded != nil || read.Rows[0].OpsPerSec != 60 {
		t.Fatalf("read %+v", read)
	}
	md := NewReport(ReportInput{Go: read}).Markdown()
	if strings.Contains(md, "Busy machine") || strings.Contains(md, "busy machine") {
		t.Errorf("a report of quiet rows has busy parts:\n%s", md)
	}
	if strings.Contains(md, "readwhilewriting/N is") || strings.Contains(md, "One writer among readers") {
		t.Errorf("a report without readwhilewriting describes it:\n%s", md)
	}
	if !strings.Contains(md, "| scan (seek + next 10) | 0.60 | >= 1.0 | **missed** |") {
		t.Errorf("report lacks the scan target:\n%s", md)
	}
}

func TestUpdateDocumentKeepsTheHandWrittenParts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.md")
	hand := "# Benchmarks\n\nWritten by hand.\n"
	if err := os.WriteFile(path, []byte(hand), 0o644); err != nil {
		t.Fatal(err)
	}
	first := GeneratedBegin + "\nfirst\n" + GeneratedEnd + "\n"
	second := GeneratedBegin + "\nsecond\n" + GeneratedEnd + "\n"
	if err := UpdateDocument(path, first); err != nil {
		t.Fatal(err)
	}
	// Text written by hand after the section stays too.
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(data, "\nAfter, by hand.\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateDocument(path, second); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := hand + "\n" + strings.TrimSuffix(second, "\n") + "\n\nAfter, by hand.\n"
	if string(got) != want {
		t.Errorf("document is\n%q\nwant\n%q", got, want)
	}
	if err := os.WriteFile(path, []byte(hand+GeneratedEnd+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateDocument(path, second); err == nil {
		t.Error("a document with only the end marker was rewritten")
	}
}

func TestChartIsAPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.png")
	if err := sampleReport().Chart(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || len(data) < 1000 {
		t.Errorf("chart is %d bytes, not a PNG", len(data))
	}
}

func TestReadBridgeResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.txt")
	out := "goos: linux\nBenchmarkCgoNoop-2   \t 20000\t    60.73 ns/op\nBenchmarkModel/queue/spin/pipelined-16-2 \t 100\t 12902 ns/op\nPASS\n"
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBridgeResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (BridgeResult{"CgoNoop", 60.73}) || got[1] != (BridgeResult{"Model/queue/spin/pipelined-16", 12902}) {
		t.Errorf("parsed %+v", got)
	}
}
