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

// TestRepairALostManifest: with its MANIFEST deleted, a database is refused by get (nothing
// changed), `strata repair` rebuilds it, and every key reads back, the ones only in the WAL
// included.
func TestRepairALostManifest(t *testing.T) {
	dir := t.TempDir()
	db, err := strata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 300 {
		if err := db.Put(ctx, []byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatal(err)
		}
		if i == 199 {
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}

	_, stderr, code := runCLI(t, "get", "--dir", dir, "k000")
	if code != exitFailure || !strings.Contains(stderr, "MANIFEST is missing") || !strings.Contains(stderr, "strata repair") {
		t.Fatalf("get without a MANIFEST: exit %d, stderr %q", code, stderr)
	}
	report := mustRun(t, "repair", "--dir", dir)
	for _, want := range []string{"merged 1 tables", "replayed at the next open", "wrote MANIFEST"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	for _, i := range []int{0, 199, 200, 299} {
		if got := mustRun(t, "get", "--dir", dir, fmt.Sprintf("k%03d", i)); got != fmt.Sprintf("v%d\n", i) {
			t.Errorf("k%03d after repair: %q", i, got)
		}
	}
	// Nothing to repair now: refused, exit 1.
	if _, stderr, code := runCLI(t, "repair", "--dir", dir); code != exitFailure || !strings.Contains(stderr, "intact") {
		t.Errorf("repair of an intact database: exit %d, stderr %q", code, stderr)
	}
}
