package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// testProgress returns a progress drawing into a buffer on a fake clock, as newProgress would on
// a terminal (inline) or forced onto a file.
func testProgress(inline bool, label string, total int64, unit progressUnit) (*progress, *bytes.Buffer, *fakeClock) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	every := progressLogEvery
	if inline {
		every = progressTerminalEvery
	}
	p := &progress{out: &out, now: clock.now, every: every, inline: inline, label: label, total: total, unit: unit}
	return p, &out, clock
}

func TestProgressLogLinesWithTotal(t *testing.T) {
	p, out, clock := testProgress(false, "load", 10_000_000, bytesUnit)
	p.update(0)
	clock.advance(500 * time.Millisecond)
	p.update(1_000_000) // under a second since the last line: not drawn
	clock.advance(500 * time.Millisecond)
	p.update(2_500_000)
	clock.advance(3 * time.Second)
	p.update(10_000_000)
	p.finish()
	want := "" +
		"load [........................]   0%  0 B/10.0 MB\n" +
		"load [######..................]  25%  2.5 MB/10.0 MB  2.5 MB/s  eta 3.0s\n" +
		"load [########################] 100%  10.0 MB/10.0 MB  2.5 MB/s  eta 0.0s\n" // finish: nothing new to draw
	if out.String() != want {
		t.Fatalf("drew\n%s\nwant\n%s", out, want)
	}
}

func TestProgressRedrawsInPlaceOnATerminal(t *testing.T) {
	p, out, clock := testProgress(true, "load", 0, entriesUnit)
	p.update(0)
	clock.advance(50 * time.Millisecond)
	p.update(500) // too soon: not drawn
	clock.advance(50 * time.Millisecond)
	p.update(123_456)
	clock.advance(12 * time.Second)
	p.update(123_456) // the rate falls: a shorter line, padded over the longer one
	clock.advance(time.Second)
	p.update(123_457) // too soon, but finish draws it
	p.finish()
	want := "" +
		"\rload  0 entries  0.0s" +
		"\rload  123,456 entries  1,234,560/s  0.1s" +
		"\rload  123,456 entries  10,202/s  12s" + strings.Repeat(" ", 4) +
		"\rload  123,457 entries  9,424/s  13s \n"
	if out.String() != want {
		t.Fatalf("drew %q\nwant  %q", out, want)
	}
}

func TestProgressUncountedSpins(t *testing.T) {
	p, out, clock := testProgress(false, "check", 0, uncounted)
	for range 5 {
		p.update(0)
		clock.advance(time.Second)
	}
	want := "check |  0.0s\ncheck /  1.0s\ncheck -  2.0s\ncheck \\  3.0s\ncheck |  4.0s\n"
	if out.String() != want {
		t.Fatalf("drew\n%s\nwant\n%s", out, want)
	}
}

func TestProgressShownOnlyWhenAskedOrOnATerminal(t *testing.T) {
	parse := func(args ...string) *progressMode {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		mode := progressFlag(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return mode
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tc := range []struct {
		args  []string
		out   any
		shown bool
		mode  string
	}{
		{nil, &bytes.Buffer{}, false, "auto"},
		{nil, w, false, "auto"}, // a pipe is not a terminal
		{[]string{"--progress"}, &bytes.Buffer{}, true, "true"},
		{[]string{"--progress=true"}, w, true, "true"},
		{[]string{"--progress=false"}, w, false, "false"},
	} {
		mode := parse(tc.args...)
		var p *progress
		switch out := tc.out.(type) {
		case *bytes.Buffer:
			p = newProgress(out, mode, "x", 0, entriesUnit)
		case *os.File:
			p = newProgress(out, mode, "x", 0, entriesUnit)
		}
		if (p != nil) != tc.shown || mode.String() != tc.mode {
			t.Errorf("%v into %T: shown %v, mode %s; want %v, %s", tc.args, tc.out, p != nil, mode, tc.shown, tc.mode)
		}
		if p != nil && p.inline {
			t.Errorf("%v into %T: redraws in place, but the output is not a terminal", tc.args, tc.out)
		}
	}
	if err := parse().Set("sometimes"); err == nil {
		t.Error("--progress=sometimes was accepted")
	}
}

// A nil progress (not shown) is safe to use.
func TestNilProgressDrawsNothing(t *testing.T) {
	var p *progress
	p.update(1)
	stop := p.follow(func() int64 { return 2 })
	stop()
	p.finish()
}

func TestProgressFollowDrawsAtOnceAndTheLastCount(t *testing.T) {
	p, out, _ := testProgress(false, "bench", 100, opsUnit)
	n := int64(7)
	stop := p.follow(func() int64 { return n })
	stop()
	n = 9 // after stop, the counter is not read again
	p.finish()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, line := range lines {
		if !strings.HasPrefix(line, "bench [#.......................]   7%  7/100 ops") {
			t.Fatalf("drew\n%s\nwant lines at 7 of 100 ops only, the first at once", out)
		}
	}
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234: "-1,234", 1234567890: "1,234,567,890"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatElapsed(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0.0s", 420 * time.Millisecond: "0.4s", 9940 * time.Millisecond: "9.9s", 42 * time.Second: "42s", 65 * time.Second: "1m5s",
	} {
		if got := formatElapsed(d); got != want {
			t.Errorf("formatElapsed(%v) = %q, want %q", d, got, want)
		}
	}
}
