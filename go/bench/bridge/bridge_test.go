package bridge

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-db/strata/go/strata"
)

// Benchmarks of the boundary. ns/op is per operation: for the pipelined ones, wall time over
// all goroutines' operations together (so 16 goroutines at 100 ns/op complete 10M ops/s).
//
//	CgoNoop                          one cgo call to an empty C function
//	CgoRust                          one cgo call into the Rust archive (strata_version)
//	CallbackOnGoThread               Go -> C, then C -> Go on that same thread, per callback
//	CallbackFromCThread              C -> Go from a thread Go did not create, per callback
//	ChannelRoundTrip                 two goroutines ping-pong on channels, for scale
//	StrataGet/sequential             strata Get of a cached key, one goroutine: the hand-off
//	                                 to the runtime thread and back (spins as shipped)
//	StrataGet/pipelined-N            the same from N goroutines at once
//	Model/{queue,callback,block}/{spin,park}/{sequential,pipelined-N}
//	                                 the model (model.c): a C worker thread answers requests;
//	                                 completions travel by queue + eventfd + poller goroutine,
//	                                 by one C -> Go callback each, or by waking the caller
//	                                 blocked in its own cgo call on a futex; the worker (and the
//	                                 queue's poller, the blocked caller) spin briefly before
//	                                 parking, or park at once
//
// strata's own spinning cannot be switched off from here (go/strata's pollSpins is a
// constant, the runtime thread's spin is in Rust), so StrataGet runs only as shipped; the
// model shows what spinning is worth.

var pipelines = []int{16, 64}

func BenchmarkCgoNoop(b *testing.B) {
	for b.Loop() {
		Noop()
	}
}

func BenchmarkCgoRust(b *testing.B) {
	for b.Loop() {
		if !RustVersion() {
			b.Fatal("strata_version returned NULL")
		}
	}
}

func BenchmarkCallbackOnGoThread(b *testing.B) {
	CallbacksOnGoThread(b.N)
}

func BenchmarkCallbackFromCThread(b *testing.B) {
	if err := CallbacksFromCThread(b.N); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkChannelRoundTrip(b *testing.B) {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	for b.Loop() {
		ping <- struct{}{}
		<-pong
	}
	close(ping)
}

// cachedKeys is how many keys the strata benchmarks read: all in the block cache.
const cachedKeys = 1000

func BenchmarkStrataGet(b *testing.B) {
	db, err := strata.Open(b.TempDir(), &strata.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	batch := strata.NewBatch()
	for i := range cachedKeys {
		batch.Put(strataKey(i), make([]byte, 100))
	}
	if err := db.Write(ctx, batch); err != nil {
		b.Fatal(err)
	}
	if err := db.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	for i := range cachedKeys { // warm the block cache
		if _, err := db.Get(ctx, strataKey(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("sequential", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := db.Get(ctx, strataKey(i%cachedKeys)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range pipelines {
		b.Run(fmt.Sprintf("pipelined-%d", n), func(b *testing.B) {
			pipelined(b, n, func(_, op int) error {
				_, err := db.Get(ctx, strataKey(op%cachedKeys))
				return err
			})
		})
	}
}

func strataKey(i int) []byte { return fmt.Appendf(nil, "key%06d", i) }

func BenchmarkModel(b *testing.B) {
	for _, t := range []struct {
		name      string
		transport Transport
	}{{"queue", Queue}, {"callback", Callback}, {"block", Block}} {
		for _, spin := range []bool{true, false} {
			name := t.name + "/park"
			if spin {
				name = t.name + "/spin"
			}
			b.Run(name+"/sequential", func(b *testing.B) {
				m := startModel(b, t.transport, spin, 1)
				for b.Loop() {
					m.RoundTrip(0)
				}
			})
			for _, n := range pipelines {
				b.Run(fmt.Sprintf("%s/pipelined-%d", name, n), func(b *testing.B) {
					m := startModel(b, t.transport, spin, n)
					pipelined(b, n, func(slot, _ int) error {
						m.RoundTrip(slot)
						return nil
					})
				})
			}
		}
	}
}

func startModel(tb testing.TB, t Transport, spin bool, slots int) *Model {
	m, err := StartModel(t, spin, slots)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := m.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return m
}

// pipelined runs b.N operations from n goroutines at once; op gets the goroutine's slot and
// the operation's number.
func pipelined(b *testing.B, n int, op func(slot, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	b.ResetTimer()
	for slot := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := op(slot, i); err != nil {
					errs[slot] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// Every transport, spinning or not, completes every request exactly once, sequentially and
// from many goroutines, and stops cleanly: the model the benchmarks time is sound.
func TestModelCompletesEveryRequest(t *testing.T) {
	for _, transport := range []Transport{Queue, Callback, Block} {
		for _, spin := range []bool{true, false} {
			t.Run(fmt.Sprintf("transport%d/spin=%v", transport, spin), func(t *testing.T) {
				const goroutines, each = 32, 300
				m := startModel(t, transport, spin, goroutines)
				var done atomic.Int64
				var wg sync.WaitGroup
				for slot := range goroutines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range each {
							m.RoundTrip(slot)
							done.Add(1)
						}
					}()
				}
				wg.Wait()
				if got := done.Load(); got != goroutines*each {
					t.Fatalf("%d round trips completed, want %d", got, goroutines*each)
				}
				for slot, w := range waiters {
					if len(w) != 0 {
						t.Fatalf("slot %d holds a completion nobody asked for", slot)
					}
				}
			})
		}
	}
}

func TestCallbacksRun(t *testing.T) {
	before := noops.Load()
	if err := CallbacksFromCThread(10); err != nil {
		t.Fatal(err)
	}
	CallbacksOnGoThread(5)
	if got := noops.Load() - before; got != 15 {
		t.Fatalf("%d callbacks ran, want 15", got)
	}
	if !RustVersion() {
		t.Fatal("strata_version returned NULL")
	}
}
