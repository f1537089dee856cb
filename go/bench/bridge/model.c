// See model.h. Measurement code only: nothing in strata uses it.
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "_cgo_export.h"

// Ring capacity: more than the requests a benchmark keeps in flight (one per goroutine).
#define RING 1024
// How long the worker spins before parking: strata's runtime thread spins 20 us
// (rust/ffi/src/runtime.rs, SPIN).
#define SPIN_NS 20000

struct ring {
    uint64_t slots[RING];
    uint32_t head, tail;  // guarded by the ring's mutex
};

static pthread_mutex_t request_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t request_cv = PTHREAD_COND_INITIALIZER;
static struct ring requests;
static atomic_uint_fast64_t submitted;  // lets the spinning worker watch without the lock
static int worker_parked;               // guarded by request_mu

static pthread_mutex_t completion_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ring completions;
static atomic_int poller_asleep;

static int transport, spin, event_fd = -1;
static atomic_int stopping;
static pthread_t worker;

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// MODEL_BLOCK: per slot, 1 once its completion is in, 2 while its caller sleeps on it.
static _Atomic uint32_t done_word[RING];

static void futex(_Atomic uint32_t *word, int op, uint32_t val) {
    syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static void push(struct ring *r, uint64_t v) { r->slots[r->tail++ % RING] = v; }

static int pop(struct ring *r, uint64_t *out, int cap) {
    int n = 0;
    while (r->head != r->tail && n < cap) out[n++] = r->slots[r->head++ % RING];
    return n;
}

static void complete(uint64_t token) {
    if (transport == MODEL_BLOCK) {
        // Wake the caller only if it went to sleep: a spinning one sees the store.
        if (atomic_exchange(&done_word[token], 1) == 2) futex(&done_word[token], FUTEX_WAKE, 1);
        return;
    }
    if (transport == MODEL_CALLBACK) {
        modelComplete(token);
        return;
    }
    pthread_mutex_lock(&completion_mu);
    push(&completions, token);
    pthread_mutex_unlock(&completion_mu);
    // Write the eventfd only when the poller sleeps (strata suppresses redundant wake-ups so).
    if (atomic_exchange(&poller_asleep, 0)) {
        uint64_t one = 1;
        while (write(event_fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
}

static void *work(void *arg) {
    (void)arg;
    uint64_t batch[64];
    uint64_t seen = 0;
    for (;;) {
        if (spin) {
            uint64_t deadline = now_ns() + SPIN_NS;
            while (atomic_load(&submitted) == seen && !atomic_load(&stopping) && now_ns() < deadline) {
                cpu_relax();
            }
        }
        pthread_mutex_lock(&request_mu);
        while (requests.head == requests.tail && !atomic_load(&stopping)) {
            worker_parked = 1;
            pthread_cond_wait(&request_cv, &request_mu);
            worker_parked = 0;
        }
        int n = pop(&requests, batch, 64);
        seen = atomic_load(&submitted);
        pthread_mutex_unlock(&request_mu);
        if (n == 0) return NULL;  // stopping, and nothing left
        for (int i = 0; i < n; i++) complete(batch[i]);
    }
}

int model_start(int t, int s) {
    transport = t;
    spin = s;
    atomic_store(&stopping, 0);
    atomic_store(&poller_asleep, 0);
    requests.head = requests.tail = completions.head = completions.tail = 0;
    event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd < 0) return -1;
    if (pthread_create(&worker, NULL, work, NULL) != 0) {
        close(event_fd);
        return -1;
    }
    return event_fd;
}

void model_stop(void) {
    pthread_mutex_lock(&request_mu);
    atomic_store(&stopping, 1);
    pthread_cond_signal(&request_cv);
    pthread_mutex_unlock(&request_mu);
    pthread_join(worker, NULL);
    uint64_t one = 1;
    while (write(event_fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void model_submit(uint64_t token) {
    pthread_mutex_lock(&request_mu);
    push(&requests, token);
    atomic_fetch_add(&submitted, 1);
    if (worker_parked) pthread_cond_signal(&request_cv);
    pthread_mutex_unlock(&request_mu);
}

int model_drain(uint64_t *out, int cap) {
    pthread_mutex_lock(&completion_mu);
    int n = pop(&completions, out, cap);
    pthread_mutex_unlock(&completion_mu);
    return n;
}

void model_poller_sleeps(void) { atomic_store(&poller_asleep, 1); }

void model_round_trip_blocking(uint64_t token, uint64_t spin_ns) {
    _Atomic uint32_t *word = &done_word[token];
    atomic_store(word, 0);
    model_submit(token);
    uint64_t deadline = now_ns() + spin_ns;
    while (atomic_load(word) == 0 && now_ns() < deadline) cpu_relax();
    uint32_t expected = 0;
    if (atomic_compare_exchange_strong(word, &expected, 2)) {
        while (atomic_load(word) == 2) futex(word, FUTEX_WAIT, 2);
    }
}

void model_noop(void) {}

static void *call_back(void *arg) {
    uint64_t n = *(uint64_t *)arg;
    for (uint64_t i = 0; i < n; i++) modelNoop();
    return NULL;
}

int model_callbacks_from_c_thread(uint64_t n) {
    pthread_t t;
    if (pthread_create(&t, NULL, call_back, &n) != 0) return -1;
    pthread_join(t, NULL);
    return 0;
}

void model_callbacks_on_go_thread(uint64_t n) { call_back(&n); }
