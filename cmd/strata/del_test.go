package main

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestDelThenGetFails(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "a", "1")
	mustRun(t, "put", "--dir", dir, "b", "2")
	mustRun(t, "del", "--dir", dir, "a")
	_, stderr, code := runCLI(t, "get", "--dir", dir, "a")
	if code != exitNotFound || !strings.HasPrefix(stderr, "Error: ") {
		t.Fatalf("get of a deleted key: exit %d, stderr %q; want exit %d and an error", code, stderr, exitNotFound)
	}
	if got := mustRun(t, "get", "--dir", dir, "b"); got != "2\n" {
		t.Fatalf("get of the other key printed %q, want %q", got, "2\n")
	}
}

func TestDelMissingKeySucceeds(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "a", "1")
	mustRun(t, "del", "--dir", dir, "never-written")
}

func TestDelHex(t *testing.T) {
	dir := putBinaryEntries(t)
	mustRun(t, "del", "--dir", dir, "--hex", hex.EncodeToString([]byte("\xff\x00\t")))
	for k := range binaryEntries {
		_, _, code := runCLI(t, "get", "--dir", dir, "--hex", hex.EncodeToString([]byte(k)))
		if want := map[bool]int{true: exitNotFound, false: exitOK}[k == "\xff\x00\t"]; code != want {
			t.Errorf("get of %q after del --hex: exit %d, want %d", k, code, want)
		}
	}
}
