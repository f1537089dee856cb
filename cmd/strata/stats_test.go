package main

import (
	"encoding/json"
	"reflect"
	"regexp"
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
	derived := []string{"WriteAmplification", "CacheHitRate"}
	if len(lines) != fields.NumField()+len(derived) {
		t.Fatalf("%d lines, want one per field (%d) and %d derived:\n%s", len(lines), fields.NumField(), len(derived), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		name, value, _ := strings.Cut(strings.Join(strings.Fields(line), " "), " ")
		want := ""
		if i < fields.NumField() {
			want = fields.Field(i).Name
		} else {
			want = derived[i-fields.NumField()]
		}
		if name != want || value == "" {
			t.Errorf("line %d is %q, want %s and its value", i, line, want)
		}
		switch name {
		case "RecoveredBatches":
			if value != "1" {
				t.Errorf("RecoveredBatches %s, want 1", value)
			}
		case "WALSize":
			// One put is a few dozen bytes of log: printed with its unit.
			if !regexp.MustCompile(`^[1-9][0-9]* B$`).MatchString(value) {
				t.Errorf("WALSize is %q, want bytes with the unit B", value)
			}
		case "CacheHitRate":
			if value != "0.0%" {
				t.Errorf("CacheHitRate is %q, want 0.0%% before any table read", value)
			}
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
	levelBytes := regexp.MustCompile(`\nLevelBytes +\[[1-9][0-9.]* k?B, 0 B, 0 B, 0 B, 0 B, 0 B, 0 B\]\n`)
	if !levelBytes.MatchString(text) {
		t.Fatalf("text output lacks the per-level sizes with units:\n%s", text)
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

func TestStatValueUnits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any
		want  string
	}{
		{"BatchesWritten", uint64(1234567), "1,234,567"},
		{"WALBytesWritten", uint64(1234567), "1.2 MB"},
		{"WALSize", uint64(999), "999 B"},
		{"CompactionDebt", uint64(2_500_000_000), "2.5 GB"},
		{"LevelFiles", [3]uint64{1, 0, 12}, "[1 0 12]"},
		{"LevelBytes", [3]uint64{1500, 0, 7}, "[1.5 kB, 0 B, 7 B]"},
	} {
		if got := statValue(tc.name, reflect.ValueOf(tc.value)); got != tc.want {
			t.Errorf("statValue(%s, %v) = %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
}
