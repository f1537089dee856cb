package strata

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

type kv struct{ k, v string }

func collect(t *testing.T, db *DB, opts *IterOptions) []kv {
	t.Helper()
	it, err := db.NewIterator(context.Background(), opts)
	return collectIter(t, it, err)
}

// modelRange is the reference: the model's entries in [start, end), in the asked direction.
func modelRange(model map[string]string, start, end string, reverse bool) []kv {
	var out []kv
	for k, v := range model {
		if (start == "" || k >= start) && (end == "" || k < end) {
			out = append(out, kv{k, v})
		}
	}
	slices.SortFunc(out, func(a, b kv) int {
		if reverse {
			a, b = b, a
		}
		return bytes.Compare([]byte(a.k), []byte(b.k))
	})
	return out
}

func TestIterationMatchesAModel(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{}
	for i := range 3000 {
		k := fmt.Sprintf("key%04d", rng.IntN(1500))
		if rng.IntN(4) == 0 {
			if err := db.Delete(ctx, []byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
			continue
		}
		v := fmt.Sprintf("v%d", i)
		mustPut(t, db, k, v)
		model[k] = v
	}
	bounds := [][2]string{{"", ""}, {"key0100", "key0900"}, {"key0500", ""}, {"", "key0003"}, {"key0700", "key0700"}, {"key0900", "key0100"}}
	for _, b := range bounds {
		for _, reverse := range []bool{false, true} {
			opts := &IterOptions{Start: []byte(b[0]), End: []byte(b[1]), Reverse: reverse}
			got := collect(t, db, opts)
			want := modelRange(model, b[0], b[1], reverse)
			if !slices.Equal(got, want) {
				t.Fatalf("bounds %q reverse=%v: got %d entries, want %d", b, reverse, len(got), len(want))
			}
		}
	}
}

func TestIteratorReadsASnapshot(t *testing.T) {
	db := openTest(t, nil)
	ctx := context.Background()
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "old")
	}
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	// Writes after the iterator opened, including while it is mid-way, stay invisible to it.
	n := 0
	for it.Next() {
		if string(it.Value()) != "old" {
			t.Fatalf("iterator saw a later write at %q", it.Key())
		}
		if n == 10 {
			mustPut(t, db, "k050", "new")
			mustPut(t, db, "k999", "new")
			if err := db.Delete(ctx, []byte("k080")); err != nil {
				t.Fatal(err)
			}
		}
		n++
	}
	if it.Err() != nil || n != 100 {
		t.Fatalf("iterated %d entries, err %v; want 100", n, it.Err())
	}
	s, _ := db.Stats()
	if s.OpenIterators != 1 || s.Snapshots != 1 {
		t.Fatalf("stats while open: %d iterators, %d snapshots", s.OpenIterators, s.Snapshots)
	}
	it.Close()
	wantValue(t, db, "k050", "new")
}

func TestIteratorAbandonedHalfWayIsReleasedByClose(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	for i := range 500 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "v")
	}
	for range 50 {
		it, err := db.NewIterator(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		it.Next()
		it.Next()
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if it.Next() {
			t.Fatal("Next after Close returned true")
		}
	}
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.OpenIterators != 0 || s.Snapshots != 0 {
		t.Fatalf("after Close: %d open iterators, %d snapshots", s.OpenIterators, s.Snapshots)
	}
}

// TestScanChunkFollowsHowFarIteratorsRead: the first chunk after an open or a seek grows to
// what the database's iterators read past it, an eighth more and one (a scan of 100 then
// crosses once, its chunk holding 113), halves when they read under a quarter of it, loses a
// sixteenth when they read less than it less that room, so scans of one length settle on it
// (scans of 10 on chunks of 12), stays put when the range, not the reader, ended the scan, when
// the iterator read nothing and when it turned where a seek landed, and keeps between minChunk
// and maxChunk entries.
func TestScanChunkFollowsHowFarIteratorsRead(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	b := NewBatch()
	for i := range 2000 {
		b.Put(fmt.Appendf(nil, "k%04d", i), []byte("v"))
	}
	if err := db.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	// scan opens an iterator over opts, reads up to n entries, and returns how many entries
	// the open's first chunk held.
	scan := func(opts *IterOptions, n int) int {
		it, err := db.NewIterator(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		first := chunkEntries(it.chunk)
		for i := 0; i < n && it.Next(); i++ {
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return first
	}
	steps := []struct {
		what       string
		opts       *IterOptions
		read       int
		wantChunk  int    // entries in the open's first chunk
		wantLearnt uint32 // scanEntries after the scan
	}{
		{"a scan of 10: less than the chunk less its room", nil, 10, firstChunk, 15},
		{"a scan of 100", nil, 100, 15, 113},
		{"a scan of 100 again: one chunk", nil, 100, 113, 113},
		{"an iterator that read nothing", nil, 0, 113, 113},
		{"a scan of 20: under a quarter", nil, 20, 113, 56},
		{"a scan of 20 again: a sixteenth off", nil, 20, 56, 53},
		{"a range of 10 read in part: the range ended it", &IterOptions{Prefix: []byte("k000")}, 3, 10, 53},
		{"a long scan", nil, 1500, 53, maxChunk},
		{"a scan of 1", nil, 1, maxChunk, maxChunk / 2},
		{"a scan of 1 again", nil, 1, maxChunk / 2, maxChunk / 4},
		{"a scan of 20: a sixteenth off", nil, 20, maxChunk / 4, 60},
	}
	for _, st := range steps {
		if got := scan(st.opts, st.read); got != st.wantChunk {
			t.Fatalf("%s: the first chunk held %d entries, want %d", st.what, got, st.wantChunk)
		}
		if got := db.scanEntries.Load(); got != st.wantLearnt {
			t.Fatalf("%s: the next first chunk asks for %d entries, want %d", st.what, got, st.wantLearnt)
		}
	}
	// Scans of one length settle on it and its room, and stay there.
	for range 30 {
		scan(nil, 10)
	}
	if got := db.scanEntries.Load(); got != uint32(withRoom(10)) {
		t.Fatalf("after scans of 10: the next first chunk asks for %d entries, want %d", got, withRoom(10))
	}
	if got := scan(nil, 10); got != withRoom(10) || db.scanEntries.Load() != uint32(withRoom(10)) {
		t.Fatalf("one more scan of 10: its chunk held %d entries and the next asks for %d, want %d both", got, db.scanEntries.Load(), withRoom(10))
	}
	// A scan of 1 among them asks for minChunk at least.
	db.scanEntries.Store(minChunk + 1)
	scan(nil, 1)
	if got := db.scanEntries.Load(); got != minChunk {
		t.Fatalf("a scan of 1 after a chunk of %d: the next asks for %d, want %d", minChunk+1, got, minChunk)
	}
	// Seeks learn and ask alike: a seek read 200 entries past, the next one's chunk holds 226.
	it, err := db.NewIterator(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	// A turn-around where a seek landed is no short scan of 1 entry: nothing learned from it.
	db.scanEntries.Store(64)
	if !it.SeekGE([]byte("k0100")) || !it.Prev() || string(it.Key()) != "k0099" {
		t.Fatalf("a SeekGE to k0100 and a Prev: at %q, want k0099", it.Key())
	}
	if got := db.scanEntries.Load(); got != 64 {
		t.Fatalf("after a seek and a turn where it landed: the next first chunk asks for %d entries, want 64", got)
	}
	it.SeekGE([]byte("k0100"))
	for i := 1; i < 200 && it.Next(); i++ {
	}
	it.SeekGE([]byte("k0500"))
	if got := chunkEntries(it.chunk); got != withRoom(200) || string(it.Key()) != "k0500" {
		t.Fatalf("after a seek that read 200: the next seek's chunk held %d entries from %q, want %d from k0500", got, it.Key(), withRoom(200))
	}
	// Seeks each followed by 10 Prevs learn from the walk back, whether the entries behind
	// came with the seek or by a seek of their own: from the smallest first chunk, the chunk
	// grows to hold them, and a seek then brings them all.
	for _, behind := range []int32{2, 1} {
		db.turns.force.Store(behind)
		it, err := db.NewIterator(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		db.scanEntries.Store(minChunk) // the open read nothing: its first seek learns nothing
		for range 3 {
			if !it.SeekGE([]byte("k1000")) {
				t.Fatal("SeekGE k1000 found nothing")
			}
			for i := range 10 {
				if !it.Prev() || string(it.Key()) != fmt.Sprintf("k%04d", 999-i) {
					t.Fatalf("Prev %d after SeekGE k1000: at %q", i+1, it.Key())
				}
			}
		}
		it.SeekGE([]byte("k1500"))
		if got := db.scanEntries.Load(); got != uint32(withRoom(10)) {
			t.Fatalf("after seeks and 10 Prevs (force %d): the next first chunk asks for %d entries, want %d", behind, got, withRoom(10))
		}
	}
	db.turns.force.Store(0)
}

// chunkEntries counts the entries of a chunk as strata_iter_next encodes it.
func chunkEntries(chunk []byte) int {
	n := 0
	for pos := 0; pos < len(chunk); n++ {
		kl := int(binary.LittleEndian.Uint32(chunk[pos:]))
		vl := int(binary.LittleEndian.Uint32(chunk[pos+4:]))
		pos += 8 + kl + vl
	}
	return n
}

// TestIteratorMovesWaitingInTheirOwnCall: a lone caller's seeks and chunk fetches wait in one
// cgo call (strata_iter_seek_wait, strata_iter_next_wait) and read what the same moves read
// through the queue: seeks either way, turning around, chunks past the first (larger than the
// call's scratch buffer), bounds changed by SetBounds, and a seek refused for a key over
// MaxKeySize.
func TestIteratorMovesWaitingInTheirOwnCall(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	big := strings.Repeat("v", 1000) // 32 entries of a second chunk: past the 4 KiB scratch
	for i := range 60 {
		mustPut(t, db, fmt.Sprintf("k%02d", i), big+fmt.Sprintf("k%02d", i))
	}
	// moves runs the same moves on a fresh iterator and says what each found; waited counts
	// the moves that waited in their own call.
	moves := func(force int32) (found []string, waited int64) {
		iterMoves.force.Store(force)
		defer iterMoves.force.Store(0)
		db.scanEntries.Store(0) // both runs ask for the same chunks
		it, err := db.NewIterator(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		at := func(what string, ok bool) {
			completions.sharedAt.Store(-int64(time.Hour))
			if ok && string(it.Value()) != big+string(it.Key()) {
				t.Fatalf("%s: value of %q is wrong (%d bytes)", what, it.Key(), len(it.Value()))
			}
			found = append(found, fmt.Sprintf("%s=%s/%v", what, it.Key(), ok))
		}
		before := callsWaited.Load()
		for ok := it.Next(); ok; ok = it.Next() {
			at("next", ok)
		}
		at("seekge k20", it.SeekGE([]byte("k20")))
		at("prev", it.Prev()) // turning around: a seek below k20
		at("prev", it.Prev())
		at("next", it.Next()) // and back up
		at("seeklt k05", it.SeekLT([]byte("k05")))
		for ok := it.Prev(); ok; ok = it.Prev() {
			at("prev", ok)
		}
		at("last", it.Last())
		at("first", it.First())
		it.SetBounds([]byte("k30"), []byte("k33"))
		for ok := it.Next(); ok; ok = it.Next() {
			at("bounded next", ok)
		}
		if it.SeekGE(make([]byte, MaxKeySize+1)) || !errors.Is(it.Err(), ErrInvalidArgument) {
			t.Fatalf("a seek past MaxKeySize: %v, want ErrInvalidArgument", it.Err())
		}
		return found, callsWaited.Load() - before
	}
	completions.sharedAt.Store(-int64(time.Hour))
	queued, none := moves(2)
	completions.sharedAt.Store(-int64(time.Hour))
	waiting, waited := moves(1)
	if !slices.Equal(waiting, queued) {
		t.Fatalf("waiting in the call read\n%v\nthrough the queue\n%v", waiting, queued)
	}
	if none != 0 || waited < 8 {
		t.Fatalf("%d moves waited in their own call through the queue, %d when made to wait, want 0 and at least 8", none, waited)
	}
	if len(queued) != 60+4+5+2+3 {
		t.Fatalf("the moves found %d positions, want %d: %v", len(queued), 60+4+5+2+3, queued)
	}
}

// TestSeeksBringTheEntriesBehindThemOnceIteratorsTurnAround: after an iterator turned around
// where a seek landed, the database's seeks bring the entries behind them (STRATA_SEEK_BEHIND),
// so a SeekGE and ten Prevs cross once; going on past those entries, and the ends of the range
// and of its bounds, read what they should; seeks that are not turned from stop bringing them.
func TestSeeksBringTheEntriesBehindThemOnceIteratorsTurnAround(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, &Options{NoSync: true})
	writeNumbered(t, db, 200, "k%03d", "v%03d")
	it, err := db.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	// moves runs seek and then step n times (Next or Prev), and returns the keys it was on
	// and the requests the moves made (each takes a token).
	moves := func(seek func() bool, step func() bool, n int) (keys []string, requests uint64) {
		before := completions.token.Load()
		ok := seek()
		for i := 0; ; i++ {
			if !ok {
				keys = append(keys, "-")
				break
			}
			if want := "v" + string(it.Key()[1:]); string(it.Value()) != want {
				t.Fatalf("at %q the value is %q, want %q", it.Key(), it.Value(), want)
			}
			keys = append(keys, string(it.Key()))
			if i == n {
				break
			}
			ok = step()
		}
		return keys, completions.token.Load() - before
	}
	seekGE := func(k string) func() bool { return func() bool { return it.SeekGE([]byte(k)) } }
	seekLT := func(k string) func() bool { return func() bool { return it.SeekLT([]byte(k)) } }
	span := func(from, to int) []string { // keys from..to, either way
		var keys []string
		for i := from; ; {
			keys = append(keys, fmt.Sprintf("k%03d", i))
			if i == to {
				return keys
			}
			if from < to {
				i++
			} else {
				i--
			}
		}
	}
	check := func(what string, keys []string, requests uint64, wantKeys []string, wantRequests uint64) {
		t.Helper()
		if !slices.Equal(keys, wantKeys) || requests != wantRequests {
			t.Fatalf("%s: read %v in %d requests, want %v in %d", what, keys, requests, wantKeys, wantRequests)
		}
	}
	db.turns.credit.Store(0)
	keys, n := moves(seekGE("k100"), it.Prev, 10)
	check("a first SeekGE and 10 Prevs", keys, n, span(100, 90), 2)
	keys, n = moves(seekGE("k150"), it.Prev, 10)
	check("once learned", keys, n, span(150, 140), 1)
	keys, n = moves(seekGE("k050"), it.Prev, 20)
	check("past the 16 entries behind", keys, n, span(50, 30), 2)
	keys, n = moves(seekLT("k060"), it.Next, 5)
	check("a SeekLT and Nexts", keys, n, span(59, 64), 1)
	// Off either end of the range: the entries behind are its last (or first) ones.
	keys, n = moves(func() bool { return !it.SeekGE([]byte("k999")) && it.Prev() }, it.Prev, 2)
	check("a SeekGE past the last key, then Prevs", keys, n, span(199, 197), 1)
	keys, n = moves(func() bool { return !it.SeekLT([]byte("k000")) && it.Next() }, it.Next, 2)
	check("a SeekLT before the first key, then Nexts", keys, n, span(0, 2), 1)
	// Within bounds, the entries behind end at the bound.
	it.SetBounds([]byte("k010"), []byte("k020"))
	keys, n = moves(seekGE("k015"), it.Prev, 6)
	check("a bounded SeekGE and Prevs", keys, n, append(span(15, 10), "-"), 1)
	it.SetBounds(nil, nil)
	// Seeks read onwards stop bringing them after turnMemory of them, not before.
	for onwards := turnMemory - 1; onwards <= turnMemory; onwards++ {
		for i := range onwards {
			keys, n = moves(seekGE(fmt.Sprintf("k%03d", 20*i)), it.Next, 1)
			check("a SeekGE and a Next", keys, n, span(20*i, 20*i+1), 1)
		}
		want := uint64(1)
		if onwards == turnMemory {
			want = 2
		}
		keys, n = moves(seekGE("k100"), it.Prev, 1)
		check(fmt.Sprintf("a SeekGE and a Prev after %d seeks read onwards", onwards), keys, n, span(100, 99), want)
	}
}

// TestIteratorOpensWaitingInTheirOwnCall: a lone caller's iterator opens wait in one cgo call
// (strata_iter_open_wait) and behave as through the queue: forward, reverse and bounded
// scans read the same entries, a first chunk larger than the call's scratch buffer comes back
// whole, a cancellable context works, and a refused open reports why.
func TestIteratorOpensWaitingInTheirOwnCall(t *testing.T) {
	iterOpens.force.Store(1)
	defer iterOpens.force.Store(0)
	db := openTest(t, &Options{NoSync: true})
	big := strings.Repeat("v", 1000) // 16 entries of the first chunk: past the 4 KiB scratch
	var keys []string
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		keys = append(keys, k)
		mustPut(t, db, k, big+k)
	}
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	cases := []struct {
		name string
		ctx  context.Context
		opts *IterOptions
		want []string
	}{
		{"all", context.Background(), nil, keys},
		{"reverse", context.Background(), &IterOptions{Reverse: true}, reversed(keys)},
		{"bounded", cancellable, &IterOptions{Start: []byte("k10"), End: []byte("k13")}, keys[10:13]},
	}
	for _, tc := range cases {
		completions.sharedAt.Store(-int64(time.Hour))
		before := callsWaited.Load()
		it, err := db.NewIterator(tc.ctx, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := callsWaited.Load() - before; n != 1 {
			t.Fatalf("%s: %d opens waited in their own call, want 1", tc.name, n)
		}
		var got []string
		for it.Next() {
			if string(it.Value()) != big+string(it.Key()) {
				t.Fatalf("%s: value of %q is wrong (%d bytes)", tc.name, it.Key(), len(it.Value()))
			}
			got = append(got, string(it.Key()))
		}
		if err := it.Close(); err != nil {
			t.Fatalf("%s: close: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("%s: read %v, want %v", tc.name, got, tc.want)
		}
	}
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	completions.sharedAt.Store(-int64(time.Hour))
	before := callsWaited.Load()
	if _, err := db.newIterator(context.Background(), "new iterator", snap.handle, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("iterator over a closed snapshot: %v, want ErrClosed", err)
	}
	if n := callsWaited.Load() - before; n != 1 {
		t.Fatalf("the refused open: %d waited in their own call, want 1", n)
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// TestPathChooserTakesTheFasterWayAndKeepsLooking: a lone caller samples both ways first, then
// takes the faster one, and the slower one for one block of chooserBurst calls every
// chooserPeriod; when the slower way becomes the faster, the choice follows. Only calls in the
// second half of a block are timed.
func TestPathChooserTakesTheFasterWayAndKeepsLooking(t *testing.T) {
	var p pathChooser
	ago := func(d time.Duration) time.Time { return time.Now().Add(-d) }
	// run makes calls calls, each taking the time its way takes now; it returns how many waited.
	wait, queue := time.Millisecond, 10*time.Microsecond
	run := func(calls int) (waited int) {
		for range calls {
			waiting, started := p.choose()
			if !started.IsZero() {
				d := queue
				if waiting {
					d = wait
				}
				started = ago(d)
			}
			p.record(waiting, started)
			if waiting {
				waited++
			}
		}
		return waited
	}
	// The first calls sample both ways.
	run(chooserPeriod)
	if p.waitNs.Load() == 0 || p.queueNs.Load() == 0 {
		t.Fatalf("after %d calls: averages %d ns waiting, %d ns queued; want both sampled", chooserPeriod, p.waitNs.Load(), p.queueNs.Load())
	}
	// From here on the queue is faster: only the exploring block of each period waits.
	if waited := run(10 * chooserPeriod); waited != 10*chooserBurst {
		t.Fatalf("queue faster: waited %d of %d calls, want %d", waited, 10*chooserPeriod, 10*chooserBurst)
	}
	// The machine gets busy: the queue now takes 10 ms, the wait 1 ms. The next exploring
	// block's samples pull the wait's average under the queue's within a few periods.
	queue = 10 * time.Millisecond
	run(4 * chooserPeriod)
	if waited := run(10 * chooserPeriod); waited != 10*chooserPeriod-10*chooserBurst {
		t.Fatalf("waiting faster: waited %d of %d calls, want all but %d", waited, 10*chooserPeriod, 10*chooserBurst)
	}
	p.force.Store(2)
	if waiting, started := p.choose(); waiting || !started.IsZero() {
		t.Fatal("forced to the queue: chose to wait, or timed the call")
	}
}

// TestPrefixIterationMatchesAModel: keys from a small alphabet that includes 0x00 and 0xff (so
// prefixes of 0xff bytes, which have no end key, come up), random prefixes with and without
// bounds, both directions, against a filter of the model.
func TestPrefixIterationMatchesAModel(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{0x00, 'a', 'b', 0xfe, 0xff}
	word := func(max int) string {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	model := map[string]string{}
	for range 2000 {
		k := word(4)
		if k == "" {
			continue
		}
		model[k] = fmt.Sprint(len(model))
		if err := db.Put(ctx, []byte(k), []byte(model[k])); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		prefix, start, end := word(3), "", ""
		if i%3 == 1 {
			start = word(3)
		}
		if i%3 == 2 {
			end = word(3)
		}
		reverse := i%2 == 1
		var want []kv
		for _, e := range modelRange(model, start, end, reverse) {
			if strings.HasPrefix(e.k, prefix) {
				want = append(want, e)
			}
		}
		got := collect(t, db, &IterOptions{Prefix: []byte(prefix), Start: []byte(start), End: []byte(end), Reverse: reverse})
		if !slices.Equal(got, want) {
			t.Fatalf("prefix %x start %x end %x reverse %v: got %d entries, want %d", prefix, start, end, reverse, len(got), len(want))
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ prefix, want []byte }{
		{nil, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte("ab"), []byte("ac")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0x00}, []byte{0x01}},
	} {
		if got := PrefixEnd(c.prefix); !bytes.Equal(got, c.want) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.prefix, got, c.want)
		}
	}
}

// posModel is a positioned iterator over a model's sorted keys, the reference for the
// engine's: i is the index of the current key in keys (the keys within the bounds), -1 before
// the first and len(keys) after the last.
type posModel struct {
	all   map[string]string // every key of the snapshot read, with its value
	keys  []string
	i     int
	fresh bool // never moved since it opened or its bounds were set
}

func newPosModel(all map[string]string, lo, hi string) *posModel {
	m := &posModel{all: all}
	m.setBounds(lo, hi)
	return m
}

func (m *posModel) setBounds(lo, hi string) {
	m.keys, m.i, m.fresh = nil, -1, true
	for _, e := range modelRange(m.all, lo, hi, false) {
		m.keys = append(m.keys, e.k)
	}
}

func (m *posModel) valid() bool { return m.i >= 0 && m.i < len(m.keys) }

func (m *posModel) key() string {
	if m.valid() {
		return m.keys[m.i]
	}
	return ""
}

// positioned is what posMove drives: Iterator, and TxIterator.
type positioned interface {
	Next() bool
	Prev() bool
	First() bool
	Last() bool
	SeekGE(key []byte) bool
	SeekLT(key []byte) bool
	SetBounds(lower, upper []byte)
	Valid() bool
	Key() []byte
	Value() []byte
	Err() error
}

// posMove applies one move to it and to m: op%20 picks Next, Prev, SeekGE or SeekLT (at key()),
// First, Last, or SetBounds (to bound()) followed by a Next or a Prev. It returns what it did,
// and an error when the iterator disagrees with the model (its position, key or value).
func posMove(it positioned, m *posModel, op int, key func() string, bound func() string) (string, error) {
	var got bool
	var did string
	switch op %= 20; {
	case op < 6:
		did, got = "next", it.Next()
		if m.i < len(m.keys) {
			m.i++
		}
	case op < 12:
		did, got = "prev", it.Prev()
		if m.fresh {
			m.i = len(m.keys) // a fresh iterator's Prev starts at the last key
		}
		if m.i >= 0 {
			m.i--
		}
	case op < 14:
		k := key()
		did, got = "seekge "+k, it.SeekGE([]byte(k))
		m.i, _ = slices.BinarySearch(m.keys, k)
	case op < 16:
		k := key()
		did, got = "seeklt "+k, it.SeekLT([]byte(k))
		i, _ := slices.BinarySearch(m.keys, k)
		m.i = i - 1
	case op < 17:
		did, got = "first", it.First()
		m.i = 0
	case op < 18:
		did, got = "last", it.Last()
		m.i = len(m.keys) - 1
	default:
		lo, hi := bound(), bound()
		it.SetBounds([]byte(lo), []byte(hi))
		m.setBounds(lo, hi)
		// Unpositioned: a Next starts at the first key, a Prev at the last.
		if op == 18 {
			did, got = "setbounds "+lo+" "+hi+"; next", it.Next()
			m.i = 0
		} else {
			did, got = "setbounds "+lo+" "+hi+"; prev", it.Prev()
			m.i = len(m.keys) - 1
		}
	}
	m.fresh = false
	m.i = min(max(m.i, -1), len(m.keys))
	if got != m.valid() || it.Valid() != got || string(it.Key()) != m.key() ||
		(got && string(it.Value()) != m.all[m.key()]) {
		return did, fmt.Errorf("%s: got %v at %q (err %v), model %v at %q", did, got, it.Key(), it.Err(), m.valid(), m.key())
	}
	return did, nil
}

// TestPositionedIteratorMatchesAModel drives First, Last, SeekGE, SeekLT, Next, Prev and
// SetBounds in random order against a model, over 3,000 keys (so runs cross many chunks and
// turn around inside and at the edges of them), on a snapshot taken before later writes; with
// seeks bringing the entries behind them as learned, always, and never.
func TestPositionedIteratorMatchesAModel(t *testing.T) {
	for _, force := range []int32{0, 1, 2} {
		t.Run(fmt.Sprintf("behind-%d", force), func(t *testing.T) {
			positionedIteratorMatchesAModel(t, force)
		})
	}
}

func positionedIteratorMatchesAModel(t *testing.T, force int32) {
	ctx := context.Background()
	db := openTest(t, &Options{NoSync: true})
	key := func(i int) string { return fmt.Sprintf("k%05d", i) }
	all := map[string]string{}
	b := NewBatch()
	for i := 0; i < 6000; i += 2 {
		all[key(i)] = "v" + key(i)
		b.Put([]byte(key(i)), []byte(all[key(i)]))
	}
	if err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	snap, err := db.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	db.turns.force.Store(force)
	mustPut(t, db, key(1), "written after the snapshot") // the snapshot must not see it
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	it, err := snap.NewIterator(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	m := newPosModel(all, "", "")
	randomKey := func() string { return key(rng.IntN(6100)) }
	randomBound := func() string {
		if rng.IntN(3) == 0 {
			return ""
		}
		return randomKey()
	}
	var ops []string
	for step := range 4000 {
		did, err := posMove(it, m, rng.IntN(20), randomKey, randomBound)
		ops = append(ops, did)
		if err != nil {
			t.Fatalf("step %d: %v; last moves %q", step, err, ops[max(0, len(ops)-8):])
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestReverseIteratorStepsInItsOwnOrder: with Reverse, Next walks down and Prev up.
func TestReverseIteratorStepsInItsOwnOrder(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	for _, k := range []string{"a", "b", "c", "d"} {
		mustPut(t, db, k, k)
	}
	it, err := db.NewIterator(context.Background(), &IterOptions{Reverse: true})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []string
	step := func(ok bool) {
		if ok {
			got = append(got, string(it.Key()))
		} else {
			got = append(got, "-")
		}
	}
	step(it.Next())              // d
	step(it.Next())              // c
	step(it.Prev())              // d
	step(it.SeekGE([]byte("b"))) // b
	step(it.Next())              // a
	step(it.Next())              // -
	step(it.Prev())              // a
	if want := []string{"d", "c", "d", "b", "a", "-", "a"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
