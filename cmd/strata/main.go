// Command strata reads, writes and exercises a strata database from the shell.
//
//	strata smoke                        check strata end to end in a temporary directory
//	strata put --dir DIR KEY VALUE      set a key
//	strata get --dir DIR KEY            print a key's value
//	strata del --dir DIR KEY            delete a key
//	strata del-range --dir DIR S E      delete the keys in [S, E)
//	strata scan --dir DIR [flags]       print keys and values in order
//	strata stats --dir DIR [--json]     print the database's counters
//	strata flush --dir DIR              write the memtable to a table
//	strata compact --dir DIR [flags]    compact a key range down through the levels
//	strata checkpoint --dir DIR --to T  write a consistent copy of the database to T
//	strata backup --dir DIR [FILE]      stream a consistent backup (default: standard output)
//	strata restore --dir DIR [FILE]     build a database from a backup stream (default: stdin)
//	strata check --dir DIR              verify every checksum of a closed database
//	strata repair --dir DIR             rebuild a lost or damaged MANIFEST from the tables
//	strata load --dir DIR FILE          bulk-load key/value lines (FILE "-": standard input)
//	strata bench --dir DIR --workload W measure a workload (ops/s, MB/s, latency)
//	strata version                      print the engine and Go versions
//
// Flags may come before or after the arguments (`strata get KEY --dir DIR`); "--" ends the
// flags, for a key or value that starts with "-".
//
// Each subcommand lives in its own file as a function of a context, its arguments and its
// standard streams, returning the exit status, so tests run them in-process. This file only
// dispatches and holds what every subcommand shares: flag parsing, error reporting and opening
// the database. signals.go says how long commands stop on SIGINT and SIGTERM, progress.go how
// they show progress.
//
// Exit status: 0 on success, 1 when the command failed (the reason is printed to stderr as
// "Error: ...") or its command line was wrong (unknown subcommand, bad flag, wrong number of
// arguments; "Error: ..." on stderr, followed by the synopsis), 3 when get's key does not exist
// ("Error: key ... not found" on stderr), 130 or 143 when SIGINT or SIGTERM stopped a long
// command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/strata-db/strata/go/strata"
)

// Exit statuses. Every error, a mistaken command line included, exits 1 after printing
// "Error: ..."; a command stopped by a signal exits 128 plus the signal's number.
//
// A missing key is not an error of the command but an answer, which a script must be able to
// tell from a failure (a locked or damaged database) without parsing stderr: get exits
// exitNotFound. It is 3 because 2 is taken twice over: Go's runtime exits 2 after a panic,
// and shells and many tools mean a mistaken command line by it (as strata did, before usage
// errors exited 1); 126 and 127 are the shell's own, and 128 and up are signals.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = exitFailure
	exitNotFound = 3
)

// usage is what a subcommand's --help shows.
type usage struct {
	name    string // subcommand name
	args    string // synopsis after the name
	summary string // one line
	example string // one command line
	details string // paragraphs after the synopsis (input formats, say); may be empty
}

// command is one subcommand: its help and the function that runs it.
type command struct {
	usage
	// long: the command may run for minutes, so SIGINT and SIGTERM cancel its context (it stops
	// cleanly) instead of killing the process.
	long bool
	run  func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands are the subcommands in the order the usage message lists them.
var commands = []command{
	{usage: smokeUsage, run: streamsOnly(runSmoke)},
	{usage: putUsage, run: runPut},
	{usage: getUsage, run: runGet},
	{usage: delUsage, run: runDel},
	{usage: delRangeUsage, run: runDelRange},
	{usage: scanUsage, run: runScan, long: true},
	{usage: statsUsage, run: streamsOnly(runStats)},
	{usage: flushUsage, run: runFlush},
	{usage: compactUsage, run: runCompact},
	{usage: checkpointUsage, run: runCheckpoint},
	{usage: backupUsage, run: runBackup, long: true},
	{usage: restoreUsage, run: runRestore, long: true},
	{usage: checkUsage, run: runCheck, long: true},
	{usage: repairUsage, run: runRepair},
	{usage: loadUsage, run: runLoad, long: true},
	{usage: benchUsage, run: runBench, long: true},
	{usage: versionUsage, run: streamsOnly(runVersion)},
}

// streamsOnly adapts a command that needs neither a context nor standard input.
func streamsOnly(run func(args []string, stdout, stderr io.Writer) int) func(context.Context, []string, io.Reader, io.Writer, io.Writer) int {
	return func(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
		return run(args, stdout, stderr)
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches args[0] to its subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
		}
		printUsage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			if c.long {
				var stop func()
				ctx, stop = catchStopSignals(ctx)
				defer stop()
			}
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "Error: unknown command %q", args[0])
	if name := closestCommand(args[0]); name != "" {
		fmt.Fprintf(stderr, "; did you mean %q?", name)
	}
	fmt.Fprint(stderr, "\n\n")
	printUsage(stderr)
	return exitUsage
}

// suggestDistance is the largest edit distance at which an unknown command is taken for a typo
// of a real one: two covers a swapped pair (sacn) or two slips; at three, the three-letter
// names (put, get, del) would be offered for almost any short word.
const suggestDistance = 2

// closestCommand returns the command name (help included) nearest to name by edit distance,
// the first in the usage's order among equals, or "" when none is within suggestDistance.
func closestCommand(name string) string {
	best, bestDistance := "", suggestDistance+1
	consider := func(candidate string) {
		if d := editDistance(name, candidate); d < bestDistance {
			best, bestDistance = candidate, d
		}
	}
	for _, c := range commands {
		consider(c.name)
	}
	consider("help")
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes: the fewest insertions,
// deletions and substitutions that turn a into b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1) // distances from a[:i-1] to each prefix of b
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			substitute := prev[j-1]
			if a[i-1] != b[j-1] {
				substitute++
			}
			cur[j] = min(substitute, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "strata reads, writes and checks a strata database.")
	fmt.Fprintln(w, "\nUsage: strata COMMAND [flags] [arguments]\n\nCommands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'strata COMMAND --help' for a command's flags and an example.")
}

// flags returns an empty flag set for the subcommand. It prints nothing itself: parse reports
// its errors, so that --help goes to stdout and mistakes to stderr.
func (u usage) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(u.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args, which must hold exactly nargs positional arguments besides the flags
// (any number when nargs is negative: the command checks them).
// Flags may come before, between or after the positional arguments (`get KEY --dir DIR`);
// "--" ends the flags, so `get --dir DIR -- -k` reads the key "-k". fs.Args() holds the
// positional arguments afterwards. parse returns false when the command must stop at once,
// with the exit status: after printing --help, or after a usage error.
func (u usage) parse(fs *flag.FlagSet, args []string, nargs int, stdout, stderr io.Writer) (int, bool) {
	flags, positional := splitFlags(fs, args)
	err := fs.Parse(flags)
	if err == nil {
		// After "--", the flag package takes every argument as positional.
		err = fs.Parse(append([]string{"--"}, positional...))
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		u.help(fs, stdout)
		return exitOK, false
	case err == nil && nargs >= 0 && fs.NArg() != nargs:
		err = fmt.Errorf("want %d argument(s) besides the flags, got %d", nargs, fs.NArg())
	}
	if err != nil {
		return u.usageError(stderr, err), false
	}
	return exitOK, true
}

// splitFlags separates args into flags (each with its value when that is the next argument)
// and positional arguments, keeping the order within each, by the flag package's own rules:
// "--" ends the flags; "-" and anything not starting with "-" is positional; a flag of fs
// that is not boolean and has no "=value" takes the next argument as its value, even one
// starting with "-". The flag package alone stops at the first positional argument. Flags fs
// does not define are passed on as flags, for fs.Parse to report.
func splitFlags(fs *flag.FlagSet, args []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return flags, append(positional, args[i+1:]...)
		case len(arg) < 2 || arg[0] != '-':
			positional = append(positional, arg)
			continue
		}
		flags = append(flags, arg)
		name, _, hasValue := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, positional
}

// isBoolFlag reports whether f is a flag that takes no value (--reverse, not --reverse true),
// as the flag package decides it.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// help prints the subcommand's description, synopsis, details, example and flags.
func (u usage) help(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "strata %s: %s\n\nUsage: strata %s %s\n", u.name, u.summary, u.name, u.args)
	if u.details != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSuffix(u.details, "\n"))
	}
	fmt.Fprintf(w, "\nExample:\n  %s\n", u.example)
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// usageError reports a mistake in the command line and returns exitUsage.
func (u usage) usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "Error: %v\nUsage: strata %s %s\nRun 'strata %s --help' for details.\n", err, u.name, u.args, u.name)
	return exitUsage
}

// fail reports a failed command and returns exitFailure.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "Error: %v\n", err)
	return exitFailure
}

// errNoDir is the usage error of a command run without its required --dir.
var errNoDir = errors.New("--dir is required")

// dirFlag registers the required --dir flag of commands that work on one database.
func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", "", "database `directory` (required)")
}

// argBytes returns the bytes of a KEY or VALUE argument: the argument itself, or with --hex
// (inHex) the bytes its hexadecimal spells, read as load --format hex reads a field.
func argBytes(arg string, inHex bool) ([]byte, error) {
	if !inHex {
		return []byte(arg), nil
	}
	return decodeHexField([]byte(arg))
}

// openMode is how a command opens its database.
type openMode int

const (
	// readOnly: the database must exist; nothing in it changes, and other read-only opens
	// (another get, scan or stats) may hold it at the same time. A program that has it open
	// for writing still locks it.
	readOnly openMode = iota
	// readWrite: the database must exist.
	readWrite
	// create: the database is created when dir is missing or empty.
	create
)

// withDB opens the database in dir as mode says, runs fn on it and closes it, returning the
// first error. Unless mode is create, dir must exist: strata.Open would otherwise create an
// empty database wherever a mistyped path points.
func withDB(dir string, mode openMode, fn func(db *strata.DB) error) error {
	if mode != create {
		if err := mustExist(dir); err != nil {
			return err
		}
	}
	db, err := strata.Open(dir, &strata.Options{ReadOnly: mode == readOnly})
	if err != nil {
		return err
	}
	err = fn(db)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// mustExist fails when dir does not exist, naming it.
func mustExist(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no database directory %s", dir)
	}
	return nil
}
