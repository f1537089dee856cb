package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGetMissingKeyFails(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "present", "v")
	stdout, stderr, code := runCLI(t, "get", "--dir", dir, "absent")
	if code != exitFailure || stdout != "" || stderr != "Error: key \"absent\" not found\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and a not-found error", code, stdout, stderr)
	}
}

func TestGetEscapesUnprintableValue(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "k", "two\nlines")
	if got := mustRun(t, "get", "--dir", dir, "k"); got != "\"two\\nlines\"\n" {
		t.Fatalf("get printed %q, want the value Go-quoted", got)
	}
}

func TestGetDoesNotCreateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	_, stderr, code := runCLI(t, "get", "--dir", dir, "k")
	if code != exitFailure || !strings.HasPrefix(stderr, "Error: no database directory") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and a missing-directory error", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("get created %s (stat: %v)", dir, err)
	}
}
