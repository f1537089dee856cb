package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

// loadedReport matches load's report and captures the entries and lines.
var loadedReport = regexp.MustCompile(`(?m)^loaded ([0-9,]+) entries from ([0-9,]+) lines \([0-9.]+ k?B\) in [0-9.ms]+: [0-9,]+ entries/s$`)

// parseLoaded returns the entries and lines of load's report in stdout.
func parseLoaded(t *testing.T, stdout string) (entries, lines int) {
	t.Helper()
	m := loadedReport.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no load report in %q", stdout)
	}
	number := func(s string) int {
		n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return number(m[1]), number(m[2])
}

func TestLoadRoundTripsScanOutput(t *testing.T) {
	src := t.TempDir()
	for key, value := range map[string]string{
		"plain": "héllo wörld", "tab\tkey": "", "quote": `"starts with a quote`, "binary": "\xff\x00",
		"lines": "two\nlines", "cr": "ends in CR\r", "spaces": "  padded  ",
	} {
		mustRun(t, "put", "--dir", src, "--", key, value)
	}
	dump := mustRun(t, "scan", "--dir", src)
	file := filepath.Join(t.TempDir(), "dump.tsv")
	if err := os.WriteFile(file, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "new") // load creates the directory
	out := mustRun(t, "load", "--dir", dst, file)
	if entries, lines := parseLoaded(t, out); entries != 7 || lines != 7 {
		t.Fatalf("report %q: %d entries from %d lines, want 7 and 7", out, entries, lines)
	}
	if got := mustRun(t, "scan", "--dir", dst); got != dump {
		t.Fatalf("scan after load printed\n%q\nwant what was loaded\n%q", got, dump)
	}
	mustRun(t, "check", "--dir", dst)
}

func TestLoadFromStdin(t *testing.T) {
	dir := t.TempDir()
	// An empty line, a CRLF line ending, an empty value, and a key written twice.
	input := "a\t1\n\nb\t2\r\nc\t\na\tagain\n"
	stdout, stderr, code := runCLIContext(t, context.Background(), input, "load", "--dir", dir, "-")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if entries, lines := parseLoaded(t, stdout); entries != 4 || lines != 5 {
		t.Fatalf("report %q: %d entries from %d lines, want 4 and 5", stdout, entries, lines)
	}
	if got := mustRun(t, "scan", "--dir", dir); got != "a\tagain\nb\t2\nc\t\n" {
		t.Fatalf("scan printed %q", got)
	}
}

func TestLoadHex(t *testing.T) {
	dir := t.TempDir()
	input := "6b6579\t76616c7565\n00ff\t\n"
	stdout, stderr, code := runCLIContext(t, context.Background(), input, "load", "--dir", dir, "--format", "hex", "-")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if entries, _ := parseLoaded(t, stdout); entries != 2 {
		t.Fatalf("report %q, want 2 entries", stdout)
	}
	if got := mustRun(t, "scan", "--dir", dir); got != "\"\\x00\\xff\"\t\nkey\tvalue\n" {
		t.Fatalf("scan printed %q", got)
	}
}

// Batches of --batch entries, each one write: recovery replays one batch per write.
func TestLoadWritesBatches(t *testing.T) {
	dir := t.TempDir()
	var input strings.Builder
	for i := range 10 {
		fmt.Fprintf(&input, "k%02d\tv%d\n", i, i)
	}
	if _, stderr, code := runCLIContext(t, context.Background(), input.String(), "load", "--dir", dir, "--batch", "3", "-"); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var st strata.Stats
	if err := json.Unmarshal([]byte(mustRun(t, "stats", "--dir", dir, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.RecoveredBatches != 4 {
		t.Fatalf("%d batches recovered, want 4 (3+3+3+1 entries)", st.RecoveredBatches)
	}
}

func TestLoadMalformedLineNamesIt(t *testing.T) {
	longKey := strings.Repeat("k", strata.MaxKeySize+1)
	for _, tc := range []struct {
		name, bad, want string
		hex             bool
	}{
		{"no tab", "novalue", "line 3: no tab between key and value", false},
		{"two tabs", "k\tv\tw", "line 3: more than one tab", false},
		{"bad quote", "\"k\\q\"\tv", `line 3: key: "\"k\\q\"" is not a valid Go-quoted string`, false},
		{"unterminated quote", "k\t\"v", `line 3: value: "\"v" is not a valid Go-quoted string`, false},
		{"empty key", "\tv", "line 3: empty key", false},
		{"quoted empty key", "\"\"\tv", "line 3: empty key", false},
		{"long key", longKey + "\tv", fmt.Sprintf("line 3: key is %d bytes, the limit is %d", len(longKey), strata.MaxKeySize), false},
		{"bad hex", "zz\t00", `line 3: key: "zz" is not hexadecimal`, true},
		{"odd hex", "6b\t0", `line 3: value: "0" is not hexadecimal`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			good := "a\t1\n\n" // line 2 is empty
			args := []string{"load", "--dir", dir, "-"}
			if tc.hex {
				good = "61\t31\n\n"
				args = []string{"load", "--dir", dir, "--format", "hex", "-"}
			}
			stdout, stderr, code := runCLIContext(t, context.Background(), good+tc.bad+"\nz\t26\n", args...)
			if code != exitFailure || !strings.HasPrefix(stderr, "Error: "+tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 and %q", code, stderr, "Error: "+tc.want)
			}
			// The lines before the bad one are loaded; the report says so.
			if entries, lines := parseLoaded(t, stdout); entries != 1 || lines != 2 {
				t.Fatalf("report %q: %d entries from %d lines, want 1 and 2", stdout, entries, lines)
			}
			if got := mustRun(t, "scan", "--dir", dir); got != "a\t1\n" {
				t.Fatalf("scan printed %q, want only the line before the bad one", got)
			}
		})
	}
}

func TestLoadUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--dir", dir},
		{"--dir", dir, "a", "b"},
		{"-"},
		{"--dir", dir, "--batch", "0", "-"},
		{"--dir", dir, "--format", "csv", "-"},
		{"--dir", dir, "--progress=maybe", "-"},
	} {
		stdout, stderr, code := runCLI(t, append([]string{"load"}, args...)...)
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "Usage: strata load") {
			t.Errorf("load %v: exit %d, stdout %q, stderr %q; want the usage status and a usage error", args, code, stdout, stderr)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	missing := filepath.Join(t.TempDir(), "nope.tsv")
	stdout, stderr, code := runCLI(t, "load", "--dir", dir, missing)
	if code != exitFailure || stdout != "" || !strings.HasPrefix(stderr, "Error: open "+missing) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and the open error", code, stdout, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("load created %s without input", dir)
	}
}

func TestLoadStoppedBeforeItStarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(stopSignal{syscall.SIGTERM})
	stdout, stderr, code := runCLIContext(t, ctx, "a\t1\n", "load", "--dir", dir, "-")
	if code != 143 || stdout != "" || stderr != "Error: stopped by SIGTERM: nothing was loaded\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 143 and a stop message", code, stdout, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a stopped load created %s", dir)
	}
}

// stallingInput serves lines, then, as the load asks for more, cancels the load's context as a
// SIGINT would and blocks until released: the load is stopped mid-input, deterministically.
type stallingInput struct {
	data    []byte
	stall   func()
	once    sync.Once
	release chan struct{}
}

func (s *stallingInput) Read(p []byte) (int, error) {
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		return n, nil
	}
	s.once.Do(s.stall)
	<-s.release
	return 0, io.EOF
}

func TestLoadStoppedMidInputKeepsWhatItReported(t *testing.T) {
	dir := t.TempDir()
	const lines = 5000
	var input bytes.Buffer
	for i := range lines {
		fmt.Fprintf(&input, "key%06d\tvalue%06d\n", i, i)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	in := &stallingInput{data: input.Bytes(), stall: func() { cancel(stopSignal{syscall.SIGINT}) }, release: make(chan struct{})}
	defer close(in.release)
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"load", "--dir", dir, "--batch", "100", "-"}, in, &stdout, &stderr)
	if code != 130 {
		t.Fatalf("exit %d, stderr %q; want 130", code, stderr.String())
	}
	entries, read := parseLoaded(t, stdout.String())
	if want := fmt.Sprintf("Error: stopped by SIGINT: lines after %s were not loaded\n", formatCount(int64(read))); stderr.String() != want {
		t.Fatalf("stderr %q, want %q", stderr.String(), want)
	}
	if entries != read || entries > lines {
		t.Fatalf("report: %d entries from %d lines, want equal and at most %d", entries, read, lines)
	}
	wantLoadedPrefix(t, dir, entries)
}

// wantLoadedPrefix checks that dir holds exactly the entries of the first n input lines
// "key%06d<TAB>value%06d", and passes check.
func wantLoadedPrefix(t *testing.T, dir string, n int) {
	t.Helper()
	var want strings.Builder
	for i := range n {
		fmt.Fprintf(&want, "key%06d\tvalue%06d\n", i, i)
	}
	if got := mustRun(t, "scan", "--dir", dir); got != want.String() {
		t.Fatalf("the database holds %d lines, want exactly the %d entries reported", strings.Count(got, "\n"), n)
	}
	mustRun(t, "check", "--dir", dir)
}
