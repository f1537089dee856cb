package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

// checkFixture returns a closed database with one table of 1000 keys.
func checkFixture(t *testing.T) (dir, table string) {
	t.Helper()
	dir = t.TempDir()
	db, err := strata.Open(dir, &strata.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	b := strata.NewBatch()
	for i := range 1000 {
		b.Put([]byte(fmt.Sprintf("k%04d", i)), []byte(strings.Repeat("v", 100)))
	}
	if err := db.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) != 1 {
		t.Fatalf("tables after one flush: %v", tables)
	}
	return dir, tables[0]
}

func TestCheckIntactDatabase(t *testing.T) {
	dir, table := checkFixture(t)
	stdout := mustRun(t, "check", "--dir", dir)
	for _, want := range []string{"ok MANIFEST: 1 tables", "ok " + filepath.Base(table) + ": 1000 entries, live"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCheckDamagedTable(t *testing.T) {
	dir, table := checkFixture(t)
	data, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(table, data, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCLI(t, "check", "--dir", dir)
	if code != exitFailure || !strings.HasPrefix(stderr, "Error: ") || !strings.HasSuffix(stderr, "\n") ||
		strings.HasSuffix(stderr, "\n\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and one error", code, stdout, stderr)
	}
	// The whole report goes to stdout; the error names the damaged file.
	for _, want := range []string{"ok MANIFEST", "damaged " + filepath.Base(table) + ": "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	for _, want := range []string{"corruption", "damaged " + filepath.Base(table) + ": "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, stderr)
		}
	}
}

func TestCheckRefusesAnOpenDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := strata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, stderr, code := runCLI(t, "check", "--dir", dir)
	if code != exitFailure || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "locked") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and a locked error", code, stderr)
	}
}

func TestCheckWithoutADatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo")
	empty := t.TempDir()
	for dir, want := range map[string]string{
		missing: "Error: no database directory " + missing + "\n",
		empty:   "is not a strata database",
	} {
		stdout, stderr, code := runCLI(t, "check", "--dir", dir)
		if code != exitFailure || stdout != "" || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, want) {
			t.Errorf("check %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", dir, code, stdout, stderr, want)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("check created %s", missing)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("check created files in a directory without a database: %v", entries)
	}
}

// A checkpoint has never been open (it has no lock file) and checks like any database.
func TestCheckACheckpoint(t *testing.T) {
	dir, _ := checkFixture(t)
	target := filepath.Join(t.TempDir(), "copy")
	mustRun(t, "checkpoint", "--dir", dir, "--to", target)
	if stdout := mustRun(t, "check", "--dir", target); !strings.Contains(stdout, "ok MANIFEST: 1 tables") {
		t.Fatalf("report of a checkpoint:\n%s", stdout)
	}
}
