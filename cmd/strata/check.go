package main

import (
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var checkUsage = usage{
	name:    "check",
	args:    "--dir DIR",
	summary: "Verify every checksum of a closed database; exit 1 if a file is damaged.",
	example: "strata check --dir ./db",
}

// runCheck implements `strata check`. It prints strata.Check's report, one line per file, to
// stdout; when a file is damaged, "Error:" and the damaged files follow on stderr, with the exit
// status 1.
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
	if _, werr := fmt.Fprint(stdout, report); err == nil {
		err = werr
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
