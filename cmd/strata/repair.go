package main

import (
	"context"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var repairUsage = usage{
	name:    "repair",
	args:    "--dir DIR",
	summary: "Rebuild a lost or damaged MANIFEST from the database's own tables and WAL; deletes nothing.",
	example: "strata repair --dir ./db",
}

// runRepair implements `strata repair`. It prints strata.Repair's report, one line per
// decision, to stdout. Repair moves what it replaces to DIR/pre-repair-N/ and deletes
// nothing, so the command is safe to run on a directory Open refused; on one it cannot
// repair (an intact MANIFEST, no strata files, tables of several databases) it exits 1 and
// changes nothing.
//
// SIGINT and SIGTERM keep their default action: a repair killed before it wrote the new
// MANIFEST leaves the directory as Open refuses it, with the tables it read in place, and
// repair takes it up again; killed after, the database is whole.
func runRepair(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := repairUsage.flags()
	dir := dirFlag(fs)
	if code, ok := repairUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return repairUsage.usageError(stderr, errNoDir)
	}
	if err := mustExist(*dir); err != nil {
		return fail(stderr, err)
	}
	report, err := strata.Repair(*dir)
	if err != nil {
		return fail(stderr, err)
	}
	if _, err := fmt.Fprint(stdout, report); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
