package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// cliProcess is this test binary started as the strata CLI (see TestMain), with its standard
// error read line by line.
type cliProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer
	stderr *bufio.Scanner
	lines  []string // stderr lines read so far
}

func startCLI(t *testing.T, args ...string) *cliProcess {
	t.Helper()
	p := &cliProcess{cmd: exec.Command(os.Args[0], args...)}
	p.cmd.Env = append(os.Environ(), cliEnv+"=1")
	p.cmd.Stdout = &p.stdout
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stderr = bufio.NewScanner(stderr)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Only reached with the process still running when the test failed early.
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// waitForLine reads stderr until a line matches re and returns the match; it fails the test if
// stderr ends first (the process exited without reporting progress).
func (p *cliProcess) waitForLine(t *testing.T, re *regexp.Regexp, ok func(m []string) bool) []string {
	t.Helper()
	for p.stderr.Scan() {
		p.lines = append(p.lines, p.stderr.Text())
		if m := re.FindStringSubmatch(p.stderr.Text()); m != nil && ok(m) {
			return m
		}
	}
	t.Fatalf("stderr ended without a line matching %s:\n%s", re, strings.Join(p.lines, "\n"))
	return nil
}

// stopWith sends sig, reads the rest of stderr and waits for the exit; it returns the exit
// status (-1 if a signal killed the process: the command did not handle it).
func (p *cliProcess) stopWith(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for p.stderr.Scan() {
		p.lines = append(p.lines, p.stderr.Text())
	}
	err := p.cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatal(err)
	return 0
}

// lastLine is the last line the process wrote to stderr.
func (p *cliProcess) lastLine() string {
	if len(p.lines) == 0 {
		return ""
	}
	return p.lines[len(p.lines)-1]
}

func countArg(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var stopSignals = []struct {
	sig    syscall.Signal
	name   string
	status int
}{
	{syscall.SIGINT, "SIGINT", 130},
	{syscall.SIGTERM, "SIGTERM", 143},
}

// A load fed from a pipe that never ends: only the signal can stop it. Once it reports
// progress, the signal must stop it with the conventional status, and the database must hold
// exactly the entries it reported, and pass check.
func TestLoadStopsCleanlyOnSignal(t *testing.T) {
	for _, s := range stopSignals {
		t.Run(s.name, func(t *testing.T) {
			dir := t.TempDir()
			p := startCLI(t, "load", "--dir", dir, "--batch", "100", "--progress", "-")
			fed := make(chan error, 1)
			go func() {
				// Bounded: at most 10M lines, far more than are loaded before the signal. stdin
				// stays open afterwards, so the load still cannot end on its own.
				w := bufio.NewWriter(p.stdin)
				for i := range 10_000_000 {
					if _, err := fmt.Fprintf(w, "key%06d\tvalue%06d\n", i, i); err != nil {
						fed <- err
						return
					}
				}
				fed <- w.Flush()
			}()
			progress := regexp.MustCompile(`^load  ([0-9,]+) entries`)
			p.waitForLine(t, progress, func(m []string) bool { return countArg(t, m[1]) > 0 })
			if status := p.stopWith(t, s.sig); status != s.status {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", status, s.status, strings.Join(p.lines, "\n"))
			}
			<-fed // the pipe broke when the process exited, or every line was written
			entries, lines := parseLoaded(t, p.stdout.String())
			want := fmt.Sprintf("Error: stopped by %s: lines after %s were not loaded", s.name, formatCount(int64(lines)))
			if p.lastLine() != want || entries != lines || entries == 0 {
				t.Fatalf("report %q, last stderr line %q; want %d entries > 0 and %q", p.stdout.String(), p.lastLine(), lines, want)
			}
			t.Logf("%s stopped the load after %d entries", s.name, entries)
			wantLoadedPrefix(t, dir, entries)
		})
	}
}

// A long fill on one writer writes keys 0, 1, 2, ... in order, so the keys it reported as
// done are exactly the first ones.
func TestBenchStopsCleanlyOnSignal(t *testing.T) {
	dir := t.TempDir()
	const keys = 20_000_000 // hours of work on this machine: only the signal ends the run
	p := startCLI(t, "bench", "--dir", dir, "--workload", "fillseq", "--keys", strconv.Itoa(keys), "--progress")
	progress := regexp.MustCompile(`^fillseq \[[#.]+\] +[0-9]+%  ([0-9,]+)/20,000,000 ops`)
	p.waitForLine(t, progress, func(m []string) bool { return countArg(t, m[1]) > 0 })
	if status := p.stopWith(t, syscall.SIGINT); status != 130 {
		t.Fatalf("exit status %d, want 130; stderr:\n%s", status, strings.Join(p.lines, "\n"))
	}
	m := regexp.MustCompile(`^Error: stopped by SIGINT: fillseq did ([0-9,]+) of 20,000,000 ops$`).FindStringSubmatch(p.lastLine())
	if m == nil || p.stdout.Len() != 0 {
		t.Fatalf("last stderr line %q, stdout %q; want the stop message and no report", p.lastLine(), p.stdout.String())
	}
	done := countArg(t, m[1])
	t.Logf("SIGINT stopped the bench after %d keys", done)
	wantBenchKeys(t, dir, done)
	mustRun(t, "check", "--dir", dir)
}

// cancellingWriter cancels ctx, as a signal would, once it has received some output.
type cancellingWriter struct {
	bytes.Buffer
	cancel context.CancelCauseFunc
}

func (w *cancellingWriter) Write(p []byte) (int, error) {
	w.cancel(stopSignal{syscall.SIGINT})
	return w.Buffer.Write(p)
}

// A scan stopped mid-way prints whole lines, exactly as many as its message says.
func TestScanStopsCleanlyOnSignal(t *testing.T) {
	dir := t.TempDir()
	var input strings.Builder
	const entries = 20_000 // several bufio buffers of output
	for i := range entries {
		fmt.Fprintf(&input, "key%06d\tvalue%06d\n", i, i)
	}
	if _, stderr, code := runCLIContext(t, context.Background(), input.String(), "load", "--dir", dir, "-"); code != exitOK {
		t.Fatalf("load: exit %d, stderr %q", code, stderr)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stdout := &cancellingWriter{cancel: cancel}
	var stderr bytes.Buffer
	code := run(ctx, []string{"scan", "--dir", dir}, strings.NewReader(""), stdout, &stderr)
	m := regexp.MustCompile(`^Error: stopped by SIGINT: after ([0-9,]+) entries\n$`).FindStringSubmatch(stderr.String())
	if code != 130 || m == nil {
		t.Fatalf("exit %d, stderr %q; want 130 and the stop message", code, stderr.String())
	}
	printed := countArg(t, m[1])
	if printed >= entries || !strings.HasSuffix(stdout.String(), "\n") || strings.Count(stdout.String(), "\n") != printed {
		t.Fatalf("%d entries printed of %d, %d lines on stdout; want a stop before the end, with whole lines only",
			printed, entries, strings.Count(stdout.String(), "\n"))
	}
	// The database was closed: it opens again.
	mustRun(t, "check", "--dir", dir)
}

func TestCheckStoppedBeforeItStarts(t *testing.T) {
	dir, _ := checkFixture(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(stopSignal{syscall.SIGINT})
	stdout, stderr, code := runCLIContext(t, ctx, "", "check", "--dir", dir)
	if code != 130 || stdout != "" || stderr != "Error: stopped by SIGINT: the check did not start\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 130 and a stop message", code, stdout, stderr)
	}
}

func TestStopSignalStatus(t *testing.T) {
	for _, s := range stopSignals {
		if got := (stopSignal{s.sig}); got.exitStatus() != s.status || got.Error() != "stopped by "+s.name {
			t.Errorf("%s: status %d, message %q", s.name, got.exitStatus(), got.Error())
		}
	}
	// Cancelled for another reason than a signal: an ordinary failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr bytes.Buffer
	if code := stopped(ctx, &stderr, "detail"); code != exitFailure || stderr.String() != "Error: context canceled: detail\n" {
		t.Errorf("stopped without a signal: exit %d, stderr %q", code, stderr.String())
	}
}

// Short commands keep the default action of SIGINT and SIGTERM (a signal kills them, which is
// as safe as a crash); exactly the long ones catch them.
func TestOnlyLongCommandsCatchSignals(t *testing.T) {
	long := map[string]bool{"scan": true, "check": true, "load": true, "bench": true, "backup": true, "restore": true}
	for _, c := range commands {
		if c.long != long[c.name] {
			t.Errorf("%s: catches SIGINT and SIGTERM: %v, want %v", c.name, c.long, long[c.name])
		}
	}
}
