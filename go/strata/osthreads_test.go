package strata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// loadSizeFromEnv returns the positive integer in the environment variable name, or def.
// Load tests take their size from it: a small CI default, more on demand.
func loadSizeFromEnv(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// How a goroutine of TestThousandsOfOSThreadsNeverRunEngineCode holds its OS thread.
const (
	// threadFree: not locked; the goroutine may move between threads between calls.
	threadFree = iota
	// threadLockedThenUnlocked: locked for all its calls, unlocked before it exits.
	threadLockedThenUnlocked
	// threadLockedAtExit: exits still locked, so Go terminates its OS thread and later
	// goroutines run on threads created after it.
	threadLockedAtExit
)

// callingThreads records the OS thread ids seen right before calls into strata.
type callingThreads struct {
	mu  sync.Mutex
	ids map[int]struct{}
}

// note records the calling goroutine's OS thread; only meaningful while it is locked to it.
func (c *callingThreads) note() {
	tid := syscall.Gettid()
	c.mu.Lock()
	c.ids[tid] = struct{}{}
	c.mu.Unlock()
}

// Thousands of goroutines, many locked to their own OS thread and some exiting while still
// locked (which makes Go retire that thread and start new ones), call every kind of operation
// at once. Results are exact, and engine thread-local state was initialized only on strata's
// own threads: however many OS threads entered strata, none ran engine code.
//
// The goroutines come in waves. Within a wave all of them hold their OS thread before any
// calls, so the locked ones call in from distinct threads at once; threads retired by one wave
// are replaced by new ones in the next, so more distinct threads call in than any one wave
// locks.
//
// STRATA_THREAD_GOROUTINES sets the number of goroutines (default 2000). They come in at least
// 4 waves of at most 2000, which keeps the live goroutines well under the race detector's limit
// and the OS threads under Go's default maximum.
func TestThousandsOfOSThreadsNeverRunEngineCode(t *testing.T) {
	goroutines := loadSizeFromEnv(t, "STRATA_THREAD_GOROUTINES", 2000)
	waves := max(4, (goroutines+1999)/2000)
	db := openTest(t, &Options{NoSync: true})
	threads := &callingThreads{ids: map[int]struct{}{}}

	errs := make(chan error, goroutines)
	lockedInAWave := 0
	for wave := range waves {
		first, end := wave*goroutines/waves, (wave+1)*goroutines/waves
		start := make(chan struct{})
		var held, wg sync.WaitGroup
		locked := 0
		for g := first; g < end; g++ {
			mode := g % 3
			if mode != threadFree {
				locked++
			}
			held.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if mode != threadFree {
					runtime.LockOSThread()
				}
				if mode == threadLockedThenUnlocked {
					defer runtime.UnlockOSThread()
				}
				held.Done()
				<-start
				note := func() {}
				if mode != threadFree {
					note = threads.note
				}
				if err := exerciseOwnKeys(db, g, note); err != nil {
					errs <- err
				}
			}()
		}
		held.Wait()
		close(start)
		wg.Wait()
		lockedInAWave = max(lockedInAWave, locked)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Each goroutine left exactly its keys b and c.
	want := make([]kv, 0, 2*goroutines)
	for g := range goroutines {
		p := ownPrefix(g)
		want = append(want, kv{p + "b", p + "b-value"}, kv{p + "c", p + "c-value"})
	}
	if got := collect(t, db, nil); !slices.Equal(got, want) {
		t.Fatalf("final scan: %d entries, want %d", len(got), len(want))
	}
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.StrataThreads == 0 || s.TLSInits != s.StrataThreads {
		t.Fatalf("TLSInits = %d, StrataThreads = %d: a thread strata does not own ran engine code", s.TLSInits, s.StrataThreads)
	}
	if s.BatchesWritten != uint64(2*goroutines) {
		t.Fatalf("BatchesWritten = %d, want %d (one put and one batch per goroutine)", s.BatchesWritten, 2*goroutines)
	}
	distinct := len(threads.ids)
	t.Logf("%d goroutines in %d waves; %d distinct OS threads called in while locked (at most %d locked at once); GOMAXPROCS %d; TLSInits = StrataThreads = %d",
		goroutines, waves, distinct, lockedInAWave, runtime.GOMAXPROCS(0), s.TLSInits)
	if distinct <= runtime.GOMAXPROCS(0) {
		t.Fatalf("only %d distinct OS threads called in; the test must drive more than GOMAXPROCS (%d)", distinct, runtime.GOMAXPROCS(0))
	}
	if distinct <= lockedInAWave {
		t.Fatalf("%d distinct OS threads called in, no more than one wave locks (%d): retired threads were not replaced", distinct, lockedInAWave)
	}
}

// ownPrefix is the key prefix goroutine g of TestThousandsOfOSThreadsNeverRunEngineCode owns.
func ownPrefix(g int) string { return fmt.Sprintf("t%06d/", g) }

// exerciseOwnKeys runs a put, a get, a batch and an iterator on goroutine g's own keys and
// checks each result. note is called right before every call that may cross into strata.
func exerciseOwnKeys(db *DB, g int, note func()) error {
	ctx := context.Background()
	p := ownPrefix(g)
	a := []byte(p + "a")
	note()
	if err := db.Put(ctx, a, []byte(p+"a-value")); err != nil {
		return fmt.Errorf("goroutine %d: put: %w", g, err)
	}
	note()
	if v, err := db.Get(ctx, a); err != nil || string(v) != p+"a-value" {
		return fmt.Errorf("goroutine %d: get = %q, %v", g, v, err)
	}
	b := NewBatch()
	b.Put([]byte(p+"b"), []byte(p+"b-value"))
	b.Put([]byte(p+"c"), []byte(p+"c-value"))
	b.Delete(a)
	note()
	if err := db.Write(ctx, b); err != nil {
		return fmt.Errorf("goroutine %d: write: %w", g, err)
	}
	note()
	if v, err := db.Get(ctx, a); !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("goroutine %d: get of the deleted key = %q, %v", g, v, err)
	}
	note()
	it, err := db.NewIterator(ctx, &IterOptions{Start: []byte(p), End: []byte(p + "\xff")})
	if err != nil {
		return fmt.Errorf("goroutine %d: new iterator: %w", g, err)
	}
	defer it.Close()
	var got []kv
	for {
		note()
		if !it.Next() {
			break
		}
		got = append(got, kv{string(it.Key()), string(it.Value())})
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("goroutine %d: iterator: %w", g, err)
	}
	if want := []kv{{p + "b", p + "b-value"}, {p + "c", p + "c-value"}}; !slices.Equal(got, want) {
		return fmt.Errorf("goroutine %d: iterator saw %v, want %v", g, got, want)
	}
	return nil
}
