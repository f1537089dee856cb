package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-db/strata/go/strata"
)

var smokeUsage = usage{
	name:    "smoke",
	args:    "[--dir DIR]",
	summary: "Check reads, writes, iterators, 64 OS threads and recovery; exit 1 if a check fails.",
	example: "strata smoke --dir /tmp/strata-smoke",
}

// The concurrent phase: smokeGoroutines goroutines, each locked to its own OS thread, each
// doing smokeOps operations on smokeKeys keys of its own.
const (
	smokeGoroutines = 64
	smokeOps        = 1000
	smokeKeys       = 128
)

// runSmoke implements `strata smoke`: it prints one line per check ("ok   name: detail" or
// "FAIL name: reason") and a summary line, and exits 1 with an error on stderr if any check
// failed.
func runSmoke(args []string, stdout, stderr io.Writer) int {
	fs := smokeUsage.flags()
	dir := fs.String("dir", "", "database `directory`; may hold an earlier database (default: a new temporary directory, removed afterwards)")
	if code, ok := smokeUsage.parse(fs, args, 0, stdout, stderr); !ok {
		return code
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "strata-smoke-")
		if err != nil {
			return fail(stderr, err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	s := &smoke{
		dir: *dir,
		// Keys are unique to this run, so a database used before does not disturb the checks.
		prefix: fmt.Sprintf("smoke-%d/", time.Now().UnixNano()),
		want:   make(map[string]wantValue),
	}
	if !s.run(stdout) {
		return fail(stderr, errors.New("smoke checks failed; the FAIL lines on stdout say why"))
	}
	return exitOK
}

// smoke is one run of the smoke checks against one directory.
type smoke struct {
	dir    string
	prefix string
	db     *strata.DB // nil while closed
	// want holds the final state of every key this run wrote and had acknowledged; the
	// reopen check compares the recovered database against it.
	want map[string]wantValue
}

// wantValue is the state a key must have: a value, or absent (deleted, or never written).
type wantValue struct {
	value  string
	absent bool
}

// smokeCheck is one check. run returns a detail for the "ok" line, or the failure.
type smokeCheck struct {
	name string
	run  func() (string, error)
}

// run runs the checks in order, printing a line for each, and reports whether all passed.
// Checks after one that left the database closed are skipped, and count as not passed.
func (s *smoke) run(w io.Writer) bool {
	checks := []smokeCheck{
		{"open", s.open},
		{"put/get/delete", s.roundTrip},
		{"batch", s.batch},
		{"iterate", s.iterate},
		{"concurrent", s.concurrent},
		{"thread-local state", s.threadLocalState},
		{"reopen", s.reopen},
	}
	failed, skipped := 0, 0
	for i, c := range checks {
		if i > 0 && s.db == nil {
			fmt.Fprintf(w, "skip %s: the database is not open\n", c.name)
			skipped++
			continue
		}
		detail, err := c.run()
		switch {
		case err != nil:
			fmt.Fprintf(w, "FAIL %s: %v\n", c.name, err)
			failed++
		case detail != "":
			fmt.Fprintf(w, "ok   %s: %s\n", c.name, detail)
		default:
			fmt.Fprintf(w, "ok   %s\n", c.name)
		}
	}
	if s.db != nil {
		s.db.Close()
	}
	switch {
	case failed == 0 && skipped == 0:
		fmt.Fprintf(w, "smoke: %d checks passed\n", len(checks))
	case skipped == 0:
		fmt.Fprintf(w, "smoke: %d of %d checks failed\n", failed, len(checks))
	default:
		fmt.Fprintf(w, "smoke: %d of %d checks failed, %d skipped\n", failed, len(checks), skipped)
	}
	return failed == 0 && skipped == 0
}

func (s *smoke) key(name string) []byte { return []byte(s.prefix + name) }

func (s *smoke) open() (string, error) {
	db, err := strata.Open(s.dir, nil)
	if err != nil {
		return "", err
	}
	s.db = db
	return db.Dir(), nil
}

// put, del and write apply one write and record it in s.want once acknowledged.
func (s *smoke) put(key, value string) error {
	if err := s.db.Put(context.Background(), s.key(key), []byte(value)); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	s.want[s.prefix+key] = wantValue{value: value}
	return nil
}

func (s *smoke) del(key string) error {
	if err := s.db.Delete(context.Background(), s.key(key)); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	s.want[s.prefix+key] = wantValue{absent: true}
	return nil
}

// expect checks that key reads as w.
func (s *smoke) expect(key string, w wantValue) error {
	return expectGet(s.db, s.prefix+key, w)
}

// expectGet checks that key reads as w from db.
func expectGet(db *strata.DB, key string, w wantValue) error {
	got, err := db.Get(context.Background(), []byte(key))
	switch {
	case w.absent && errors.Is(err, strata.ErrNotFound):
		return nil
	case w.absent && err == nil:
		return fmt.Errorf("get %q: got %q, want not found", key, got)
	case err != nil:
		return fmt.Errorf("get %q: %w", key, err)
	case string(got) != w.value:
		return fmt.Errorf("get %q: got %q, want %q", key, got, w.value)
	}
	return nil
}

// roundTrip: put, overwrite, get, delete; an empty value is a value, not a missing key.
func (s *smoke) roundTrip() (string, error) {
	steps := []func() error{
		func() error { return s.put("rt/a", "one") },
		func() error { return s.expect("rt/a", wantValue{value: "one"}) },
		func() error { return s.put("rt/a", "two") },
		func() error { return s.expect("rt/a", wantValue{value: "two"}) },
		func() error { return s.del("rt/a") },
		func() error { return s.expect("rt/a", wantValue{absent: true}) },
		func() error { return s.del("rt/a") }, // deleting a missing key is not an error
		func() error { return s.put("rt/empty", "") },
		func() error { return s.expect("rt/empty", wantValue{}) },
	}
	return "", runSteps(steps)
}

func runSteps(steps []func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// batch: a batch of puts and a delete is applied as one write and all of it is visible; a
// batch holding an invalid operation writes nothing.
func (s *smoke) batch() (string, error) {
	for _, k := range []string{"b/a", "b/b", "b/c"} {
		if err := s.put(k, "old "+k); err != nil {
			return "", err
		}
	}
	before, err := s.db.Stats()
	if err != nil {
		return "", err
	}
	b := strata.NewBatch()
	b.Put(s.key("b/a"), []byte("new b/a"))
	b.Delete(s.key("b/b"))
	b.Put(s.key("b/d"), []byte("new b/d"))
	b.Put(s.key("b/e"), []byte("new b/e"))
	if err := s.db.Write(context.Background(), b); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	s.want[s.prefix+"b/a"] = wantValue{value: "new b/a"}
	s.want[s.prefix+"b/b"] = wantValue{absent: true}
	s.want[s.prefix+"b/d"] = wantValue{value: "new b/d"}
	s.want[s.prefix+"b/e"] = wantValue{value: "new b/e"}
	after, err := s.db.Stats()
	if err != nil {
		return "", err
	}
	if n := after.BatchesWritten - before.BatchesWritten; n != 1 {
		return "", fmt.Errorf("a batch of %d operations counted as %d writes, want 1", b.Len(), n)
	}
	for _, k := range []string{"b/a", "b/b", "b/c", "b/d", "b/e"} {
		if err := s.expect(k, s.want[s.prefix+k]); err != nil {
			return "", err
		}
	}

	bad := strata.NewBatch()
	bad.Put(s.key("b/f"), []byte("never written"))
	bad.Put(nil, []byte("empty key"))
	if err := s.db.Write(context.Background(), bad); !errors.Is(err, strata.ErrInvalidArgument) {
		return "", fmt.Errorf("write of a batch with an empty key: got %v, want ErrInvalidArgument", err)
	}
	if err := s.expect("b/f", wantValue{absent: true}); err != nil {
		return "", fmt.Errorf("after a rejected batch: %w", err)
	}
	return "", nil
}

// iterate: bounded iterators return exactly the keys in [start, end), in order, forward and
// reverse, from a snapshot that later writes do not change.
func (s *smoke) iterate() (string, error) {
	b := strata.NewBatch()
	for c := 'a'; c <= 'j'; c++ {
		k := "it/" + string(c)
		b.Put(s.key(k), []byte("value "+k))
		s.want[s.prefix+k] = wantValue{value: "value " + k}
	}
	if err := s.db.Write(context.Background(), b); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	cases := []struct {
		name       string
		start, end string // under s.prefix
		reverse    bool
		want       string // last letters of the keys, in order
	}{
		{"forward [c, h)", "it/c", "it/h", false, "cdefg"},
		{"reverse [c, h)", "it/c", "it/h", true, "gfedc"},
		{"forward [h, end)", "it/h", "it0", false, "hij"}, // '0' follows '/'
		{"reverse [start, d)", "it/", "it/d", true, "cba"},
		{"forward [c, c)", "it/c", "it/c", false, ""},
	}
	for _, c := range cases {
		opts := &strata.IterOptions{Start: s.key(c.start), End: s.key(c.end), Reverse: c.reverse}
		if err := s.expectIter(opts, c.want, nil); err != nil {
			return "", fmt.Errorf("%s: %w", c.name, err)
		}
	}
	// A key written while an iterator is open must not appear in it.
	opts := &strata.IterOptions{Start: s.key("it/c"), End: s.key("it/e")}
	write := func() error { return s.put("it/cc", "written after the snapshot") }
	if err := s.expectIter(opts, "cd", write); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	return "", nil
}

// expectIter checks that the iterator opts describes yields the "it/" keys whose last letters
// are want, with their values. between, if set, runs after the iterator is open.
func (s *smoke) expectIter(opts *strata.IterOptions, want string, between func() error) error {
	it, err := s.db.NewIterator(context.Background(), opts)
	if err != nil {
		return err
	}
	defer it.Close()
	if between != nil {
		if err := between(); err != nil {
			return err
		}
	}
	var got, wantKeys []string
	for it.Next() {
		k, v := string(it.Key()), string(it.Value())
		if w := s.want[k]; w.absent || v != w.value {
			return fmt.Errorf("key %q has value %q, want %q", k, v, w.value)
		}
		got = append(got, strings.TrimPrefix(k, s.prefix+"it/"))
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, c := range want {
		wantKeys = append(wantKeys, string(c))
	}
	if !slices.Equal(got, wantKeys) {
		return fmt.Errorf("got keys %q, want %q", got, wantKeys)
	}
	return nil
}

// concurrent runs the workers, each locked to its own OS thread, and merges what they wrote
// into s.want. A failed worker stops; what it had acknowledged is still kept.
func (s *smoke) concurrent() (string, error) {
	results := make([]worker, smokeGoroutines)
	var wg sync.WaitGroup
	start := time.Now()
	for g := range results {
		results[g] = worker{db: s.db, prefix: fmt.Sprintf("%sg%02d/", s.prefix, g), seed: uint64(g)}
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			w.run()
		}(&results[g])
	}
	wg.Wait()
	elapsed := time.Since(start)

	var errs []error
	ops := 0
	for _, w := range results {
		for k, v := range w.want {
			s.want[k] = v
		}
		ops += w.ops
		if w.err != nil {
			errs = append(errs, w.err)
		}
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%d of %d goroutines failed; first: %w", len(errs), smokeGoroutines, errs[0])
	}
	return fmt.Sprintf("%d goroutines x %d ops in %v (%.0f ops/s)",
		smokeGoroutines, smokeOps, elapsed.Round(time.Millisecond), float64(ops)/elapsed.Seconds()), nil
}

// worker is one goroutine of the concurrent check. It works on keys under its own prefix and
// verifies each read against what it wrote itself.
type worker struct {
	db     *strata.DB
	prefix string
	seed   uint64

	want map[string]wantValue // acknowledged writes
	ops  int                  // operations completed
	err  error                // the first failure, which stopped the worker
}

// run does smokeOps random operations: puts, gets, deletes and batches of 2 to 5 writes.
func (w *worker) run() {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(w.seed, 0x5eed))
	w.want = make(map[string]wantValue)
	key := func() string { return fmt.Sprintf("%sk%03d", w.prefix, rng.IntN(smokeKeys)) }
	for i := range smokeOps {
		value := fmt.Sprintf("%sop%04d", w.prefix, i)
		switch r := rng.IntN(100); {
		case r < 35:
			k := key()
			if w.err = w.db.Put(ctx, []byte(k), []byte(value)); w.err != nil {
				return
			}
			w.want[k] = wantValue{value: value}
		case r < 65:
			// A key never written reads as absent, as a deleted one does.
			k := key()
			got, ok := w.want[k]
			if !ok {
				got.absent = true
			}
			if w.err = expectGet(w.db, k, got); w.err != nil {
				return
			}
		case r < 80:
			k := key()
			if w.err = w.db.Delete(ctx, []byte(k)); w.err != nil {
				return
			}
			w.want[k] = wantValue{absent: true}
		default:
			w.err = w.batch(ctx, rng, key, value)
			if w.err != nil {
				return
			}
		}
		w.ops++
	}
}

// batch writes a batch of 2 to 5 puts and deletes, recording them once acknowledged.
func (w *worker) batch(ctx context.Context, rng *rand.Rand, key func() string, value string) error {
	b := strata.NewBatch()
	keys := make([]string, 2+rng.IntN(4))
	deletes := make([]bool, len(keys))
	for j := range keys {
		keys[j], deletes[j] = key(), rng.IntN(3) == 0
		if deletes[j] {
			b.Delete([]byte(keys[j]))
		} else {
			b.Put([]byte(keys[j]), []byte(value))
		}
	}
	if err := w.db.Write(ctx, b); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	// In order: the last operation on a key in the batch wins.
	for j, k := range keys {
		w.want[k] = wantValue{value: value, absent: deletes[j]}
	}
	return nil
}

// threadLocalState: cgo calls arrived from many locked OS threads, yet engine thread-local
// state was only ever initialized on strata's own threads.
func (s *smoke) threadLocalState() (string, error) {
	st, err := s.db.Stats()
	switch {
	case err != nil:
		return "", err
	case st.StrataThreads == 0:
		return "", errors.New("StrataThreads is 0: strata reports no threads of its own")
	case st.TLSInits != st.StrataThreads:
		return "", fmt.Errorf("TLSInits %d != StrataThreads %d: engine code ran on a thread strata does not own", st.TLSInits, st.StrataThreads)
	}
	return fmt.Sprintf("TLSInits %d == StrataThreads %d", st.TLSInits, st.StrataThreads), nil
}

// reopen closes and reopens the database, then checks that every acknowledged write survived
// (point reads, and a scan of this run's keys that must match exactly) and that recovery
// replayed the log.
func (s *smoke) reopen() (string, error) {
	db := s.db
	s.db = nil
	if err := db.Close(); err != nil {
		return "", err
	}
	if _, err := s.open(); err != nil {
		return "", err
	}
	st, err := s.db.Stats()
	if err != nil {
		return "", err
	}
	if st.RecoveredBatches == 0 {
		return "", errors.New("RecoveredBatches is 0 after reopening")
	}
	live := 0
	for k, w := range s.want {
		if err := expectGet(s.db, k, w); err != nil {
			return "", err
		}
		if !w.absent {
			live++
		}
	}
	if err := s.scanMatchesWant(live); err != nil {
		return "", err
	}
	db = s.db
	s.db = nil
	if err := db.Close(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d keys verified (%d present, %d absent), %d batches recovered",
		len(s.want), live, len(s.want)-live, st.RecoveredBatches), nil
}

// scanMatchesWant checks that a scan of this run's keys returns exactly the live keys of
// s.want with their values.
func (s *smoke) scanMatchesWant(live int) error {
	end := []byte(s.prefix)
	end[len(end)-1]++ // the prefix ends in '/'; '0' follows it
	it, err := s.db.NewIterator(context.Background(), &strata.IterOptions{Start: []byte(s.prefix), End: end})
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	var prev []byte
	for it.Next() {
		k, v := string(it.Key()), string(it.Value())
		if prev != nil && bytes.Compare(prev, it.Key()) >= 0 {
			return fmt.Errorf("scan: key %q after %q", k, prev)
		}
		prev = append(prev[:0], it.Key()...)
		if w, ok := s.want[k]; !ok || w.absent || w.value != v {
			return fmt.Errorf("scan: unexpected %q = %q", k, v)
		}
		n++
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	if n != live {
		return fmt.Errorf("scan: %d keys, want %d", n, live)
	}
	return nil
}
