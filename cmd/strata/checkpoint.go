package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/strata-db/strata/go/strata"
)

var checkpointUsage = usage{
	name:    "checkpoint",
	args:    "--dir DIR --to TARGET",
	summary: "Write a consistent copy of the database to TARGET (which must not exist or be empty).",
	example: "strata checkpoint --dir ./db --to ./db-backup",
}

// runCheckpoint implements `strata checkpoint`. Tables are hard-linked when TARGET is on the
// same file system, so the copy is cheap; it opens like any database.
func runCheckpoint(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := checkpointUsage.flags()
	dir := dirFlag(fs)
	to := fs.String("to", "", "`directory` to write the copy to (required)")
	if code, ok := checkpointUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	switch {
	case *dir == "":
		return checkpointUsage.usageError(stderr, errNoDir)
	case *to == "":
		return checkpointUsage.usageError(stderr, errors.New("--to is required"))
	}
	target, err := filepath.Abs(*to)
	if err == nil {
		err = withDB(*dir, readWrite, func(db *strata.DB) error {
			return db.Checkpoint(ctx, target)
		})
	}
	if err == nil {
		_, err = fmt.Fprintf(stdout, "checkpoint written to %s\n", target)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
