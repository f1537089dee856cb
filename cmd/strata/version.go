package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/strata-db/strata/go/strata"
)

var versionUsage = usage{
	name:    "version",
	args:    "",
	summary: "Print the version of the linked strata engine, the Rust compiler that built it, and Go.",
	example: "strata version",
}

// runVersion implements `strata version`.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := versionUsage.flags()
	if code, ok := versionUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	_, err := fmt.Fprintf(stdout, "strata %s\nengine built with %s\n%s %s/%s\n", strata.Version(), strata.BuildInfo(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
