package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleReport() *Report {
	row := func(engine, workload string, threads int, opsPerSec float64) Row {
		return Row{Engine: engine, Workload: workload, Threads: threads, Mode: "fast", OpsPerSec: opsPerSec,
			LatencyUnit: "op", P50Micros: 1, P99Micros: 2}
	}
	return NewReport(ReportInput{
		Go: &Results{Keys: 1_000_000, ValueSize: 100, GoVersion: "go1.x", Settings: map[string]string{"strata": "defaults"},
			Rows: []Row{
				row("strata", "readrandom", 1, 60), row("pebble", "readrandom", 1, 100), row("bbolt", "readrandom", 1, 30),
				row("strata", "readrandom", 16, 90), row("pebble", "readrandom", 16, 100),
				row("strata", "scan", 1, 10), row("pebble", "scan", 1, 100),
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
		"| readrandom, 1 goroutine | 0.60 | >= 0.5 | met |",
		"| readrandom, 16 goroutines | 0.90 | >= 1.0 | **missed** |",
		"| scan (seek + next 10) | 0.10 | >= 0.7 | **missed** |",
		"| fillrandom, batches of 100 | - | >= 1.0 | not measured |",
		"| strata from Go / strata native, pipelined (readrandom/16) | 0.90 | >= 0.8 | met |",
		"| readrandom/1 | 0.60 | 2.00 | - |",
		"| readrandom/16 | strata native | | 100 |",
		"| CgoNoop | 61 |",
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
