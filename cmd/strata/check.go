package main

import (
	"context"
	"fmt"
	"io"

	"github.com/strata-db/strata/go/strata"
)

var checkUsage = usage{
	name:    "check",
	args:    "--dir DIR [--progress]",
	summary: "Verify every checksum of a closed database; exit 1 if a file is damaged.",
	example: "strata check --dir ./db",
}

// runCheck implements `strata check`. It prints strata.Check's report, one line per file, to
// stdout; when a file is damaged, "Error:" and the damaged files follow on stderr, with the exit
// status 1. The check is one engine request without intermediate results, so its progress shows
// the time spent, not a share done.
//
// SIGINT or SIGTERM ends the command at once, without a report: the check only reads, and the
// engine abandons it when the process exits.
func runCheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := checkUsage.flags()
	dir := dirFlag(fs)
	mode := progressFlag(fs)
	if code, ok := checkUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		return checkUsage.usageError(stderr, errNoDir)
	}
	if err := mustExist(*dir); err != nil {
		return fail(stderr, err)
	}
	if ctx.Err() != nil {
		return stopped(ctx, stderr, "the check did not start")
	}
	type outcome struct {
		report string
		err    error
	}
	checked := make(chan outcome, 1)
	go func() {
		report, err := strata.Check(*dir)
		checked <- outcome{report, err}
	}()
	bar := newProgress(stderr, mode, "check", 0, uncounted)
	stopBar := bar.follow(func() int64 { return 0 })
	var res outcome
	finished := false
	select {
	case res = <-checked:
		finished = true
	case <-ctx.Done():
	}
	stopBar()
	bar.finish()
	if !finished {
		return stopped(ctx, stderr, "the check did not finish")
	}
	if _, werr := fmt.Fprint(stdout, res.report); res.err == nil {
		res.err = werr
	}
	if res.err != nil {
		return fail(stderr, res.err)
	}
	return exitOK
}
