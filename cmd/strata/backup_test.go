package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupThroughAPipeRestores: backup to standard output, restore from standard input
// (as `strata backup | strata restore` does), and to and from a file; the restored databases
// hold the keys; a damaged stream restores nothing and fails.
func TestBackupThroughAPipeRestores(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "k1", "v1")
	mustRun(t, "put", "--dir", dir, "k2", "v2")
	stream := mustRun(t, "backup", "--dir", dir)
	restored := filepath.Join(t.TempDir(), "restored")
	if _, stderr, code := runCLIContext(t, t.Context(), stream, "restore", "--dir", restored); code != exitOK {
		t.Fatalf("restore from stdin: exit %d, %s", code, stderr)
	}
	if got := mustRun(t, "get", "--dir", restored, "k2"); got != "v2\n" {
		t.Fatalf("get k2 from the restored database = %q", got)
	}

	file := filepath.Join(t.TempDir(), "db.backup")
	mustRun(t, "backup", "--dir", dir, file)
	if _, _, code := runCLI(t, "backup", "--dir", dir, file); code != exitFailure {
		t.Fatalf("backup over an existing file: exit %d, want %d", code, exitFailure)
	}
	fromFile := filepath.Join(t.TempDir(), "from-file")
	mustRun(t, "restore", "--dir", fromFile, file)
	if got := mustRun(t, "scan", "--dir", fromFile); got != "k1\tv1\nk2\tv2\n" {
		t.Fatalf("scan of the database restored from a file = %q", got)
	}

	damaged := []byte(stream)
	damaged = damaged[:len(damaged)-2000]
	target := filepath.Join(t.TempDir(), "damaged")
	_, stderr, code := runCLIContext(t, t.Context(), string(damaged), "restore", "--dir", target)
	if code != exitFailure || !strings.Contains(stderr, "damaged") {
		t.Fatalf("restore of a truncated stream: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("a failed restore created %s", target)
	}
}
