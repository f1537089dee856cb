package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/strata-db/strata/go/strata"
)

var statsUsage = usage{
	name:    "stats",
	args:    "--dir DIR [--json]",
	summary: "Print the database's counters (strata.Stats), one \"name value\" line each.",
	example: "strata stats --dir ./db --json",
}

// runStats implements `strata stats`. The counters are those of a fresh open by this process:
// RecoveredBatches says what recovery replayed; the write counters start at zero.
func runStats(args []string, stdout, stderr io.Writer) int {
	fs := statsUsage.flags()
	dir := dirFlag(fs)
	asJSON := fs.Bool("json", false, "print one JSON object keyed by field name")
	if code, ok := statsUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return statsUsage.usageError(stderr, errNoDir)
	}
	var st strata.Stats
	err := withDB(*dir, false, func(db *strata.DB) error {
		var err error
		st, err = db.Stats()
		return err
	})
	if err == nil {
		if *asJSON {
			err = printStatsJSON(stdout, st)
		} else {
			err = printStats(stdout, st)
		}
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// printStats prints every field of st by reflection, so a counter added to strata.Stats shows
// up here without a change.
// Arrays (the per-level counts, L0 first) print as "[1 0 0 0 0 0 0]".
func printStats(w io.Writer, st strata.Stats) error {
	v := reflect.ValueOf(st)
	width := 0
	for i := range v.NumField() {
		width = max(width, len(v.Type().Field(i).Name))
	}
	for i := range v.NumField() {
		if _, err := fmt.Fprintf(w, "%-*s %v\n", width, v.Type().Field(i).Name, v.Field(i).Interface()); err != nil {
			return err
		}
	}
	return nil
}

func printStatsJSON(w io.Writer, st strata.Stats) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// levelSummary describes the shape of the tree in one line, "L0 2 tables 1.1 MB, L6 1 table
// 9.6 MB", naming only levels that hold tables.
func levelSummary(st strata.Stats) string {
	var parts []string
	for level, files := range st.LevelFiles {
		if files == 0 {
			continue
		}
		noun := "tables"
		if files == 1 {
			noun = "table"
		}
		parts = append(parts, fmt.Sprintf("L%d %d %s %s", level, files, noun, formatBytes(st.LevelBytes[level])))
	}
	if len(parts) == 0 {
		return "no tables"
	}
	return strings.Join(parts, ", ")
}

// formatBytes renders a byte count in decimal units: "512 B", "1.5 kB", "9.6 MB", "2.0 GB".
func formatBytes(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGT"[exp])
}
