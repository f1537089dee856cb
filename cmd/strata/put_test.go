package main

import (
	"maps"
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

func TestPutHexTakesAnyBytes(t *testing.T) {
	dir := putBinaryEntries(t)
	// scan's default output, Go-quoted, is read back independently of hex.
	want := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSuffix(mustRun(t, "scan", "--dir", dir), "\n"), "\n") {
		k, v, _ := strings.Cut(line, "\t")
		key, kerr := decodeTextField([]byte(k))
		value, verr := decodeTextField([]byte(v))
		if kerr != nil || verr != nil {
			t.Fatalf("scan line %q does not read back: %v, %v", line, kerr, verr)
		}
		want[string(key)] = string(value)
	}
	if !maps.Equal(want, binaryEntries) {
		t.Fatalf("after put --hex, the database holds %q, want %q", want, binaryEntries)
	}
}
