package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "copy")
	mustRun(t, "put", "--dir", dir, "before", "1")
	if got := mustRun(t, "checkpoint", "--dir", dir, "--to", target); got != "checkpoint written to "+target+"\n" {
		t.Fatalf("checkpoint printed %q", got)
	}
	mustRun(t, "put", "--dir", dir, "after", "2")
	if got := mustRun(t, "scan", "--dir", target); got != "before\t1\n" {
		t.Fatalf("the checkpoint holds %q, want only the key written before it", got)
	}
	if got := mustRun(t, "scan", "--dir", dir); got != "after\t2\nbefore\t1\n" {
		t.Fatalf("the database holds %q", got)
	}
}

func TestCheckpointIntoANonEmptyDirectoryFails(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "k", "v")
	stdout, stderr, code := runCLI(t, "checkpoint", "--dir", dir, "--to", dir)
	if code != exitFailure || stdout != "" || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "not empty") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and a not-empty error", code, stdout, stderr)
	}
}

func TestCheckpointNeedsTo(t *testing.T) {
	stdout, stderr, code := runCLI(t, "checkpoint", "--dir", t.TempDir())
	if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, "Error: --to is required\nUsage: strata checkpoint") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the usage status and a usage error", code, stdout, stderr)
	}
}
