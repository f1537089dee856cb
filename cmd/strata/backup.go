package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/strata-db/strata/go/strata"
)

var backupUsage = usage{
	name:    "backup",
	args:    "--dir DIR [FILE]",
	summary: "Write a consistent backup of the database as a stream to FILE (default or \"-\": standard output).",
	example: "strata backup --dir ./db | ssh host strata restore --dir ./db",
	details: "The stream is a tar archive of a checkpoint (tables and MANIFEST) with an index of\n" +
		"sizes and CRC-32C checksums; `strata restore` turns it back into a database. Writes\n" +
		"may go on meanwhile: the backup holds exactly those acknowledged before it started.",
}

// runBackup implements `strata backup`.
func runBackup(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	dir, name, code, ok := parseStream(backupUsage, args, stdout, stderr)
	if !ok {
		return code
	}
	var out io.Writer = stdout
	var file *os.File
	if name != "" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fail(stderr, err)
		}
		file, out = f, f
	}
	err := withDB(dir, readWrite, func(db *strata.DB) error {
		return db.Backup(ctx, out)
	})
	if file != nil {
		if err == nil {
			err = file.Sync()
		}
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(file.Name()) // a partial backup is no backup
		}
	}
	if err != nil && ctx.Err() != nil {
		return stopped(ctx, stderr, "the backup was not finished (no file kept)")
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

var restoreUsage = usage{
	name:    "restore",
	args:    "--dir DIR [FILE]",
	summary: "Build a database in DIR (absent or empty) from a backup stream read from FILE (default or \"-\": standard input).",
	example: "strata restore --dir ./db-restored backup.tar",
	details: "Every file is checked against the stream's index and every block's checksum is\n" +
		"verified before the database appears in DIR; a damaged or truncated stream changes\n" +
		"nothing.",
}

// runRestore implements `strata restore`.
func runRestore(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	dir, name, code, ok := parseStream(restoreUsage, args, stdout, stderr)
	if !ok {
		return code
	}
	in := stdin
	if name != "" {
		f, err := os.Open(name)
		if err != nil {
			return fail(stderr, err)
		}
		defer f.Close()
		in = f
	}
	if err := strata.Restore(ctx, dir, in); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx, stderr, "nothing was restored")
		}
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "restored %s\n", dir)
	return exitOK
}

// parseStream parses the command line of backup and restore: --dir and at most one FILE.
// file is "" for the standard stream (no FILE, or "-"). ok is false when the command must stop,
// with code its exit status.
func parseStream(u usage, args []string, stdout, stderr io.Writer) (dir, file string, code int, ok bool) {
	fs := u.flags()
	dirArg := dirFlag(fs)
	if code, ok := u.parse(fs, args, -1, stdout, stderr); !ok {
		return "", "", code, false
	}
	switch {
	case *dirArg == "":
		return "", "", u.usageError(stderr, errNoDir), false
	case fs.NArg() > 1:
		return "", "", u.usageError(stderr, fmt.Errorf("want at most one FILE, got %d", fs.NArg())), false
	}
	if file = fs.Arg(0); file == "-" {
		file = ""
	}
	return *dirArg, file, exitOK, true
}
