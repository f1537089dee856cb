package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"

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
func printStats(w io.Writer, st strata.Stats) error {
	v := reflect.ValueOf(st)
	for i := range v.NumField() {
		if _, err := fmt.Fprintf(w, "%-20s %v\n", v.Type().Field(i).Name, v.Field(i).Interface()); err != nil {
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
