package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// scanFixture returns a database holding keys a to e, each with value "v" + key.
func scanFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"c", "a", "e", "b", "d"} {
		mustRun(t, "put", "--dir", dir, k, "v"+k)
	}
	return dir
}

func TestScan(t *testing.T) {
	dir := scanFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, "a\tva\nb\tvb\nc\tvc\nd\tvd\ne\tve\n"},
		{"bounds", []string{"--start", "b", "--end", "d"}, "b\tvb\nc\tvc\n"},
		{"reverse bounds", []string{"--start", "b", "--end", "d", "--reverse"}, "c\tvc\nb\tvb\n"},
		{"start only", []string{"--start", "d"}, "d\tvd\ne\tve\n"},
		{"end only reverse", []string{"--end", "c", "--reverse"}, "b\tvb\na\tva\n"},
		{"limit", []string{"--limit", "2"}, "a\tva\nb\tvb\n"},
		{"reverse limit", []string{"--reverse", "--limit", "1"}, "e\tve\n"},
		{"empty range", []string{"--start", "c", "--end", "c"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustRun(t, append([]string{"scan", "--dir", dir}, tc.args...)...)
			if got != tc.want {
				t.Fatalf("scan %v printed\n%q\nwant\n%q", tc.args, got, tc.want)
			}
		})
	}
}

func TestScanQuotesOnlyWhatIsNotPrintable(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "plain", "héllo wörld")
	mustRun(t, "put", "--dir", dir, "tab\tkey", "")
	mustRun(t, "put", "--dir", dir, "quote", `"starts with a quote`)
	mustRun(t, "put", "--dir", dir, "binary", "\xff\x00")
	want := "binary\t\"\\xff\\x00\"\n" +
		"plain\théllo wörld\n" +
		"quote\t\"\\\"starts with a quote\"\n" +
		"\"tab\\tkey\"\t\n"
	if got := mustRun(t, "scan", "--dir", dir); got != want {
		t.Fatalf("scan printed\n%q\nwant\n%q", got, want)
	}
}

func TestDisplayRoundTrips(t *testing.T) {
	for _, s := range []string{"", "a", "héllo", "a b", `"`, `x"`, "\t", "\xff", "\x00z", "\u2028"} {
		d := display([]byte(s))
		got := d
		if len(d) > 0 && d[0] == '"' {
			var err error
			if got, err = strconv.Unquote(d); err != nil {
				t.Fatalf("display(%q) = %s, which does not unquote: %v", s, d, err)
			}
		}
		if got != s {
			t.Errorf("display(%q) = %s, which reads back as %q", s, d, got)
		}
	}
}

// hexLines is scan --hex's output for the entries of model whose keys are in [start, end)
// (end "": unbounded), in key order.
func hexLines(model map[string]string, start, end string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(model)) {
		if k >= start && (end == "" || k < end) {
			fmt.Fprintf(&b, "%s\t%s\n", hex.EncodeToString([]byte(k)), hex.EncodeToString([]byte(model[k])))
		}
	}
	return b.String()
}

func TestScanHex(t *testing.T) {
	dir := putBinaryEntries(t)
	if got, want := mustRun(t, "scan", "--dir", dir, "--hex"), hexLines(binaryEntries, "", ""); got != want {
		t.Fatalf("scan --hex printed\n%q\nwant\n%q", got, want)
	}
	// --start and --end are hexadecimal too.
	start, end := "\x00", "\xff"
	got := mustRun(t, "scan", "--dir", dir, "--hex", "--start", hex.EncodeToString([]byte(start)), "--end", hex.EncodeToString([]byte(end)))
	if want := hexLines(binaryEntries, start, end); got != want || strings.Count(got, "\n") != 3 {
		t.Fatalf("scan --hex with bounds printed\n%q\nwant the 3 lines\n%q", got, want)
	}
}

func TestScanHexLoadsBack(t *testing.T) {
	src := putBinaryEntries(t)
	dump := mustRun(t, "scan", "--dir", src, "--hex")
	dst := t.TempDir()
	if _, stderr, code := runCLIContext(t, context.Background(), dump, "load", "--dir", dst, "--format", "hex", "-"); code != exitOK {
		t.Fatalf("load --format hex of scan --hex: exit %d, stderr %q", code, stderr)
	}
	if got := mustRun(t, "scan", "--dir", dst, "--hex"); got != dump {
		t.Fatalf("scan --hex after load printed\n%q\nwant\n%q", got, dump)
	}
}

func TestScanPrefix(t *testing.T) {
	dir := t.TempDir()
	model := map[string]string{}
	for _, k := range []string{"a", "ab", "abc", "abd", "ac", "b", "ab\xff", "ab\xff\xff", "\xff", "\xff\x00", "\xff\xff"} {
		model[k] = "v" + k
		mustRun(t, "put", "--dir", dir, "--hex", hex.EncodeToString([]byte(k)), hex.EncodeToString([]byte(model[k])))
	}
	for _, tc := range []struct {
		prefix, start, end string
		reverse            bool
		limit              int
	}{
		{prefix: "ab"},
		{prefix: "ab", reverse: true},
		{prefix: "ab", limit: 2},
		{prefix: "ab", start: "abc"},              // start inside the prefix
		{prefix: "ab", end: "abd", reverse: true}, // end inside the prefix
		{prefix: "ab", start: "a", end: "z"},      // bounds wider than the prefix
		{prefix: "ab", start: "b"},                // bounds beside it: nothing
		{prefix: "ab\xff"},                        // the next key after the prefix is "ac"
		{prefix: "\xff"},                          // no key follows every key with this prefix
		{prefix: "\xff\xff", reverse: true},
		{prefix: "zz"},
	} {
		args := []string{"scan", "--dir", dir, "--hex", "--prefix", hex.EncodeToString([]byte(tc.prefix)),
			"--start", hex.EncodeToString([]byte(tc.start)), "--end", hex.EncodeToString([]byte(tc.end)),
			"--limit", strconv.Itoa(tc.limit)}
		if tc.reverse {
			args = append(args, "--reverse")
		}
		var want []string
		for _, k := range slices.Sorted(maps.Keys(model)) {
			if strings.HasPrefix(k, tc.prefix) && k >= tc.start && (tc.end == "" || k < tc.end) {
				want = append(want, hex.EncodeToString([]byte(k))+"\t"+hex.EncodeToString([]byte(model[k]))+"\n")
			}
		}
		if tc.reverse {
			slices.Reverse(want)
		}
		if tc.limit > 0 && len(want) > tc.limit {
			want = want[:tc.limit]
		}
		if got := mustRun(t, args...); got != strings.Join(want, "") {
			t.Errorf("scan %+v printed\n%q\nwant\n%q", tc, got, strings.Join(want, ""))
		}
	}
	// Without --hex, the prefix is taken as it is.
	if got := mustRun(t, "scan", "--dir", dir, "--prefix", "ab", "--end", "abd"); got != "ab\tvab\nabc\tvabc\n" {
		t.Errorf("scan --prefix ab --end abd printed %q", got)
	}
}
