package main

import (
	"strings"
	"testing"
)

func TestPutThenGet(t *testing.T) {
	dir := t.TempDir() + "/db" // put creates the directory
	mustRun(t, "put", "--dir", dir, "user:42", "alice")
	if got := mustRun(t, "get", "--dir", dir, "user:42"); got != "alice\n" {
		t.Fatalf("get printed %q, want %q", got, "alice\n")
	}
	mustRun(t, "put", "--dir", dir, "user:42", "bob")
	if got := mustRun(t, "get", "--dir", dir, "user:42"); got != "bob\n" {
		t.Fatalf("get after overwrite printed %q, want %q", got, "bob\n")
	}
}

func TestPutKeyStartingWithDash(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "--", "-k", "-v")
	if got := mustRun(t, "get", "--dir", dir, "--", "-k"); got != "-v\n" {
		t.Fatalf("get printed %q, want %q", got, "-v\n")
	}
}

func TestPutEmptyKeyFails(t *testing.T) {
	stdout, stderr, code := runCLI(t, "put", "--dir", t.TempDir(), "", "v")
	if code != exitFailure || stdout != "" || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "invalid argument") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and an invalid-argument error", code, stdout, stderr)
	}
}
