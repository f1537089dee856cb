package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/strata-db/strata/go/strata"
)

var scanUsage = usage{
	name:    "scan",
	args:    "--dir DIR [--start KEY] [--end KEY] [--reverse] [--limit N]",
	summary: "Print the keys in [start, end) in order, one \"key<TAB>value\" line each.",
	example: "strata scan --dir ./db --start user: --end 'user;' --limit 10",
}

// runScan implements `strata scan`. Keys and values are printed through display, so every
// line splits unambiguously at its one tab. SIGINT or SIGTERM stops it after the entry being
// printed; the lines printed until then are complete.
func runScan(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := scanUsage.flags()
	dir := dirFlag(fs)
	start := fs.String("start", "", "first `key` to print (default: the smallest)")
	end := fs.String("end", "", "`key` to stop before, exclusive (default: none)")
	reverse := fs.Bool("reverse", false, "print from the largest key down")
	limit := fs.Int("limit", 0, "print at most `N` entries (0: no limit)")
	if code, ok := scanUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	switch {
	case *dir == "":
		return scanUsage.usageError(stderr, errNoDir)
	case *limit < 0:
		return scanUsage.usageError(stderr, errors.New("--limit must not be negative"))
	}
	opts := &strata.IterOptions{Start: []byte(*start), End: []byte(*end), Reverse: *reverse}
	out := bufio.NewWriter(stdout)
	printed := 0
	err := withDB(*dir, false, func(db *strata.DB) error {
		var err error
		printed, err = scan(ctx, db, opts, *limit, out)
		return err
	})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if ctx.Err() != nil {
		return stopped(ctx, stderr, fmt.Sprintf("after %s entries", formatCount(int64(printed))))
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// scan writes up to limit entries (all when limit is 0) of the iterator opts describe, until
// ctx ends, and returns how many it wrote.
func scan(ctx context.Context, db *strata.DB, opts *strata.IterOptions, limit int, w io.Writer) (int, error) {
	it, err := db.NewIterator(ctx, opts)
	if err != nil {
		return 0, err
	}
	n := 0
	for ; (limit == 0 || n < limit) && ctx.Err() == nil && it.Next(); n++ {
		if _, err := fmt.Fprintf(w, "%s\t%s\n", display(it.Key()), display(it.Value())); err != nil {
			it.Close()
			return n, err
		}
	}
	return n, it.Close()
}

// display renders a key or value for a line of output. Printable UTF-8 (strconv.IsPrint:
// no tabs, newlines or other control characters) is printed as is; anything else, and any
// text that starts with a double quote, is printed Go-quoted (strconv.Quote). So a field that
// starts with `"` is always quoted, and strconv.Unquote recovers its bytes.
func display(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) || strings.HasPrefix(s, `"`) || strings.IndexFunc(s, isNotPrint) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

func isNotPrint(r rune) bool { return !strconv.IsPrint(r) }
