package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/strata-db/strata/go/strata"
)

var loadUsage = usage{
	name:    "load",
	args:    "--dir DIR [--format text|hex] [--batch N] [--progress] FILE",
	summary: "Bulk-load KEY<TAB>VALUE lines from FILE (\"-\": standard input), the format scan prints.",
	example: "strata load --dir ./db dump.tsv",
	details: `Input: one entry per line, KEY<TAB>VALUE.
  --format text (default): a field is taken byte for byte unless it starts with a double
    quote; then it is a Go-quoted string ("a\tb", "two\nlines", "\xff\x00"), which is how
    tabs, newlines and any other bytes are written. This is exactly what scan and get print,
    so scan's output loads back unchanged:
      strata scan --dir ./db | strata load --dir ./db-copy -
  --format hex: both fields are hexadecimal ("6b6579<TAB>76616c7565").
The value may be empty ("KEY<TAB>"). Empty lines are skipped; lines may end in CRLF (a value
that must end in a carriage return is written quoted). A later line wins over an earlier one
with the same key.

Lines are written in order, in batches of --batch entries (at most 4 MB each), each applied
atomically. Writes are not fsynced one by one; closing the database syncs the log, so when
the report ("loaded N entries from L lines ...") is printed, the entries are durable. A
malformed line stops the load with an error naming its number; the lines before it are
loaded. SIGINT or SIGTERM stops it after the batches already written, which the report
counts.`,
}

// loadBatchBytes bounds the encoded size of one batch: big enough that the per-batch cost
// vanishes, small enough that a load of large values holds little memory.
const loadBatchBytes = 4 << 20

// loadConfig is what the command line asked for.
type loadConfig struct {
	dir    string
	input  string // a file name, or "-" for standard input
	decode func(field []byte) ([]byte, error)
	batch  int
	mode   *progressMode
}

// runLoad implements `strata load`.
func runLoad(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := loadUsage.flags()
	dir := fs.String("dir", "", "database `directory`, created if needed (required)")
	format := fs.String("format", "text", "input `format`: text (fields as is, or Go-quoted) or hex")
	batch := fs.Int("batch", 1000, "`N` entries per batch")
	cfg := loadConfig{mode: progressFlag(fs)}
	if code, ok := loadUsage.parse(fs, args, 1, stdout, stderr); !ok {
		return code
	}
	var err error
	switch {
	case *dir == "":
		err = errNoDir
	case *batch < 1:
		err = errors.New("--batch must be at least 1")
	case *format == "text":
		cfg.decode = decodeTextField
	case *format == "hex":
		cfg.decode = decodeHexField
	default:
		err = fmt.Errorf("unknown --format %q (text or hex)", *format)
	}
	if err != nil {
		return loadUsage.usageError(stderr, err)
	}
	cfg.dir, cfg.input, cfg.batch = *dir, fs.Arg(0), *batch

	in, size, err := openLoadInput(cfg.input, stdin)
	if err != nil {
		return fail(stderr, err)
	}
	defer in.Close()
	if ctx.Err() != nil {
		return stopped(ctx, stderr, "nothing was loaded")
	}
	rep, err := load(ctx, cfg, in, size, stderr)
	if rep.durable {
		if _, werr := fmt.Fprintln(stdout, rep); err == nil {
			err = werr
		}
	}
	switch {
	case err != nil:
		return fail(stderr, err)
	case !rep.complete:
		return stopped(ctx, stderr, fmt.Sprintf("lines after %s were not loaded", formatCount(int64(rep.lines))))
	}
	return exitOK
}

// openLoadInput opens the named input ("-": stdin) and returns its size in bytes when it is a
// regular file (0 when unknown: a pipe, a terminal).
func openLoadInput(name string, stdin io.Reader) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(stdin), regularFileSize(stdin), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	return f, regularFileSize(f), nil
}

func regularFileSize(r io.Reader) int64 {
	f, ok := r.(*os.File)
	if !ok {
		return 0
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return 0
	}
	return info.Size()
}

// loadReport is what a load wrote: the entries of input lines 1 to lines, bytes of input.
type loadReport struct {
	entries int64
	lines   int
	bytes   int64
	elapsed time.Duration
	// complete: the whole input was loaded.
	complete bool
	// durable: the database closed cleanly after the writes, so they are on disk.
	durable bool
}

func (r loadReport) String() string {
	rate := 0.0
	if secs := r.elapsed.Seconds(); secs > 0 {
		rate = float64(r.entries) / secs
	}
	return fmt.Sprintf("loaded %s entries from %s lines (%s) in %s: %s entries/s",
		formatCount(r.entries), formatCount(int64(r.lines)), formatBytes(uint64(r.bytes)),
		formatElapsed(r.elapsed), formatCount(int64(rate)))
}

// load writes the entries of in into the database, until the input ends, a line is malformed,
// a write fails or ctx ends, then closes the database. The report counts what was written;
// it is durable only if the close succeeded.
func load(ctx context.Context, cfg loadConfig, in io.Reader, size int64, stderr io.Writer) (loadReport, error) {
	start := time.Now()
	db, err := strata.Open(cfg.dir, &strata.Options{NoSync: true})
	if err != nil {
		return loadReport{}, err
	}
	// A file of known size shows the share done and the time left; a pipe, the entries so far.
	bar := newProgress(stderr, cfg.mode, "load", 0, entriesUnit)
	progress := func(r loadReport) { bar.update(r.entries) }
	if size > 0 {
		bar = newProgress(stderr, cfg.mode, "load", size, bytesUnit)
		progress = func(r loadReport) { bar.update(r.bytes) }
	}
	rep, err := loadInto(ctx, db, newLoadParser(in, cfg.decode, cfg.batch), progress)
	bar.finish()
	cerr := db.Close()
	rep.elapsed = time.Since(start)
	rep.durable = cerr == nil
	if err == nil {
		err = cerr
	}
	return rep, err
}

// loadInto writes the parser's batches in order, calling report after each. It stops at the end
// of the input, at the first error, or when ctx ends; a batch being written then is finished
// and counted, the batches parsed after it are dropped.
func loadInto(ctx context.Context, db *strata.DB, p *loadParser, report func(loadReport)) (loadReport, error) {
	batches := make(chan loadBatch, 1) // one batch parsed while the previous one is written
	parsed := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		parsed <- p.run(batches, quit)
		close(batches)
	}()
	var rep loadReport
	for {
		select {
		case <-ctx.Done():
			return rep, nil
		case b, ok := <-batches:
			if !ok {
				err := <-parsed
				rep.complete = err == nil
				return rep, err
			}
			if b.entries > 0 {
				// Not ctx: a write abandoned by a cancelled context may still be applied, and the
				// report must say exactly what was written.
				if err := db.Write(context.Background(), b.batch); err != nil {
					return rep, fmt.Errorf("writing lines %d to %d: %w", rep.lines+1, b.lastLine, err)
				}
			}
			rep.entries += int64(b.entries)
			rep.lines, rep.bytes = b.lastLine, b.offset
			report(rep)
		}
	}
}

// loadBatch is the entries of consecutive input lines, up to lastLine, which ends offset bytes
// into the input.
type loadBatch struct {
	batch    *strata.Batch
	entries  int
	size     int // encoded bytes
	lastLine int
	offset   int64
}

// loadParser reads input lines and groups their entries into batches.
type loadParser struct {
	lines   *bufio.Scanner
	decode  func(field []byte) ([]byte, error)
	entries int // per batch
	line    int // lines read
	offset  int64
}

// loadMaxLine is the longest line a load accepts: the largest key and value, quoted with four
// bytes per input byte ("\xff"), a tab and the quotes.
const loadMaxLine = 4*(strata.MaxKeySize+strata.MaxValueSize) + 8

func newLoadParser(in io.Reader, decode func([]byte) ([]byte, error), entries int) *loadParser {
	p := &loadParser{lines: bufio.NewScanner(in), decode: decode, entries: entries}
	p.lines.Buffer(make([]byte, 64<<10), loadMaxLine)
	// bufio.ScanLines, counting the bytes each line took (with its CR LF or LF).
	p.lines.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		advance, token, err := bufio.ScanLines(data, atEOF)
		if token != nil {
			p.offset += int64(advance)
		}
		return advance, token, err
	})
	return p
}

// run sends batches until the input ends or quit closes. A malformed line ends it with an error
// naming the line, after the batch of the lines before it was sent.
func (p *loadParser) run(out chan<- loadBatch, quit <-chan struct{}) error {
	b := loadBatch{batch: strata.NewBatch()}
	send := func() bool {
		select {
		case out <- b:
			b = loadBatch{batch: strata.NewBatch()}
			return true
		case <-quit:
			return false
		}
	}
	for p.lines.Scan() {
		p.line++
		if line := p.lines.Bytes(); len(line) > 0 {
			key, value, err := p.entry(line)
			if err != nil {
				if b.lastLine > 0 && !send() {
					return nil
				}
				return fmt.Errorf("line %d: %w", p.line, err)
			}
			b.batch.Put(key, value)
			b.entries++
			b.size += 9 + len(key) + len(value)
		}
		b.lastLine, b.offset = p.line, p.offset
		if (b.entries >= p.entries || b.size >= loadBatchBytes) && !send() {
			return nil
		}
	}
	err := p.lines.Err()
	if b.lastLine > 0 && !send() {
		return nil
	}
	switch {
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("line %d: longer than %d bytes", p.line+1, loadMaxLine)
	case err != nil:
		return fmt.Errorf("reading line %d: %w", p.line+1, err)
	}
	return nil
}

// entry splits a line at its tab and decodes the key and the value.
func (p *loadParser) entry(line []byte) (key, value []byte, err error) {
	k, v, ok := bytes.Cut(line, []byte{'\t'})
	switch {
	case !ok:
		return nil, nil, errors.New("no tab between key and value")
	case bytes.IndexByte(v, '\t') >= 0:
		return nil, nil, errors.New(`more than one tab; quote a value that holds tabs ("a\tb")`)
	}
	if key, err = p.decode(k); err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	if value, err = p.decode(v); err != nil {
		return nil, nil, fmt.Errorf("value: %w", err)
	}
	switch {
	case len(key) == 0:
		return nil, nil, errors.New("empty key")
	case len(key) > strata.MaxKeySize:
		return nil, nil, fmt.Errorf("key is %d bytes, the limit is %d", len(key), strata.MaxKeySize)
	case len(value) > strata.MaxValueSize:
		return nil, nil, fmt.Errorf("value is %d bytes, the limit is %d", len(value), strata.MaxValueSize)
	}
	return key, value, nil
}

// decodeTextField reads a field of --format text: Go-quoted when it starts with a double quote
// (as display writes it), else its bytes as they are.
func decodeTextField(field []byte) ([]byte, error) {
	if len(field) == 0 || field[0] != '"' {
		return field, nil
	}
	s, err := strconv.Unquote(string(field))
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid Go-quoted string", clip(field))
	}
	return []byte(s), nil
}

// decodeHexField reads a field of --format hex.
func decodeHexField(field []byte) ([]byte, error) {
	out := make([]byte, hex.DecodedLen(len(field)))
	if _, err := hex.Decode(out, field); err != nil {
		return nil, fmt.Errorf("%s is not hexadecimal: %w", clip(field), err)
	}
	return out, nil
}

// clip quotes the start of a field for an error message.
func clip(field []byte) string {
	const most = 40
	if len(field) > most {
		return strconv.Quote(string(field[:most])) + "..."
	}
	return strconv.Quote(string(field))
}
