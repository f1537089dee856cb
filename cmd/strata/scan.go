package main

import (
	"bufio"
	"context"
	"encoding/hex"
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
	args:    "--dir DIR [--start KEY] [--end KEY] [--prefix P] [--reverse] [--limit N] [--hex]",
	summary: "Print the keys in [start, end) in order, one \"key<TAB>value\" line each.",
	example: "strata scan --dir ./db --prefix user: --limit 10",
	details: `--prefix keeps the keys that begin with P, within --start and --end when those are given.

A key or value is printed as is when it is printable UTF-8, else Go-quoted ("\xff\x00",
"a\tb"), so each line splits at its one tab; load reads the lines back. --hex prints both as
lowercase hexadecimal instead ("6b6579<TAB>76616c7565", what load --format hex reads), and
takes --start, --end and --prefix in hexadecimal too.`,
}

// runScan implements `strata scan`. SIGINT or SIGTERM stops it after the entry being printed;
// the lines printed until then are complete.
func runScan(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := scanUsage.flags()
	dir := dirFlag(fs)
	start := fs.String("start", "", "first `key` to print (default: the smallest)")
	end := fs.String("end", "", "`key` to stop before, exclusive (default: none)")
	prefix := fs.String("prefix", "", "print only keys that begin with `P`")
	reverse := fs.Bool("reverse", false, "print from the largest key down")
	limit := fs.Int("limit", 0, "print at most `N` entries (0: no limit)")
	hexMode := fs.Bool("hex", false, "print keys and values in hexadecimal; --start, --end and --prefix are hexadecimal")
	if code, ok := scanUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	switch {
	case *dir == "":
		return scanUsage.usageError(stderr, errNoDir)
	case *limit < 0:
		return scanUsage.usageError(stderr, errors.New("--limit must not be negative"))
	}
	opts := &strata.IterOptions{Reverse: *reverse}
	for _, bound := range []struct {
		flag string
		arg  string
		dst  *[]byte
	}{{"--start", *start, &opts.Start}, {"--end", *end, &opts.End}, {"--prefix", *prefix, &opts.Prefix}} {
		var err error
		if *bound.dst, err = argBytes(bound.arg, *hexMode); err != nil {
			return scanUsage.usageError(stderr, fmt.Errorf("%s: %w", bound.flag, err))
		}
	}
	render := display
	if *hexMode {
		render = hex.EncodeToString
	}
	out := bufio.NewWriter(stdout)
	printed := 0
	err := withDB(*dir, readOnly, func(db *strata.DB) error {
		var err error
		printed, err = scan(ctx, db, opts, *limit, render, out)
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

// scan writes up to limit entries (all when limit is 0) of the iterator opts describe, each
// key and value rendered by render (display or hex), until ctx ends, and returns how many it
// wrote.
func scan(ctx context.Context, db *strata.DB, opts *strata.IterOptions, limit int, render func([]byte) string, w io.Writer) (int, error) {
	it, err := db.NewIterator(ctx, opts)
	if err != nil {
		return 0, err
	}
	n := 0
	for ; (limit == 0 || n < limit) && ctx.Err() == nil && it.Next(); n++ {
		if _, err := fmt.Fprintf(w, "%s\t%s\n", render(it.Key()), render(it.Value())); err != nil {
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
