package main

import (
	"context"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var delRangeUsage = usage{
	name:    "del-range",
	args:    "--dir DIR [--hex] [--] START END",
	summary: "Delete every key in [START, END): START itself, not END.",
	example: "strata del-range --dir ./db user: 'user;'",
	details: `It writes one range tombstone, however many keys the range holds; compact the range
(strata compact --start START --end END) to reclaim their space at once. START equal to END
deletes nothing; START sorting after END is an error.`,
}

// runDelRange implements `strata del-range`.
func runDelRange(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := delRangeUsage.flags()
	dir := dirFlag(fs)
	hexMode := fs.Bool("hex", false, "START and END are hexadecimal")
	if code, ok := delRangeUsage.parse(fs, args, 2, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return delRangeUsage.usageError(stderr, errNoDir)
	}
	var bounds [2][]byte
	for i, name := range []string{"START", "END"} {
		var err error
		if bounds[i], err = argBytes(fs.Arg(i), *hexMode); err != nil {
			return delRangeUsage.usageError(stderr, fmt.Errorf("%s: %w", name, err))
		}
	}
	err := withDB(*dir, readWrite, func(db *strata.DB) error {
		return db.DeleteRange(ctx, bounds[0], bounds[1])
	})
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
