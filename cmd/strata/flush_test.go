package main

import (
	"regexp"
	"testing"
)

func TestFlushWritesATable(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "k", "v")
	if got := mustRun(t, "flush", "--dir", dir); !regexp.MustCompile(`^levels: L0 1 table \d+ B\n$`).MatchString(got) {
		t.Fatalf("flush printed %q, want one L0 table", got)
	}
	if got := mustRun(t, "get", "--dir", dir, "k"); got != "v\n" {
		t.Fatalf("get after flush printed %q", got)
	}
	// Nothing left to flush: no new table.
	if got := mustRun(t, "flush", "--dir", dir); !regexp.MustCompile(`^levels: L0 1 table \d+ B\n$`).MatchString(got) {
		t.Fatalf("second flush printed %q, want still one L0 table", got)
	}
}
