package strata

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// sigprofMaskBit is SIGPROF's bit in the SigBlk mask of /proc/<pid>/task/<tid>/status:
// signal n is bit n-1.
const sigprofMaskBit = uint64(1) << (syscall.SIGPROF - 1)

// strataThreadMasks returns the blocked-signal mask of every strata thread in this process,
// keyed by thread name ("strata-...") and id, read from /proc.
func strataThreadMasks() (map[string]uint64, error) {
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		return nil, err
	}
	masks := map[string]uint64{}
	for _, task := range tasks {
		comm, err := os.ReadFile(filepath.Join(task, "comm"))
		if err != nil {
			continue // the thread exited meanwhile
		}
		name := strings.TrimSpace(string(comm))
		if !strings.HasPrefix(name, "strata-") {
			continue
		}
		status, err := os.ReadFile(filepath.Join(task, "status"))
		if err != nil {
			continue // the thread exited meanwhile
		}
		for _, line := range strings.Split(string(status), "\n") {
			if hex, ok := strings.CutPrefix(line, "SigBlk:"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
				if err != nil {
					return nil, fmt.Errorf("%s/status: SigBlk %q: %w", task, hex, err)
				}
				masks[name+" "+filepath.Base(task)] = mask
			}
		}
	}
	return masks, nil
}

// wantGzipProfile checks that a profile written by runtime/pprof is a complete gzip stream
// holding a non-empty protocol buffer, and returns the decompressed bytes.
func wantGzipProfile(t *testing.T, name string, profile []byte) []byte {
	t.Helper()
	if len(profile) < 2 || profile[0] != 0x1f || profile[1] != 0x8b {
		t.Fatalf("%s profile: %d bytes without the gzip magic", name, len(profile))
	}
	zr, err := gzip.NewReader(bytes.NewReader(profile))
	if err != nil {
		t.Fatalf("%s profile: %v", name, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s profile: truncated or damaged gzip stream: %v", name, err)
	}
	if len(raw) == 0 {
		t.Fatalf("%s profile is empty", name)
	}
	return raw
}

// Profiling a program that uses strata heavily works. The CPU profiler's SIGPROF lands on Go
// threads, including while they run strata's C functions (every cgo submission), and never on
// strata's own threads, which block it (checked here through /proc). A CPU profile and a
// goroutine profile taken while many goroutines load strata come out whole, the process
// survives, and the load's results are exact.
//
// STRATA_PROFILE_OPS sets the operations per load goroutine (default 1000; 32 goroutines).
func TestProfilingWhileStrataIsUnderLoad(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	const workers = 32
	opsEach := loadSizeFromEnv(t, "STRATA_PROFILE_OPS", 1000)

	var cpu bytes.Buffer
	if err := pprof.StartCPUProfile(&cpu); err != nil {
		t.Skipf("a CPU profile is already running (go test -cpuprofile?): %v", err)
	}
	profiling := true
	defer func() {
		if profiling {
			pprof.StopCPUProfile()
		}
	}()

	// Workers stay alive after their operations until the goroutine profile is taken, so it
	// holds their stacks whatever the interleaving.
	halfway := make(chan struct{})
	var halfwayOnce sync.Once
	profiled := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-profiled }()
			// A worker that fails early still lets the profiling go ahead.
			defer halfwayOnce.Do(func() { close(halfway) })
			if err := profileWorkerOps(db, g, opsEach, func(i int) {
				if i == opsEach/2 {
					halfwayOnce.Do(func() { close(halfway) })
				}
			}); err != nil {
				errs <- err
			}
		}()
	}

	<-halfway
	var goroutines bytes.Buffer
	goroutineErr := pprof.Lookup("goroutine").WriteTo(&goroutines, 0)
	masks, masksErr := strataThreadMasks()
	close(profiled)
	wg.Wait()
	pprof.StopCPUProfile()
	profiling = false
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if goroutineErr != nil {
		t.Fatal(goroutineErr)
	}
	if masksErr != nil {
		t.Fatal(masksErr)
	}

	if len(masks) == 0 {
		t.Fatal("no strata-* thread found under /proc/self/task")
	}
	for thread, mask := range masks {
		if mask&sigprofMaskBit == 0 {
			t.Errorf("strata thread %s has SIGPROF unblocked (SigBlk %016x)", thread, mask)
		}
	}
	cpuRaw := wantGzipProfile(t, "CPU", cpu.Bytes())
	goroutineRaw := wantGzipProfile(t, "goroutine", goroutines.Bytes())
	// The workers were alive, so the goroutine profile's string table names their function.
	if worker := []byte("TestProfilingWhileStrataIsUnderLoad"); !bytes.Contains(goroutineRaw, worker) {
		t.Fatalf("the goroutine profile does not mention the load's goroutines (%d bytes)", len(goroutineRaw))
	}
	t.Logf("%d goroutines x %d operations; strata threads with SIGPROF blocked: %v; CPU profile %d bytes (%d raw), mentions strata's package: %v; goroutine profile %d bytes",
		workers, opsEach, slices.Sorted(maps.Keys(masks)), cpu.Len(), len(cpuRaw), bytes.Contains(cpuRaw, []byte("strata-db/strata/go/strata")), goroutines.Len())

	// Each worker's final state: keys 0..opsEach-1 of its own, the odd ones deleted by its batches.
	want := make([]kv, 0, workers*opsEach/2)
	for g := range workers {
		for i := 0; i < opsEach; i += 2 {
			want = append(want, kv{profileKey(g, i), profileValue(g, i)})
		}
	}
	slices.SortFunc(want, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	if got := collect(t, db, nil); !slices.Equal(got, want) {
		t.Fatalf("after the load: %d entries, want %d", len(got), len(want))
	}
}

func profileKey(g, i int) string   { return fmt.Sprintf("p%03d-%06d", g, i) }
func profileValue(g, i int) string { return fmt.Sprintf("value of %d/%d", g, i) }

// profileWorkerOps runs worker g's share of the profiling load: puts of its keys, gets that
// check them, batches that delete the odd ones again, and a short iteration every 50
// operations. progress is called after each operation.
func profileWorkerOps(db *DB, g, ops int, progress func(i int)) error {
	ctx := context.Background()
	for i := range ops {
		k := []byte(profileKey(g, i))
		switch {
		case i%2 == 0:
			if err := db.Put(ctx, k, []byte(profileValue(g, i))); err != nil {
				return err
			}
			if v, err := db.Get(ctx, k); err != nil || string(v) != profileValue(g, i) {
				return fmt.Errorf("worker %d: get %s = %q, %v", g, k, v, err)
			}
		default:
			b := NewBatch()
			b.Put(k, []byte("short-lived"))
			b.Delete(k)
			if err := db.Write(ctx, b); err != nil {
				return err
			}
		}
		if i%50 == 0 {
			it, err := db.NewIterator(ctx, &IterOptions{Start: []byte(profileKey(g, 0)), End: []byte(profileKey(g, ops))})
			if err != nil {
				return err
			}
			n := 0
			for it.Next() {
				n++
			}
			if err := it.Close(); err != nil {
				return err
			}
			if n != i/2+1 {
				return fmt.Errorf("worker %d: iteration after op %d saw %d keys, want %d", g, i, n, i/2+1)
			}
		}
		progress(i)
	}
	return nil
}
