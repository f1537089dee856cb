package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var getUsage = usage{
	name:    "get",
	args:    "--dir DIR [--hex] [--raw] [--] KEY",
	summary: "Print the value of KEY; exit 3 if KEY does not exist.",
	example: "strata get --dir ./db user:42",
	details: `The value is printed as scan prints it, then a newline: as is when it is printable UTF-8,
else Go-quoted ("\xff\x00"). --hex prints it as lowercase hexadecimal instead, and takes KEY
in hexadecimal too (as load --format hex reads fields). --raw writes the value's bytes
exactly, with no newline, for piping a binary value; with --hex as well, only KEY is read in
hexadecimal:
  strata get --dir ./db --raw image:1 >image.png

Exit status: 0 when KEY exists (its value is printed), 3 when it does not ("Error: key
... not found" on stderr), 1 on any other error (the database is locked, damaged or missing,
or the command line is wrong), so a script can tell a missing key from a failure:
  strata get --dir ./db user:42 >value; status=$?   # 0, 3 or 1`,
}

// runGet implements `strata get`.
func runGet(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := getUsage.flags()
	dir := dirFlag(fs)
	hexMode := fs.Bool("hex", false, "KEY is hexadecimal, and the value is printed in hexadecimal (unless --raw)")
	raw := fs.Bool("raw", false, "write the value's bytes as they are, with no newline")
	if code, ok := getUsage.parse(fs, args, 1, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return getUsage.usageError(stderr, errNoDir)
	}
	key, err := argBytes(fs.Arg(0), *hexMode)
	if err != nil {
		return getUsage.usageError(stderr, fmt.Errorf("KEY: %w", err))
	}
	var value []byte
	missing := false
	err = withDB(*dir, readOnly, func(db *strata.DB) error {
		var err error
		value, err = db.Get(ctx, key)
		// Only the lookup's own ErrNotFound is an answer; the close may still fail.
		if errors.Is(err, strata.ErrNotFound) {
			missing, err = true, nil
		}
		return err
	})
	if err != nil {
		return fail(stderr, err)
	}
	if missing {
		fmt.Fprintf(stderr, "Error: key %q not found\n", key)
		return exitNotFound
	}
	switch {
	case *raw:
		_, err = stdout.Write(value)
	case *hexMode:
		_, err = fmt.Fprintln(stdout, hex.EncodeToString(value))
	default:
		_, err = fmt.Fprintln(stdout, display(value))
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
