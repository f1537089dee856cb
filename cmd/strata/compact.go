package main

import (
	"context"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var compactUsage = usage{
	name:    "compact",
	args:    "--dir DIR [--start KEY] [--end KEY]",
	summary: "Compact the keys in [start, end) down through the levels, then print the levels.",
	example: "strata compact --dir ./db --start user: --end 'user;'",
}

// runCompact implements `strata compact`: it flushes, then compacts the range, dropping
// overwritten values and deleted keys.
func runCompact(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := compactUsage.flags()
	dir := dirFlag(fs)
	start := fs.String("start", "", "first `key` of the range (default: the smallest)")
	end := fs.String("end", "", "`key` ending the range, exclusive (default: none)")
	if code, ok := compactUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return compactUsage.usageError(stderr, errNoDir)
	}
	var before, after strata.Stats
	err := withDB(*dir, readWrite, func(db *strata.DB) error {
		var err error
		if before, err = db.Stats(); err != nil {
			return err
		}
		if err := db.Compact(ctx, []byte(*start), []byte(*end)); err != nil {
			return err
		}
		after, err = db.Stats()
		return err
	})
	if err == nil {
		_, err = fmt.Fprintf(stdout, "levels before: %s\nlevels after:  %s\n", levelSummary(before), levelSummary(after))
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
