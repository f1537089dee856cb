package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

func TestGetMissingKeyExitsNotFound(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "present", "v")
	stdout, stderr, code := runCLI(t, "get", "--dir", dir, "absent")
	if code != exitNotFound || stdout != "" || stderr != "Error: key \"absent\" not found\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and a not-found error", code, stdout, stderr, exitNotFound)
	}
}

// TestGetExitStatusesDiffer checks the statuses a script relies on are three different ones.
func TestGetExitStatusesDiffer(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "present", "v")
	locked, err := strata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, whileLocked := runCLI(t, "get", "--dir", dir, "present")
	if err := locked.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, found := runCLI(t, "get", "--dir", dir, "present")
	_, _, missing := runCLI(t, "get", "--dir", dir, "absent")
	_, _, usage := runCLI(t, "get", "--dir", dir)
	if found != exitOK || missing != exitNotFound || whileLocked != exitFailure || usage != exitUsage {
		t.Fatalf("found %d, missing %d, locked %d, usage %d; want %d, %d, %d, %d",
			found, missing, whileLocked, usage, exitOK, exitNotFound, exitFailure, exitUsage)
	}
	for _, other := range []int{exitOK, exitFailure, exitUsage, 2, 130, 143} {
		if exitNotFound == other {
			t.Fatalf("exitNotFound is %d, which already means something else", other)
		}
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
