package main

import (
	"context"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var putUsage = usage{
	name:    "put",
	args:    "--dir DIR [--] KEY VALUE",
	summary: "Set KEY to VALUE durably, creating the database if needed.",
	example: "strata put --dir ./db user:42 alice",
}

// runPut implements `strata put`. KEY and VALUE are taken literally, byte for byte; put "--"
// before a key or value that starts with "-", which would otherwise be read as a flag.
func runPut(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := putUsage.flags()
	dir := dirFlag(fs)
	if code, ok := putUsage.parse(fs, args, 2, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return putUsage.usageError(stderr, errNoDir)
	}
	key, value := []byte(fs.Arg(0)), []byte(fs.Arg(1))
	err := withDB(*dir, true, func(db *strata.DB) error {
		return db.Put(ctx, key, value)
	})
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
