package main

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

// Hostile directories through the CLI (go/strata/hostile_test.go covers the library): every
// subcommand that takes a --dir must refuse a database that lost its MANIFEST, say why, and
// leave the directory exactly as it was, whatever the subcommand would otherwise write.

// readTree reads every entry under dir: a file's contents, or "<dir>" for a subdirectory.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			tree[rel] = "<dir>"
			return nil
		}
		data, err := os.ReadFile(path)
		tree[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// diffTrees describes how after differs from before, or returns "" when they are equal.
func diffTrees(before, after map[string]string) string {
	var diffs []string
	for _, name := range slices.Sorted(maps.Keys(before)) {
		switch got, ok := after[name]; {
		case !ok:
			diffs = append(diffs, name+" is gone")
		case got != before[name]:
			diffs = append(diffs, name+" changed")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[name]; !ok {
			diffs = append(diffs, name+" appeared")
		}
	}
	return strings.Join(diffs, ", ")
}

// writeTree writes tree (as readTree returns it) into dir.
func writeTree(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(tree)) { // parents before their entries
		path := filepath.Join(dir, name)
		var err error
		if tree[name] == "<dir>" {
			err = os.Mkdir(path, 0o755)
		} else {
			err = os.WriteFile(path, []byte(tree[name]), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// manifestLostFixture returns a closed database with data in a table and in its WAL, whose
// MANIFEST was then deleted.
func manifestLostFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := strata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := db.Put(ctx, []byte(k), []byte("in a table")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, []byte("d"), []byte("in the WAL")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHostileEveryCommandRefusesALostManifest runs each subcommand of the dispatch table that
// takes a --dir on its own copy of a database whose MANIFEST was deleted: each must exit 1
// with an error about the MANIFEST, and change nothing in the directory (nor write a
// checkpoint elsewhere).
func TestHostileEveryCommandRefusesALostManifest(t *testing.T) {
	before := readTree(t, manifestLostFixture(t))
	input := filepath.Join(t.TempDir(), "input.tsv")
	if err := os.WriteFile(input, []byte("k1\tv1\nk2\tv2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	copyDir := filepath.Join(t.TempDir(), "copy")
	// The arguments after --dir DIR.
	cases := map[string][]string{
		"smoke":      {},
		"put":        {"k", "v"},
		"get":        {"a"},
		"del":        {"a"},
		"del-range":  {"a", "z"},
		"scan":       {},
		"stats":      {},
		"flush":      {},
		"compact":    {},
		"checkpoint": {"--to", copyDir},
		"backup":     {},
		"check":      {},
		"load":       {input},
		"bench":      {"--workload", "fillseq", "--keys", "10"},
	}
	for _, c := range commands {
		switch c.name {
		case "version":
			continue // takes no directory
		case "repair":
			continue // the way back: TestRepairALostManifest
		case "restore":
			continue // refuses any non-empty directory: TestBackupThroughAPipeRestores
		}
		t.Run(c.name, func(t *testing.T) {
			rest, ok := cases[c.name]
			if !ok {
				t.Fatalf("no case for %q: add one", c.name)
			}
			dir := t.TempDir()
			writeTree(t, dir, before)
			args := append([]string{"--dir", dir}, rest...)
			stdout, stderr, code := runCLI(t, append([]string{c.name}, args...)...)
			if code != exitFailure {
				t.Errorf("strata %s %v: exit %d on a database without its MANIFEST, want %d; stdout %q",
					c.name, args, code, exitFailure, stdout)
			}
			if !strings.HasPrefix(stderr, "Error: ") {
				t.Errorf("strata %s: stderr %q, want an error", c.name, stderr)
			}
			// smoke reports each check's failure on stdout and only a summary on stderr.
			why := stderr
			if c.name == "smoke" {
				why = stdout
			}
			if !strings.Contains(why, "MANIFEST") {
				t.Errorf("strata %s does not say the MANIFEST is the problem: stdout %q, stderr %q", c.name, stdout, stderr)
			}
			if diff := diffTrees(before, readTree(t, dir)); diff != "" {
				t.Fatalf("strata %s changed the directory: %s", c.name, diff)
			}
			if _, err := os.Stat(copyDir); !os.IsNotExist(err) {
				t.Fatalf("strata %s left a checkpoint directory behind (stat: %v)", c.name, err)
			}
		})
	}
}
