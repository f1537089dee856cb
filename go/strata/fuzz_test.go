package strata

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Native Go fuzzers. Their seed corpora live in testdata/fuzz/<Fuzzer>/ and run as ordinary
// tests under `go test`; to search further (cgo is fine, -race is not used for fuzzing):
//
//	go test -run XXX -fuzz FuzzOps -fuzztime 10m ./go/strata
//	go test -run XXX -fuzz FuzzDamagedFile -fuzztime 10m ./go/strata
//
// Flushes, compactions and reopens fsync even with NoSync; TMPDIR=/dev/shm (a tmpfs) makes
// them cheap and fuzzing several times faster. A failing input is written to
// testdata/fuzz/<Fuzzer>/; keep it there once the cause is fixed.

// opsOptions keep the fuzzed database fast: writes are not fsynced (Close syncs before a
// reopen, so nothing acknowledged is lost) and memtables are small.
var opsOptions = &Options{NoSync: true, MemtableBudget: 128 << 10}

// maxFuzzOps bounds the work of one input.
const maxFuzzOps = 200

// program decodes fuzz input into operations: a byte selects the operation and the bytes after
// it its arguments. Input that runs out reads as zeros.
type program struct {
	data []byte
	pos  int
}

func (p *program) done() bool { return p.pos >= len(p.data) }

func (p *program) next() byte {
	if p.done() {
		return 0
	}
	p.pos++
	return p.data[p.pos-1]
}

// key returns one of 32 keys: eight letters, each 1 to 4 times ("a", "aa", ..., "hhhh"), so
// keys share prefixes and order by length as well as by letter.
func (p *program) key() string {
	b := p.next()
	return strings.Repeat(string(rune('a'+b%8)), 1+int(b>>3)%4)
}

// bound returns an iterator or compaction bound: empty (unbounded) a quarter of the time.
func (p *program) bound() string {
	if b := p.next(); b%4 == 0 {
		return ""
	}
	return p.key()
}

// value returns a value unique to the step, 0 to 63 bytes past its prefix, or about 5 KiB
// (larger than a table block) now and then.
func (p *program) value(step int) string {
	b := p.next()
	n := int(b % 64)
	if b >= 250 {
		n = 5000
	}
	return strconv.Itoa(step) + "." + strings.Repeat("v", n)
}

// fuzzSnapshot is an open snapshot and the model state it must show.
type fuzzSnapshot struct {
	snap  *Snapshot
	model map[string]string
}

// reader is what reads go to: the database or a snapshot, with the model it must match.
type reader struct {
	name  string
	get   func(context.Context, []byte) ([]byte, error)
	iter  func(context.Context, *IterOptions) (*Iterator, error)
	model map[string]string
}

func FuzzOps(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
		defer cancel()
		dir := t.TempDir()
		db, err := Open(dir, opsOptions)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { db.Close() }()
		model := map[string]string{}
		var snaps []fuzzSnapshot
		p := &program{data: data}
		pick := func() reader {
			if s := p.next(); s%2 == 1 && len(snaps) > 0 {
				fs := snaps[int(s/2)%len(snaps)]
				return reader{"snapshot", fs.snap.Get, fs.snap.NewIterator, fs.model}
			}
			return reader{"db", db.Get, db.NewIterator, model}
		}
		for step := 0; step < maxFuzzOps && !p.done(); step++ {
			// Reads and writes are common; flushes, compactions and reopens (each a few fsyncs)
			// rarer, so an input does more of what they are there to disturb. Bytes from 220
			// up select the later operations (positioned iterators, prefixes, synced writes,
			// range deletes, transactions, disk-usage estimates), so an input saved before
			// they existed means what it did.
			op := p.next()
			if op >= 220 {
				fuzzLaterOp(t, ctx, db, op-220, p, pick, model, step)
				continue
			}
			switch op % 22 {
			case 0, 1, 2, 3, 4:
				k, v := p.key(), p.value(step)
				if err := db.Put(ctx, []byte(k), []byte(v)); err != nil {
					t.Fatalf("step %d: put %q: %v", step, k, err)
				}
				model[k] = v
			case 5, 6:
				k := p.key()
				if err := db.Delete(ctx, []byte(k)); err != nil {
					t.Fatalf("step %d: delete %q: %v", step, k, err)
				}
				delete(model, k)
			case 7, 8, 9:
				b := NewBatch()
				staged := maps.Clone(model)
				for range 1 + p.next()%8 {
					if k := p.key(); p.next()%3 == 0 {
						b.Delete([]byte(k))
						delete(staged, k)
					} else {
						v := p.value(step)
						b.Put([]byte(k), []byte(v))
						staged[k] = v
					}
				}
				if err := db.Write(ctx, b); err != nil {
					t.Fatalf("step %d: batch: %v", step, err)
				}
				model = staged
			case 10, 11, 12, 13:
				r, k := pick(), p.key()
				v, err := r.get(ctx, []byte(k))
				want, ok := r.model[k]
				switch {
				case ok && (err != nil || string(v) != want):
					t.Fatalf("step %d: %s get %q = %q, %v; want %q", step, r.name, k, v, err, want)
				case !ok && !errors.Is(err, ErrNotFound):
					t.Fatalf("step %d: %s get %q = %q, %v; want ErrNotFound", step, r.name, k, v, err)
				}
			case 14, 15, 16:
				r := pick()
				start, end, reverse := p.bound(), p.bound(), p.next()%2 == 1
				it, err := r.iter(ctx, &IterOptions{Start: []byte(start), End: []byte(end), Reverse: reverse})
				got, want := collectIter(t, it, err), modelRange(r.model, start, end, reverse)
				if !slices.Equal(got, want) {
					t.Fatalf("step %d: %s scan [%q, %q) reverse %v:\n got %v\nwant %v", step, r.name, start, end, reverse, got, want)
				}
			case 17:
				if len(snaps) == 4 {
					if err := snaps[0].snap.Close(); err != nil {
						t.Fatalf("step %d: snapshot close: %v", step, err)
					}
					snaps = snaps[1:]
				}
				s, err := db.NewSnapshot()
				if err != nil {
					t.Fatalf("step %d: snapshot: %v", step, err)
				}
				snaps = append(snaps, fuzzSnapshot{s, maps.Clone(model)})
			case 18:
				if len(snaps) > 0 {
					i := int(p.next()) % len(snaps)
					if err := snaps[i].snap.Close(); err != nil {
						t.Fatalf("step %d: snapshot close: %v", step, err)
					}
					snaps = slices.Delete(snaps, i, i+1)
				}
			case 19:
				if err := db.Flush(ctx); err != nil {
					t.Fatalf("step %d: flush: %v", step, err)
				}
			case 20:
				start, end := p.bound(), p.bound()
				if err := db.Compact(ctx, []byte(start), []byte(end)); err != nil {
					t.Fatalf("step %d: compact [%q, %q): %v", step, start, end, err)
				}
			case 21:
				// Snapshots do not survive a reopen; closing the database closes them.
				if err := db.Close(); err != nil {
					t.Fatalf("step %d: close: %v", step, err)
				}
				for _, s := range snaps {
					if _, err := s.snap.Get(ctx, []byte("a")); !errors.Is(err, ErrClosed) {
						t.Fatalf("step %d: a snapshot read after Close = %v, want ErrClosed", step, err)
					}
				}
				snaps = nil
				if db, err = Open(dir, opsOptions); err != nil {
					t.Fatalf("step %d: reopen: %v", step, err)
				}
			}
		}
		// Whatever the program did, the database ends equal to the model, and so after a reopen.
		it, err := db.NewIterator(ctx, nil)
		if got, want := collectIter(t, it, err), modelRange(model, "", "", false); !slices.Equal(got, want) {
			t.Fatalf("final scan: got %v\nwant %v", got, want)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if db, err = Open(dir, opsOptions); err != nil {
			t.Fatal(err)
		}
		it, err = db.NewIterator(ctx, nil)
		if got, want := collectIter(t, it, err), modelRange(model, "", "", false); !slices.Equal(got, want) {
			t.Fatalf("scan after the final reopen: got %v\nwant %v", got, want)
		}
	})
}

// fuzzLaterOp runs one of FuzzOps's later operations (op < 36), checking it against model.
func fuzzLaterOp(t *testing.T, ctx context.Context, db *DB, op byte, p *program, pick func() reader, model map[string]string, step int) {
	switch {
	case op < 14:
		// A positioned iterator, moved up to 16 times in any order and checked at every move.
		r := pick()
		start, end := p.bound(), p.bound()
		it, err := r.iter(ctx, &IterOptions{Start: []byte(start), End: []byte(end)})
		if err != nil {
			t.Fatalf("step %d: %s iterator: %v", step, r.name, err)
		}
		defer it.Close()
		m := newPosModel(r.model, start, end)
		for range 1 + p.next()%16 {
			if did, err := posMove(it, m, int(p.next()), p.key, p.bound); err != nil {
				t.Fatalf("step %d: %s iterator [%q, %q), %s: %v", step, r.name, start, end, did, err)
			}
		}
	case op < 20:
		r, k := pick(), p.key()
		prefix := k[:min(len(k), 1+int(p.next())%2)]
		start, reverse := p.bound(), p.next()%2 == 1
		it, err := r.iter(ctx, &IterOptions{Prefix: []byte(prefix), Start: []byte(start), Reverse: reverse})
		var want []kv
		for _, e := range modelRange(r.model, start, "", reverse) {
			if strings.HasPrefix(e.k, prefix) {
				want = append(want, e)
			}
		}
		if got := collectIter(t, it, err); !slices.Equal(got, want) {
			t.Fatalf("step %d: %s prefix %q from %q reverse %v:\n got %v\nwant %v", step, r.name, prefix, start, reverse, got, want)
		}
	case op < 24:
		k, v := p.key(), p.value(step)
		if err := db.Put(ctx, []byte(k), []byte(v), Sync); err != nil {
			t.Fatalf("step %d: synced put %q: %v", step, k, err)
		}
		model[k] = v
	case op < 28:
		fuzzDeleteRange(t, ctx, db, p, model, step)
	case op < 30:
		if err := db.Sync(ctx); err != nil {
			t.Fatalf("step %d: sync: %v", step, err)
		}
	case op < 33:
		fuzzTransaction(t, ctx, db, p, model, step)
	default:
		start, end := p.bound(), p.bound()
		part, err := db.EstimateDiskUsage(ctx, []byte(start), []byte(end))
		if err != nil {
			t.Fatalf("step %d: estimate [%q, %q): %v", step, start, end, err)
		}
		if all, err := db.EstimateDiskUsage(ctx, nil, nil); err != nil || part > all {
			t.Fatalf("step %d: estimate [%q, %q) = %d, of everything %d (%v)", step, start, end, part, all, err)
		}
	}
}

// fuzzDeleteRange deletes a range of keys, alone, in a batch between two puts (which the
// range deletes or not by their order) or synced, and applies it to the model. A range
// whose start sorts after its end must fail with ErrInvalidArgument and write nothing, the
// batch's puts included; one whose start equals its end deletes nothing. (Range deletes
// took four of the synced puts' bytes, 244 to 247, which no saved input used as an
// operation.)
func fuzzDeleteRange(t *testing.T, ctx context.Context, db *DB, p *program, model map[string]string, step int) {
	start, end := p.key(), p.key()
	staged := maps.Clone(model)
	var err error
	switch form := p.next() % 4; form {
	case 0, 1, 2:
		var opts []WriteOptions
		if form == 2 {
			opts = append(opts, Sync)
		}
		err = db.DeleteRange(ctx, []byte(start), []byte(end), opts...)
		deleteFromModel(staged, start, end)
	default:
		before, after := p.key(), p.key()
		vBefore, vAfter := p.value(step)+"<", p.value(step)+">"
		b := NewBatch()
		b.Put([]byte(before), []byte(vBefore))
		b.DeleteRange([]byte(start), []byte(end))
		b.Put([]byte(after), []byte(vAfter))
		err = db.Write(ctx, b)
		staged[before] = vBefore
		deleteFromModel(staged, start, end)
		staged[after] = vAfter
	}
	switch {
	case start > end && !errors.Is(err, ErrInvalidArgument):
		t.Fatalf("step %d: delete range [%q, %q): %v, want ErrInvalidArgument", step, start, end, err)
	case start <= end && err != nil:
		t.Fatalf("step %d: delete range [%q, %q): %v", step, start, end, err)
	case start <= end:
		clear(model)
		maps.Copy(model, staged)
	}
}

// fuzzTransaction runs one read-write transaction: a few Gets (checked against the model, the
// transaction's own writes included), writes, and meanwhile direct writes to the database;
// its Commit must fail with ErrConflict exactly when it wrote something and a direct write
// changed the value or presence of a key it read from its snapshot, and otherwise apply all
// of its writes.
func fuzzTransaction(t *testing.T, ctx context.Context, db *DB, p *program, model map[string]string, step int) {
	tx, err := db.NewTransaction(true)
	if err != nil {
		t.Fatalf("step %d: transaction: %v", step, err)
	}
	defer tx.Discard()
	begin := maps.Clone(model)
	own := map[string]*string{} // the transaction's writes: a value, or nil for a delete
	read := map[string]bool{}   // keys read from the snapshot
	for range 1 + p.next()%6 {
		switch k := p.key(); p.next() % 4 {
		case 0, 1:
			want, ok := begin[k]
			if w, mine := own[k]; mine {
				want, ok = "", w != nil
				if w != nil {
					want = *w
				}
			} else {
				read[k] = true
			}
			v, err := tx.Get(ctx, []byte(k))
			if ok != (err == nil) || (ok && string(v) != want) || (!ok && !errors.Is(err, ErrNotFound)) {
				t.Fatalf("step %d: tx get %q = %q, %v; want %q (present %v)", step, k, v, err, want, ok)
			}
		case 2:
			v := p.value(step)
			if err := tx.Put([]byte(k), []byte(v)); err != nil {
				t.Fatalf("step %d: tx put: %v", step, err)
			}
			own[k] = &v
		default:
			if err := tx.Delete([]byte(k)); err != nil {
				t.Fatalf("step %d: tx delete: %v", step, err)
			}
			own[k] = nil
		}
		if p.next()%3 == 0 { // a write committed meanwhile, outside the transaction
			k, v := p.key(), p.value(step)
			if p.next()%4 == 0 {
				v = model[k] // sometimes the value it already has: no change
			}
			if _, present := model[k]; v == "" && !present {
				continue
			}
			if err := db.Put(ctx, []byte(k), []byte(v)); err != nil {
				t.Fatalf("step %d: put %q: %v", step, k, err)
			}
			model[k] = v
		}
	}
	// A transaction that wrote nothing commits as of its snapshot, which it read whole: it
	// never conflicts.
	conflict := false
	for k := range read {
		if len(own) == 0 {
			break
		}
		then, was := begin[k]
		now, is := model[k]
		conflict = conflict || was != is || then != now
	}
	err = tx.Commit(ctx)
	switch {
	case conflict && !errors.Is(err, ErrConflict):
		t.Fatalf("step %d: commit after a read key changed: %v, want ErrConflict", step, err)
	case !conflict && err != nil:
		t.Fatalf("step %d: commit with unchanged reads: %v", step, err)
	case !conflict:
		for k, w := range own {
			if w == nil {
				delete(model, k)
			} else {
				model[k] = *w
			}
		}
	}
}

// FuzzDamagedFile damages one file of a small closed database (kind picks the WAL segment, the
// older or newer table, or the manifest; how a flip of mask at offset, a run of n zeros from
// offset, or a truncation at offset), then judges Check, Open, every Get and a full iteration
// as the corruption campaign does: ErrCorruption or exactly the acknowledged data, never wrong
// data, a panic or a hang.
func FuzzDamagedFile(f *testing.F) {
	fx := buildDamageFixture(f, f.TempDir(), 120, 12, nil)
	f.Fuzz(func(t *testing.T, kind, how uint8, offset uint32, mask, n uint8) {
		role := fileRoles[int(kind)%len(fileRoles)]
		size := len(fx.read(t, role))
		d := damage{
			how:  []string{"flip", "zero", "truncate"}[int(how)%3],
			at:   int(offset % uint32(size)),
			mask: mask,
			n:    1 + int(n)%32,
		}
		judgeDamage(t, fx, role, d)
	})
}
