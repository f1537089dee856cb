package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/strata-db/strata/go/strata"
)

var checkUsage = usage{
	name:    "check",
	args:    "--dir DIR",
	summary: "Verify every checksum of a closed database; exit 1 if a file is damaged.",
	example: "strata check --dir ./db",
}

// runCheck implements `strata check`. It prints strata.Check's report, one line per file; when
// a file is damaged the report goes to stderr after "Error:", with the exit status 1.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := checkUsage.flags()
	dir := dirFlag(fs)
	if code, ok := checkUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return checkUsage.usageError(stderr, errNoDir)
	}
	if err := mustExist(*dir); err != nil {
		return fail(stderr, err)
	}
	report, err := strata.Check(*dir)
	if errors.Is(err, strata.ErrCorruption) {
		// The message ends with the report's last line; fail adds the newline.
		err = errors.New(strings.TrimSuffix(err.Error(), "\n"))
	}
	if err == nil {
		_, err = fmt.Fprint(stdout, report)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
