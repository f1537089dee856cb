package strata

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The corruption campaign: a small database holding data in two tables, the manifest and the
// write-ahead log is damaged one file at a time (a flipped byte, a zeroed run, a truncation)
// at seeded positions in every region of each file format. Then Check, Open, a Get of every
// key and a full iteration must either fail with ErrCorruption or return exactly the
// acknowledged data. The campaign runs on a durable fixture and on a NoSync one, under the
// same rules: the fixture is closed cleanly, so its WAL ends in a seal that vouches for every
// record before it, and the only losses allowed without an error are at the end of the WAL,
// where damage cannot be told from a crash (see judgeDamage).
//
// STRATA_CORRUPT_POSITIONS sets the seeded positions per region and damage (default 2, on top
// of each region's first and last byte); STRATA_CORRUPT_SEED the seed. `go test -v -run
// CorruptionCampaign` logs the table of outcomes that docs/durability.md summarizes.

// hangLimit bounds every call of the corruption tests: a call that outlives it hangs.
const hangLimit = time.Minute

// File roles in the fixture.
const (
	roleWAL      = "WAL segment"
	roleOldTable = "table (older)"
	roleNewTable = "table (newer)"
	roleManifest = "MANIFEST"
)

var fileRoles = []string{roleWAL, roleOldTable, roleNewTable, roleManifest}

// Format constants, as documented in rust/engine/src/wal.rs, sstable/mod.rs and manifest.rs.
const (
	walHeaderLen       = 16
	walRecordHeaderLen = 28
	tableHeaderLen     = 32
	tableFooterLen     = 88
	blockTrailerLen    = 5
	manifestHeaderLen  = 20
)

// write is one acknowledged write of the fixture.
type write struct {
	key, value string
	del        bool
}

// damageFixture is a closed database and what was written to it.
type damageFixture struct {
	dir   string
	opts  *Options          // how the fixture was written, and how the judge opens it
	log   []write           // every acknowledged write, in order
	inWAL int               // writes at the end of log that live only in the WAL
	files map[string]string // role -> file name
	keys  []string          // every key ever written, sorted
	// walRecords holds the [start, end) offsets of each WAL record, walSeal those of the seal
	// Close wrote after them (a record with no payload that vouches for every byte before it).
	walRecords [][2]int
	walSeal    [2]int
}

// buildDamageFixture writes the fixture database into dir with opts (nil: the defaults):
// tableKeys keys in a first table, a second table that overwrites some of them and deletes
// others (so a skipped newer table would show older values), then walWrites single writes
// left in the WAL (durable ones unless opts.NoSync).
func buildDamageFixture(t testing.TB, dir string, tableKeys, walWrites int, opts *Options) *damageFixture {
	t.Helper()
	fx := &damageFixture{dir: dir, opts: opts, files: map[string]string{}}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(20, 26))
	value := func(k string, gen int) string {
		return fmt.Sprintf("%s/%d/%016x%016x", k, gen, rng.Uint64(), rng.Uint64())
	}
	apply := func(b *Batch, w write) {
		if w.del {
			b.Delete([]byte(w.key))
		} else {
			b.Put([]byte(w.key), []byte(w.value))
		}
		fx.log = append(fx.log, w)
	}
	flushInto := func(role string, writes []write) {
		b := NewBatch()
		for _, w := range writes {
			apply(b, w)
		}
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		before := tableNames(t, dir)
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		added := slices.DeleteFunc(tableNames(t, dir), func(n string) bool { return slices.Contains(before, n) })
		if len(added) != 1 {
			t.Fatalf("flush added tables %v, want one", added)
		}
		fx.files[role] = added[0]
	}
	var first, second []write
	for i := range tableKeys {
		k := fmt.Sprintf("k%04d", i)
		first = append(first, write{key: k, value: value(k, 1)})
	}
	for i := range tableKeys / 2 {
		k := fmt.Sprintf("k%04d", i)
		if i%3 == 2 {
			second = append(second, write{key: k, del: true})
		} else {
			second = append(second, write{key: k, value: value(k, 2)})
		}
	}
	flushInto(roleOldTable, first)
	flushInto(roleNewTable, second)
	for i := range walWrites {
		var w write
		switch {
		case i%5 == 4:
			w = write{key: fmt.Sprintf("k%04d", tableKeys/2+i), del: true}
		case i%2 == 0:
			k := fmt.Sprintf("k%04d", i)
			w = write{key: k, value: value(k, 3)}
		default:
			k := fmt.Sprintf("n%04d", i)
			w = write{key: k, value: value(k, 3)}
		}
		b := NewBatch()
		apply(b, w)
		if err := db.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	fx.inWAL = walWrites
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wals, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(wals) != 1 {
		t.Fatalf("fixture has WAL segments %v, want one", wals)
	}
	fx.files[roleWAL] = filepath.Base(wals[0])
	fx.files[roleManifest] = "MANIFEST"
	seen := map[string]bool{}
	for _, w := range fx.log {
		if !seen[w.key] {
			seen[w.key] = true
			fx.keys = append(fx.keys, w.key)
		}
	}
	sort.Strings(fx.keys)
	spans := walRecordSpans(t, fx.read(t, roleWAL))
	if len(spans) != walWrites+1 {
		t.Fatalf("the WAL holds %d records, want %d and a seal", len(spans), walWrites)
	}
	fx.walRecords, fx.walSeal = spans[:walWrites], spans[walWrites]
	if fx.walSeal[1]-fx.walSeal[0] != walRecordHeaderLen {
		t.Fatalf("the WAL's last record %v is not a seal", fx.walSeal)
	}
	return fx
}

func tableNames(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

func (fx *damageFixture) read(t testing.TB, role string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fx.dir, fx.files[role]))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// walRecordSpans parses an intact WAL segment into record spans.
func walRecordSpans(t testing.TB, data []byte) [][2]int {
	t.Helper()
	var spans [][2]int
	for off := walHeaderLen; off < len(data); {
		if off+walRecordHeaderLen > len(data) {
			t.Fatalf("WAL record header at %d runs past the end", off)
		}
		end := off + walRecordHeaderLen + int(binary.LittleEndian.Uint32(data[off+4:]))
		spans = append(spans, [2]int{off, end})
		off = end
	}
	return spans
}

// stateAt is the database after the first p writes of the log.
func (fx *damageFixture) stateAt(p int) map[string]string {
	m := map[string]string{}
	for _, w := range fx.log[:p] {
		if w.del {
			delete(m, w.key)
		} else {
			m[w.key] = w.value
		}
	}
	return m
}

// copyTo copies the fixture's files into a fresh directory.
func (fx *damageFixture) copyTo(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(fx.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// region is a named byte range [start, end) of one file.
type region struct {
	name       string
	start, end int
}

// regions divides a fixture file along its format: the parts a reader trusts differently.
func (fx *damageFixture) regions(t testing.TB, role string) []region {
	t.Helper()
	data := fx.read(t, role)
	switch role {
	case roleWAL:
		recs := fx.walRecords
		first, mid, last := recs[0], recs[len(recs)/2], recs[len(recs)-1]
		return []region{
			{"file header: magic and version", 0, 12},
			{"file header: reserved", 12, walHeaderLen},
			{"first record header", first[0], first[0] + walRecordHeaderLen},
			{"first record payload", first[0] + walRecordHeaderLen, first[1]},
			{"middle record", mid[0], mid[1]},
			{"last record header", last[0], last[0] + walRecordHeaderLen},
			{"last record payload", last[0] + walRecordHeaderLen, last[1]},
			{"seal", fx.walSeal[0], fx.walSeal[1]},
		}
	case roleManifest:
		return []region{
			{"header: magic, version, length, checksum", 0, manifestHeaderLen},
			{"body: database id, file numbers and sequence", manifestHeaderLen, manifestHeaderLen + 32},
			{"body: levels and tables", manifestHeaderLen + 32, len(data)},
		}
	default:
		footer := len(data) - tableFooterLen
		u64 := func(at int) int { return int(binary.LittleEndian.Uint64(data[footer+at:])) }
		filterOff, filterSize, indexOff, indexSize := u64(0), u64(8), u64(16), u64(24)
		return []region{
			{"header: magic, version, identity, checksum", 0, tableHeaderLen},
			{"data blocks", tableHeaderLen, filterOff - blockTrailerLen},
			{"last data block trailer", filterOff - blockTrailerLen, filterOff},
			{"filter block", filterOff, filterOff + filterSize + blockTrailerLen},
			{"index block", indexOff, indexOff + indexSize + blockTrailerLen},
			{"footer: block handles", footer, footer + 32},
			{"footer: entry count and sequence range", footer + 32, footer + 56},
			{"footer: database id and file number", footer + 56, footer + 72},
			{"footer: version and checksum", footer + 72, footer + 80},
			{"footer: magic", footer + 80, footer + 88},
		}
	}
}

// damage is one change to one file.
type damage struct {
	how  string // "flip", "zero" or "truncate"
	at   int
	mask byte // flip: the xor mask (nonzero)
	n    int  // zero: bytes zeroed from at
}

func (d damage) String() string {
	switch d.how {
	case "flip":
		return fmt.Sprintf("flip %#02x at %d", d.mask, d.at)
	case "zero":
		return fmt.Sprintf("zero %d bytes at %d", d.n, d.at)
	}
	return fmt.Sprintf("truncate to %d", d.at)
}

// apply returns data with d applied and the range [lo, hi) of bytes it changed or removed.
func (d damage) apply(data []byte) (out []byte, lo, hi int) {
	out = bytes.Clone(data)
	at := min(d.at, len(data))
	switch d.how {
	case "flip":
		if at == len(data) {
			return out, at, at
		}
		out[at] ^= d.mask
		return out, at, at + 1
	case "zero":
		end := min(at+d.n, len(data))
		clear(out[at:end])
		return out, at, end
	}
	return out[:at], at, len(data)
}

// outcome is what the damage did, as the reader sees it.
type outcome string

const (
	outOpenRefused outcome = "Open fails with ErrCorruption"
	outReadRefused outcome = "reads of the damaged part fail with ErrCorruption"
	outTailCut     outcome = "WAL tail cut as torn: last writes lost, counted in RecoveredTornBytes"
	outTruncated   outcome = "writes past the cut lost, as after a crash before they were written"
	outNoEffect    outcome = "no effect"
	outUnchanged   outcome = "file unchanged"
)

// checkVerdict is what Check said about the damaged file.
type checkVerdict string

const (
	checkDamaged checkVerdict = "Check names it damaged"
	checkTorn    checkVerdict = "Check reports a torn tail in it"
	checkOK      checkVerdict = "Check reports it ok"
)

// judgeDamage applies d to the fixture file of role in a copy of the fixture and checks every
// reader. Allowed: ErrCorruption (from Open, or from the reads that touch the damage, every
// other read correct), or exactly the acknowledged data. Two losses are allowed without an
// error, both at the end of the WAL and never reaching records before the damage: a log
// truncated short looks exactly like one whose later writes never happened, and damage in the
// last records, which no later record proves were durable, looks exactly like a write torn by
// a power cut, so recovery cuts it (counted in RecoveredTornBytes, reported by Check).
func judgeDamage(t testing.TB, fx *damageFixture, role string, d damage) (outcome, checkVerdict) {
	t.Helper()
	dir := t.TempDir()
	fx.copyTo(t, dir)
	name := fx.files[role]
	path := filepath.Join(dir, name)
	orig := fx.read(t, role)
	damaged, lo, hi := d.apply(orig)
	if bytes.Equal(damaged, orig) {
		return outUnchanged, checkOK
	}
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	what := fmt.Sprintf("%s %s, %s", role, name, d)

	report, err := finishes(t, what+": Check", func() (string, error) { return Check(dir) })
	verdict := checkOK
	switch {
	case errors.Is(err, ErrCorruption):
		if !strings.Contains(err.Error(), "damaged "+name+":") {
			t.Fatalf("%s: Check blames other files: %v", what, err)
		}
		verdict = checkDamaged
	case err != nil:
		t.Fatalf("%s: Check = %v, want nil or ErrCorruption", what, err)
	case strings.Contains(reportLine(report, name), "torn tail"):
		verdict = checkTorn
	}

	db, err := finishes(t, what+": Open", func() (*DB, error) { return Open(dir, fx.opts) })
	if err != nil {
		if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s: Open = %v, want ErrCorruption naming %s", what, err, name)
		}
		if verdict != checkDamaged {
			t.Fatalf("%s: Open refuses (%v) but Check reports:\n%s", what, err, report)
		}
		return outOpenRefused, verdict
	}
	defer func() {
		if _, err := finishes(t, what+": Close", func() (struct{}, error) { return struct{}{}, db.Close() }); err != nil {
			t.Errorf("%s: Close: %v", what, err)
		}
	}()
	stats, err := db.Stats()
	if err != nil {
		t.Fatalf("%s: Stats: %v", what, err)
	}
	got, readErrs := readEverything(t, db, fx.keys, what)
	p := fx.consistentPrefix(got)
	if p < 0 {
		t.Fatalf("%s: reads return data that no prefix of the acknowledged writes explains (wrong or resurrected data): %s",
			what, fx.describeMismatch(got))
	}
	if readErrs > 0 {
		if verdict != checkDamaged {
			t.Fatalf("%s: reads fail with ErrCorruption but Check reports:\n%s", what, report)
		}
		if p < len(fx.log) {
			t.Fatalf("%s: reads fail and %d acknowledged writes are missing", what, len(fx.log)-p)
		}
		return outReadRefused, verdict
	}
	if p == len(fx.log) {
		// A damaged seal holds no write, and looks just like a crash during Close, which can
		// tear it or leave zeros where it was to go: Check may call it a torn tail or nothing.
		inSeal := role == roleWAL && lo >= fx.walSeal[0]
		if (role != roleWAL || lo < 12 || hi > walHeaderLen) && !inSeal {
			// Every byte of a table or the manifest is under a checksum; in a WAL segment only
			// the reserved header bytes are not.
			if verdict != checkDamaged {
				t.Fatalf("%s: reads are intact but Check reports:\n%s", what, report)
			}
		}
		return outNoEffect, verdict
	}
	// Acknowledged writes are missing and no read failed: only a cut WAL tail may do that, and
	// records wholly before the damage survive it.
	lost := len(fx.log) - p
	if role != roleWAL {
		t.Fatalf("%s: %d acknowledged writes lost without an error", what, lost)
	}
	survivors := p - (len(fx.log) - fx.inWAL)
	before := 0
	for _, r := range fx.walRecords {
		if r[1] <= lo {
			before++
		}
	}
	if survivors < before {
		t.Fatalf("%s: %d WAL records lie before the damage at %d, only %d survive", what, before, lo, survivors)
	}
	if d.how == "truncate" {
		// A log cut short is what a crash before the later writes leaves: nothing can tell.
		return outTruncated, verdict
	}
	// A flip or zeroed run is cut only where no intact later record vouches that the bytes
	// were durable: the seal Close wrote vouches for every record, so damage that spares it
	// must be an error. The cut is counted and Check reports it.
	if hi <= fx.walSeal[0] {
		t.Fatalf("%s: damage before the WAL's seal (which vouches for it) cut %d writes silently", what, lost)
	}
	if stats.RecoveredTornBytes == 0 || verdict == checkOK {
		t.Fatalf("%s: %d acknowledged writes cut without a trace (RecoveredTornBytes %d, Check:\n%s)",
			what, lost, stats.RecoveredTornBytes, report)
	}
	return outTailCut, verdict
}

// reportLine is the line of a Check report about file name.
func reportLine(report, name string) string {
	for _, line := range strings.Split(report, "\n") {
		if strings.Contains(line, " "+name+": ") {
			return line
		}
	}
	return ""
}

// readResult is what reads returned for one key: found, absent, or failed.
type readResult struct {
	value   string
	present bool
}

// observed holds what Gets and the iteration returned.
type observed struct {
	gets    map[string]readResult // keys whose Get succeeded or said ErrNotFound
	scan    []kv                  // entries before the iteration ended
	scanErr bool                  // the iteration ended with ErrCorruption
}

// readEverything gets every key and iterates the whole database, failing the test on any
// error but ErrCorruption (and on a hang). It returns the results and the number of failed
// reads.
func readEverything(t testing.TB, db *DB, keys []string, what string) (observed, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	obs := observed{gets: map[string]readResult{}}
	failed := 0
	for _, k := range keys {
		v, err := db.Get(ctx, []byte(k))
		switch {
		case err == nil:
			obs.gets[k] = readResult{value: string(v), present: true}
		case errors.Is(err, ErrNotFound):
			obs.gets[k] = readResult{}
		case errors.Is(err, ErrCorruption):
			failed++
		default:
			t.Fatalf("%s: Get %s = %v, want a value, ErrNotFound or ErrCorruption", what, k, err)
		}
	}
	// The iterator's first chunk comes with its open, so damage may surface there already.
	it, err := db.NewIterator(ctx, nil)
	if err == nil {
		for it.Next() {
			obs.scan = append(obs.scan, kv{string(it.Key()), string(it.Value())})
		}
		err = it.Close()
	}
	switch {
	case errors.Is(err, ErrCorruption):
		obs.scanErr = true
		failed++
	case err != nil:
		t.Fatalf("%s: iteration ended with %v, want nil or ErrCorruption", what, err)
	}
	return obs, failed
}

// consistentPrefix returns the largest p such that every successful read matches the state
// after the first p writes (the iteration a prefix of it, or all of it), or -1. Only writes
// still in the WAL can be missing: tables either read back or fail.
func (fx *damageFixture) consistentPrefix(obs observed) int {
	for p := len(fx.log); p >= len(fx.log)-fx.inWAL; p-- {
		if fx.explains(p, obs) {
			return p
		}
	}
	return -1
}

func (fx *damageFixture) explains(p int, obs observed) bool {
	state := fx.stateAt(p)
	for k, r := range obs.gets {
		v, ok := state[k]
		if ok != r.present || v != r.value {
			return false
		}
	}
	want := modelRange(state, "", "", false)
	if obs.scanErr {
		return len(obs.scan) <= len(want) && slices.Equal(obs.scan, want[:len(obs.scan)])
	}
	return slices.Equal(obs.scan, want)
}

// describeMismatch names the first read that differs from the full acknowledged state.
func (fx *damageFixture) describeMismatch(obs observed) string {
	state := fx.stateAt(len(fx.log))
	for _, k := range slices.Sorted(maps.Keys(obs.gets)) {
		r := obs.gets[k]
		if v, ok := state[k]; ok != r.present || v != r.value {
			return fmt.Sprintf("Get %s = %q (present %v), acknowledged %q (present %v)", k, r.value, r.present, v, ok)
		}
	}
	return fmt.Sprintf("iteration returned %d entries (ended by ErrCorruption: %v), acknowledged %d",
		len(obs.scan), obs.scanErr, len(state))
}

// finishes runs f, failing the test if it does not return within hangLimit.
func finishes[T any](t testing.TB, what string, f func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	timer := time.NewTimer(hangLimit)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		t.Fatalf("%s did not return within %v: a hang", what, hangLimit)
		panic("unreachable")
	}
}

func corruptPositions() int {
	if n, err := strconv.Atoi(os.Getenv("STRATA_CORRUPT_POSITIONS")); err == nil && n >= 0 {
		return n
	}
	return 2
}

// campaignDamages lists the damages for one region: the whole region zeroed, and flips,
// zeroed runs and truncations at its first and last byte and at seeded positions inside it.
func campaignDamages(rng *rand.Rand, r region) []damage {
	positions := []int{r.start, r.end - 1}
	for range corruptPositions() {
		positions = append(positions, r.start+rng.IntN(r.end-r.start))
	}
	out := []damage{{how: "zero", at: r.start, n: r.end - r.start}}
	for _, at := range positions {
		out = append(out,
			damage{how: "flip", at: at, mask: byte(1 + rng.IntN(255))},
			damage{how: "zero", at: at, n: 1 + rng.IntN(8)},
			damage{how: "truncate", at: at},
		)
	}
	return out
}

// TestCorruptionCampaign runs the campaign on a durable fixture and on a NoSync one, with the
// same seeded positions. NoSync records vouch for nothing on their own, so without the seal
// Close writes, damage in any of them could pass for a torn tail; with it, damage before the
// seal must be ErrCorruption there too.
func TestCorruptionCampaign(t *testing.T) {
	seed := uint64(1)
	if s, err := strconv.ParseUint(os.Getenv("STRATA_CORRUPT_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("STRATA_CORRUPT_SEED=%d", seed)
	for _, c := range []struct {
		name string
		opts *Options
	}{
		{"durable", nil},
		{"NoSync", &Options{NoSync: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			runCorruptionCampaign(t, buildDamageFixture(t, t.TempDir(), 300, 24, c.opts), seed)
		})
	}
}

// runCorruptionCampaign judges every campaign damage to every file of fx, then logs the table
// of outcomes.
func runCorruptionCampaign(t *testing.T, fx *damageFixture, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 4))

	// One row per file region and damage, in file order; a cell counts each outcome.
	type row struct{ role, region, how string }
	var rows []row
	counts := map[row]map[string]int{}
	for _, role := range fileRoles {
		for _, r := range fx.regions(t, role) {
			for _, d := range campaignDamages(rng, r) {
				out, verdict := judgeDamage(t, fx, role, d)
				if out == outUnchanged {
					continue
				}
				key := row{role, r.name, d.how}
				if counts[key] == nil {
					rows = append(rows, key)
					counts[key] = map[string]int{}
				}
				counts[key][string(out)+"; "+string(verdict)]++
			}
		}
	}
	var lines []string
	for _, r := range rows {
		var parts []string
		for _, o := range slices.Sorted(maps.Keys(counts[r])) {
			parts = append(parts, fmt.Sprintf("%s (%d)", o, counts[r][o]))
		}
		lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s |", r.role, r.region, r.how, strings.Join(parts, "; ")))
	}
	t.Logf("outcomes:\n| file | region | damage | outcome (cases) |\n| --- | --- | --- | --- |\n%s", strings.Join(lines, "\n"))
}
