package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

func TestStatsJSON(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"a", "b", "c"} {
		mustRun(t, "put", "--dir", dir, k, "v")
	}
	var st strata.Stats
	dec := json.NewDecoder(strings.NewReader(mustRun(t, "stats", "--dir", dir, "--json")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("stats --json: %v", err)
	}
	if st.StrataThreads == 0 || st.TLSInits != st.StrataThreads {
		t.Errorf("TLSInits %d, StrataThreads %d; want equal and not 0", st.TLSInits, st.StrataThreads)
	}
	if st.RecoveredBatches != 3 {
		t.Errorf("RecoveredBatches %d, want 3 (one per put)", st.RecoveredBatches)
	}
}

func TestStatsTextHasEveryField(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "a", "v")
	lines := strings.Split(strings.TrimSuffix(mustRun(t, "stats", "--dir", dir), "\n"), "\n")
	fields := reflect.TypeFor[strata.Stats]()
	if len(lines) != fields.NumField() {
		t.Fatalf("%d lines, want one per field (%d):\n%s", len(lines), fields.NumField(), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		name, value, _ := strings.Cut(strings.Join(strings.Fields(line), " "), " ")
		if name != fields.Field(i).Name || value == "" {
			t.Errorf("line %d is %q, want field %s and its value", i, line, fields.Field(i).Name)
		}
		if name == "RecoveredBatches" && value != "1" {
			t.Errorf("RecoveredBatches %s, want 1", value)
		}
	}
}

func TestStatsShowLevels(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "a", "v")
	mustRun(t, "flush", "--dir", dir)
	var st strata.Stats
	if err := json.Unmarshal([]byte(mustRun(t, "stats", "--dir", dir, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.LevelFiles != [strata.NumLevels]uint64{1} || st.LevelBytes[0] == 0 {
		t.Fatalf("level_files %v, level_bytes %v; want one table in L0", st.LevelFiles, st.LevelBytes)
	}
	text := mustRun(t, "stats", "--dir", dir)
	if !strings.Contains(text, "\nLevelFiles             [1 0 0 0 0 0 0]\n") {
		t.Fatalf("text output lacks the per-level table counts:\n%s", text)
	}
}

func TestLevelSummary(t *testing.T) {
	for _, tc := range []struct {
		st   strata.Stats
		want string
	}{
		{strata.Stats{}, "no tables"},
		{strata.Stats{LevelFiles: [strata.NumLevels]uint64{1}, LevelBytes: [strata.NumLevels]uint64{999}}, "L0 1 table 999 B"},
		{strata.Stats{
			LevelFiles: [strata.NumLevels]uint64{2, 0, 0, 0, 0, 0, 3},
			LevelBytes: [strata.NumLevels]uint64{1500, 0, 0, 0, 0, 0, 9_630_000_000},
		}, "L0 2 tables 1.5 kB, L6 3 tables 9.6 GB"},
	} {
		if got := levelSummary(tc.st); got != tc.want {
			t.Errorf("levelSummary = %q, want %q", got, tc.want)
		}
	}
}
