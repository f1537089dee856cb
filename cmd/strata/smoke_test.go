package main

import (
	"os"
	"strings"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

var smokeChecks = []string{"open", "put/get/delete", "batch", "iterate", "concurrent", "thread-local state", "reopen"}

// TestSmoke runs the full default workload in a temporary directory, which it must remove.
func TestSmoke(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	stdout, stderr, code := runCLI(t, "smoke")
	t.Logf("smoke output:\n%s", stdout)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(smokeChecks)+1 {
		t.Fatalf("%d lines, want one per check and a summary", len(lines))
	}
	for i, name := range smokeChecks {
		if lines[i] != "ok   "+name && !strings.HasPrefix(lines[i], "ok   "+name+": ") {
			t.Errorf("line %d is %q, want check %q passed", i, lines[i], name)
		}
	}
	if want := "smoke: 7 checks passed"; lines[len(lines)-1] != want {
		t.Errorf("summary is %q, want %q", lines[len(lines)-1], want)
	}
	if entries, err := os.ReadDir(tmp); err != nil || len(entries) != 0 {
		t.Errorf("temporary directory left behind: %v (err %v)", entries, err)
	}
}

// TestSmokeReportsFailure holds the directory's lock, so the first check fails and the rest
// are skipped.
func TestSmokeReportsFailure(t *testing.T) {
	dir := t.TempDir()
	db, err := strata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stdout, stderr, code := runCLI(t, "smoke", "--dir", dir)
	t.Logf("smoke output:\n%s", stdout)
	if code != exitFailure || !strings.HasPrefix(stderr, "Error: smoke checks failed") {
		t.Errorf("exit %d, stderr %q; want 1 and an error", code, stderr)
	}
	if !strings.HasPrefix(stdout, "FAIL open: ") || !strings.Contains(stdout, "locked") ||
		!strings.Contains(stdout, "\nskip concurrent: ") ||
		!strings.HasSuffix(stdout, "\nsmoke: 1 of 7 checks failed, 6 skipped\n") {
		t.Errorf("output does not report the failed open, the skipped checks and the summary:\n%s", stdout)
	}
}
