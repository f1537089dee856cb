package main

import (
	"context"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var putUsage = usage{
	name:    "put",
	args:    "--dir DIR [--hex] [--] KEY VALUE",
	summary: "Set KEY to VALUE durably, creating the database if needed.",
	example: "strata put --dir ./db user:42 alice",
	details: `KEY and VALUE are taken byte for byte; put "--" before one that starts with "-". With
--hex both are hexadecimal, as load --format hex reads fields, for bytes a shell argument
cannot hold:
  strata put --dir ./db --hex 00ff 7a00`,
}

// runPut implements `strata put`.
func runPut(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := putUsage.flags()
	dir := dirFlag(fs)
	hexMode := fs.Bool("hex", false, "KEY and VALUE are hexadecimal")
	if code, ok := putUsage.parse(fs, args, 2, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return putUsage.usageError(stderr, errNoDir)
	}
	key, err := argBytes(fs.Arg(0), *hexMode)
	if err != nil {
		return putUsage.usageError(stderr, fmt.Errorf("KEY: %w", err))
	}
	value, err := argBytes(fs.Arg(1), *hexMode)
	if err != nil {
		return putUsage.usageError(stderr, fmt.Errorf("VALUE: %w", err))
	}
	err = withDB(*dir, create, func(db *strata.DB) error {
		return db.Put(ctx, key, value)
	})
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
