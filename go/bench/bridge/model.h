// A model of strata's Go <-> runtime-thread bridge, for measurement only: one C worker thread
// (a thread Go did not create, like strata's runtime thread) answers requests that goroutines
// submit, and hands each completion back either through a completion queue plus an eventfd
// read by Go's netpoller (what strata does) or through a per-operation C -> Go callback.
#ifndef STRATA_BENCH_BRIDGE_MODEL_H
#define STRATA_BENCH_BRIDGE_MODEL_H

#include <stdint.h>

// Completions through the queue and the eventfd.
#define MODEL_QUEUE 0
// Completions through a call of the exported Go function modelComplete.
#define MODEL_CALLBACK 1
// The caller blocks in its own cgo call (model_round_trip_blocking) on a futex the worker
// wakes: no queue, no poller goroutine, no eventfd.
#define MODEL_BLOCK 2

// Starts the worker thread; returns the eventfd (non-blocking) or -1. spin: the worker spins
// (bounded) before it parks on its condition variable.
int model_start(int transport, int spin);
// Stops and joins the worker; wakes the poller through the eventfd. The caller closes the fd.
void model_stop(void);
// Queues a request; its completion carries token.
void model_submit(uint64_t token);
// Moves up to cap completed tokens into out; returns how many.
int model_drain(uint64_t *out, int cap);
// The poller is about to sleep on the eventfd: the next completion must write it.
void model_poller_sleeps(void);
// MODEL_BLOCK: submits token (a slot below 1024) and waits in this call for its completion,
// spinning up to spin_ns first, then sleeping on the slot's futex.
void model_round_trip_blocking(uint64_t token, uint64_t spin_ns);

// An empty function: the cost of a cgo call itself.
void model_noop(void);
// Calls the exported Go function modelNoop n times from a new C thread and joins it; -1 if
// the thread could not be created.
int model_callbacks_from_c_thread(uint64_t n);
// Calls the exported Go function modelNoop n times on the calling (Go) thread.
void model_callbacks_on_go_thread(uint64_t n);

#endif
