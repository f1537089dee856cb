package main

import (
	"encoding/hex"
	"maps"
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

// binaryEntries is keys and values no shell argument or text line holds as they are: a NUL,
// a newline, bytes that are not UTF-8, an empty value.
var binaryEntries = map[string]string{
	"\x00":       "\xff\xfe\n",
	"k\n":        "",
	"\xff\x00\t": "line\n",
	"plain":      "\x00end\n\n",
}

// putBinaryEntries puts binaryEntries into a new database through put --hex.
func putBinaryEntries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range binaryEntries {
		mustRun(t, "put", "--dir", dir, "--hex", hex.EncodeToString([]byte(k)), hex.EncodeToString([]byte(v)))
	}
	return dir
}

func TestGetRawWritesTheValueExactly(t *testing.T) {
	dir := putBinaryEntries(t)
	for k, v := range binaryEntries {
		// With --raw, --hex is about KEY only.
		if got := mustRun(t, "get", "--dir", dir, "--raw", "--hex", hex.EncodeToString([]byte(k))); got != v {
			t.Errorf("get --raw of %q printed %q, want the value %q exactly", k, got, v)
		}
	}
	if got := mustRun(t, "get", "--dir", dir, "--raw", "plain"); got != binaryEntries["plain"] {
		t.Errorf("get --raw plain printed %q, want %q", got, binaryEntries["plain"])
	}
}

func TestGetHex(t *testing.T) {
	dir := putBinaryEntries(t)
	for k, v := range binaryEntries {
		got := mustRun(t, "get", "--dir", dir, "--hex", hex.EncodeToString([]byte(k)))
		if want := hex.EncodeToString([]byte(v)) + "\n"; got != want {
			t.Errorf("get --hex of %q printed %q, want %q", k, got, want)
		}
	}
	// Uppercase hexadecimal is read too; what is printed is lowercase.
	mustRun(t, "put", "--dir", dir, "K", "\xab\xcd")
	if got := mustRun(t, "get", "--dir", dir, "--hex", "4B"); got != "abcd\n" {
		t.Errorf("get --hex 4B printed %q, want %q", got, "abcd\n")
	}
	_, stderr, code := runCLI(t, "get", "--dir", dir, "--hex", "00aa")
	if code != exitNotFound || stderr != "Error: key \"\\x00\\xaa\" not found\n" {
		t.Errorf("get --hex of a missing key: exit %d, stderr %q", code, stderr)
	}
}

// TestHexKeyUsageErrors checks that a KEY or VALUE that is not hexadecimal is a mistaken
// command line, named, and that nothing was written.
func TestHexKeyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "k", "v")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "--hex", "zz"}, `KEY: "zz" is not hexadecimal`},
		{[]string{"del", "--hex", "6"}, `KEY: "6" is not hexadecimal`},
		{[]string{"put", "--hex", "6b", "v"}, `VALUE: "v" is not hexadecimal`},
		{[]string{"scan", "--hex", "--start", "k"}, `--start: "k" is not hexadecimal`},
	} {
		stdout, stderr, code := runCLI(t, append(tc.args, "--dir", dir)...)
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, "Error: "+tc.want) {
			t.Errorf("strata %q: exit %d, stdout %q, stderr %q; want a usage error starting %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	if got := mustRun(t, "scan", "--dir", dir); got != "k\tv\n" {
		t.Errorf("after the refused commands, scan printed %q", got)
	}
}

// TestReadCommandsOpenReadOnly: get, scan and stats run while a program holds the database
// read-only (they share it), change no byte of it, and still refuse to run beside a writer.
func TestReadCommandsOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "k", "v")
	before := readTree(t, dir)
	holder, err := strata.Open(dir, &strata.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"get", "--dir", dir, "k"},
		{"scan", "--dir", dir},
		{"stats", "--dir", dir},
	} {
		if _, stderr, code := runCLI(t, args...); code != exitOK {
			t.Fatalf("%s beside a read-only handle: exit %d, %s", args[0], code, stderr)
		}
	}
	if _, _, code := runCLI(t, "put", "--dir", dir, "k", "w"); code != exitFailure {
		t.Fatalf("put beside a read-only handle: exit %d, want %d (locked)", code, exitFailure)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if after := readTree(t, dir); !maps.Equal(after, before) {
		t.Fatalf("read commands changed the database directory")
	}
	writer, err := strata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	if _, stderr, code := runCLI(t, "scan", "--dir", dir); code != exitFailure || !strings.Contains(stderr, "locked") {
		t.Fatalf("scan beside a writer: exit %d, %q; want a locked error", code, stderr)
	}
}
