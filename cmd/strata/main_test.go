package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCLI runs the command line args in-process and returns its output and exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
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
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and usage on stderr", code, stdout, stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	stdout, stderr, code := runCLI(t, "frobnicate")
	if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, `Error: unknown command "frobnicate"`) ||
		!strings.Contains(stderr, "Commands:") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and an error with usage on stderr", code, stdout, stderr)
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
			t.Errorf("strata %s: exit %d, stdout %q, stderr %q; want exit 2, error and usage on stderr",
				strings.Join(args, " "), code, stdout, stderr)
		}
	}
}
