package strata

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wakeLateness is what a goroutine sleeping 1 ms at a time saw while a load ran: how much
// later than asked each sleep ended, and how far the load had got at each wake-up.
type wakeLateness struct {
	late     []time.Duration
	progress []int64 // operations the load had completed when each sleep ended
}

// percentile returns the p-th percentile (0 to 100) of the recorded lateness.
func (w *wakeLateness) percentile(p float64) time.Duration {
	if len(w.late) == 0 {
		return 0
	}
	sorted := slices.Clone(w.late)
	slices.Sort(sorted)
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p/100))]
}

func (w *wakeLateness) String() string {
	return fmt.Sprintf("%d wake-ups: lateness p50 %v, p99 %v, max %v",
		len(w.late), w.percentile(50), w.percentile(99), w.percentile(100))
}

// loadOp is one operation of a scheduler load: the i-th of worker g.
type loadOp func(g, i int) error

// measureSleeperUnderLoad runs workers goroutines, each calling op opsEach times, while a
// sleeper goroutine sleeps 1 ms at a time and records how late it woke. The sleeper starts
// before the load and stops after it; only wake-ups while the load runs are recorded.
func measureSleeperUnderLoad(tb testing.TB, workers, opsEach int, op loadOp) *wakeLateness {
	tb.Helper()
	var completed atomic.Int64
	total := int64(workers * opsEach)
	w := &wakeLateness{}
	sleeperReady := make(chan struct{})
	loadDone := make(chan struct{})
	sleeperDone := make(chan struct{})
	go func() {
		defer close(sleeperDone)
		close(sleeperReady)
		for {
			select {
			case <-loadDone:
				return
			default:
			}
			asked := time.Now()
			time.Sleep(time.Millisecond)
			late := time.Since(asked) - time.Millisecond
			if done := completed.Load(); done < total {
				w.late = append(w.late, late)
				w.progress = append(w.progress, done)
			}
		}
	}()
	<-sleeperReady

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range opsEach {
				if err := op(g, i); err != nil {
					errs <- err
					return
				}
				completed.Add(1)
			}
		}()
	}
	wg.Wait()
	close(loadDone)
	<-sleeperDone
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	if got := completed.Load(); got != total {
		tb.Fatalf("load completed %d operations, want %d", got, total)
	}
	return w
}

// schedulerKeys is the size of the key space the scheduler loads read and write.
const schedulerKeys = 4096

// strataLoad returns a load of alternating Puts and Gets on db, over keys it writes first so
// that every Get finds its key and any error is a failure.
func strataLoad(tb testing.TB, db *DB, opsEach int) loadOp {
	tb.Helper()
	ctx := context.Background()
	seed := NewBatch()
	for k := range schedulerKeys {
		seed.Put(binary.BigEndian.AppendUint64(nil, uint64(k)), make([]byte, 32))
	}
	if err := db.Write(ctx, seed); err != nil {
		tb.Fatal(err)
	}
	value := make([]byte, 32)
	return func(g, i int) error {
		key := binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64((g*opsEach+i)%schedulerKeys))
		if i%2 == 0 {
			return db.Put(ctx, key, value)
		}
		_, err := db.Get(ctx, key)
		return err
	}
}

// goServerLoad returns a load of the same shape served by one goroutine over channels, for
// scale: how late the sleeper wakes when the Ps are as busy with plain Go request/reply
// traffic. stop ends the server.
func goServerLoad() (op loadOp, stop func()) {
	type request struct {
		key   uint64
		put   bool
		reply chan []byte
	}
	requests := make(chan request)
	done := make(chan struct{})
	go func() {
		store := map[uint64][]byte{}
		for {
			select {
			case r := <-requests:
				if r.put {
					store[r.key] = make([]byte, 32)
				}
				r.reply <- store[r.key]
			case <-done:
				return
			}
		}
	}()
	op = func(g, i int) error {
		r := request{key: uint64(i % schedulerKeys), put: i%2 == 0, reply: make(chan []byte, 1)}
		requests <- r
		<-r.reply
		return nil
	}
	return op, func() { close(done) }
}

// A goroutine that only sleeps keeps getting scheduled while strata calls keep every P busy:
// strata's waits park goroutines rather than holding Ps, and its cgo calls are short.
//
// Lateness depends on the machine and on everything else running, so it is logged, not
// asserted (BenchmarkSleeperLatenessUnderLoad reports it). What is asserted is progress: the
// sleeper woke during every quarter of the load, counted in completed operations. A starved
// sleeper would instead wake once the load let go of the Ps, at its end. A quarter of the
// default load takes tens of milliseconds even without the race detector, several times the
// worst lateness seen (and Go preempts a goroutine that holds a P for 10 ms), so the bound
// holds with a wide margin.
//
// STRATA_SCHEDULER_OPS sets the operations per load goroutine (default 2000; 8 goroutines per P).
func TestSleeperKeepsRunningWhileStrataSaturatesAllPs(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	workers := 8 * runtime.GOMAXPROCS(0)
	opsEach := loadSizeFromEnv(t, "STRATA_SCHEDULER_OPS", 2000)
	began := time.Now()
	w := measureSleeperUnderLoad(t, workers, opsEach, strataLoad(t, db, opsEach))
	t.Logf("%d goroutines x %d operations in %v, GOMAXPROCS %d; sleeper: %v",
		workers, opsEach, time.Since(began).Round(time.Millisecond), runtime.GOMAXPROCS(0), w)

	total := int64(workers * opsEach)
	var quarters [4]int
	for _, done := range w.progress {
		quarters[done*4/total]++
	}
	t.Logf("wake-ups per quarter of the load: %v", quarters)
	for q, n := range quarters {
		if n == 0 {
			t.Fatalf("the sleeper never woke during quarter %d of the load (wake-ups per quarter %v)", q+1, quarters)
		}
	}
}

// BenchmarkSleeperLatenessUnderLoad reports how late a goroutine sleeping 1 ms wakes while
// b.N operations spread over 8 goroutines per P keep every P busy: strata Puts and Gets, and
// for scale the same traffic served by a plain Go goroutine over channels.
func BenchmarkSleeperLatenessUnderLoad(b *testing.B) {
	workers := 8 * runtime.GOMAXPROCS(0)
	report := func(b *testing.B, w *wakeLateness) {
		b.ReportMetric(float64(w.percentile(50).Nanoseconds()), "late-p50-ns")
		b.ReportMetric(float64(w.percentile(99).Nanoseconds()), "late-p99-ns")
		b.ReportMetric(float64(w.percentile(100).Nanoseconds()), "late-max-ns")
		b.ReportMetric(float64(len(w.late)), "wakeups")
	}
	b.Run("strata", func(b *testing.B) {
		db := openTest(b, &Options{NoSync: true})
		opsEach := max(1, b.N/workers)
		op := strataLoad(b, db, opsEach)
		b.ResetTimer()
		w := measureSleeperUnderLoad(b, workers, opsEach, op)
		b.StopTimer()
		report(b, w)
	})
	b.Run("go-channel-server", func(b *testing.B) {
		op, stop := goServerLoad()
		defer stop()
		b.ResetTimer()
		w := measureSleeperUnderLoad(b, workers, max(1, b.N/workers), op)
		b.StopTimer()
		report(b, w)
	})
}
