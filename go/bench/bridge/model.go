package bridge

/*
#include "model.h"
*/
import "C"

import (
	"errors"
	"os"
	"runtime"
	"sync/atomic"
)

// Transport is how the model's worker hands a completion back to Go.
type Transport int

const (
	// Queue: a completion queue in C memory and an eventfd that Go's netpoller watches; one
	// poller goroutine drains completions in batches and wakes the waiters (strata's design).
	Queue Transport = C.MODEL_QUEUE
	// Callback: the worker thread calls an exported Go function per completion, which wakes
	// the waiter (the design strata rejected; DESIGN.md).
	Callback Transport = C.MODEL_CALLBACK
	// Block: the caller submits and then waits inside its own cgo call, on a futex the worker
	// wakes (spinning briefly first when spin is set): two thread wake-ups per request at
	// most, none through the netpoller.
	Block Transport = C.MODEL_BLOCK
)

// blockSpin is how long a Block caller spins before it sleeps on its futex, when spinning:
// the worker's own spin (model.c's SPIN_NS).
const blockSpin = 20000

// pollerSpins is how often the model's poller re-drains an empty queue (yielding between
// tries) before it sleeps on the eventfd, when spinning: strata's pollSpins.
const pollerSpins = 100

// Model is the running model: one C worker thread answering requests, and (for Queue) one
// poller goroutine. One may run at a time (its C side is process-global).
type Model struct {
	transport Transport
	spin      bool
	events    *os.File
	stopping  atomic.Bool
	polled    chan struct{} // closed when the poller goroutine returns
}

// waiters holds, per slot, the channel its goroutine waits on; a token is a slot number.
// Both transports wake waiters the same way, so they differ only in how completions travel.
var (
	waiters []chan struct{}
	running atomic.Bool
)

// StartModel starts the worker (and, for Queue, the poller) for slots concurrent callers.
// spin makes the worker spin (bounded) before parking, and the Queue poller re-drain before
// sleeping on the eventfd.
func StartModel(t Transport, spin bool, slots int) (*Model, error) {
	if !running.CompareAndSwap(false, true) {
		return nil, errors.New("bridge: a model is already running")
	}
	waiters = make([]chan struct{}, slots)
	for i := range waiters {
		waiters[i] = make(chan struct{}, 1)
	}
	spinFlag := C.int(0)
	if spin {
		spinFlag = 1
	}
	fd := C.model_start(C.int(t), spinFlag)
	if fd < 0 {
		running.Store(false)
		return nil, errors.New("bridge: model_start failed")
	}
	m := &Model{transport: t, spin: spin, events: os.NewFile(uintptr(fd), "model-completions"), polled: make(chan struct{})}
	if t == Queue {
		go m.poll()
	} else {
		close(m.polled)
	}
	return m, nil
}

// RoundTrip submits a request from slot and waits for its completion.
func (m *Model) RoundTrip(slot int) {
	if m.transport == Block {
		spin := C.uint64_t(0)
		if m.spin {
			spin = blockSpin
		}
		C.model_round_trip_blocking(C.uint64_t(slot), spin)
		return
	}
	C.model_submit(C.uint64_t(slot))
	<-waiters[slot]
}

// Stop stops the worker and the poller and releases the eventfd.
func (m *Model) Stop() error {
	m.stopping.Store(true)
	// Joins the worker, then writes the eventfd, so the poller wakes and sees stopping.
	C.model_stop()
	<-m.polled
	err := m.events.Close()
	running.Store(false)
	return err
}

// poll is the Queue transport's poller goroutine, shaped like strata's (go/strata/completion.go).
func (m *Model) poll() {
	defer close(m.polled)
	var out [256]C.uint64_t
	var wake [8]byte
	spins := 0
	for !m.stopping.Load() {
		n := int(C.model_drain(&out[0], C.int(len(out))))
		if n > 0 {
			spins = 0
			for _, token := range out[:n] {
				waiters[token] <- struct{}{}
			}
			continue
		}
		if m.spin && spins < pollerSpins {
			spins++
			runtime.Gosched()
			continue
		}
		spins = 0
		C.model_poller_sleeps()
		// A completion that landed before the flag was set wrote no eventfd: drain again.
		if n := int(C.model_drain(&out[0], C.int(len(out)))); n > 0 {
			for _, token := range out[:n] {
				waiters[token] <- struct{}{}
			}
			continue
		}
		if _, err := m.events.Read(wake[:]); err != nil {
			return
		}
	}
}

//export modelComplete
func modelComplete(token C.uint64_t) {
	waiters[token] <- struct{}{}
}

// noops counts modelNoop calls, so a test can see the callbacks ran (an atomic add: a few
// nanoseconds against the callback's cost).
var noops atomic.Int64

//export modelNoop
func modelNoop() { noops.Add(1) }

// Noop makes one cgo call to an empty C function.
func Noop() { C.model_noop() }

// CallbacksFromCThread makes n calls of an empty exported Go function from a C thread (one Go
// did not create, as strata's runtime thread), one after the other.
func CallbacksFromCThread(n int) error {
	if C.model_callbacks_from_c_thread(C.uint64_t(n)) != 0 {
		return errors.New("bridge: could not create a C thread")
	}
	return nil
}

// CallbacksOnGoThread makes n calls of an empty exported Go function from C code that Go
// called: a callback on a thread Go already owns.
func CallbacksOnGoThread(n int) { C.model_callbacks_on_go_thread(C.uint64_t(n)) }
