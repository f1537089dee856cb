package main

import (
	"context"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var flushUsage = usage{
	name:    "flush",
	args:    "--dir DIR",
	summary: "Write the memtable to a table, then print the levels.",
	example: "strata flush --dir ./db",
}

// runFlush implements `strata flush`. Open replays the write-ahead log into the memtable, so
// this moves what the log alone held into a table.
func runFlush(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flushUsage.flags()
	dir := dirFlag(fs)
	if code, ok := flushUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return flushUsage.usageError(stderr, errNoDir)
	}
	var st strata.Stats
	err := withDB(*dir, readWrite, func(db *strata.DB) error {
		if err := db.Flush(ctx); err != nil {
			return err
		}
		var err error
		st, err = db.Stats()
		return err
	})
	if err == nil {
		_, err = fmt.Fprintf(stdout, "levels: %s\n", levelSummary(st))
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
