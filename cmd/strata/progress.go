package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// progress draws the state of long work (bench, check, load) on stderr: a bar with the share
// done, the amount, the rate and the time left when the total is known; the amount, the rate
// and the time spent otherwise. It draws nothing unless asked to or stderr is a terminal, so
// output piped into files and other programs stays clean.
//
// On a terminal it redraws one line in place (carriage return, no escape sequences). Forced
// onto anything else (--progress), it writes one line per report, at most one a second, which
// reads well in a log and lets a test wait for a report line instead of sleeping.
//
// A nil *progress is valid and draws nothing, so the commands call it unconditionally.
// It is not safe for concurrent use: one goroutine updates it (see follow).
type progress struct {
	out    io.Writer
	now    func() time.Time
	every  time.Duration // least time between two drawings
	inline bool          // redraw one line with \r (a terminal) instead of one line per report

	label string
	total int64 // 0: unknown
	unit  progressUnit

	start, drawn time.Time
	done         int64
	drawnDone    int64 // done at the last drawing
	spins        int   // drawings so far: the spinner's position
	width        int   // length of the line drawn last, to blank its rest on the next one
}

// Drawing intervals: often enough to look live on a terminal, rarely enough for a log.
const (
	progressTerminalEvery = 100 * time.Millisecond
	progressLogEvery      = time.Second
	progressBarWidth      = 24
)

// progressMode is the --progress flag of bench, check and load: absent, the bar is drawn only
// when stderr is a terminal; --progress forces it, --progress=false suppresses it.
type progressMode struct {
	set bool
	on  bool
}

func (m *progressMode) IsBoolFlag() bool { return true }

func (m *progressMode) String() string {
	if m == nil || !m.set {
		return "auto"
	}
	return strconv.FormatBool(m.on)
}

func (m *progressMode) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	m.set, m.on = true, on
	return nil
}

// progressFlag registers --progress on fs.
func progressFlag(fs *flag.FlagSet) *progressMode {
	m := &progressMode{}
	fs.Var(m, "progress", "draw progress on stderr even when it is not a terminal (--progress=false: never; default: only on a terminal)")
	return m
}

// progressUnit is what a progress counts.
type progressUnit struct {
	// amount renders a number of units: "12,345", or "4.2 MB" for bytes. nil: the work is not
	// counted, and only the time spent is shown.
	amount func(n int64) string
	// noun names the units ("entries"); "" when amount names them itself.
	noun string
}

// Units of work.
var (
	// uncounted: only the time spent is shown.
	uncounted   = progressUnit{}
	bytesUnit   = progressUnit{amount: func(n int64) string { return formatBytes(uint64(max(n, 0))) }}
	entriesUnit = progressUnit{amount: formatCount, noun: "entries"}
	opsUnit     = progressUnit{amount: formatCount, noun: "ops"}
)

// newProgress returns the progress of work called label toward total (0: unknown) counted in
// unit, drawn on w when mode and w allow it; else nil.
func newProgress(w io.Writer, mode *progressMode, label string, total int64, unit progressUnit) *progress {
	terminal := isTerminal(w)
	show := terminal
	if mode != nil && mode.set {
		show = mode.on
	}
	if !show {
		return nil
	}
	every := progressLogEvery
	if terminal {
		every = progressTerminalEvery
	}
	return &progress{out: w, now: time.Now, every: every, inline: terminal, label: label, total: total, unit: unit}
}

// isTerminal reports whether w is a character device (a terminal), without a terminal
// library: the root module takes no third-party dependencies.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// update records that done units of work are finished and draws if the last drawing is at
// least p.every old (the first update always draws).
func (p *progress) update(done int64) {
	if p == nil {
		return
	}
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	p.done = done
	if !p.drawn.IsZero() && now.Sub(p.drawn) < p.every {
		return
	}
	p.draw(now)
}

// finish draws the final state, unless the last drawing showed it already, and ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	if p.drawn.IsZero() || p.done != p.drawnDone || p.unit.amount == nil {
		p.draw(now)
	}
	if p.inline {
		fmt.Fprintln(p.out)
	}
}

func (p *progress) draw(now time.Time) {
	p.drawn, p.drawnDone = now, p.done
	line := p.line(now.Sub(p.start))
	p.spins++
	if !p.inline {
		fmt.Fprintln(p.out, line)
		return
	}
	// Blank what is left of a longer earlier line.
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprintf(p.out, "\r%s%s", line, strings.Repeat(" ", pad))
}

// line renders one report, e.g.
//
//	load [##########..............]  42%  4.2 MB/10.0 MB  1.4 MB/s  eta 4.1s
//	load  12,000 entries  3,000/s  4.0s
//	check |  12s
//
// The rate is the average since the start.
func (p *progress) line(elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString(p.label)
	secs := elapsed.Seconds()
	switch {
	case p.unit.amount == nil:
		fmt.Fprintf(&b, " %c  %s", `|/-\`[p.spins%4], formatElapsed(elapsed))
	case p.total > 0:
		frac := min(float64(p.done)/float64(p.total), 1)
		filled := int(frac * progressBarWidth)
		fmt.Fprintf(&b, " [%s%s] %3.0f%%  %s/%s%s", strings.Repeat("#", filled), strings.Repeat(".", progressBarWidth-filled),
			100*frac, p.unit.amount(p.done), p.unit.amount(p.total), p.nounSuffix())
		if p.done > 0 && secs > 0 {
			rate := float64(p.done) / secs
			left := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
			fmt.Fprintf(&b, "  %s/s  eta %s", p.unit.amount(int64(rate)), formatElapsed(left))
		}
	default:
		fmt.Fprintf(&b, "  %s%s", p.unit.amount(p.done), p.nounSuffix())
		if secs > 0 {
			fmt.Fprintf(&b, "  %s/s", p.unit.amount(int64(float64(p.done)/secs)))
		}
		fmt.Fprintf(&b, "  %s", formatElapsed(elapsed))
	}
	return b.String()
}

// follow draws done() every p.every from a goroutine of its own, for work whose counter other
// goroutines advance (bench's writers) or that is not counted (check). The function it returns
// stops the goroutine and waits for it; call finish only after that.
func (p *progress) follow(done func() int64) (stop func()) {
	if p == nil {
		return func() {}
	}
	p.update(done())
	ticker := time.NewTicker(p.every)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ticker.C:
				p.update(done())
			case <-quit:
				p.done = done()
				return
			}
		}
	}()
	return func() {
		ticker.Stop()
		close(quit)
		wg.Wait()
	}
}

func (p *progress) nounSuffix() string {
	if p.unit.noun == "" {
		return ""
	}
	return " " + p.unit.noun
}

// formatCount renders n with thousands separators: "1,234,567".
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// formatElapsed renders a duration as a person reads it: "0.4s", "9.9s", "42s", "1m5s".
func formatElapsed(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
