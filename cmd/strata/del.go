package main

import (
	"context"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var delUsage = usage{
	name:    "del",
	args:    "--dir DIR [--hex] [--] KEY",
	summary: "Delete KEY (deleting a missing key is not an error).",
	example: "strata del --dir ./db user:42",
}

// runDel implements `strata del`.
func runDel(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := delUsage.flags()
	dir := dirFlag(fs)
	hexMode := fs.Bool("hex", false, "KEY is hexadecimal")
	if code, ok := delUsage.parse(fs, args, 1, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return delUsage.usageError(stderr, errNoDir)
	}
	key, err := argBytes(fs.Arg(0), *hexMode)
	if err != nil {
		return delUsage.usageError(stderr, fmt.Errorf("KEY: %w", err))
	}
	err = withDB(*dir, readWrite, func(db *strata.DB) error {
		return db.Delete(ctx, key)
	})
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
