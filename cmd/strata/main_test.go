package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

// cliEnv, set to 1 in a child process of this test binary, makes the binary run as the strata
// CLI itself (see TestMain): signal tests need a process of their own to signal.
const cliEnv = "STRATA_TEST_RUN_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// runCLI runs the command line args in-process, with an empty standard input, and returns its
// output and exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIContext(t, context.Background(), "", args...)
}

// runCLIContext runs args in-process with ctx and stdin as standard input.
func runCLIContext(t *testing.T, ctx context.Context, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// mustRun runs args and fails the test unless they succeed; it returns stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("strata %s: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

func TestNoArguments(t *testing.T) {
	stdout, stderr, code := runCLI(t)
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "Usage: strata COMMAND") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the usage status and usage on stderr", code, stdout, stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	stdout, stderr, code := runCLI(t, "frobnicate")
	if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, `Error: unknown command "frobnicate"`) ||
		!strings.Contains(stderr, "Commands:") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the usage status and an error with usage on stderr", code, stdout, stderr)
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	stdout := mustRun(t, "help")
	for _, c := range commands {
		if !strings.Contains(stdout, "  "+c.name+" ") {
			t.Errorf("help does not list %q:\n%s", c.name, stdout)
		}
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, c.name, "--help")
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, stderr)
			}
			for _, want := range []string{c.summary, "Usage: strata " + c.name, "Example:\n  strata " + c.name} {
				if !strings.Contains(stdout, want) {
					t.Errorf("help lacks %q:\n%s", want, stdout)
				}
			}
			if help, _, _ := runCLI(t, "help", c.name); help != stdout {
				t.Errorf("'strata help %s' differs from 'strata %s --help'", c.name, c.name)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"put", "--dir", dir, "only-a-key"},
		{"get", "k"},
		{"get", "--dir", dir, "k", "--limit"},
		{"scan", "--dir", dir, "--no-such-flag"},
		{"scan", "--dir", dir, "--limit", "-1"},
		{"version", "extra"},
	} {
		stdout, stderr, code := runCLI(t, args...)
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, "Error: ") ||
			!strings.Contains(stderr, "Usage: strata "+args[0]) {
			t.Errorf("strata %s: exit %d, stdout %q, stderr %q; want the usage status, error and usage on stderr",
				strings.Join(args, " "), code, stdout, stderr)
		}
	}
}

// failingWriter fails every write, as a closed pipe or a full disk would.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestEveryCommandReportsFailure makes every command fail at run time (not in its usage) and
// checks the convention: "Error: " and the reason on stderr, exit status 1.
func TestEveryCommandReportsFailure(t *testing.T) {
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "typo")
	locked := filepath.Join(tmp, "locked")
	db, err := strata.Open(locked, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	failures := map[string]struct {
		args []string
		want string // in stderr
	}{
		"smoke":      {[]string{"--dir", locked}, "checks failed"},
		"put":        {[]string{"--dir", locked, "k", "v"}, "locked"},
		"get":        {[]string{"--dir", missing, "k"}, "no database directory"},
		"del":        {[]string{"--dir", missing, "k"}, "no database directory"},
		"del-range":  {[]string{"--dir", locked, "a", "b"}, "locked"},
		"scan":       {[]string{"--dir", missing}, "no database directory"},
		"stats":      {[]string{"--dir", missing}, "no database directory"},
		"flush":      {[]string{"--dir", locked}, "locked"},
		"compact":    {[]string{"--dir", missing}, "no database directory"},
		"checkpoint": {[]string{"--dir", locked, "--to", filepath.Join(tmp, "copy")}, "locked"},
		"backup":     {[]string{"--dir", locked}, "locked"},
		"restore":    {[]string{"--dir", locked}, "not empty"},
		"check":      {[]string{"--dir", locked}, "locked"},
		"repair":     {[]string{"--dir", locked}, "locked"},
		"load":       {[]string{"--dir", locked, "-"}, "locked"},
		"bench":      {[]string{"--dir", locked, "--workload", "fillseq", "--keys", "10"}, "locked"},
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "version" {
				// Nothing fails in version but writing its output.
				var stderr bytes.Buffer
				code := run(context.Background(), []string{"version"}, strings.NewReader(""), failingWriter{}, &stderr)
				if code != exitFailure || stderr.String() != "Error: no space left on device\n" {
					t.Fatalf("version into a failing writer: exit %d, stderr %q; want exit 1 and the write error", code, stderr.String())
				}
				return
			}
			f, ok := failures[c.name]
			if !ok {
				t.Fatalf("no failure case for %q: add one", c.name)
			}
			_, stderr, code := runCLI(t, append([]string{c.name}, f.args...)...)
			if code != exitFailure || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, f.want) {
				t.Fatalf("strata %s %v: exit %d, stderr %q; want exit 1 and \"Error: \" with %q", c.name, f.args, code, stderr, f.want)
			}
		})
	}
}

func TestSplitFlags(t *testing.T) {
	fs := scanUsage.flags()
	dirFlag(fs)
	fs.String("start", "", "")
	fs.Bool("reverse", false, "")
	for _, tc := range []struct {
		args, flags, positional []string
	}{
		{[]string{"k", "--dir", "d"}, []string{"--dir", "d"}, []string{"k"}},
		{[]string{"a", "-dir=d", "b"}, []string{"-dir=d"}, []string{"a", "b"}},
		// A boolean flag takes no value; the next argument is positional.
		{[]string{"--reverse", "x", "--start", "s"}, []string{"--reverse", "--start", "s"}, []string{"x"}},
		// A value may start with "-", and may be "--" itself.
		{[]string{"--start", "-k", "--dir", "--", "x"}, []string{"--start", "-k", "--dir", "--"}, []string{"x"}},
		// "--" ends the flags; "-" is positional.
		{[]string{"-", "--dir", "d", "--", "--reverse", "-k"}, []string{"--dir", "d"}, []string{"-", "--reverse", "-k"}},
		// Unknown flags stay flags, for fs.Parse to report; their would-be value is positional.
		{[]string{"--nope", "v", "--dir"}, []string{"--nope", "--dir"}, []string{"v"}},
	} {
		flags, positional := splitFlags(fs, tc.args)
		if !slices.Equal(flags, tc.flags) || !slices.Equal(positional, tc.positional) {
			t.Errorf("splitFlags(%q) = %q, %q; want %q, %q", tc.args, flags, positional, tc.flags, tc.positional)
		}
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "k1", "--dir", dir, "v1")
	mustRun(t, "put", "k2", "v2", "--dir", dir)
	mustRun(t, "put", "k3", "v3", "--dir="+dir)
	if got := mustRun(t, "get", "k1", "--dir", dir); got != "v1\n" {
		t.Fatalf("get KEY --dir DIR printed %q, want %q", got, "v1\n")
	}
	if got := mustRun(t, "scan", "--dir", dir, "--limit", "2", "--reverse"); got != "k3\tv3\nk2\tv2\n" {
		t.Fatalf("scan printed %q", got)
	}
	mustRun(t, "del", "k2", "--dir", dir)
	if got := mustRun(t, "scan", "--limit", "5", "--dir", dir); got != "k1\tv1\nk3\tv3\n" {
		t.Fatalf("scan after del printed %q", got)
	}
	file := filepath.Join(t.TempDir(), "in.tsv")
	if err := os.WriteFile(file, []byte("k4\tv4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "load", file, "--dir", dir, "--batch", "1")
	if got := mustRun(t, "get", "--dir", dir, "k4"); got != "v4\n" {
		t.Fatalf("get after load FILE --dir printed %q", got)
	}
}

func TestDoubleDashEndsFlags(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "--", "-k", "--dir")
	if got := mustRun(t, "get", "--dir", dir, "--", "-k"); got != "--dir\n" {
		t.Fatalf("get -- -k printed %q, want %q", got, "--dir\n")
	}
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"get", "--", "-k", "--dir", dir}, "got 3"}, // after "--", --dir is an argument
		{[]string{"get", "-k", "--dir", dir}, "flag provided but not defined: -k"},
	} {
		stdout, stderr, code := runCLI(t, tc.args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("strata %q: exit %d, stdout %q, stderr %q; want a usage error with %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}

// TestEveryCommandTakesFlagsAfterArguments checks that every subcommand parses through the
// shared helper: a flag after a positional argument is still a flag.
func TestEveryCommandTakesFlagsAfterArguments(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, c.name, "positional", "--help")
			if code != exitOK || stderr != "" || !strings.Contains(stdout, "Usage: strata "+c.name) {
				t.Fatalf("strata %s positional --help: exit %d, stderr %q; want its help", c.name, code, stderr)
			}
		})
	}
}

func TestUnknownCommandSuggestsTheClosest(t *testing.T) {
	for _, tc := range []struct{ typed, want string }{
		{"sacn", "scan"},            // a swapped pair
		{"chekpoint", "checkpoint"}, // a letter left out
		{"stat", "stats"},
		{"compcat", "compact"},
		{"hlep", "help"},
		{"gets", "get"},
		{"delrange", "del-range"},
		{"del_range", "del-range"},
	} {
		stdout, stderr, code := runCLI(t, tc.typed)
		want := fmt.Sprintf("Error: unknown command %q; did you mean %q?\n\n", tc.typed, tc.want)
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "Commands:") {
			t.Errorf("strata %s: exit %d, stdout %q, stderr %q; want the usage status and %q with usage", tc.typed, code, stdout, stderr, want)
		}
	}
	for _, far := range []string{"frobnicate", "dump", "x", "repairs-all"} {
		if _, stderr, _ := runCLI(t, far); strings.Contains(stderr, "did you mean") {
			t.Errorf("strata %s: suggested a command, none is within %d edits: %q", far, suggestDistance, stderr)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "get", 3}, {"scan", "scan", 0}, {"sacn", "scan", 2},
		{"stat", "stats", 1}, {"kitten", "sitting", 3}, {"flush", "", 5},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}
