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
	details: `Counts print with thousands separators and byte amounts in decimal units (kB, MB, GB);
arrays are per level, L0 first. WriteAmplification and CacheHitRate, derived from the
counters, follow. --json prints the exact numbers, keyed by the names strata.Stats documents.`,
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
	err := withDB(*dir, readOnly, func(db *strata.DB) error {
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
// up here without a change, then the two figures derived from them. Arrays (per level, L0
// first) print as "[1 0 0 0 0 0 0]", or "[1.1 kB, 0 B, ...]" for bytes.
func printStats(w io.Writer, st strata.Stats) error {
	type line struct{ name, value string }
	var lines []line
	v := reflect.ValueOf(st)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		lines = append(lines, line{name, statValue(name, v.Field(i))})
	}
	lines = append(lines,
		line{"WriteAmplification", fmt.Sprintf("%.2f", st.WriteAmplification())},
		line{"CacheHitRate", fmt.Sprintf("%.1f%%", 100*st.CacheHitRate())})
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%-*s %s\n", width, l.name, l.value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// isByteAmount reports whether the strata.Stats field called name counts bytes.
func isByteAmount(name string) bool {
	return strings.Contains(name, "Bytes") || strings.HasSuffix(name, "Size") || strings.HasSuffix(name, "Debt")
}

// statValue renders the strata.Stats field name, whose value is v (a uint64 or an array of
// them).
func statValue(name string, v reflect.Value) string {
	render, sep := func(n uint64) string { return formatCount(int64(n)) }, " "
	if isByteAmount(name) {
		render, sep = formatBytes, ", "
	}
	if v.Kind() != reflect.Array {
		return render(v.Uint())
	}
	parts := make([]string, v.Len())
	for i := range parts {
		parts[i] = render(v.Index(i).Uint())
	}
	return "[" + strings.Join(parts, sep) + "]"
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
