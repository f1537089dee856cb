package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var getUsage = usage{
	name:    "get",
	args:    "--dir DIR [--] KEY",
	summary: "Print the value of KEY; exit 1 if KEY does not exist.",
	example: "strata get --dir ./db user:42",
}

// runGet implements `strata get`. The value is printed as scan prints it: as is when it is
// printable UTF-8, else Go-quoted (see display), then a newline.
func runGet(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := getUsage.flags()
	dir := dirFlag(fs)
	if code, ok := getUsage.parse(fs, args, 1, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return getUsage.usageError(stderr, errNoDir)
	}
	key := []byte(fs.Arg(0))
	var value []byte
	err := withDB(*dir, false, func(db *strata.DB) error {
		var err error
		value, err = db.Get(ctx, key)
		return err
	})
	if errors.Is(err, strata.ErrNotFound) {
		err = fmt.Errorf("key %q not found", key)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if _, err := fmt.Fprintln(stdout, display(value)); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
