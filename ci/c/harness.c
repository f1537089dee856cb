/*
 * harness.c: proves the C contract in rust/ffi/include/strata.h from plain C.
 *
 * Every exported function is called the way the header documents and misused the ways it
 * forbids. scripts/c-harness.sh builds this against target/release/libstrata.a and runs it
 * plainly and under valgrind, so besides the results it checks, the run proves that strata
 * reads caller memory only within the lengths it is given (paths and keys live in exact-size
 * heap buffers without a terminator) and keeps no caller pointer after a call returns (buffers
 * are freed right after submission).
 *
 * Each section works on its own database in one temporary directory. What a database must hold
 * is kept in a sorted model and compared with strata both by get and by iteration, so snapshots,
 * flushes, compactions, checkpoints and reopening are judged on exact contents, never on
 * counters alone.
 *
 * Output: one "ok - ..." or "not ok - ..." line per check, "# ..." diagnostics, and a final
 * "N passed, M failed" line. Exit status 1 if any check failed.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, pthread barriers and poll under -std=c11 */

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strata.h"

/* strata takes keys and values as uint8_t; literals in direct calls need the cast. */
#define BYTES(s) ((const uint8_t *)(s))

/* ------------------------------------------------------------------------------------------ */
/* Reporting                                                                                  */

static int checks_passed;
static int checks_failed;

__attribute__((format(printf, 1, 2))) static void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static bool check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(ok ? "ok - " : "not ok - ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    if (ok)
        checks_passed++;
    else
        checks_failed++;
    return ok;
}

/* Codes the harness itself uses for a result that never came from strata. */
#define RESULT_REJECTED (-1) /* the submission returned non-OK, so no completion follows */
#define RESULT_TIMEOUT (-2)  /* no completion arrived in time */

static const char *code_name(int32_t code)
{
    switch (code) {
    case STRATA_OK: return "OK";
    case STRATA_ERR_NOT_FOUND: return "NOT_FOUND";
    case STRATA_ERR_CLOSED: return "CLOSED";
    case STRATA_ERR_CORRUPTION: return "CORRUPTION";
    case STRATA_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case STRATA_ERR_IO: return "IO";
    case STRATA_ERR_LOCKED: return "LOCKED";
    case STRATA_ERR_POISONED: return "POISONED";
    case STRATA_ERR_INTERNAL: return "INTERNAL";
    case RESULT_REJECTED: return "(submission rejected)";
    case RESULT_TIMEOUT: return "(timed out)";
    default: return "(unknown code)";
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Completions                                                                                */

/* A completion copied out of strata's buffer: `data` there is only valid until the next drain,
 * so everything the harness looks at later is owned here (malloc'd, NULL when len is 0). */
struct result {
    uint64_t token;
    uint64_t handle;
    int32_t code;
    uint32_t flags;
    uint8_t *data;
    size_t len;
};

static void result_free(struct result *r)
{
    free(r->data);
    r->data = NULL;
    r->len = 0;
}

/* Completions drained while waiting for some other token. */
static struct {
    struct result *items;
    size_t len;
    size_t cap;
} stash;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void stash_push(const strata_completion *c)
{
    if (stash.len == stash.cap) {
        stash.cap = stash.cap ? stash.cap * 2 : 64;
        stash.items = xrealloc(stash.items, stash.cap * sizeof *stash.items);
    }
    struct result *r = &stash.items[stash.len++];
    *r = (struct result){
        .token = c->token, .handle = c->handle, .code = c->code, .flags = c->flags,
    };
    /* An empty buffer may come with a dangling non-NULL pointer; never copy from it. */
    if (c->len > 0) {
        r->data = xmalloc(c->len);
        memcpy(r->data, c->data, c->len);
        r->len = c->len;
    }
}

static bool stash_take(uint64_t token, struct result *out)
{
    for (size_t i = 0; i < stash.len; i++) {
        if (stash.items[i].token == token) {
            *out = stash.items[i];
            stash.items[i] = stash.items[--stash.len];
            return true;
        }
    }
    return false;
}

static bool stash_has(uint64_t token)
{
    for (size_t i = 0; i < stash.len; i++)
        if (stash.items[i].token == token)
            return true;
    return false;
}

static size_t stash_count_range(uint64_t lo, uint64_t hi)
{
    size_t n = 0;
    for (size_t i = 0; i < stash.len; i++)
        if (stash.items[i].token >= lo && stash.items[i].token < hi)
            n++;
    return n;
}

static void stash_free(void)
{
    for (size_t i = 0; i < stash.len; i++)
        result_free(&stash.items[i]);
    free(stash.items);
    stash.items = NULL;
    stash.len = stash.cap = 0;
}

/* The temporary directory every database of the run lives in. */
static const char *scratch_dir;

/* The eventfd from strata_runtime_start; only the main thread drains it. */
static int event_fd = -1;

/* Background work (flushes, compactions, checkpoints, checks, writes held back by a write
 * stall) may take far longer than a plain request, above all under valgrind. */
enum { WAIT_TIMEOUT_MS = 10000, SLOW_TIMEOUT_MS = 180000, DRAIN_BATCH = 16 };

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Drains until strata reports an empty queue. Stopping only at 0 matters: that empty drain is
 * what re-arms the eventfd signal for the next completion. A small batch size exercises
 * several drains per wake-up. */
static void drain_all(void)
{
    strata_completion batch[DRAIN_BATCH];
    size_t n;
    while ((n = strata_completions_drain(batch, DRAIN_BATCH)) > 0)
        for (size_t i = 0; i < n; i++)
            stash_push(&batch[i]);
}

static void consume_eventfd(void)
{
    uint64_t count;
    /* EAGAIN is fine: the fd is non-blocking and another wake-up may have emptied it. */
    if (read(event_fd, &count, sizeof count) < 0 && errno != EAGAIN)
        diag("read(eventfd): %s", strerror(errno));
}

/* Waits up to `timeout_ms` for the completion of `token`, stashing completions for other tokens.
 * Drains before the first poll because the queue starts with the drainer marked awake (no
 * signal is sent). */
static struct result wait_within(uint64_t token, int timeout_ms)
{
    struct result r;
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        drain_all();
        if (stash_take(token, &r))
            return r;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd p = { .fd = event_fd, .events = POLLIN };
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno != EINTR) {
            diag("poll: %s", strerror(errno));
            break;
        }
        if (rc > 0)
            consume_eventfd();
    }
    diag("no completion for token %" PRIu64 " within %d ms", token, timeout_ms);
    return (struct result){ .token = token, .code = RESULT_TIMEOUT };
}

static struct result wait_for(uint64_t token) { return wait_within(token, WAIT_TIMEOUT_MS); }

/* Tokens the main thread uses; writer threads use THREAD_TOKEN_BASE and above, submissions
 * expected to be rejected use REJECTED_TOKEN_BASE and above, so neither can collide. */
static uint64_t next_token = 1;
#define THREAD_TOKEN_BASE (UINT64_C(1) << 32)
#define REJECTED_TOKEN_BASE (UINT64_C(1) << 40)
static uint64_t next_rejected_token = REJECTED_TOKEN_BASE;

static uint64_t new_token(void) { return next_token++; }

/* Turns a submission into its result: waits for the completion if the submission was accepted. */
static struct result complete_within(int32_t submitted, uint64_t token, int timeout_ms)
{
    if (submitted != STRATA_OK) {
        diag("submission for token %" PRIu64 " returned %s", token, code_name(submitted));
        return (struct result){ .token = token, .code = RESULT_REJECTED };
    }
    return wait_within(token, timeout_ms);
}

static struct result complete(int32_t submitted, uint64_t token)
{
    return complete_within(submitted, token, WAIT_TIMEOUT_MS);
}

/* Checks a result's code and frees it. */
static bool expect_code(struct result r, int32_t want, const char *what)
{
    bool ok = check(r.code == want, "%s -> %s", what, code_name(want));
    if (!ok)
        diag("got %s: %.*s", code_name(r.code), (int)r.len, r.data ? (char *)r.data : "");
    result_free(&r);
    return ok;
}

/* Checks for an error completion that explains itself, and frees it. */
static bool expect_error(struct result r, int32_t want, const char *what)
{
    bool ok = check(r.code == want && r.len > 0, "%s -> %s with a message", what,
                    code_name(want));
    if (!ok)
        diag("got %s, message of %zu bytes", code_name(r.code), r.len);
    else
        diag("message: %.*s", (int)r.len, (char *)r.data);
    result_free(&r);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Databases and a model of what they should hold                                             */

/* One key and, unless deleted, its value. */
struct model_entry {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    bool present;
};

/* What a database must contain, sorted by key in strata's order (bytewise, a prefix first);
 * compared against strata with get and with iterators. Deleted keys stay as absent entries, so
 * the checks also prove they read as NOT_FOUND. */
struct model {
    struct model_entry *entries;
    size_t len;
    size_t cap;
};

/* Orders keys as strata does: bytewise, and a key before every longer key it is a prefix of. */
static int key_cmp(const void *a, size_t a_len, const void *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return a_len < b_len ? -1 : a_len > b_len;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *copy = xmalloc(n);
    if (n > 0)
        memcpy(copy, p, n);
    return copy;
}

/* The entry for `key`, inserted (absent) at its sorted place if the model has none yet. */
static struct model_entry *model_find(struct model *m, const void *key, size_t key_len)
{
    size_t lo = 0, hi = m->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(m->entries[mid].key, m->entries[mid].key_len, key, key_len);
        if (c == 0)
            return &m->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (m->len == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->entries = xrealloc(m->entries, m->cap * sizeof *m->entries);
    }
    memmove(&m->entries[lo + 1], &m->entries[lo], (m->len - lo) * sizeof *m->entries);
    m->len++;
    struct model_entry *e = &m->entries[lo];
    *e = (struct model_entry){ .key = dup_bytes(key, key_len), .key_len = key_len };
    return e;
}

static void model_set(struct model *m, const void *key, size_t key_len, const void *value,
                      size_t value_len)
{
    struct model_entry *e = model_find(m, key, key_len);
    free(e->value);
    e->value = dup_bytes(value, value_len);
    e->value_len = value_len;
    e->present = true;
}

static void model_delete(struct model *m, const void *key, size_t key_len)
{
    struct model_entry *e = model_find(m, key, key_len);
    free(e->value);
    e->value = NULL;
    e->value_len = 0;
    e->present = false;
}

/* Deletes every modelled key in [start, end), as a STRATA_BATCH_DELETE_RANGE does. */
static void model_delete_range(struct model *m, const void *start, size_t start_len,
                               const void *end, size_t end_len)
{
    for (size_t i = 0; i < m->len; i++) {
        struct model_entry *e = &m->entries[i];
        if (key_cmp(e->key, e->key_len, start, start_len) >= 0 &&
            key_cmp(e->key, e->key_len, end, end_len) < 0)
            model_delete(m, e->key, e->key_len);
    }
}

/* A deep copy: what a snapshot or a checkpoint must go on showing. */
static struct model model_copy(const struct model *m)
{
    struct model copy = { .len = m->len, .cap = m->len };
    copy.entries = xmalloc(m->len * sizeof *copy.entries);
    for (size_t i = 0; i < m->len; i++) {
        const struct model_entry *e = &m->entries[i];
        copy.entries[i] = (struct model_entry){
            .key = dup_bytes(e->key, e->key_len),
            .key_len = e->key_len,
            .value = e->present ? dup_bytes(e->value, e->value_len) : NULL,
            .value_len = e->value_len,
            .present = e->present,
        };
    }
    return copy;
}

/* The first present key of the model, or NULL. */
static const struct model_entry *model_first_present(const struct model *m)
{
    for (size_t i = 0; i < m->len; i++)
        if (m->entries[i].present)
            return &m->entries[i];
    return NULL;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->len; i++) {
        free(m->entries[i].key);
        free(m->entries[i].value);
    }
    free(m->entries);
    *m = (struct model){ 0 };
}

/* An open database as the harness sees it. */
struct db {
    const char *name;
    char *path;
    uint64_t handle;
    /* Non-empty batches acknowledged since open: what stats.batches_written must say. */
    uint64_t acked_batches;
    struct model model;
};

/* ------------------------------------------------------------------------------------------ */
/* Submit-and-wait wrappers, one per export                                                   */

/* Opens `path_len` bytes of `path`; the bytes are copied into an exact-size heap buffer with
 * no terminator, so reading past the length shows up under valgrind. */
static struct result open_sized(const char *path, size_t path_len, const strata_options *opts,
                                size_t opts_size)
{
    uint8_t *exact = dup_bytes(path, path_len);
    uint64_t t = new_token();
    int32_t rc = strata_db_open(exact, path_len, opts, opts_size, t);
    free(exact); /* strata copied it before returning */
    return complete(rc, t);
}

static struct result open_path(const char *path, size_t path_len, const strata_options *opts)
{
    return open_sized(path, path_len, opts, opts ? sizeof *opts : 0);
}

/* Opens db->path and records the handle. */
static bool open_db(struct db *db, const strata_options *opts, const char *what)
{
    struct result r = open_path(db->path, strlen(db->path), opts);
    db->handle = r.handle;
    return expect_code(r, STRATA_OK, what);
}

static struct result put(struct db *db, const void *key, size_t key_len, const void *value,
                         size_t value_len)
{
    uint64_t t = new_token();
    struct result r = complete(strata_db_put(db->handle, key, key_len, value, value_len, t), t);
    if (r.code == STRATA_OK)
        db->acked_batches++;
    return r;
}

static struct result del(struct db *db, const void *key, size_t key_len)
{
    uint64_t t = new_token();
    struct result r = complete(strata_db_delete(db->handle, key, key_len, t), t);
    if (r.code == STRATA_OK)
        db->acked_batches++;
    return r;
}

static struct result write_batch(struct db *db, const uint8_t *batch, size_t batch_len)
{
    uint64_t t = new_token();
    struct result r = complete(strata_db_write(db->handle, batch, batch_len, 0, t), t);
    /* An empty batch is acknowledged without becoming a batch in the WAL. */
    if (r.code == STRATA_OK && batch_len > 0)
        db->acked_batches++;
    return r;
}

/* Reads `key` as of `snapshot` (0: the latest state). */
static struct result get_at(uint64_t handle, uint64_t snapshot, const void *key, size_t key_len)
{
    uint64_t t = new_token();
    return complete(strata_db_get(handle, snapshot, key, key_len, t), t);
}

static struct result get(uint64_t handle, const void *key, size_t key_len)
{
    return get_at(handle, 0, key, key_len);
}

static struct result stats(uint64_t handle)
{
    uint64_t t = new_token();
    return complete(strata_db_stats(handle, t), t);
}

static struct result close_db(uint64_t handle)
{
    uint64_t t = new_token();
    return complete(strata_db_close(handle, t), t);
}

/* Opens an iterator reading `snapshot` (0: a new snapshot of the latest state). */
static struct result iter_open_at(uint64_t handle, uint64_t snapshot, const void *start,
                                  size_t start_len, const void *end, size_t end_len,
                                  uint32_t flags)
{
    uint64_t t = new_token();
    return complete(
        strata_iter_open(handle, snapshot, start, start_len, end, end_len, flags, 0, t), t);
}

static struct result iter_open(uint64_t handle, const void *start, size_t start_len,
                               const void *end, size_t end_len, uint32_t flags)
{
    return iter_open_at(handle, 0, start, start_len, end, end_len, flags);
}

static struct result iter_next(uint64_t iter)
{
    uint64_t t = new_token();
    return complete(strata_iter_next(iter, t), t);
}

static struct result snapshot_open(uint64_t handle)
{
    uint64_t t = new_token();
    return complete(strata_snapshot_open(handle, t), t);
}

static struct result flush_db(uint64_t handle)
{
    uint64_t t = new_token();
    return complete_within(strata_db_flush(handle, t), t, SLOW_TIMEOUT_MS);
}

/* Compacts [start, end); the bounds go through exact-size heap buffers freed right after
 * submission (a NULL bound is passed as NULL). */
static struct result compact_db(uint64_t handle, const void *start, size_t start_len,
                                const void *end, size_t end_len)
{
    uint8_t *s = start ? dup_bytes(start, start_len) : NULL;
    uint8_t *e = end ? dup_bytes(end, end_len) : NULL;
    uint64_t t = new_token();
    int32_t rc = strata_db_compact(handle, s, start_len, e, end_len, t);
    free(s); /* strata copied them before returning */
    free(e);
    return complete_within(rc, t, SLOW_TIMEOUT_MS);
}

/* Estimates the table bytes of [start, end) into *bytes; the bounds go through exact-size
 * heap buffers freed right after submission. */
static struct result estimate_db(uint64_t handle, const void *start, size_t start_len,
                                 const void *end, size_t end_len, uint64_t *bytes)
{
    uint8_t *s = start ? dup_bytes(start, start_len) : NULL;
    uint8_t *e = end ? dup_bytes(end, end_len) : NULL;
    uint64_t t = new_token();
    int32_t rc = strata_db_estimate_disk_usage(handle, s, start_len, e, end_len, t);
    free(s);
    free(e);
    struct result r = complete_within(rc, t, SLOW_TIMEOUT_MS);
    *bytes = UINT64_MAX;
    if (r.code == STRATA_OK && r.len == 8)
        memcpy(bytes, r.data, 8); /* little-endian, as is every host strata runs on */
    return r;
}

/* Checkpoints into `path`, passed as an exact-size heap buffer without a terminator. */
static struct result checkpoint_db(uint64_t handle, const char *path)
{
    size_t len = strlen(path);
    uint8_t *exact = dup_bytes(path, len);
    uint64_t t = new_token();
    int32_t rc = strata_db_checkpoint(handle, exact, len, t);
    free(exact);
    return complete_within(rc, t, SLOW_TIMEOUT_MS);
}

/* Checks the database in `path`, passed as an exact-size heap buffer without a terminator. */
static struct result check_path(const char *path)
{
    size_t len = strlen(path);
    uint8_t *exact = dup_bytes(path, len);
    uint64_t t = new_token();
    int32_t rc = strata_check(exact, len, t);
    free(exact);
    return complete_within(rc, t, SLOW_TIMEOUT_MS);
}

/* Reads a db's counters into *out; false (after a failed check) if the completion is wrong. */
static bool read_stats(uint64_t handle, strata_stats *out)
{
    struct result r = stats(handle);
    bool ok = r.code == STRATA_OK && r.len == sizeof *out;
    if (ok)
        memcpy(out, r.data, sizeof *out);
    else
        check(false, "stats completion carries one strata_stats (got %s, %zu bytes)",
              code_name(r.code), r.len);
    result_free(&r);
    return ok;
}

/* The invariants every stats snapshot must satisfy. */
static void check_stats(const struct db *db, const char *when)
{
    strata_stats s;
    if (!read_stats(db->handle, &s))
        return;
    /* strata's spawn returns only after the new thread counted itself and initialized its
     * context, so the two counters agree at every stats request. */
    check(s.tls_inits == s.strata_threads,
          "%s %s: stats tls_inits (%" PRIu64 ") == strata_threads (%" PRIu64 ")", db->name, when,
          s.tls_inits, s.strata_threads);
    check(s.batches_written == db->acked_batches,
          "%s %s: stats batches_written (%" PRIu64 ") == acknowledged writes (%" PRIu64 ")",
          db->name, when, s.batches_written, db->acked_batches);
}

/* Gets submitted before the harness waits for the first of them. */
enum { GET_WINDOW = 256 };

/* Compares every key of model `m` with what get returns from `handle` as of `snapshot`
 * (absent keys must be NOT_FOUND). Gets are pipelined, a window at a time. */
static void check_model_at(uint64_t handle, uint64_t snapshot, const struct model *m,
                           const char *what)
{
    size_t wrong = 0;
    for (size_t first = 0; first < m->len; first += GET_WINDOW) {
        size_t n = m->len - first < GET_WINDOW ? m->len - first : GET_WINDOW;
        uint64_t tokens[GET_WINDOW];
        int32_t submitted[GET_WINDOW];
        for (size_t i = 0; i < n; i++) {
            const struct model_entry *e = &m->entries[first + i];
            tokens[i] = new_token();
            submitted[i] = strata_db_get(handle, snapshot, e->key, e->key_len, tokens[i]);
        }
        for (size_t i = 0; i < n; i++) {
            const struct model_entry *e = &m->entries[first + i];
            struct result r = complete(submitted[i], tokens[i]);
            bool ok = e->present ? r.code == STRATA_OK && r.len == e->value_len &&
                                       (r.len == 0 || memcmp(r.data, e->value, r.len) == 0)
                                 : r.code == STRATA_ERR_NOT_FOUND;
            if (!ok && wrong++ == 0)
                diag("key %zu of %zu (%.*s, %zu bytes, %s): got %s, %zu bytes", first + i,
                     m->len, (int)(e->key_len < 40 ? e->key_len : 40), (const char *)e->key,
                     e->key_len, e->present ? "present" : "absent", code_name(r.code), r.len);
            result_free(&r);
        }
    }
    check(wrong == 0 && m->len > 0, "%s: all %zu modelled keys read back byte-exact", what,
          m->len);
}

/* Compares every key of the database's model with what strata returns now. */
static void check_model(struct db *db, const char *when)
{
    char what[128];
    snprintf(what, sizeof what, "%s %s", db->name, when);
    check_model_at(db->handle, 0, &db->model, what);
}

/* Decodes the entry at *off of an iterator chunk (`key_len:u32le value_len:u32le key value`).
 * Returns 1 and advances *off past it, 0 at the end of the chunk, -1 on bad framing. */
static int chunk_entry(const struct result *r, size_t *off, const uint8_t **key, size_t *key_len,
                       const uint8_t **value, size_t *value_len)
{
    if (*off == r->len)
        return 0;
    if (r->len - *off < 8)
        return -1;
    const uint8_t *p = r->data + *off;
    size_t k = p[0] | p[1] << 8 | p[2] << 16 | (size_t)p[3] << 24;
    size_t v = p[4] | p[5] << 8 | p[6] << 16 | (size_t)p[7] << 24;
    if (r->len - *off - 8 < k || r->len - *off - 8 - k < v)
        return -1;
    *key = p + 8;
    *key_len = k;
    *value = p + 8 + k;
    *value_len = v;
    *off += 8 + k + v;
    return 1;
}

/* The number of entries in a well-framed chunk; SIZE_MAX for bad framing. */
static size_t chunk_len(const struct result *r)
{
    size_t off = 0, n = 0;
    const uint8_t *key, *value;
    size_t key_len, value_len;
    int got;
    while ((got = chunk_entry(r, &off, &key, &key_len, &value, &value_len)) == 1)
        n++;
    return got == 0 ? n : SIZE_MAX;
}

/* A key range; an empty side is unbounded, as for strata_iter_open. */
struct range {
    const void *start;
    size_t start_len;
    const void *end;
    size_t end_len;
};

static const struct range UNBOUNDED = { NULL, 0, NULL, 0 };

static bool range_holds(const struct range *r, const void *key, size_t key_len)
{
    return (r->start_len == 0 || key_cmp(key, key_len, r->start, r->start_len) >= 0) &&
           (r->end_len == 0 || key_cmp(key, key_len, r->end, r->end_len) < 0);
}

/* Index of the next present model entry in `range` from `i` on (stepping -1 or +1); -1 when
 * there is none. */
static ptrdiff_t model_next(const struct model *m, ptrdiff_t i, int step,
                            const struct range *range)
{
    for (; i >= 0 && (size_t)i < m->len; i += step) {
        const struct model_entry *e = &m->entries[i];
        if (e->present && range_holds(range, e->key, e->key_len))
            return i;
    }
    return -1;
}

/* Drains the open iterator `iter`, which must yield exactly the present entries of model `m`
 * within `range`, in its direction, byte-exact. */
static void check_iter_against(uint64_t iter, const struct model *m, const struct range *range,
                               bool reverse, const char *what)
{
    int step = reverse ? -1 : 1;
    ptrdiff_t next = model_next(m, reverse ? (ptrdiff_t)m->len - 1 : 0, step, range);
    size_t entries = 0, chunks = 0;
    bool ok = true, done = false;
    while (ok && !done && chunks <= m->len + 1) {
        struct result r = iter_next(iter);
        chunks++;
        if (r.code != STRATA_OK) {
            diag("iter_next: %s: %.*s", code_name(r.code), (int)r.len,
                 r.data ? (char *)r.data : "");
            ok = false;
        }
        size_t off = 0;
        const uint8_t *key = NULL, *value = NULL;
        size_t key_len = 0, value_len = 0;
        int got;
        while (ok && (got = chunk_entry(&r, &off, &key, &key_len, &value, &value_len)) != 0) {
            const struct model_entry *e = next >= 0 ? &m->entries[next] : NULL;
            if (got < 0 || !e || key_cmp(key, key_len, e->key, e->key_len) != 0 ||
                value_len != e->value_len ||
                (value_len > 0 && memcmp(value, e->value, value_len) != 0)) {
                diag("entry %zu: got key %.*s (%zu bytes, value %zu bytes), want %.*s", entries,
                     got < 0 ? 0 : (int)(key_len < 40 ? key_len : 40),
                     got < 0 ? "" : (const char *)key, got < 0 ? 0 : key_len,
                     got < 0 ? 0 : value_len, e ? (int)(e->key_len < 40 ? e->key_len : 40) : 5,
                     e ? (const char *)e->key : "(end)");
                ok = false;
                break;
            }
            entries++;
            next = model_next(m, next + step, step, range);
        }
        done = (r.flags & STRATA_ITER_DONE) != 0;
        result_free(&r);
    }
    if (ok && done && next >= 0) {
        diag("iterator ended after %zu entries; the model holds more", entries);
        ok = false;
    }
    check(ok && done, "%s: %zu entries equal the model, in order, byte-exact", what, entries);
}

/* Opens an iterator on `handle` at `snapshot` over `range` and compares it with model `m`. */
static void check_iter_model(uint64_t handle, uint64_t snapshot, const struct model *m,
                             const struct range *range, bool reverse, const char *what)
{
    struct result r = iter_open_at(handle, snapshot, range->start, range->start_len,
                                   range->end, range->end_len,
                                   reverse ? STRATA_ITER_REVERSE : 0);
    uint64_t iter = r.handle;
    bool opened = r.code == STRATA_OK;
    if (!opened)
        check(false, "%s: iter_open -> OK (got %s)", what, code_name(r.code));
    result_free(&r);
    if (!opened)
        return;
    check_iter_against(iter, m, range, reverse, what);
    strata_iter_close(iter);
}

/* Checks a database against its model both ways: every key by get, and a full iteration in
 * each direction (which also proves no unmodelled key exists). */
static void check_db(struct db *db, const char *when)
{
    char what[128];
    check_model(db, when);
    snprintf(what, sizeof what, "%s %s, forward scan", db->name, when);
    check_iter_model(db->handle, 0, &db->model, &UNBOUNDED, false, what);
    snprintf(what, sizeof what, "%s %s, reverse scan", db->name, when);
    check_iter_model(db->handle, 0, &db->model, &UNBOUNDED, true, what);
}

static uint64_t total_files(const strata_stats *s)
{
    uint64_t n = 0;
    for (int i = 0; i < STRATA_NUM_LEVELS; i++)
        n += s->level_files[i];
    return n;
}

static uint64_t total_bytes(const strata_stats *s)
{
    uint64_t n = 0;
    for (int i = 0; i < STRATA_NUM_LEVELS; i++)
        n += s->level_bytes[i];
    return n;
}

/* "L0 3/1234 L1 ..." for diagnostics. */
static void diag_levels(const char *name, const strata_stats *s)
{
    char text[256];
    size_t off = 0;
    for (int i = 0; i < STRATA_NUM_LEVELS && off < sizeof text; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, " L%d %" PRIu64 "/%" PRIu64, i,
                                s->level_files[i], s->level_bytes[i]);
    diag("%s: tables/bytes per level:%s; flushes %" PRIu64 ", compactions %" PRIu64
         ", frozen %" PRIu64 ", memtable %" PRIu64 " bytes",
         name, text, s->flushes, s->compactions, s->frozen_memtables, s->memtable_bytes);
}

/* ------------------------------------------------------------------------------------------ */
/* Batch encoding (strata_db_write): kind:u8 key_len:u32le key [value_len:u32le value]         */

struct batch {
    uint8_t *bytes;
    size_t len;
    size_t cap;
};

static void batch_append(struct batch *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->bytes = xrealloc(b->bytes, b->cap);
    }
    if (n > 0)
        memcpy(b->bytes + b->len, p, n);
    b->len += n;
}

static void batch_u32(struct batch *b, size_t v)
{
    uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    batch_append(b, le, sizeof le);
}

/* An operation's kind byte. */
static void batch_kind(struct batch *b, uint8_t kind)
{
    batch_append(b, &kind, 1);
}

/* A key, value or range bound: its length (u32le), then its bytes. */
static void batch_field(struct batch *b, const void *p, size_t len)
{
    batch_u32(b, len);
    batch_append(b, p, len);
}

static void batch_put(struct batch *b, const void *key, size_t key_len, const void *value,
                      size_t value_len)
{
    batch_kind(b, STRATA_BATCH_PUT);
    batch_field(b, key, key_len);
    batch_field(b, value, value_len);
}

static void batch_delete(struct batch *b, const void *key, size_t key_len)
{
    batch_kind(b, STRATA_BATCH_DELETE);
    batch_field(b, key, key_len);
}

static void batch_delete_range(struct batch *b, const void *start, size_t start_len,
                               const void *end, size_t end_len)
{
    batch_kind(b, STRATA_BATCH_DELETE_RANGE);
    batch_field(b, start, start_len);
    batch_field(b, end, end_len);
}

static void batch_free(struct batch *b)
{
    free(b->bytes);
    *b = (struct batch){ 0 };
}

/* ------------------------------------------------------------------------------------------ */
/* Test sections                                                                              */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void test_version(void)
{
    const char *v = strata_version();
    check(v != NULL && v[0] != '\0', "strata_version returns a non-empty string");
    if (v)
        diag("strata version %s", v);
}

/* Before any runtime exists nothing can complete, so submissions must be refused outright. */
static void test_before_runtime(void)
{
    strata_completion c;
    check(strata_completions_drain(&c, 1) == 0, "drain before the runtime starts returns 0");
    check(strata_db_stats(1, next_rejected_token++) != STRATA_OK,
          "a submission before the runtime starts is refused synchronously");
    check(strata_db_get(1, 0, BYTES("k"), 1, next_rejected_token++) != STRATA_OK &&
              strata_iter_open(1, 0, NULL, 0, NULL, 0, 0, 0, next_rejected_token++) != STRATA_OK &&
              strata_snapshot_open(1, next_rejected_token++) != STRATA_OK &&
              strata_db_flush(1, next_rejected_token++) != STRATA_OK &&
              strata_db_compact(1, NULL, 0, NULL, 0, next_rejected_token++) != STRATA_OK &&
              strata_db_checkpoint(1, BYTES("/nonexistent/strata-ckpt"), 24,
                                   next_rejected_token++) != STRATA_OK,
          "get, iter_open, snapshot_open, flush, compact and checkpoint are refused too");
    /* Closing is always harmless, even with nothing to close. */
    check(strata_snapshot_close(1) == STRATA_OK && strata_iter_close(1) == STRATA_OK,
          "snapshot_close and iter_close before the runtime starts -> OK");
}

static void test_runtime_start(void)
{
    check(strata_runtime_start(NULL) == STRATA_ERR_INVALID_ARGUMENT,
          "runtime_start(NULL) -> INVALID_ARGUMENT");

    int fd = -1;
    check(strata_runtime_start(&fd) == STRATA_OK && fd >= 0, "runtime_start gives an eventfd");
    int fl = fcntl(fd, F_GETFL);
    check(fl >= 0 && (fl & O_NONBLOCK), "the eventfd is non-blocking");
    event_fd = fd;

    /* A second start reuses the runtime but hands out a new descriptor the caller owns. */
    int fd2 = -1;
    check(strata_runtime_start(&fd2) == STRATA_OK && fd2 >= 0 && fd2 != fd,
          "a second runtime_start returns a distinct descriptor");
    if (fd2 >= 0)
        close(fd2);

    strata_completion c[2];
    check(strata_completions_drain(NULL, 4) == 0, "drain(NULL, 4) returns 0");
    check(strata_completions_drain(c, 0) == 0, "drain(out, 0) returns 0");
}

/* True when `needle` occurs in the `len` bytes at `data`. */
static bool bytes_contain(const uint8_t *data, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(data + i, needle, n) == 0)
            return true;
    return false;
}

/* Process-wide functions that never go through the runtime thread, and engine log records,
 * which arrive as token-0 completions flagged STRATA_COMPLETION_LOG. */
static void test_process_wide(struct db *logged)
{
    check(strata_memory_read(NULL) == STRATA_ERR_INVALID_ARGUMENT,
          "memory_read(NULL) -> INVALID_ARGUMENT");
    strata_memory m = { 0 };
    check(strata_memory_read(&m) == STRATA_OK && m.live_allocations > 0 &&
              m.live_bytes > 0 && m.allocations >= m.live_allocations,
          "memory_read counts the running runtime's heap");
    const char *info = strata_build_info();
    check(info != NULL && strncmp(info, "rustc ", 6) == 0 && strstr(info, "features: ") != NULL,
          "build_info names the compiler and the features");
    if (info)
        diag("build: %s", info);
    check(strata_crash_handler_installed() == 1,
          "the fault handler is installed once the runtime runs");
    check(strata_log_level(STRATA_LOG_TRACE + 1) == STRATA_ERR_INVALID_ARGUMENT,
          "log_level above TRACE -> INVALID_ARGUMENT");

    check(strata_log_level(STRATA_LOG_INFO) == STRATA_OK, "log_level(INFO) -> OK");
    bool opened = open_db(logged, NULL, "open a db with info logs on");
    check(strata_log_level(STRATA_LOG_OFF) == STRATA_OK, "log_level(OFF) -> OK");
    if (!opened)
        return;
    /* The "opened" record was queued before the open's completion, so it is stashed by now. */
    drain_all();
    bool found = false;
    struct result r;
    while (stash_take(0, &r)) {
        if ((r.flags & STRATA_COMPLETION_LOG) && r.len > 13 && r.data[0] == STRATA_LOG_INFO &&
            bytes_contain(r.data, r.len, "opened") && bytes_contain(r.data, r.len, logged->path))
            found = true;
        result_free(&r);
    }
    check(found, "an info record for the open names the message and the directory");
    expect_code(close_db(logged->handle), STRATA_OK, "close the logged db");
    drain_all();
    size_t logs_after_off = 0;
    while (stash_take(0, &r)) {
        if (r.flags & STRATA_COMPLETION_LOG)
            logs_after_off++;
        result_free(&r);
    }
    check(logs_after_off == 0, "no log records once the level is OFF (%zu)", logs_after_off);
}

/* Open misuse is refused synchronously; the valid opens are returned in *a and *b. */
static void test_open(const char *dir, struct db *a, struct db *b)
{
    strata_options bad_flags = { .no_sync = 0, .flags = STRATA_OPEN_NO_MMAP << 1 };
    strata_options bad_flags_high = { .flags = 0x80000000u };
    strata_options bad_compression = { .compression = 99 };
    strata_options next_compression = { .compression = STRATA_COMPRESSION_LZ4 + 1 };
    strata_options defaults = { 0 };
    uint8_t nul_path[] = { '/', 't', 'm', 'p', 0, 'x' };
    /* A caller compiled against a newer header, whose struct has a field this library lacks. */
    struct {
        strata_options known;
        uint64_t newer;
    } newer_set = { .newer = 1 };
    struct {
        const char *what;
        const uint8_t *path;
        size_t len;
        const strata_options *opts;
        size_t opts_size;
    } cases[] = {
        { "open with an unknown flag (STRATA_OPEN_NO_MMAP << 1)", (const uint8_t *)a->path,
          strlen(a->path), &bad_flags, sizeof bad_flags },
        { "open with an unknown flag (1 << 31)", (const uint8_t *)a->path, strlen(a->path),
          &bad_flags_high, sizeof bad_flags_high },
        { "open with options.compression = 99", (const uint8_t *)a->path, strlen(a->path),
          &bad_compression, sizeof bad_compression },
        { "open with options.compression = STRATA_COMPRESSION_LZ4 + 1",
          (const uint8_t *)a->path, strlen(a->path), &next_compression, sizeof next_compression },
        { "open with a NULL path and a length", NULL, 5, NULL, 0 },
        { "open with a zero-length path", (const uint8_t *)a->path, 0, NULL, 0 },
        { "open with a NULL path of length 0", NULL, 0, NULL, 0 },
        { "open with a NUL byte inside the path", nul_path, sizeof nul_path, NULL, 0 },
        { "open with options smaller than STRATA_OPTIONS_SIZE_V1", (const uint8_t *)a->path,
          strlen(a->path), &defaults, STRATA_OPTIONS_SIZE_V1 - 8 },
        { "open with a newer caller's option this library lacks set",
          (const uint8_t *)a->path, strlen(a->path), &newer_set.known, sizeof newer_set },
        { "open with NULL options of nonzero size", (const uint8_t *)a->path, strlen(a->path),
          NULL, sizeof(strata_options) },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t rc = strata_db_open(cases[i].path, cases[i].len, cases[i].opts,
                                    cases[i].opts_size, next_rejected_token++);
        check(rc == STRATA_ERR_INVALID_ARGUMENT, "%s -> INVALID_ARGUMENT", cases[i].what);
    }
    struct stat st;
    check(stat(a->path, &st) != 0, "rejected opens created no directory");

    /* The path is bytes + length: hand strata a prefix of a longer string. */
    char *longer = path_join(dir, "a-and-garbage");
    size_t prefix_len = strlen(a->path);
    struct result r = open_path(longer, prefix_len, NULL);
    a->handle = r.handle;
    if (expect_code(r, STRATA_OK, "open a (opts NULL, path not NUL-terminated)")) {
        struct stat st;
        check(stat(a->path, &st) == 0 && S_ISDIR(st.st_mode) && stat(longer, &st) != 0,
              "open used exactly path_len bytes of the path");
    }
    free(longer);

    /* A newer caller's larger struct whose unknown fields are zero opens with what it set. */
    struct {
        strata_options known;
        uint64_t newer;
    } newer_unset = { .known = { .no_sync = 1 } };
    struct result rb =
        open_sized(b->path, strlen(b->path), &newer_unset.known, sizeof newer_unset);
    b->handle = rb.handle;
    expect_code(rb, STRATA_OK, "open b (opts.no_sync = 1, from a larger struct)");
    check(a->handle != b->handle && a->handle != 0 && b->handle != 0,
          "open returns distinct nonzero handles");

    expect_error(open_path(a->path, strlen(a->path), NULL), STRATA_ERR_LOCKED,
                 "second open of the same directory");
}

static void test_put_get_delete(struct db *a)
{
    static const uint8_t with_zeros[] = { 'a', 0, 'b', 0, 0, 'c', 0 };
    static const uint8_t key_zero[] = { 'k', 0, 'z' }; /* keys are bytes, not C strings */

    expect_code(put(a, "hello", 5, "world", 5), STRATA_OK, "put hello=world");
    model_set(&a->model, "hello", 5, "world", 5);
    expect_code(put(a, key_zero, sizeof key_zero, with_zeros, sizeof with_zeros), STRATA_OK,
                "put a value with zero bytes inside, under a key with a zero byte");
    model_set(&a->model, key_zero, sizeof key_zero, with_zeros, sizeof with_zeros);
    expect_code(put(a, "empty-null", 10, NULL, 0), STRATA_OK, "put an empty value (NULL, 0)");
    model_set(&a->model, "empty-null", 10, "", 0);
    expect_code(put(a, "empty", 5, "x", 0), STRATA_OK, "put an empty value (non-NULL, 0)");
    model_set(&a->model, "empty", 5, "", 0);

    /* Exact-size heap buffers freed right after submission: strata must have copied them. */
    uint8_t *key = dup_bytes("heap-key", 8);
    uint8_t *value = dup_bytes("heap-value", 10);
    uint64_t t = new_token();
    int32_t rc = strata_db_put(a->handle, key, 8, value, 10, t);
    memset(key, 0xee, 8);
    memset(value, 0xee, 10);
    free(key);
    free(value);
    struct result r = complete(rc, t);
    if (r.code == STRATA_OK)
        a->acked_batches++;
    expect_code(r, STRATA_OK, "put from buffers freed before completion");
    model_set(&a->model, "heap-key", 8, "heap-value", 10);

    r = get(a->handle, key_zero, sizeof key_zero);
    check(r.code == STRATA_OK && r.len == sizeof with_zeros &&
              memcmp(r.data, with_zeros, sizeof with_zeros) == 0,
          "get returns the value with zero bytes byte-exact");
    result_free(&r);
    r = get(a->handle, "empty-null", 10);
    check(r.code == STRATA_OK && r.len == 0, "get of an empty value -> OK with len 0");
    result_free(&r);

    expect_code(get(a->handle, "missing", 7), STRATA_ERR_NOT_FOUND, "get of a missing key");

    /* The largest key is still a key. */
    uint8_t *max_key = xmalloc(STRATA_MAX_KEY_LEN);
    memset(max_key, 'M', STRATA_MAX_KEY_LEN);
    expect_code(put(a, max_key, STRATA_MAX_KEY_LEN, "max", 3), STRATA_OK,
                "put a key of STRATA_MAX_KEY_LEN bytes");
    model_set(&a->model, max_key, STRATA_MAX_KEY_LEN, "max", 3);
    free(max_key);

    expect_code(put(a, "doomed", 6, "soon gone", 9), STRATA_OK, "put doomed");
    expect_code(del(a, "doomed", 6), STRATA_OK, "delete doomed");
    model_delete(&a->model, "doomed", 6);
    expect_code(get(a->handle, "doomed", 6), STRATA_ERR_NOT_FOUND, "get after delete");
    expect_code(del(a, "never-was", 9), STRATA_OK, "delete of a missing key succeeds");

    check_model(a, "after put/delete");
}

/* strata_db_get_wait: the answer in the call, into the caller's buffer when it fits, else in
 * a buffer strata hands over (released with strata_value_free; valgrind sees a leak or a
 * double free). */
static void test_get_wait(struct db *a)
{
    uint8_t big[5000];
    memset(big, 'b', sizeof big);
    expect_code(put(a, "wait-big", 8, big, sizeof big), STRATA_OK, "put a 5000-byte value");
    model_set(&a->model, "wait-big", 8, big, sizeof big);

    uint8_t dst[16];
    strata_waited out;
    int32_t rc = strata_db_get_wait(a->handle, 0, BYTES("hello"), 5, 0, 1000, 0, dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.len == 5 && out.data == NULL && memcmp(dst, "world", 5) == 0,
          "get_wait copies a value that fits into the caller's buffer");
    rc = strata_db_get_wait(a->handle, 0, BYTES("wait-big"), 8, 0, 0, 0, dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.len == sizeof big && out.data != NULL &&
              memcmp(out.data, big, sizeof big) == 0,
          "get_wait hands over a value that does not fit");
    strata_value_free(out.data, out.len);
    rc = strata_db_get_wait(a->handle, 0, BYTES("missing"), 7, 0, 0, 0, NULL, 0, &out);
    check(rc == STRATA_ERR_NOT_FOUND && out.len == 0 && out.data == NULL,
          "get_wait of a missing key -> NOT_FOUND, nothing handed over");
    rc = strata_db_get_wait(987654321, 0, BYTES("k"), 1, 0, 0, 0, dst, sizeof dst, &out);
    check(rc == STRATA_ERR_CLOSED && out.data != NULL && out.len > 0,
          "get_wait on an unknown handle -> CLOSED with a message");
    strata_value_free(out.data, out.len);
    check(strata_db_get_wait(a->handle, 0, BYTES("k"), 1, 0, 0, 0, NULL, 4, &out) ==
              STRATA_ERR_INVALID_ARGUMENT,
          "get_wait with a NULL buffer of non-zero capacity -> INVALID_ARGUMENT");
    strata_value_free(NULL, 0);

    /* strata_iter_open_wait: the open and its first chunk in the call. The chunk of up to 16
     * entries (one holds 5000 bytes) does not fit in dst: strata hands it over. */
    uint64_t it_token = new_token();
    rc = strata_iter_open_wait(a->handle, 0, NULL, 0, NULL, 0, STRATA_ITER_FIRST_CHUNK, 0, it_token,
                               1000, 0, dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.handle != 0 && out.data != NULL && out.len > sizeof big,
          "iter_open_wait opens an iterator and hands over a first chunk that does not fit");
    strata_value_free(out.data, out.len);
    check(strata_iter_close(out.handle) == STRATA_OK, "close the iterator opened waiting");
    rc = strata_iter_open_wait(a->handle, 0, BYTES("wait-big"), 8, BYTES("wait-big\x01"), 9,
                               STRATA_ITER_FIRST_CHUNK, 0, new_token(), 0, 0, NULL, 0, &out);
    check(rc == STRATA_OK && out.data != NULL && (out.flags & STRATA_ITER_DONE) != 0 &&
              out.len == 8 + 8 + sizeof big,
          "iter_open_wait over one key: that entry and STRATA_ITER_DONE");
    strata_value_free(out.data, out.len);
    strata_iter_close(out.handle);
    check(strata_iter_open_wait(a->handle, 0, NULL, 0, NULL, 0, 0, 0, 0, 0, 0, NULL, 0, &out) ==
              STRATA_ERR_INVALID_ARGUMENT,
          "iter_open_wait without a token -> INVALID_ARGUMENT");
    check(strata_iter_open_wait(a->handle, 0, NULL, 0, NULL, 0, 1u << 30, 0, new_token(), 0, 0, NULL,
                                0, &out) == STRATA_ERR_INVALID_ARGUMENT,
          "iter_open_wait with an unknown flag -> INVALID_ARGUMENT");
    rc = strata_iter_open_wait(987654321, 0, NULL, 0, NULL, 0, 0, 0, new_token(), 0, 0, NULL, 0, &out);
    check(rc == STRATA_ERR_CLOSED && out.data != NULL && out.len > 0,
          "iter_open_wait on an unknown handle -> CLOSED with a message");
    strata_value_free(out.data, out.len);

    /* strata_iter_seek_wait and strata_iter_next_wait: seeks and the chunk after one, each in
     * the call. From "wait-big" up the chunk holds that 5000-byte entry (handed over); within
     * [empty, empty\x01) it is the one 13-byte entry "empty" (copied into dst). */
    rc = strata_iter_open_wait(a->handle, 0, NULL, 0, NULL, 0, 0, 0, new_token(), 0, 0, NULL, 0, &out);
    uint64_t waited_iter = out.handle;
    check(rc == STRATA_OK && waited_iter != 0, "iter_open_wait without a first chunk");
    rc = strata_iter_seek_wait(waited_iter, STRATA_SEEK_GE, BYTES("wait-big"), 8, NULL, 0, NULL, 0, 0,
                               new_token(), 1000, 0, dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.data != NULL && out.len >= 8 + 8 + sizeof big &&
              memcmp(out.data + 8, "wait-big", 8) == 0,
          "iter_seek_wait hands over a chunk that does not fit, from the key sought");
    strata_value_free(out.data, out.len);
    rc = strata_iter_seek_wait(waited_iter, STRATA_SEEK_FIRST, NULL, 0, BYTES("empty"), 5,
                               BYTES("empty\x01"), 6, 0, new_token(), 0, 0, dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.data == NULL && out.len == 8 + 5 &&
              (out.flags & STRATA_ITER_DONE) != 0 && memcmp(dst + 8, "empty", 5) == 0,
          "iter_seek_wait within new bounds copies the one entry in them into dst, and DONE");
    rc = strata_iter_next_wait(waited_iter, new_token(), 0, 0, dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.len == 0 && (out.flags & STRATA_ITER_DONE) != 0,
          "iter_next_wait past the bounds: an empty chunk and STRATA_ITER_DONE");
    check(strata_iter_seek_wait(waited_iter, STRATA_SEEK_LT + 1, NULL, 0, NULL, 0, NULL, 0, 0,
                                new_token(), 0, 0, NULL, 0, &out) == STRATA_ERR_INVALID_ARGUMENT,
          "iter_seek_wait with an unknown mode -> INVALID_ARGUMENT");
    check(strata_iter_seek_wait(waited_iter, STRATA_SEEK_GE, NULL, 1, NULL, 0, NULL, 0, 0,
                                new_token(), 0, 0, NULL, 0, &out) == STRATA_ERR_INVALID_ARGUMENT,
          "iter_seek_wait with a NULL key of non-zero length -> INVALID_ARGUMENT");
    check(strata_iter_next_wait(waited_iter, 0, 0, 0, NULL, 0, &out) ==
              STRATA_ERR_INVALID_ARGUMENT,
          "iter_next_wait without a token -> INVALID_ARGUMENT");
    check(strata_iter_next_wait(waited_iter, new_token(), 0, 0, NULL, 4, &out) ==
              STRATA_ERR_INVALID_ARGUMENT,
          "iter_next_wait with a NULL buffer of non-zero capacity -> INVALID_ARGUMENT");
    check(strata_iter_close(waited_iter) == STRATA_OK, "close the iterator moved waiting");
    rc = strata_iter_next_wait(waited_iter, new_token(), 0, 0, NULL, 0, &out);
    check(rc == STRATA_ERR_CLOSED && out.data != NULL && out.len > 0,
          "iter_next_wait on a closed iterator -> CLOSED with a message");
    strata_value_free(out.data, out.len);
    rc = strata_iter_seek_wait(waited_iter, STRATA_SEEK_FIRST, NULL, 0, NULL, 0, NULL, 0, 0,
                               new_token(), 0, 0, NULL, 0, &out);
    check(rc == STRATA_ERR_CLOSED && out.data != NULL && out.len > 0,
          "iter_seek_wait on a closed iterator -> CLOSED with a message");
    strata_value_free(out.data, out.len);

    /* strata_db_write_wait: a batch applied, its result in the call. */
    struct batch wb = { 0 };
    batch_put(&wb, "write-waited", 12, "yes", 3);
    rc = strata_db_write_wait(a->handle, wb.bytes, wb.len, 0, new_token(), 1000, 0, dst, sizeof dst,
                              &out);
    check(rc == STRATA_OK && out.len == 0 && out.data == NULL,
          "write_wait applies a batch and returns OK in the call");
    if (rc == STRATA_OK)
        a->acked_batches++;
    model_set(&a->model, "write-waited", 12, "yes", 3);
    rc = strata_db_get_wait(a->handle, 0, BYTES("write-waited"), 12, 0, 0, 0, dst, sizeof dst,
                            &out);
    check(rc == STRATA_OK && out.len == 3 && memcmp(dst, "yes", 3) == 0,
          "the batch written waiting reads back");
    check(strata_db_write_wait(a->handle, wb.bytes, wb.len, 0, 0, 0, 0, NULL, 0, &out) ==
              STRATA_ERR_INVALID_ARGUMENT,
          "write_wait without a token -> INVALID_ARGUMENT");
    check(strata_db_write_wait(a->handle, wb.bytes, wb.len - 1, 0, new_token(), 0, 0, NULL, 0,
                               &out) == STRATA_ERR_INVALID_ARGUMENT,
          "write_wait of a truncated batch -> INVALID_ARGUMENT");
    rc = strata_db_write_wait(987654321, wb.bytes, wb.len, 0, new_token(), 0, 0, NULL, 0, &out);
    check(rc == STRATA_ERR_CLOSED && out.data != NULL && out.len > 0,
          "write_wait on an unknown handle -> CLOSED with a message");
    strata_value_free(out.data, out.len);
    /* STRATA_WRITE_SYNC: a write durable before it completes, an empty batch as a barrier;
     * any other bit is refused. */
    rc = strata_db_write_wait(a->handle, wb.bytes, wb.len, STRATA_WRITE_SYNC, new_token(), 0, 0,
                              dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.data == NULL, "a STRATA_WRITE_SYNC write applies in the call");
    if (rc == STRATA_OK)
        a->acked_batches++;
    rc = strata_db_write_wait(a->handle, NULL, 0, STRATA_WRITE_SYNC, new_token(), 0, 0, dst,
                              sizeof dst, &out);
    check(rc == STRATA_OK && out.data == NULL, "an empty STRATA_WRITE_SYNC batch completes OK");
    check(strata_db_write_wait(a->handle, wb.bytes, wb.len, STRATA_WRITE_SYNC << 1, new_token(),
                               0, 0, NULL, 0, &out) == STRATA_ERR_INVALID_ARGUMENT,
          "write_wait with an unknown flag -> INVALID_ARGUMENT");
    batch_free(&wb);

    /* strata_db_commit: a transaction's batch, written only if the keys it read are unchanged
     * since its snapshot; reads and batch in exact-size heap buffers freed after submission. */
    struct result sr = snapshot_open(a->handle);
    uint64_t txsnap = sr.handle;
    result_free(&sr);
    struct batch tb = { 0 };
    batch_put(&tb, "tx-out", 6, "1", 1);
    static const uint8_t read_key[] = { 12, 0, 0, 0, 'w', 'r', 'i', 't', 'e', '-',
                                        'w', 'a', 'i', 't', 'e', 'd' };
    for (int round = 0; round < 2; round++) {
        uint8_t *rb = dup_bytes(read_key, sizeof read_key);
        uint8_t *bb = dup_bytes(tb.bytes, tb.len);
        uint64_t tt = new_token();
        rc = strata_db_commit(a->handle, txsnap, bb, tb.len, rb, sizeof read_key, 0, tt);
        free(rb);
        free(bb);
        struct result cr = complete(rc, tt);
        if (round == 0) {
            check(cr.code == STRATA_OK, "commit whose read key is unchanged -> OK");
            if (cr.code == STRATA_OK)
                a->acked_batches++;
            model_set(&a->model, "tx-out", 6, "1", 1);
            /* Now change the key the transaction read. */
            struct result pr = put(a, "write-waited", 12, "changed", 7);
            check(pr.code == STRATA_OK, "put the key a transaction read");
            result_free(&pr);
            model_set(&a->model, "write-waited", 12, "changed", 7);
        } else {
            check(cr.code == STRATA_ERR_CONFLICT && cr.len > 0,
                  "commit after a write to its read key -> CONFLICT with a message");
        }
        result_free(&cr);
    }
    static const uint8_t torn_reads[] = { 5, 0, 0, 0, 'a' };
    check(strata_db_commit(a->handle, txsnap, tb.bytes, tb.len, torn_reads, sizeof torn_reads,
                           0, new_token()) == STRATA_ERR_INVALID_ARGUMENT,
          "commit with a read key running past the end -> INVALID_ARGUMENT");
    static const uint8_t empty_read[] = { 0, 0, 0, 0 };
    check(strata_db_commit(a->handle, txsnap, tb.bytes, tb.len, empty_read, sizeof empty_read, 0,
                           new_token()) == STRATA_ERR_INVALID_ARGUMENT,
          "commit with an empty read key -> INVALID_ARGUMENT");
    /* strata_db_commit_wait: the same commit, its result in the call (the read key changed
     * after txsnap, so it conflicts; a commit reading nothing goes through). */
    rc = strata_db_commit_wait(a->handle, txsnap, tb.bytes, tb.len, read_key, sizeof read_key, 0,
                               new_token(), 0, 0, dst, sizeof dst, &out);
    check(rc == STRATA_ERR_CONFLICT && out.len > 0,
          "commit_wait after a write to its read key -> CONFLICT with a message");
    strata_value_free(out.data, out.len);
    rc = strata_db_commit_wait(a->handle, txsnap, tb.bytes, tb.len, NULL, 0, 0, new_token(), 0, 0,
                               dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.len == 0, "commit_wait reading nothing -> OK in the call");
    if (rc == STRATA_OK)
        a->acked_batches++;
    check(strata_db_commit_wait(a->handle, txsnap, tb.bytes, tb.len, NULL, 0, 0, 0, 0, 0, NULL, 0,
                                &out) == STRATA_ERR_INVALID_ARGUMENT,
          "commit_wait without a token -> INVALID_ARGUMENT");
    strata_snapshot_close(txsnap);
    uint64_t ct = new_token();
    expect_error(complete(strata_db_commit(a->handle, txsnap, tb.bytes, tb.len, NULL, 0, 0, ct),
                          ct),
                 STRATA_ERR_CLOSED, "commit on a closed snapshot");
    batch_free(&tb);

    /* strata_expect + a submission + strata_wait: any request's result, in the call. */
    strata_waited w;
    uint64_t t = new_token();
    check(strata_wait(t, 0, 0, dst, sizeof dst, &w) == STRATA_ERR_INVALID_ARGUMENT,
          "wait for a token never announced -> INVALID_ARGUMENT");
    check(strata_expect(t) == STRATA_OK && strata_expect(t) == STRATA_ERR_INVALID_ARGUMENT,
          "a token is announced once");
    check(strata_db_put(a->handle, BYTES("waited"), 6, BYTES("put"), 3, t) == STRATA_OK,
          "submit a put whose result is waited for");
    rc = strata_wait(t, 1000, 0, dst, sizeof dst, &w);
    check(rc == STRATA_OK && w.len == 0 && w.data == NULL, "wait returns the put's result");
    if (rc == STRATA_OK)
        a->acked_batches++;
    model_set(&a->model, "waited", 6, "put", 3);
    t = new_token();
    check(strata_expect(t) == STRATA_OK &&
              strata_db_get(a->handle, 0, BYTES("wait-big"), 8, t) == STRATA_OK,
          "submit a get whose result is waited for");
    rc = strata_wait(t, 0, 0, dst, sizeof dst, &w);
    check(rc == STRATA_OK && w.len == sizeof big && w.data != NULL &&
              memcmp(w.data, big, sizeof big) == 0,
          "wait hands over a result that does not fit");
    strata_value_free(w.data, w.len);
    t = new_token();
    check(strata_expect(t) == STRATA_OK &&
              strata_db_get(a->handle, 0, NULL, 3, t) == STRATA_ERR_INVALID_ARGUMENT,
          "a refused submission of an announced token");
    check(strata_forget(t) == STRATA_OK &&
              strata_wait(t, 0, 0, dst, sizeof dst, &w) == STRATA_ERR_INVALID_ARGUMENT,
          "a forgotten token is not waited for");

    /* Interrupted and abandoned: a token announced, never submitted (only the interruption
     * can end its wait). */
    t = new_token();
    check(strata_expect(t) == STRATA_OK && strata_interrupt(t) == STRATA_OK,
          "announce a token and interrupt its wait before it starts");
    check(strata_wait(t, 0, 0, dst, sizeof dst, &w) == STRATA_INTERRUPTED,
          "an interrupted wait returns STRATA_INTERRUPTED");
    check(strata_abandon(t, dst, sizeof dst, &w) == STRATA_INTERRUPTED &&
              strata_wait(t, 0, 0, dst, sizeof dst, &w) == STRATA_ERR_INVALID_ARGUMENT,
          "abandoned before its result: nothing handed back, the token forgotten");
    check(strata_interrupt(t) == STRATA_OK, "interrupting a forgotten token is harmless");

    /* A wait with a limit ends when it passes and can be resumed. */
    t = new_token();
    check(strata_expect(t) == STRATA_OK &&
              strata_wait(t, 0, 1000000, dst, sizeof dst, &w) == STRATA_INTERRUPTED,
          "a wait for a result that never comes ends at its limit");
    check(strata_abandon(t, dst, sizeof dst, &w) == STRATA_INTERRUPTED,
          "and the token can then be abandoned");

    /* strata_db_get_wait with a token: resumable by it; a limit needs a token. */
    uint64_t watched = new_token();
    rc = strata_db_get_wait(a->handle, 0, BYTES("hello"), 5, watched, 0, 1000000000, dst,
                            sizeof dst, &out);
    if (rc == STRATA_INTERRUPTED)
        rc = strata_wait(watched, 0, 0, dst, sizeof dst, &out);
    check(rc == STRATA_OK && out.len == 5 && memcmp(dst, "world", 5) == 0,
          "get_wait with a token and a limit answers, then forgets the token");
    check(strata_wait(watched, 0, 0, dst, sizeof dst, &w) == STRATA_ERR_INVALID_ARGUMENT,
          "the token is forgotten after the answer");
    check(strata_db_get_wait(a->handle, 0, BYTES("hello"), 5, 0, 0, 1000, dst, sizeof dst, &out) ==
              STRATA_ERR_INVALID_ARGUMENT,
          "get_wait with a limit but no token -> INVALID_ARGUMENT");
}

static void test_write_batches(struct db *a)
{
    struct batch b = { 0 };
    batch_put(&b, "b1", 2, "one", 3);
    batch_put(&b, "b2", 2, "", 0);
    batch_delete(&b, "hello", 5);
    batch_put(&b, "b1", 2, "one again", 9); /* later operations in a batch win */
    expect_code(write_batch(a, b.bytes, b.len), STRATA_OK, "write a batch of 4 operations");
    batch_free(&b);
    model_set(&a->model, "b1", 2, "one again", 9);
    model_set(&a->model, "b2", 2, "", 0);
    model_delete(&a->model, "hello", 5);

    expect_code(write_batch(a, NULL, 0), STRATA_OK, "write an empty batch (NULL, 0)");

    check_model(a, "after batches");
    check_stats(a, "after batches");
}

/* Makes a call that must be refused synchronously with INVALID_ARGUMENT. `call` submits with
 * `token`, a fresh token from the rejected range, so a completion it wrongly produced later is
 * recognizable. */
#define EXPECT_INVALID(call, what)                                                         \
    do {                                                                                   \
        uint64_t token = next_rejected_token++;                                            \
        check((call) == STRATA_ERR_INVALID_ARGUMENT, "%s -> INVALID_ARGUMENT", what);      \
    } while (0)

/* STRATA_BATCH_DELETE_RANGE: a batch deletes [start, end) in order with its other operations
 * (what it put in the range before is deleted, what it puts there after is not); gets and
 * iterators skip the range, in the memtable and once flushed; an inverted range or an empty
 * bound is refused and changes nothing, and start == end deletes nothing. */
static void test_range_deletes(struct db *r)
{
    if (!open_db(r, NULL, "open the range-delete db"))
        return;
    static const char *const keys[] = { "r/a", "r/b", "r/b1", "r/c", "r/cz", "r/d", "r/e" };
    struct batch b = { 0 };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        batch_put(&b, keys[i], strlen(keys[i]), "v", 1);
        model_set(&r->model, keys[i], strlen(keys[i]), "v", 1);
    }
    expect_code(write_batch(r, b.bytes, b.len), STRATA_OK, "write the keys to range-delete");
    batch_free(&b);

    batch_put(&b, "r/b0", 4, "before", 6);
    batch_delete_range(&b, "r/b", 3, "r/d", 3);
    batch_put(&b, "r/c1", 4, "after", 5);
    expect_code(write_batch(r, b.bytes, b.len), STRATA_OK,
                "write a batch: put, delete range [r/b, r/d), put");
    batch_free(&b);
    model_set(&r->model, "r/b0", 4, "before", 6);
    model_delete_range(&r->model, "r/b", 3, "r/d", 3);
    model_set(&r->model, "r/c1", 4, "after", 5);

    expect_code(get(r->handle, "r/c", 3), STRATA_ERR_NOT_FOUND,
                "get of a key inside the deleted range");
    expect_code(get(r->handle, "r/b", 3), STRATA_ERR_NOT_FOUND,
                "get of the deleted range's start");
    expect_code(get(r->handle, "r/b0", 4), STRATA_ERR_NOT_FOUND,
                "get of a key the batch put before its range delete");
    struct result g = get(r->handle, "r/d", 3);
    check(g.code == STRATA_OK && g.len == 1 && g.data[0] == 'v',
          "get of the deleted range's end -> OK, its value (got %s)", code_name(g.code));
    result_free(&g);
    g = get(r->handle, "r/c1", 4);
    check(g.code == STRATA_OK && g.len == 5 && memcmp(g.data, "after", 5) == 0,
          "get of a key the batch put after its range delete -> OK, its value (got %s)",
          code_name(g.code));
    result_free(&g);
    /* Forward and reverse iterations equal the model: r/a, r/c1, r/d, r/e, nothing else. */
    check_db(r, "after a range delete");
    struct range inside = { "r/b", 3, "r/d\xff", 4 };
    check_iter_model(r->handle, 0, &r->model, &inside, false,
                     "range-delete: forward scan starting inside the range");
    check_iter_model(r->handle, 0, &r->model, &inside, true,
                     "range-delete: reverse scan ending inside the range");

    /* Refused synchronously: nothing of the batch is applied, its put included. */
    uint64_t db = r->handle;
    batch_put(&b, "r/x", 3, "x", 1);
    batch_delete_range(&b, "r/d", 3, "r/b", 3);
    EXPECT_INVALID(strata_db_write(db, b.bytes, b.len, 0, token),
                   "write a range delete whose start sorts after its end");
    batch_free(&b);
    batch_delete_range(&b, "r/e", 3, "r/e\x00", 4);
    batch_delete_range(&b, "r/e1", 4, "r/e", 3); /* "r/e" is a prefix of "r/e1": after it */
    EXPECT_INVALID(strata_db_write(db, b.bytes, b.len, 0, token),
                   "write a range delete whose end is a prefix of its start");
    batch_free(&b);
    batch_delete_range(&b, "", 0, "r/b", 3);
    EXPECT_INVALID(strata_db_write(db, b.bytes, b.len, 0, token),
                   "write a range delete with an empty start");
    batch_free(&b);
    batch_delete_range(&b, "r/a", 3, "", 0);
    EXPECT_INVALID(strata_db_write(db, b.bytes, b.len, 0, token),
                   "write a range delete with an empty end");
    batch_free(&b);
    batch_delete_range(&b, "r/a", 3, "r/a", 3);
    expect_code(write_batch(r, b.bytes, b.len), STRATA_OK,
                "write a range delete whose start equals its end");
    batch_free(&b);
    check_db(r, "after refused range deletes and an empty one");

    /* The tombstone keeps hiding the range from a table. */
    expect_code(flush_db(r->handle), STRATA_OK, "flush the range tombstone");
    check_db(r, "after flushing the range tombstone");
    check_stats(r, "after range deletes");
}

static void test_rejected_arguments(struct db *a)
{
    uint64_t first_rejected = next_rejected_token;
    uint64_t db = a->handle;
    size_t too_long = STRATA_MAX_KEY_LEN + 1;
    uint8_t *long_key = xmalloc(too_long);
    memset(long_key, 'L', too_long);
    /* Never read by strata (only its length is checked), so it may stay uninitialized. */
    uint8_t *huge_value = xmalloc((size_t)STRATA_MAX_VALUE_LEN + 1);

    EXPECT_INVALID(strata_db_put(db, NULL, 3, BYTES("v"), 1, token),
                   "put with a NULL key of length 3");
    EXPECT_INVALID(strata_db_put(db, BYTES("k"), 0, BYTES("v"), 1, token),
                   "put with a zero-length key");
    EXPECT_INVALID(strata_db_put(db, long_key, too_long, BYTES("v"), 1, token),
                   "put with a key of STRATA_MAX_KEY_LEN+1 bytes");
    EXPECT_INVALID(strata_db_put(db, BYTES("k"), 1, NULL, 2, token),
                   "put with a NULL value of length 2");
    EXPECT_INVALID(strata_db_put(db, BYTES("k"), 1, huge_value, STRATA_MAX_VALUE_LEN + 1, token),
                   "put with a value of STRATA_MAX_VALUE_LEN+1 bytes");
    EXPECT_INVALID(strata_db_get(db, 0, NULL, 3, token), "get with a NULL key of length 3");
    EXPECT_INVALID(strata_db_get(db, 0, BYTES("k"), 0, token), "get with a zero-length key");
    EXPECT_INVALID(strata_db_get(db, 0, long_key, too_long, token),
                   "get with a key of STRATA_MAX_KEY_LEN+1 bytes");
    /* The key is judged before the snapshot is looked at: a bad key with any snapshot. */
    EXPECT_INVALID(strata_db_get(db, 987654321, BYTES("k"), 0, token),
                   "get at a snapshot with a zero-length key");
    EXPECT_INVALID(strata_db_delete(db, NULL, 3, token), "delete with a NULL key of length 3");
    EXPECT_INVALID(strata_db_delete(db, BYTES("k"), 0, token), "delete with a zero-length key");
    EXPECT_INVALID(strata_db_delete(db, long_key, too_long, token),
                   "delete with a key of STRATA_MAX_KEY_LEN+1 bytes");
    EXPECT_INVALID(strata_iter_open(db, 0, NULL, 0, NULL, 0, 4, 0, token),
                   "iter_open with unknown flag bit 4");
    EXPECT_INVALID(strata_iter_open(db, 0, NULL, 0, NULL, 0, 0x80000000u, 0, token),
                   "iter_open with unknown flag bit 31");
    EXPECT_INVALID(strata_iter_open(db, 0, NULL, 1, NULL, 0, 0, 0, token),
                   "iter_open with a NULL start of length 1");
    EXPECT_INVALID(strata_iter_open(db, 0, NULL, 0, NULL, 1, 0, 0, token),
                   "iter_open with a NULL end of length 1");
    EXPECT_INVALID(strata_iter_open(db, 0, long_key, too_long, NULL, 0, 0, 0, token),
                   "iter_open with a start of STRATA_MAX_KEY_LEN+1 bytes");
    EXPECT_INVALID(strata_db_compact(db, NULL, 1, NULL, 0, token),
                   "compact with a NULL start of length 1");
    EXPECT_INVALID(strata_db_compact(db, NULL, 0, NULL, 1, token),
                   "compact with a NULL end of length 1");
    EXPECT_INVALID(strata_db_compact(db, NULL, 0, long_key, too_long, token),
                   "compact with an end of STRATA_MAX_KEY_LEN+1 bytes");
    EXPECT_INVALID(strata_db_estimate_disk_usage(db, NULL, 1, NULL, 0, token),
                   "estimate_disk_usage with a NULL start of length 1");
    EXPECT_INVALID(strata_db_estimate_disk_usage(db, long_key, too_long, NULL, 0, token),
                   "estimate_disk_usage with a start of STRATA_MAX_KEY_LEN+1 bytes");
    free(long_key);

    /* Paths follow the strata_db_open rules: bytes + length, non-empty, no NUL inside. */
    static const uint8_t nul_path[] = { '/', 't', 'm', 'p', 0, 'x' };
    EXPECT_INVALID(strata_db_checkpoint(db, NULL, 5, token),
                   "checkpoint with a NULL path of length 5");
    EXPECT_INVALID(strata_db_checkpoint(db, NULL, 0, token),
                   "checkpoint with a NULL path of length 0");
    EXPECT_INVALID(strata_db_checkpoint(db, BYTES("/tmp"), 0, token),
                   "checkpoint with a zero-length path");
    EXPECT_INVALID(strata_db_checkpoint(db, nul_path, sizeof nul_path, token),
                   "checkpoint with a NUL byte inside the path");
    EXPECT_INVALID(strata_check(NULL, 5, token), "check with a NULL path of length 5");
    EXPECT_INVALID(strata_check(NULL, 0, token), "check with a NULL path of length 0");
    EXPECT_INVALID(strata_check(BYTES("/tmp"), 0, token), "check with a zero-length path");
    EXPECT_INVALID(strata_check(nul_path, sizeof nul_path, token),
                   "check with a NUL byte inside the path");
    free(huge_value);

    static const uint8_t unknown_kind[] = { 9, 1, 0, 0, 0, 'k' };
    static const uint8_t truncated_key_len[] = { 1, 5, 0 };
    static const uint8_t key_past_end[] = { 1, 5, 0, 0, 0, 'a' };
    static const uint8_t put_without_value[] = { 1, 1, 0, 0, 0, 'k' };
    static const uint8_t value_past_end[] = { 1, 1, 0, 0, 0, 'k', 9, 0, 0, 0, 'v' };
    static const uint8_t empty_key[] = { 2, 0, 0, 0, 0 };
    static const uint8_t trailing_byte[] = { 2, 1, 0, 0, 0, 'k', 2 };
    struct {
        const char *what;
        const uint8_t *bytes;
        size_t len;
    } batches[] = {
        { "write of a batch with unknown kind 9", unknown_kind, sizeof unknown_kind },
        { "write of a batch with a truncated key length", truncated_key_len,
          sizeof truncated_key_len },
        { "write of a batch whose key runs past the end", key_past_end, sizeof key_past_end },
        { "write of a put without a value length", put_without_value, sizeof put_without_value },
        { "write of a batch whose value runs past the end", value_past_end,
          sizeof value_past_end },
        { "write of a delete with an empty key", empty_key, sizeof empty_key },
        { "write of a valid entry followed by a stray byte", trailing_byte, sizeof trailing_byte },
        { "write with a NULL batch of length 5", NULL, 5 },
    };
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++)
        EXPECT_INVALID(strata_db_write(db, batches[i].bytes, batches[i].len, 0, token),
                       batches[i].what);

    /* A rejected call must not complete later either. Writes are acknowledged in submission
     * order, so once this put completes every earlier request has completed too. */
    expect_code(put(a, "sentinel", 8, "s", 1), STRATA_OK, "sentinel put after rejected calls");
    model_set(&a->model, "sentinel", 8, "s", 1);
    check(stash_count_range(first_rejected, next_rejected_token) == 0 &&
              stash_count_range(REJECTED_TOKEN_BASE, first_rejected) == 0,
          "no rejected submission produced a completion");
}

/* ---- iterators ---- */

/* Database b holds key i -> iter_value(i) for i in [0, ITER_KEYS). */
enum { ITER_KEYS = 2000, ITER_BATCH = 250, ITER_VALUE_MAX = 48 };

static size_t iter_key(int i, char out[16]) { return (size_t)snprintf(out, 16, "key%05d", i); }

/* Values of varied length with zero bytes inside; every 100th is empty. */
static size_t iter_value(int i, uint8_t out[ITER_VALUE_MAX])
{
    size_t len = i % 100 == 0 ? 0 : 1 + (size_t)(i % 40);
    for (size_t j = 0; j < len; j++)
        out[j] = (uint8_t)(i * 31 + (int)j * 7);
    if (len > 0)
        out[len / 2] = 0;
    return len;
}

static void fill_iteration_db(struct db *b)
{
    bool ok = true;
    for (int first = 0; first < ITER_KEYS; first += ITER_BATCH) {
        struct batch batch = { 0 };
        for (int i = first; i < first + ITER_BATCH; i++) {
            char key[16];
            uint8_t value[ITER_VALUE_MAX];
            size_t key_len = iter_key(i, key);
            batch_put(&batch, key, key_len, value, iter_value(i, value));
        }
        struct result r = write_batch(b, batch.bytes, batch.len);
        ok = ok && r.code == STRATA_OK;
        result_free(&r);
        batch_free(&batch);
    }
    check(ok, "write %d keys to b in batches of %d", ITER_KEYS, ITER_BATCH);
}

/* Opens an iterator over [key(lo), key(hi)); an unbounded side is passed as NULL/0. */
static uint64_t open_range(uint64_t db, int lo, int hi, bool bounded, uint32_t flags)
{
    char start[16], end[16];
    size_t start_len = bounded ? iter_key(lo, start) : 0;
    size_t end_len = bounded ? iter_key(hi, end) : 0;
    struct result r = iter_open(db, bounded ? start : NULL, start_len, bounded ? end : NULL,
                                end_len, flags);
    uint64_t iter = r.handle;
    if (r.code != STRATA_OK) {
        check(false, "iter_open [%d, %d) flags %u -> OK", lo, hi, flags);
        iter = 0;
    }
    result_free(&r);
    return iter;
}

/* Walks one chunk; advances *next by `step` per entry. False on bad framing or content. */
static bool check_chunk(const struct result *r, int *next, int step, int lo, int hi,
                        size_t *entries)
{
    size_t off = 0;
    const uint8_t *key, *value;
    size_t key_len, value_len;
    int got;
    while ((got = chunk_entry(r, &off, &key, &key_len, &value, &value_len)) != 0) {
        if (got < 0)
            return false;
        if (*next < lo || *next >= hi)
            return false; /* more entries than the range holds */
        char want_key[16];
        uint8_t want_value[ITER_VALUE_MAX];
        size_t want_key_len = iter_key(*next, want_key);
        size_t want_value_len = iter_value(*next, want_value);
        if (key_len != want_key_len || memcmp(key, want_key, key_len) != 0 ||
            value_len != want_value_len || memcmp(value, want_value, value_len) != 0)
            return false;
        *next += step;
        (*entries)++;
    }
    return true;
}

/* Drains iterator `iter`, which must yield exactly key(lo) .. key(hi - 1) in its direction. */
static void check_iteration(uint64_t iter, int lo, int hi, bool reverse, const char *what)
{
    int next = reverse ? hi - 1 : lo;
    size_t entries = 0, chunks = 0;
    bool content_ok = true, done = false;
    while (!done && content_ok && chunks <= ITER_KEYS + 1) {
        struct result r = iter_next(iter);
        chunks++;
        if (r.code != STRATA_OK) {
            diag("iter_next: %s", code_name(r.code));
            content_ok = false;
        } else {
            content_ok = check_chunk(&r, &next, reverse ? -1 : 1, lo, hi, &entries);
            done = (r.flags & STRATA_ITER_DONE) != 0;
        }
        result_free(&r);
    }
    size_t want = (size_t)(hi - lo);
    if (!check(content_ok && done && entries == want,
               "%s: %zu entries in order, byte-exact, ending with STRATA_ITER_DONE", what, want)) {
        diag("stopped after %zu entries, %zu chunks, next expected %d", entries, chunks, next);
        return;
    }
    if (want > 100)
        check(chunks > 1, "%s: took %zu chunks, not one", what, chunks);

    /* Asking again after the end is harmless: an empty final chunk. */
    struct result r = iter_next(iter);
    check(r.code == STRATA_OK && r.len == 0 && (r.flags & STRATA_ITER_DONE),
          "%s: iter_next after DONE -> OK, empty, DONE", what);
    result_free(&r);
}

/* Seeks `iter` (mode, key(at) unless at < 0) within [key(lo), key(hi)), key and bounds in
 * exact-size heap buffers freed right after submission; the entries from the seek's own chunk
 * on must be key(first) walking `step` to the range's end. */
static void check_seek(uint64_t iter, uint32_t mode, int at, int lo, int hi, int first, int step,
                       const char *what)
{
    char key[16], start[16], end[16];
    size_t key_len = at >= 0 ? iter_key(at, key) : 0;
    size_t start_len = iter_key(lo, start), end_len = iter_key(hi, end);
    uint8_t *k = key_len ? dup_bytes(key, key_len) : NULL;
    uint8_t *s = dup_bytes(start, start_len), *e = dup_bytes(end, end_len);
    uint64_t t = new_token();
    int32_t rc = strata_iter_seek(iter, mode, k, key_len, s, start_len, e, end_len, 0, t);
    free(k);
    free(s);
    free(e);
    struct result r = complete(rc, t);
    int next = first;
    size_t entries = 0, chunks = 0;
    bool ok = r.code == STRATA_OK, done = false;
    while (ok && chunks <= ITER_KEYS + 1) {
        ok = check_chunk(&r, &next, step, lo, hi, &entries);
        done = (r.flags & STRATA_ITER_DONE) != 0;
        result_free(&r);
        if (!ok || done)
            break;
        r = iter_next(iter);
        ok = r.code == STRATA_OK;
        chunks++;
    }
    if (!ok)
        result_free(&r);
    int want = step > 0 ? hi - first : first - lo + 1;
    check(ok && done && entries == (size_t)(want > 0 ? want : 0),
          "%s: %d entries from key%05d, in order, then DONE (got %zu)", what, want > 0 ? want : 0,
          first, entries);
}

/* strata_iter_seek with STRATA_SEEK_BEHIND, bounds [key(lo), key(hi)), 16 entries: the data
 * starts with the length of the entries behind the position, which run from key(behind) a step
 * of -step at a time (behind_n of them, then STRATA_ITER_BEHIND_DONE or not), followed by the
 * chunk from key(first), step at a time (16 entries, or to the bound). */
static void check_seek_behind(uint64_t iter, uint32_t mode, int at, int lo, int hi, int behind,
                              size_t behind_n, bool behind_done, int first, int step,
                              const char *what)
{
    char key[16], start[16], end[16];
    size_t key_len = at >= 0 ? iter_key(at, key) : 0;
    size_t start_len = iter_key(lo, start), end_len = iter_key(hi, end);
    uint64_t t = new_token();
    struct result r = complete(strata_iter_seek(iter, mode | STRATA_SEEK_BEHIND, BYTES(key),
                                                key_len, BYTES(start), start_len,
                                                BYTES(end), end_len, 16, t),
                               t);
    size_t n = r.len >= 4 ? (size_t)(r.data[0] | r.data[1] << 8 | r.data[2] << 16 |
                                      (size_t)r.data[3] << 24)
                          : SIZE_MAX;
    bool ok = r.code == STRATA_OK && n <= r.len - 4;
    size_t back_entries = 0, entries = 0;
    int next_back = behind, next = first;
    if (ok) {
        struct result back = r, ahead = r;
        back.data = r.data + 4;
        back.len = n;
        ahead.data = r.data + 4 + n;
        ahead.len = r.len - 4 - n;
        ok = check_chunk(&back, &next_back, -step, lo, hi, &back_entries) &&
             check_chunk(&ahead, &next, step, lo, hi, &entries);
    }
    int want = step > 0 ? hi - first : first - lo + 1;
    want = want < 0 ? 0 : want > 16 ? 16 : want;
    check(ok && back_entries == behind_n && entries == (size_t)want &&
              ((r.flags & STRATA_ITER_BEHIND_DONE) != 0) == behind_done,
          "%s: %zu entries behind from key%05d%s, then %d from key%05d (got %zu%s, %zu)", what,
          behind_n, behind, behind_done ? " and BEHIND_DONE" : "", want, first, back_entries,
          (r.flags & STRATA_ITER_BEHIND_DONE) ? " and BEHIND_DONE" : "", entries);
    result_free(&r);
}

static void check_range(uint64_t db, int lo, int hi, bool bounded, bool reverse, const char *what)
{
    uint64_t iter = open_range(db, lo, hi, bounded, reverse ? STRATA_ITER_REVERSE : 0);
    if (iter == 0)
        return;
    check_iteration(iter, lo, hi, reverse, what);
    check(strata_iter_close(iter) == STRATA_OK, "%s: iter_close -> OK", what);
}

/* start > end selects nothing. It must not reach BTreeMap::range unchecked, whose panic would
 * poison the database; the next put proves the db still takes writes. */
static void check_inverted_bounds(struct db *b, uint32_t flags)
{
    uint64_t iter = open_range(b->handle, 1500, 500, true, flags);
    if (iter == 0)
        return;
    struct result r = iter_next(iter);
    check(r.code == STRATA_OK && r.len == 0 && (r.flags & STRATA_ITER_DONE),
          "inverted bounds (flags %u) -> one empty chunk with STRATA_ITER_DONE", flags);
    result_free(&r);
    strata_iter_close(iter);
}

static void test_iterators(struct db *b)
{
    fill_iteration_db(b);
    check_range(b->handle, 0, ITER_KEYS, false, false, "forward, unbounded");
    check_range(b->handle, 0, ITER_KEYS, false, true, "reverse, unbounded");
    check_range(b->handle, 100, 1900, true, false, "forward [key00100, key01900)");
    check_range(b->handle, 100, 1900, true, true, "reverse [key00100, key01900)");
    check_range(b->handle, 1000, 1000, true, false, "forward over an empty range");
    check_inverted_bounds(b, 0);
    check_inverted_bounds(b, STRATA_ITER_REVERSE);

    /* An iterator reads the snapshot taken when it opened: a later write stays invisible. */
    uint64_t snap = open_range(b->handle, 0, ITER_KEYS, false, 0);
    char key[16];
    uint8_t value[ITER_VALUE_MAX];
    size_t key_len = iter_key(ITER_KEYS, key);
    expect_code(put(b, key, key_len, value, iter_value(ITER_KEYS, value)), STRATA_OK,
                "put one more key while an iterator is open");
    strata_stats s;
    if (read_stats(b->handle, &s))
        check(s.open_iterators == 1 && s.snapshots == 1,
              "stats count the open iterator and its snapshot (%" PRIu64 ", %" PRIu64 ")",
              s.open_iterators, s.snapshots);
    if (snap != 0)
        check_iteration(snap, 0, ITER_KEYS, false, "snapshot iterator");
    check_range(b->handle, 0, ITER_KEYS + 1, false, false, "a new iterator sees the new key");

    /* Closing twice is harmless; the closed handle then fails with CLOSED. */
    check(strata_iter_close(snap) == STRATA_OK && strata_iter_close(snap) == STRATA_OK,
          "iter_close twice returns OK both times");
    check(strata_iter_close(987654321) == STRATA_OK, "iter_close of an unknown handle -> OK");
    expect_error(iter_next(snap), STRATA_ERR_CLOSED, "iter_next after iter_close");
    if (read_stats(b->handle, &s))
        check(s.open_iterators == 0 && s.snapshots == 0,
              "stats: no iterator or snapshot left after closing");

    /* Bounds are copied: free them right after submission. */
    uint8_t *start = dup_bytes("key00010", 8);
    uint8_t *end = dup_bytes("key00020", 8);
    uint64_t t = new_token();
    int32_t rc = strata_iter_open(b->handle, 0, start, 8, end, 8, 0, 0, t);
    free(start);
    free(end);
    struct result r = complete(rc, t);
    uint64_t iter = r.handle;
    if (expect_code(r, STRATA_OK, "iter_open with bounds freed before completion")) {
        check_iteration(iter, 10, 20, false, "iterator with freed bounds");
        strata_iter_close(iter);
    }

    /* STRATA_ITER_FIRST_CHUNK: the open's completion already holds the first chunk. */
    t = new_token();
    r = complete(strata_iter_open(b->handle, 0, BYTES("key00010"), 8, BYTES("key00020"), 8,
                                  STRATA_ITER_FIRST_CHUNK, 0, t),
                 t);
    size_t entries = 0, off = 0;
    bool well_formed = true;
    while (r.code == STRATA_OK && off + 8 <= r.len) {
        uint32_t kl, vl;
        memcpy(&kl, r.data + off, 4);
        memcpy(&vl, r.data + off + 4, 4);
        if (off + 8 + kl + vl > r.len || kl != 8 ||
            memcmp(r.data + off + 8, entries == 0 ? "key00010" : "key000", entries == 0 ? 8 : 6) != 0)
            well_formed = false;
        off += 8 + (size_t)kl + vl;
        entries++;
    }
    check(r.code == STRATA_OK && r.handle != 0 && well_formed && off == r.len && entries == 10 &&
              (r.flags & STRATA_ITER_DONE),
          "iter_open with FIRST_CHUNK carries all 10 entries of a short range and ITER_DONE");
    if (r.code == STRATA_OK) {
        uint64_t h = r.handle;
        result_free(&r);
        struct result rest = iter_next(h);
        check(rest.code == STRATA_OK && rest.len == 0 && (rest.flags & STRATA_ITER_DONE),
              "iter_next after a final first chunk returns an empty, done chunk");
        result_free(&rest);
        strata_iter_close(h);
    } else {
        result_free(&r);
    }

    /* chunk_entries: the first chunk after an open or a seek holds that many entries, the
     * chunks after it twice as many each. */
    t = new_token();
    r = complete(strata_iter_open(b->handle, 0, NULL, 0, NULL, 0, STRATA_ITER_FIRST_CHUNK, 3, t),
                 t);
    check(r.code == STRATA_OK && chunk_len(&r) == 3, "iter_open asking for 3 entries gets 3");
    uint64_t sized = r.handle;
    result_free(&r);
    r = iter_next(sized);
    check(r.code == STRATA_OK && chunk_len(&r) == 6, "the next chunk after 3 entries holds 6");
    result_free(&r);
    t = new_token();
    r = complete(strata_iter_seek(sized, STRATA_SEEK_GE, BYTES("key00500"), 8, NULL, 0, NULL, 0,
                                  100, t),
                 t);
    check(r.code == STRATA_OK && chunk_len(&r) == 100, "iter_seek asking for 100 entries gets 100");
    result_free(&r);
    t = new_token();
    r = complete(strata_iter_seek(sized, STRATA_SEEK_LAST, NULL, 0, NULL, 0, NULL, 0, 0, t), t);
    check(r.code == STRATA_OK && chunk_len(&r) == 16, "iter_seek asking for 0 entries gets 16");
    result_free(&r);
    strata_iter_close(sized);

    /* strata_iter_seek: an open iterator repositioned within new bounds, either way. */
    iter = open_range(b->handle, 0, ITER_KEYS, false, 0);
    if (iter != 0) {
        check_seek(iter, STRATA_SEEK_GE, 500, 100, 1900, 500, 1, "iter_seek GE key00500");
        check_seek(iter, STRATA_SEEK_GT, 500, 100, 1900, 501, 1, "iter_seek GT key00500");
        check_seek(iter, STRATA_SEEK_LE, 500, 100, 1900, 500, -1, "iter_seek LE key00500");
        check_seek(iter, STRATA_SEEK_LT, 500, 100, 1900, 499, -1, "iter_seek LT key00500");
        check_seek(iter, STRATA_SEEK_FIRST, -1, 100, 1900, 100, 1, "iter_seek FIRST");
        check_seek(iter, STRATA_SEEK_LAST, -1, 100, 1900, 1899, -1, "iter_seek LAST");
        check_seek(iter, STRATA_SEEK_GE, 50, 100, 1900, 100, 1, "iter_seek GE below the bounds");
        /* STRATA_SEEK_BEHIND: the entries behind the position come first. */
        check_seek_behind(iter, STRATA_SEEK_GE, 500, 100, 1900, 499, 16, false, 500, 1,
                          "iter_seek GE|BEHIND key00500");
        check_seek_behind(iter, STRATA_SEEK_GT, 500, 100, 1900, 500, 16, false, 501, 1,
                          "iter_seek GT|BEHIND key00500");
        check_seek_behind(iter, STRATA_SEEK_LE, 500, 100, 1900, 501, 16, false, 500, -1,
                          "iter_seek LE|BEHIND key00500");
        check_seek_behind(iter, STRATA_SEEK_LT, 500, 100, 1900, 500, 16, false, 499, -1,
                          "iter_seek LT|BEHIND key00500");
        check_seek_behind(iter, STRATA_SEEK_GE, 105, 100, 1900, 104, 5, true, 105, 1,
                          "iter_seek GE|BEHIND near the lower bound");
        check_seek_behind(iter, STRATA_SEEK_GE, 1950, 100, 1900, 1899, 16, false, 1900, 1,
                          "iter_seek GE|BEHIND past the upper bound");
        check_seek_behind(iter, STRATA_SEEK_FIRST, -1, 100, 1900, 99, 0, true, 100, 1,
                          "iter_seek FIRST|BEHIND");
        {
            /* The iterator stays where the chunk after the seek ended. */
            struct result r = iter_next(iter);
            int next = 116;
            size_t entries = 0;
            bool ok = r.code == STRATA_OK && check_chunk(&r, &next, 1, 100, 1900, &entries);
            check(ok && entries == 32,
                  "iter_next after a FIRST|BEHIND seek goes on from key00116 (got %zu)",
                  entries);
            result_free(&r);
        }
        EXPECT_INVALID(strata_iter_seek(iter, 0, NULL, 0, NULL, 0, NULL, 0, 0, token),
                       "iter_seek with mode 0");
        EXPECT_INVALID(
            strata_iter_seek(iter, STRATA_SEEK_LT + 1, NULL, 0, NULL, 0, NULL, 0, 0, token),
            "iter_seek with mode STRATA_SEEK_LT + 1");
        EXPECT_INVALID(
            strata_iter_seek(iter, STRATA_SEEK_FIRST, BYTES("k"), 1, NULL, 0, NULL, 0, 0, token),
            "iter_seek FIRST with a key");
        EXPECT_INVALID(strata_iter_seek(iter, STRATA_SEEK_GE, NULL, 1, NULL, 0, NULL, 0, 0, token),
                       "iter_seek with a NULL key of length 1");
        strata_iter_close(iter);
        t = new_token();
        expect_error(complete(strata_iter_seek(iter, STRATA_SEEK_FIRST, NULL, 0, NULL, 0, NULL, 0, 0,
                                               t),
                              t),
                     STRATA_ERR_CLOSED, "iter_seek after iter_close");
    }

    check_stats(b, "after iterators");
}

/* The options passed at open took effect: b (no_sync) never fsyncs, a (defaults) does. */
static void test_options(const struct db *a, const struct db *b)
{
    strata_stats sa, sb;
    if (read_stats(a->handle, &sa) && read_stats(b->handle, &sb))
        check(sa.wal_syncs > 0 && sa.wal_syncs <= sa.batches_written && sb.wal_syncs == 0,
              "fsyncs: a %" PRIu64 " for %" PRIu64 " batches, no_sync b %" PRIu64,
              sa.wal_syncs, sa.batches_written, sb.wal_syncs);
}

/* ---- threads created from C ---- */

enum { WRITER_THREADS = 8, PUTS_PER_WRITER = 500 };

struct writer {
    pthread_t thread;
    int index;
    uint64_t db;
    pthread_barrier_t *start;
    int rejected; /* submissions that did not return STRATA_OK */
};

static size_t writer_key(int writer, int i, char out[32])
{
    return (size_t)snprintf(out, 32, "thread%d-key%04d", writer, i);
}

static size_t writer_value(int writer, int i, char out[32])
{
    return (size_t)snprintf(out, 32, "value-%d-%d", writer, i);
}

static uint64_t writer_token(int writer, int i)
{
    return THREAD_TOKEN_BASE + (uint64_t)writer * PUTS_PER_WRITER + (uint64_t)i;
}

/* Submits puts only; the main thread is the one drainer the header allows. */
static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < PUTS_PER_WRITER; i++) {
        char key[32], value[32];
        size_t key_len = writer_key(w->index, i, key);
        size_t value_len = writer_value(w->index, i, value);
        if (strata_db_put(w->db, (uint8_t *)key, key_len, (uint8_t *)value, value_len,
                          writer_token(w->index, i)) != STRATA_OK)
            w->rejected++;
    }
    return NULL;
}

/* Waits for every writer's puts while the writers are still submitting. */
static size_t collect_writer_puts(void)
{
    size_t acked = 0;
    for (int w = 0; w < WRITER_THREADS; w++) {
        for (int i = 0; i < PUTS_PER_WRITER; i++) {
            struct result r = wait_for(writer_token(w, i));
            bool ok = r.code == STRATA_OK;
            result_free(&r);
            if (!ok) {
                diag("put %d of writer %d: %s", i, w, code_name(r.code));
                return acked; /* don't wait 10 s for each of the rest */
            }
            acked++;
        }
    }
    return acked;
}

/* Reads every key back, submitting all gets before waiting for any. */
static size_t check_writer_keys(uint64_t db)
{
    size_t wrong = 0;
    uint64_t first = next_token;
    for (int w = 0; w < WRITER_THREADS; w++)
        for (int i = 0; i < PUTS_PER_WRITER; i++) {
            char key[32];
            size_t key_len = writer_key(w, i, key);
            if (strata_db_get(db, 0, (uint8_t *)key, key_len, new_token()) != STRATA_OK)
                wrong++;
        }
    for (int w = 0; w < WRITER_THREADS; w++)
        for (int i = 0; i < PUTS_PER_WRITER; i++) {
            char value[32];
            size_t value_len = writer_value(w, i, value);
            struct result r = wait_for(first + (uint64_t)(w * PUTS_PER_WRITER + i));
            if (r.code != STRATA_OK || r.len != value_len || memcmp(r.data, value, value_len))
                wrong++;
            result_free(&r);
            if (r.code == RESULT_TIMEOUT)
                return wrong; /* don't wait 10 s for each of the rest */
        }
    return wrong;
}

static void test_threads(struct db *d)
{
    struct writer writers[WRITER_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, WRITER_THREADS);
    int started = 0;
    for (int w = 0; w < WRITER_THREADS; w++) {
        writers[w] = (struct writer){ .index = w, .db = d->handle, .start = &start };
        if (pthread_create(&writers[w].thread, NULL, writer_main, &writers[w]) == 0)
            started++;
    }
    if (!check(started == WRITER_THREADS, "started %d writer pthreads", WRITER_THREADS)) {
        /* The started writers wait at a barrier that never opens: stop here. */
        printf("%d passed, %d failed\n", checks_passed, checks_failed);
        exit(1);
    }

    size_t acked = collect_writer_puts();
    int rejected = 0;
    for (int w = 0; w < WRITER_THREADS; w++) {
        pthread_join(writers[w].thread, NULL);
        rejected += writers[w].rejected;
    }
    pthread_barrier_destroy(&start);
    d->acked_batches += acked;

    size_t total = (size_t)WRITER_THREADS * PUTS_PER_WRITER;
    check(rejected == 0, "all %zu puts from %d pthreads were accepted", total, WRITER_THREADS);
    check(acked == total, "all %zu puts from pthreads completed OK (main thread draining)",
          total);
    check(check_writer_keys(d->handle) == 0, "get returns every key the pthreads wrote");
    /* The pthreads called into strata 4000 times; none of them may have entered the engine. */
    check_stats(d, "after pthread writers");
}

/* ---- close and reopen ---- */

/* Every request on a closed or never-valid handle completes with CLOSED. */
static void check_handle_closed(uint64_t handle, const char *name)
{
    char what[96];
    struct db stale = { .name = name, .handle = handle };
    snprintf(what, sizeof what, "put on %s", name);
    expect_error(put(&stale, "k", 1, "v", 1), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "delete on %s", name);
    expect_error(del(&stale, "k", 1), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "write on %s", name);
    static const uint8_t one_put[] = { 1, 1, 0, 0, 0, 'k', 1, 0, 0, 0, 'v' };
    expect_error(write_batch(&stale, one_put, sizeof one_put), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "get on %s", name);
    expect_error(get(handle, "k", 1), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "stats on %s", name);
    expect_error(stats(handle), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "iter_open on %s", name);
    expect_error(iter_open(handle, NULL, 0, NULL, 0, 0), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "snapshot_open on %s", name);
    expect_error(snapshot_open(handle), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "flush on %s", name);
    expect_error(flush_db(handle), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "compact on %s", name);
    expect_error(compact_db(handle, NULL, 0, NULL, 0), STRATA_ERR_CLOSED, what);
    snprintf(what, sizeof what, "estimate_disk_usage on %s", name);
    uint64_t ignored;
    expect_error(estimate_db(handle, NULL, 0, NULL, 0, &ignored), STRATA_ERR_CLOSED, what);
    char *target = path_join(scratch_dir, "never-checkpointed");
    snprintf(what, sizeof what, "checkpoint on %s", name);
    expect_error(checkpoint_db(handle, target), STRATA_ERR_CLOSED, what);
    struct stat st;
    snprintf(what, sizeof what, "checkpoint on %s created no directory", name);
    check(stat(target, &st) != 0, "%s", what);
    free(target);
    snprintf(what, sizeof what, "close of %s", name);
    expect_error(close_db(handle), STRATA_ERR_CLOSED, what);
}

/* Close acknowledges writes submitted before it, then the handle is dead. */
static void test_close(struct db *a, struct db *b)
{
    enum { PENDING = 20 };
    uint64_t tokens[PENDING];
    bool accepted = true;
    for (int i = 0; i < PENDING; i++) {
        char key[16];
        size_t key_len = (size_t)snprintf(key, sizeof key, "pending%02d", i);
        tokens[i] = new_token();
        accepted = accepted && strata_db_put(a->handle, (uint8_t *)key, key_len,
                                             (uint8_t *)key, key_len, tokens[i]) == STRATA_OK;
        model_set(&a->model, key, key_len, key, key_len);
    }
    check(accepted, "submit %d puts without waiting", PENDING);
    expect_code(close_db(a->handle), STRATA_OK, "close a with puts in flight");

    bool all_before = true, all_ok = true;
    for (int i = 0; i < PENDING; i++) {
        all_before = all_before && stash_has(tokens[i]);
        struct result r = wait_for(tokens[i]);
        all_ok = all_ok && r.code == STRATA_OK;
        result_free(&r);
    }
    check(all_before, "puts submitted before close completed no later than the close");
    check(all_ok, "puts submitted before close completed OK");
    if (all_ok)
        a->acked_batches += PENDING;

    check_handle_closed(a->handle, "a closed handle");
    check_handle_closed(987654321, "unknown handle 987654321");

    /* Closing a database invalidates its iterators. */
    uint64_t orphan = open_range(b->handle, 0, 10, true, 0);
    expect_code(close_db(b->handle), STRATA_OK, "close b with an iterator open");
    expect_error(iter_next(orphan), STRATA_ERR_CLOSED, "iter_next after its database closed");
    check(strata_iter_close(orphan) == STRATA_OK, "iter_close after its database closed -> OK");
}

/* Reopens a closed database and checks its data came back through the WAL. */
static void reopen(struct db *db, const strata_options *opts)
{
    uint64_t old = db->handle;
    uint64_t written = db->acked_batches;
    char what[64];
    snprintf(what, sizeof what, "reopen %s after close", db->name);
    if (!open_db(db, opts, what))
        return;
    check(db->handle != old, "reopen of %s returns a new handle", db->name);
    db->acked_batches = 0;
    strata_stats s;
    if (read_stats(db->handle, &s))
        check(s.recovered_batches == written,
              "%s: recovered_batches (%" PRIu64 ") == batches written before (%" PRIu64 ")",
              db->name, s.recovered_batches, written);
}

static void test_reopen(struct db *a, struct db *b)
{
    uint64_t old_a = a->handle;
    reopen(a, NULL);
    check_model(a, "after reopen");
    expect_error(get(old_a, "hello", 5), STRATA_ERR_CLOSED,
                 "the old handle stays dead after reopen");
    check_stats(a, "after reopen");

    strata_options no_sync = { .no_sync = 1 };
    reopen(b, &no_sync);
    check_range(b->handle, 0, ITER_KEYS + 1, false, false, "b after reopen");
}

/* ------------------------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void db_free(struct db *db)
{
    free(db->path);
    model_free(&db->model);
}

/* ---- fixtures for the LSM sections ---- */

/* Checks for a failure that explains itself when the header names no particular code, and
 * frees it. */
static bool expect_failure(struct result r, const char *what)
{
    bool ok = check(r.code > STRATA_OK && r.len > 0, "%s -> an error with a message", what);
    if (!ok)
        diag("got %s, message of %zu bytes", code_name(r.code), r.len);
    else
        diag("%s: %.*s", code_name(r.code), (int)r.len, (char *)r.data);
    result_free(&r);
    return ok;
}

/* Whether the completion's data contains `needle`. */
static bool contains(const struct result *r, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; r->len >= n && i <= r->len - n; i++)
        if (memcmp(r->data + i, needle, n) == 0)
            return true;
    return false;
}

/* Prints a multi-line text (a check report) as diagnostics. */
static void diag_text(const char *label, const struct result *r)
{
    size_t start = 0;
    for (size_t i = 0; i <= r->len; i++) {
        if (i == r->len || r->data[i] == '\n') {
            if (i > start)
                diag("%s: %.*s", label, (int)(i - start), (const char *)r->data + start);
            start = i + 1;
        }
    }
}

enum { VALUE_MAX = 2048, WRITE_BATCH_OPS = 64 };

/* A value for key index `i` at `version`, written to `out` (at most VALUE_MAX bytes). */
typedef size_t (*value_fn)(int i, int version, uint8_t *out);

/* Fills `out` with `len` pseudo-random bytes fixed by (i, version): incompressible, repeatable. */
static void noise(int i, int version, uint8_t *out, size_t len)
{
    uint64_t x = ((uint64_t)i * UINT64_C(0x9E3779B97F4A7C15)) ^
                 ((uint64_t)(version + 1) * UINT64_C(0xD1B54A32D192ED03)) ^ 1;
    for (size_t j = 0; j < len; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[j] = (uint8_t)(x >> 24);
    }
}

/* 20 to 219 incompressible bytes. */
static size_t small_value(int i, int version, uint8_t *out)
{
    size_t len = 20 + (size_t)((i * 37 + version * 11) % 200);
    noise(i, version, out, len);
    return len;
}

/* 800 to 1599 incompressible bytes. */
static size_t large_value(int i, int version, uint8_t *out)
{
    size_t len = 800 + (size_t)((i * 7919 + version * 104729) % 800);
    noise(i, version, out, len);
    return len;
}

/* 1000 bytes of one repeated letter after a short prefix: compresses very well. */
static size_t compressible_value(int i, int version, uint8_t *out)
{
    size_t len = 1000;
    memset(out, 'a' + i % 26, len);
    int n = snprintf((char *)out, 32, "v%d-%d", version, i);
    out[n] = '-'; /* replace the terminator */
    return len;
}

static size_t fixture_key(const char *prefix, int i, char out[32])
{
    return (size_t)snprintf(out, 32, "%s%05d", prefix, i);
}

/* Writes, in batches of up to WRITE_BATCH_OPS, puts (`make` non-NULL: value make(i, version))
 * or deletes (`make` NULL) of keys prefix+i for i in [lo, hi) stepping by `step`, recording
 * them in the model. True when every batch was acknowledged. */
static bool write_keys(struct db *db, const char *prefix, int lo, int hi, int step, int version,
                       value_fn make)
{
    bool ok = true;
    struct batch b = { 0 };
    int ops = 0;
    for (int i = lo; i < hi; i += step) {
        char key[32];
        size_t key_len = fixture_key(prefix, i, key);
        if (make) {
            uint8_t value[VALUE_MAX];
            size_t value_len = make(i, version, value);
            batch_put(&b, key, key_len, value, value_len);
            model_set(&db->model, key, key_len, value, value_len);
        } else {
            batch_delete(&b, key, key_len);
            model_delete(&db->model, key, key_len);
        }
        if (++ops == WRITE_BATCH_OPS || i + step >= hi) {
            struct result r = write_batch(db, b.bytes, b.len);
            if (r.code != STRATA_OK && ok)
                diag("write of %d operations: %s", ops, code_name(r.code));
            ok = ok && r.code == STRATA_OK;
            result_free(&r);
            b.len = 0;
            ops = 0;
        }
    }
    batch_free(&b);
    return ok;
}

static bool put_keys(struct db *db, const char *prefix, int lo, int hi, int step, int version,
                     value_fn make)
{
    return write_keys(db, prefix, lo, hi, step, version, make);
}

static bool delete_keys(struct db *db, const char *prefix, int lo, int hi, int step)
{
    return write_keys(db, prefix, lo, hi, step, 0, NULL);
}

enum { INFLIGHT = 20 };

/* Submits INFLIGHT puts prefix+i = prefix+i without waiting, recording them in the model. */
static bool submit_puts(struct db *db, const char *prefix, uint64_t tokens[INFLIGHT])
{
    bool accepted = true;
    for (int i = 0; i < INFLIGHT; i++) {
        char key[32];
        size_t key_len = fixture_key(prefix, i, key);
        tokens[i] = new_token();
        accepted = accepted && strata_db_put(db->handle, (uint8_t *)key, key_len,
                                             (uint8_t *)key, key_len, tokens[i]) == STRATA_OK;
        model_set(&db->model, key, key_len, key, key_len);
    }
    return accepted;
}

/* Waits for the puts of submit_puts; true if all completed OK. */
static bool collect_puts(struct db *db, const uint64_t tokens[INFLIGHT])
{
    bool ok = true;
    for (int i = 0; i < INFLIGHT; i++) {
        struct result r = wait_within(tokens[i], SLOW_TIMEOUT_MS);
        if (r.code == STRATA_OK)
            db->acked_batches++;
        ok = ok && r.code == STRATA_OK;
        result_free(&r);
    }
    return ok;
}

/* Reopens a closed database with `opts`; the counters start again from zero. */
static bool reopen_db(struct db *db, const strata_options *opts, const char *what)
{
    db->acked_batches = 0;
    return open_db(db, opts, what);
}

/* The name and size of the largest .sst file in `dir`; false if there is none. */
static bool largest_table(const char *dir, char name[64], off_t *size)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    *size = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 4 || n >= 64 || strcmp(e->d_name + n - 4, ".sst") != 0)
            continue;
        char *path = path_join(dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && (!found || st.st_size > *size)) {
            found = true;
            *size = st.st_size;
            memcpy(name, e->d_name, n + 1);
        }
        free(path);
    }
    closedir(d);
    return found;
}

/* Inverts every bit of the byte at `offset` of the file at `path`. */
static bool flip_byte(const char *path, off_t offset)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return false;
    uint8_t byte;
    bool ok = pread(fd, &byte, 1, offset) == 1;
    byte = (uint8_t)~byte;
    ok = ok && pwrite(fd, &byte, 1, offset) == 1 && fsync(fd) == 0;
    close(fd);
    return ok;
}

/* ---- snapshots ---- */

/* Everything snapshot `snap` of `db` must show: model `m` through get, through full scans in
 * both directions, and through a bounded scan. */
static void check_snapshot(uint64_t db, uint64_t snap, const struct model *m, const char *label)
{
    char what[128];
    snprintf(what, sizeof what, "%s: gets through it", label);
    check_model_at(db, snap, m, what);
    snprintf(what, sizeof what, "%s: forward scan through it", label);
    check_iter_model(db, snap, m, &UNBOUNDED, false, what);
    snprintf(what, sizeof what, "%s: reverse scan through it", label);
    check_iter_model(db, snap, m, &UNBOUNDED, true, what);
    char lo[32], hi[32];
    struct range r = { lo, fixture_key("snap", 8, lo), hi, fixture_key("snap", 25, hi) };
    snprintf(what, sizeof what, "%s: scan of [snap00008, snap00025) through it", label);
    check_iter_model(db, snap, m, &r, false, what);
}

static uint64_t open_snapshot(uint64_t db, const char *what)
{
    struct result r = snapshot_open(db);
    uint64_t snap = r.handle;
    if (!expect_code(r, STRATA_OK, what))
        return 0;
    return snap;
}

static void check_snapshot_counts(uint64_t db, uint64_t snapshots, uint64_t iterators,
                                  const char *when)
{
    strata_stats st;
    if (read_stats(db, &st))
        check(st.snapshots == snapshots && st.open_iterators == iterators,
              "stats %s: %" PRIu64 " snapshots (want %" PRIu64 "), %" PRIu64
              " iterators (want %" PRIu64 ")",
              when, st.snapshots, snapshots, st.open_iterators, iterators);
}

/* Snapshots on database `s`; `other` is another open database. */
static void test_snapshots(struct db *s, struct db *other)
{
    strata_options no_sync = { .no_sync = 1 };
    if (!open_db(s, &no_sync, "open the snapshot db"))
        return;

    /* State 1: snap0..39, with 5 and 6 deleted. */
    check(put_keys(s, "snap", 0, 40, 1, 1, small_value) && delete_keys(s, "snap", 5, 7, 1),
          "snapshot db: write state 1");
    uint64_t s1 = open_snapshot(s->handle, "snapshot_open on state 1");
    check(s1 != 0 && s1 != s->handle, "the snapshot handle is nonzero and not the db handle");
    struct model at_s1 = model_copy(&s->model);

    /* State 2: overwrite 0..9 (reviving 5 and 6), delete 10..14, add 40..49. */
    check(put_keys(s, "snap", 0, 10, 1, 2, small_value) && delete_keys(s, "snap", 10, 15, 1) &&
              put_keys(s, "snap", 40, 50, 1, 2, small_value),
          "snapshot db: write state 2");
    uint64_t s2 = open_snapshot(s->handle, "snapshot_open on state 2");
    check(s2 != 0 && s2 != s1, "a second snapshot gets a handle of its own");
    struct model at_s2 = model_copy(&s->model);

    /* State 3: overwrite 0..4 again, delete 15..19 and 40..44, add 50..59. */
    check(put_keys(s, "snap", 0, 5, 1, 3, small_value) && delete_keys(s, "snap", 15, 20, 1) &&
              delete_keys(s, "snap", 40, 45, 1) &&
              put_keys(s, "snap", 50, 60, 1, 3, small_value),
          "snapshot db: write state 3");
    check_snapshot_counts(s->handle, 2, 0, "with two snapshots");

    check_snapshot(s->handle, s1, &at_s1, "snapshot 1");
    check_snapshot(s->handle, s2, &at_s2, "snapshot 2");
    check_db(s, "latest state, next to two snapshots");

    char key[32];
    size_t key_len = fixture_key("snap", 47, key);
    expect_code(get_at(s->handle, s1, key, key_len), STRATA_ERR_NOT_FOUND,
                "get through snapshot 1 of a key written after it");
    key_len = fixture_key("snap", 55, key);
    expect_code(get_at(s->handle, s2, key, key_len), STRATA_ERR_NOT_FOUND,
                "get through snapshot 2 of a key written after it");
    expect_code(get(s->handle, key, key_len), STRATA_OK, "the same key at the latest state");

    /* A read that opens its own snapshot (STRATA_SNAPSHOT_NEW): the handle comes with the value,
     * or with NOT_FOUND, and reads as any snapshot does. */
    struct result nr = get_at(s->handle, STRATA_SNAPSHOT_NEW, key, key_len);
    uint64_t s3 = nr.handle;
    if (expect_code(nr, STRATA_OK, "get opening a snapshot, of a present key")) {
        check(s3 != 0 && s3 != s1 && s3 != s2, "the read's snapshot has a handle of its own");
        check_snapshot_counts(s->handle, 3, 0, "with the read's snapshot too");
        char late[32];
        size_t late_len = fixture_key("snap", 70, late);
        check(put_keys(s, "snap", 70, 71, 1, 4, small_value), "snapshot db: a key after it");
        expect_code(get_at(s->handle, s3, late, late_len), STRATA_ERR_NOT_FOUND,
                    "get through the read's snapshot of a key written after it");
        expect_code(get_at(s->handle, s3, key, key_len), STRATA_OK,
                    "get through the read's snapshot of the key it read");
        check(strata_snapshot_close(s3) == STRATA_OK, "snapshot_close of the read's snapshot");
        size_t absent_len = fixture_key("nosuch", 1, late);
        nr = get_at(s->handle, STRATA_SNAPSHOT_NEW, late, absent_len);
        if (expect_code(nr, STRATA_ERR_NOT_FOUND, "get opening a snapshot, of an absent key"))
            check(nr.handle != 0 && strata_snapshot_close(nr.handle) == STRATA_OK,
                  "a read that found nothing still hands over its snapshot");
        check_snapshot_counts(s->handle, 2, 0, "after closing the reads' snapshots");
    }

    /* An iterator opened on a snapshot takes its own reference to it. */
    struct result r = iter_open_at(s->handle, s1, NULL, 0, NULL, 0, 0);
    uint64_t it = r.handle;
    bool have_iter = expect_code(r, STRATA_OK, "iter_open through snapshot 1, kept open");
    check_snapshot_counts(s->handle, 3, 1, "with two snapshots and an iterator on one");

    /* Flushes and compactions must keep every version a snapshot still reads. */
    expect_code(flush_db(s->handle), STRATA_OK, "flush with two snapshots open");
    expect_code(compact_db(s->handle, NULL, 0, NULL, 0), STRATA_OK,
                "compact with two snapshots open");
    check_snapshot(s->handle, s1, &at_s1, "snapshot 1 after flush and compaction");
    check_snapshot(s->handle, s2, &at_s2, "snapshot 2 after flush and compaction");
    check_db(s, "latest state after flush and compaction");

    /* State 4, compacted onto the tables holding states 1 to 3. */
    check(put_keys(s, "snap", 0, 60, 2, 4, small_value) && delete_keys(s, "snap", 1, 60, 6),
          "snapshot db: write state 4");
    expect_code(compact_db(s->handle, NULL, 0, NULL, 0), STRATA_OK,
                "compact state 4 onto the older tables");
    check_snapshot(s->handle, s1, &at_s1, "snapshot 1 after a second compaction");
    check_snapshot(s->handle, s2, &at_s2, "snapshot 2 after a second compaction");
    check_db(s, "latest state after a second compaction");

    /* Closing a snapshot kills its handle; iterators opened on it keep working. */
    check(strata_snapshot_close(s1) == STRATA_OK, "snapshot_close of snapshot 1 -> OK");
    if (have_iter) {
        check_iter_against(it, &at_s1, &UNBOUNDED, false,
                           "iterator opened on snapshot 1, after the snapshot closed");
        strata_iter_close(it);
    }
    expect_error(get_at(s->handle, s1, key, key_len), STRATA_ERR_CLOSED,
                 "get through a closed snapshot");
    expect_error(iter_open_at(s->handle, s1, NULL, 0, NULL, 0, 0), STRATA_ERR_CLOSED,
                 "iter_open through a closed snapshot");
    check(strata_snapshot_close(s1) == STRATA_OK && strata_snapshot_close(s1) == STRATA_OK,
          "closing a closed snapshot again, twice -> OK");
    check(strata_snapshot_close(987654321) == STRATA_OK,
          "snapshot_close of an unknown handle -> OK");
    check_snapshot_counts(s->handle, 1, 0, "after closing snapshot 1 and its iterator");
    check_model_at(s->handle, s2, &at_s2, "snapshot 2 after snapshot 1 closed: gets through it");

    /* A snapshot belongs to its database, and only snapshot handles are snapshots. */
    expect_error(get_at(other->handle, s2, "hello", 5), STRATA_ERR_CLOSED,
                 "get on db a through a snapshot of the snapshot db");
    expect_error(iter_open_at(other->handle, s2, NULL, 0, NULL, 0, 0), STRATA_ERR_CLOSED,
                 "iter_open on db a through a snapshot of the snapshot db");
    uint64_t on_other = open_snapshot(other->handle, "snapshot_open on db a");
    expect_error(get_at(s->handle, on_other, key, key_len), STRATA_ERR_CLOSED,
                 "get on the snapshot db through a snapshot of db a");
    check(strata_snapshot_close(on_other) == STRATA_OK, "snapshot_close of db a's snapshot");
    expect_error(get_at(s->handle, s->handle, key, key_len), STRATA_ERR_CLOSED,
                 "get with a database handle as the snapshot");
    expect_error(get_at(s->handle, 987654321, key, key_len), STRATA_ERR_CLOSED,
                 "get through an unknown snapshot handle");

    /* Snapshots die with their database. */
    expect_code(close_db(s->handle), STRATA_OK, "close the snapshot db with snapshot 2 open");
    if (reopen_db(s, &no_sync, "reopen the snapshot db")) {
        expect_error(get_at(s->handle, s2, key, key_len), STRATA_ERR_CLOSED,
                     "a snapshot of the closed database is dead after reopen");
        check(strata_snapshot_close(s2) == STRATA_OK, "snapshot_close after its db closed -> OK");
        check_snapshot_counts(s->handle, 0, 0, "after reopen");
        check_db(s, "after reopen");
    }
    model_free(&at_s1);
    model_free(&at_s2);
}

/* ---- flush and compaction ---- */

enum { LSM_KEYS = 400 };

static void test_flush_and_compact(struct db *l)
{
    strata_options lz4 = { .compression = STRATA_COMPRESSION_LZ4 };
    if (!open_db(l, &lz4, "open the lsm db (compression LZ4)"))
        return;
    strata_stats st;
    if (read_stats(l->handle, &st))
        check(total_files(&st) == 0 && total_bytes(&st) == 0 && st.flushes == 0 &&
                  st.compactions == 0,
              "a new database has no tables, flushes or compactions");

    check(put_keys(l, "lsm", 0, LSM_KEYS, 1, 1, small_value), "lsm: write %d keys", LSM_KEYS);
    expect_code(flush_db(l->handle), STRATA_OK, "flush after writes");
    uint64_t flushes = 0;
    if (read_stats(l->handle, &st)) {
        diag_levels("lsm after flush", &st);
        flushes = st.flushes;
        check(st.flushes >= 1 && st.level_files[0] >= 1 && st.level_bytes[0] > 0 &&
                  st.flush_bytes > 0,
              "stats after flush: flushes %" PRIu64 " >= 1, L0 tables %" PRIu64
              " >= 1, L0 bytes %" PRIu64 " > 0",
              st.flushes, st.level_files[0], st.level_bytes[0]);
        check(st.frozen_memtables == 0 && st.memtable_versions == 0,
              "after flush the memtable is empty and nothing waits to be flushed");
    }
    check_db(l, "after flush");
    expect_code(flush_db(l->handle), STRATA_OK, "flush with nothing new to flush");

    /* Writes still in flight when a flush arrives complete too. */
    uint64_t tokens[INFLIGHT];
    check(submit_puts(l, "flush-inflight", tokens), "submit %d puts without waiting", INFLIGHT);
    expect_code(flush_db(l->handle), STRATA_OK, "flush with puts in flight");
    check(collect_puts(l, tokens), "puts in flight across a flush complete OK");
    check_db(l, "after a flush with puts in flight");

    /* A second table: overwrite every 3rd key, delete every 5th, add 100 keys. */
    check(put_keys(l, "lsm", 0, LSM_KEYS, 3, 2, small_value) &&
              delete_keys(l, "lsm", 0, LSM_KEYS, 5) &&
              put_keys(l, "lsm", LSM_KEYS, LSM_KEYS + 100, 1, 2, small_value),
          "lsm: overwrite, delete and add keys");
    expect_code(flush_db(l->handle), STRATA_OK, "second flush");
    uint64_t tables_before = 0;
    if (read_stats(l->handle, &st)) {
        diag_levels("lsm after the second flush", &st);
        tables_before = total_files(&st);
        check(st.flushes > flushes && tables_before >= 2,
              "the second flush made another table (%" PRIu64 " flushes, %" PRIu64 " tables)",
              st.flushes, tables_before);
    }
    check_db(l, "after the second flush");

    expect_code(compact_db(l->handle, NULL, 0, NULL, 0), STRATA_OK,
                "compact with NULL bounds (everything)");
    if (read_stats(l->handle, &st)) {
        diag_levels("lsm after compaction", &st);
        check(tables_before <= 1 || st.compactions >= 1,
              "stats: compactions %" PRIu64 " >= 1 after compacting %" PRIu64 " tables",
              st.compactions, tables_before);
        check(st.level_files[0] == 0 && total_files(&st) >= 1 && st.compaction_bytes_read > 0 &&
                  st.compaction_bytes_written > 0,
              "after a full compaction L0 is empty and the data lives in deeper levels");
    }
    check_db(l, "after compaction");

    char lo[32], hi[32];
    size_t lo_len = fixture_key("lsm", 50, lo), hi_len = fixture_key("lsm", 150, hi);
    uint64_t all = 0, part = 0;
    struct result est = estimate_db(l->handle, NULL, 0, NULL, 0, &all);
    check(est.code == STRATA_OK && est.len == 8 && read_stats(l->handle, &st) &&
              all == total_bytes(&st),
          "estimate_disk_usage of everything is every table's bytes (%" PRIu64 ")", all);
    result_free(&est);
    est = estimate_db(l->handle, lo, lo_len, hi, hi_len, &part);
    check(est.code == STRATA_OK && part <= all,
          "estimate_disk_usage of [lsm00050, lsm00150) is at most the whole (%" PRIu64 ")", part);
    result_free(&est);
    struct range r = { lo, lo_len, hi, hi_len };
    check_iter_model(l->handle, 0, &l->model, &r, false, "lsm scan [lsm00050, lsm00150)");
    check_iter_model(l->handle, 0, &l->model, &r, true, "lsm reverse scan [lsm00050, lsm00150)");

    /* A bounded compaction: compact flushes first, then compacts the range. */
    check(put_keys(l, "lsm", 0, 200, 7, 3, small_value) && delete_keys(l, "lsm", 1, 200, 11),
          "lsm: more writes, left in the memtable");
    expect_code(compact_db(l->handle, lo, lo_len, hi, hi_len), STRATA_OK,
                "compact [lsm00050, lsm00150) (bounds freed right after submission)");
    if (read_stats(l->handle, &st))
        check(st.memtable_versions == 0 && st.frozen_memtables == 0,
              "compact flushed the memtable first (%" PRIu64 " versions left)",
              st.memtable_versions);
    check_db(l, "after a bounded compaction");

    expect_code(compact_db(l->handle, "", 0, "", 0), STRATA_OK,
                "compact with non-NULL empty bounds (everything)");
    check_db(l, "after compacting with empty bounds");

    /* start > end selects nothing; whatever the answer, it must not poison the database. */
    struct result inverted = compact_db(l->handle, hi, hi_len, lo, lo_len);
    check(inverted.code == STRATA_OK || inverted.code == STRATA_ERR_INVALID_ARGUMENT,
          "compact with start > end -> OK or INVALID_ARGUMENT (got %s)",
          code_name(inverted.code));
    result_free(&inverted);
    check(put_keys(l, "lsm", 0, 10, 1, 4, small_value),
          "the lsm db still takes writes after a compaction with start > end");
    check_db(l, "after a compaction with start > end");
    check_stats(l, "after flushes and compactions");
}

/* ---- checkpoints ---- */

/* Checkpoints the open database `l` into c->path and opens the result as database `c`. */
static void test_checkpoint(struct db *l, struct db *c)
{
    if (!expect_code(checkpoint_db(l->handle, c->path), STRATA_OK,
                     "checkpoint into a new directory"))
        return;
    struct model at_checkpoint = model_copy(&l->model);
    expect_failure(checkpoint_db(l->handle, c->path), "checkpoint into a non-empty directory");

    char *empty = path_join(scratch_dir, "checkpoint-in-empty-dir");
    check(mkdir(empty, 0700) == 0, "create an empty directory");
    expect_code(checkpoint_db(l->handle, empty), STRATA_OK,
                "checkpoint into an existing empty directory");

    /* Writes in flight when a checkpoint arrives complete, and the copy stays sound. */
    char *busy = path_join(scratch_dir, "checkpoint-with-puts-in-flight");
    uint64_t tokens[INFLIGHT];
    check(submit_puts(l, "checkpoint-inflight", tokens), "submit %d puts without waiting",
          INFLIGHT);
    expect_code(checkpoint_db(l->handle, busy), STRATA_OK, "checkpoint with puts in flight");
    check(collect_puts(l, tokens), "puts in flight across a checkpoint complete OK");
    struct result checked = check_path(busy);
    check(checked.code == STRATA_OK, "check of the checkpoint taken with puts in flight -> OK");
    result_free(&checked);
    free(busy);

    /* Writes after the checkpoint must not reach it. */
    const struct model_entry *first = model_first_present(&at_checkpoint);
    char deleted[32];
    size_t deleted_len = first && first->key_len < sizeof deleted ? first->key_len : 0;
    if (deleted_len > 0)
        memcpy(deleted, first->key, deleted_len);
    bool deleted_ok = false;
    if (deleted_len > 0) {
        struct result r = del(l, deleted, deleted_len);
        deleted_ok = r.code == STRATA_OK;
        result_free(&r);
        model_delete(&l->model, deleted, deleted_len);
    }
    check(deleted_ok && put_keys(l, "lsm", 1, 300, 10, 5, small_value) &&
              put_keys(l, "after-checkpoint", 0, 20, 1, 5, small_value),
          "lsm: delete, overwrite and add keys after the checkpoint");

    c->model = model_copy(&at_checkpoint);
    if (open_db(c, NULL, "open the checkpoint as a second database")) {
        check_db(c, "(the checkpoint) holds exactly the data at checkpoint time");
        char key[32];
        size_t key_len = fixture_key("after-checkpoint", 3, key);
        expect_code(get(c->handle, key, key_len), STRATA_ERR_NOT_FOUND,
                    "a key written after the checkpoint is not in it");
        if (deleted_len > 0)
            expect_code(get(c->handle, deleted, deleted_len), STRATA_OK,
                        "a key deleted after the checkpoint is still in it");
        check_db(l, "(the original) after its checkpoint");

        /* The checkpoint lives on its own: its writes and compactions leave the original
         * alone, though the two may share table files through hard links. */
        check(put_keys(c, "checkpoint-only", 0, 50, 1, 1, small_value) &&
                  delete_keys(c, "lsm", 0, LSM_KEYS, 9),
              "write to the checkpoint");
        expect_code(compact_db(c->handle, NULL, 0, NULL, 0), STRATA_OK,
                    "compact the checkpoint");
        check_db(c, "(the checkpoint) after its own writes and compaction");
        key_len = fixture_key("checkpoint-only", 7, key);
        expect_code(get(l->handle, key, key_len), STRATA_ERR_NOT_FOUND,
                    "the checkpoint's writes do not reach the original");
        check_db(l, "(the original) after its checkpoint compacted");
        expect_code(close_db(c->handle), STRATA_OK, "close the checkpoint database");
        struct result r = check_path(c->path);
        check(r.code == STRATA_OK, "check of the closed checkpoint -> OK (got %s)",
              code_name(r.code));
        if (r.code != STRATA_OK)
            diag_text("report", &r);
        result_free(&r);
    }

    /* Nothing was written between the two checkpoints: the second holds the same data. */
    struct db e = { .name = "checkpoint in an empty dir", .path = empty, .model = at_checkpoint };
    if (open_db(&e, NULL, "open the checkpoint made in an existing empty directory")) {
        check_db(&e, "holds exactly the data at checkpoint time");
        expect_code(close_db(e.handle), STRATA_OK, "close it");
    }
    db_free(&e);
}

/* ---- strata_check ---- */

/* Checks database `l` open (LOCKED), closed (a clean report), then reopens it. */
static void test_check(struct db *l)
{
    expect_error(check_path(l->path), STRATA_ERR_LOCKED, "check of an open database");
    if (!expect_code(close_db(l->handle), STRATA_OK, "close the lsm db for checking"))
        return;
    struct result r = check_path(l->path);
    bool ok = r.code == STRATA_OK;
    check(ok && contains(&r, "MANIFEST") && contains(&r, ".sst") && contains(&r, ".wal") &&
              !contains(&r, "damaged"),
          "check of the closed lsm db -> OK, a report naming MANIFEST, .sst and .wal files");
    diag_text("report", &r);
    result_free(&r);

    char *missing = path_join(scratch_dir, "no-such-database");
    expect_failure(check_path(missing), "check of a directory that does not exist");
    struct stat st;
    check(stat(missing, &st) != 0, "check created nothing");
    free(missing);

    if (reopen_db(l, NULL, "reopen the lsm db after the check"))
        check_db(l, "after close, check and reopen");
}

/* ---- options ---- */

/* The compression option takes effect: the same compressible data takes far less room with
 * LZ4 than without compression. */
static void test_compression(struct db *lz4, struct db *none)
{
    strata_options with_lz4 = { .no_sync = 1, .compression = STRATA_COMPRESSION_LZ4 };
    strata_options without = { .no_sync = 1, .compression = STRATA_COMPRESSION_NONE };
    if (!open_db(lz4, &with_lz4, "open a db with compression LZ4") ||
        !open_db(none, &without, "open a db with compression NONE"))
        return;
    uint64_t bytes[2] = { 0, 0 };
    struct db *dbs[2] = { lz4, none };
    for (int i = 0; i < 2; i++) {
        check(put_keys(dbs[i], "c", 0, 300, 1, 1, compressible_value),
              "%s: write 300 compressible values", dbs[i]->name);
        char what[96];
        snprintf(what, sizeof what, "%s: flush", dbs[i]->name);
        expect_code(flush_db(dbs[i]->handle), STRATA_OK, what);
        strata_stats st;
        if (read_stats(dbs[i]->handle, &st))
            bytes[i] = total_bytes(&st);
        check_db(dbs[i], "after flush");
    }
    check(bytes[0] > 0 && bytes[1] > 0 && bytes[0] * 2 < bytes[1],
          "LZ4 tables (%" PRIu64 " bytes) take under half the room of uncompressed ones (%" PRIu64
          " bytes)",
          bytes[0], bytes[1]);
    expect_code(close_db(lz4->handle), STRATA_OK, "close the LZ4 db");
    expect_code(close_db(none->handle), STRATA_OK, "close the uncompressed db");
}

/* ---- background flushes and compactions under a small memtable budget ---- */

enum {
    BULK_KEYS = 4096,   /* about 4.9 MB of values in the first pass */
    BULK_BATCH = 16,    /* operations per batch */
    BULK_WINDOW = 8,    /* batches in flight */
    BULK_MEMTABLE = 256 << 10,
    BULK_CACHE = 1 << 20,
};

/* The order keys are written in: a permutation, so every table spans the whole key range and
 * compactions have overlaps to merge. */
static int bulk_index(int n) { return (int)(((unsigned)n * 1237u) % BULK_KEYS); }

/* One pass over every key: a put of `version` where index % put_every == 0, else a delete where
 * index % delete_every == delete_rest, else nothing. Keeps BULK_WINDOW batches in flight.
 * Returns the bytes of keys and values put; *ok turns false if any batch failed. */
static size_t bulk_pass(struct db *db, int version, int put_every, int delete_every,
                        int delete_rest, bool *ok)
{
    uint64_t inflight[BULK_WINDOW];
    size_t head = 0, count = 0, bytes = 0;
    struct batch b = { 0 };
    int ops = 0;
    for (int n = 0; n < BULK_KEYS; n++) {
        int i = bulk_index(n);
        char key[32];
        size_t key_len = fixture_key("bulk", i, key);
        if (i % put_every == 0) {
            uint8_t value[VALUE_MAX];
            size_t value_len = large_value(i, version, value);
            batch_put(&b, key, key_len, value, value_len);
            model_set(&db->model, key, key_len, value, value_len);
            bytes += key_len + value_len;
            ops++;
        } else if (delete_every > 0 && i % delete_every == delete_rest) {
            batch_delete(&b, key, key_len);
            model_delete(&db->model, key, key_len);
            ops++;
        }
        if (ops < BULK_BATCH && !(n + 1 == BULK_KEYS && ops > 0))
            continue;
        if (count == BULK_WINDOW) {
            struct result r = wait_within(inflight[head], SLOW_TIMEOUT_MS);
            if (r.code == STRATA_OK)
                db->acked_batches++;
            else if (*ok)
                diag("bulk write: %s", code_name(r.code));
            *ok = *ok && r.code == STRATA_OK;
            result_free(&r);
            head = (head + 1) % BULK_WINDOW;
            count--;
        }
        uint64_t t = new_token();
        if (strata_db_write(db->handle, b.bytes, b.len, 0, t) == STRATA_OK) {
            inflight[(head + count) % BULK_WINDOW] = t;
            count++;
        } else {
            *ok = false;
        }
        b.len = 0;
        ops = 0;
    }
    for (; count > 0; count--, head = (head + 1) % BULK_WINDOW) {
        struct result r = wait_within(inflight[head], SLOW_TIMEOUT_MS);
        if (r.code == STRATA_OK)
            db->acked_batches++;
        *ok = *ok && r.code == STRATA_OK;
        result_free(&r);
    }
    batch_free(&b);
    return bytes;
}

/* Waits until background work has settled: nothing frozen, at least one compaction done. */
static bool wait_for_background(uint64_t db, strata_stats *st)
{
    int64_t deadline = now_ms() + SLOW_TIMEOUT_MS;
    while (read_stats(db, st)) {
        if ((st->compactions >= 1 && st->frozen_memtables == 0) || now_ms() > deadline)
            return true;
        sleep_ms(50);
    }
    return false;
}

static void test_background_work(struct db *k)
{
    strata_options small = {
        .memtable_budget = BULK_MEMTABLE,
        .block_cache_bytes = BULK_CACHE,
        .max_open_files = 8,
    };
    if (!open_db(k, &small, "open the bulk db (memtable budget 256 KiB, block cache 1 MiB)"))
        return;
    bool ok = true;
    size_t bytes = bulk_pass(k, 1, 1, 0, 0, &ok);
    bytes += bulk_pass(k, 2, 4, 7, 3, &ok);
    check(ok, "bulk db: %.1f MB of puts (and some deletes) in %" PRIu64 " batches, %d in flight",
          (double)bytes / 1e6, k->acked_batches, BULK_WINDOW);

    /* No flush or compact was requested: everything below happened on its own. */
    strata_stats st;
    if (wait_for_background(k->handle, &st)) {
        diag_levels("bulk db", &st);
        check(st.flushes >= 2 && st.compactions >= 1 && total_files(&st) >= 1,
              "memtable rotations led to background flushes (%" PRIu64
              ") and compactions (%" PRIu64 ")",
              st.flushes, st.compactions);
        /* With the default 64 MiB budget nothing would have been flushed at all. */
        check(st.flushes >= bytes / BULK_MEMTABLE && st.memtable_bytes <= BULK_MEMTABLE,
              "the memtable budget took effect: %" PRIu64 " flushes for %zu bytes, %" PRIu64
              " bytes in memtables",
              st.flushes, bytes, st.memtable_bytes);
        check(st.stalled_writes == 0, "no write is stalled once all are acknowledged");
    }
    check_db(k, "after background flushes and compactions");
    if (read_stats(k->handle, &st)) {
        diag("bulk db: cache hits %" PRIu64 ", misses %" PRIu64 ", %" PRIu64 " bytes",
             st.cache_hits, st.cache_misses, st.cache_bytes);
        /* Uncompressed blocks are read from the mapped tables, past the cache. */
        check(st.cache_bytes <= BULK_CACHE, "the block cache holds at most block_cache_bytes");
        diag("bulk db: %" PRIu64 " table bytes mapped, %" PRIu64 " resident", st.mapped_bytes,
             st.mapped_resident_bytes);
        check(st.mapped_bytes > 0 && st.mapped_bytes <= total_bytes(&st) &&
                  st.mapped_resident_bytes <= st.mapped_bytes,
              "the open tables are mapped, resident bytes within the mapped bytes");
    }
    check_stats(k, "after bulk writes");

    expect_code(close_db(k->handle), STRATA_OK, "close the bulk db");
    strata_options no_mmap = small;
    no_mmap.flags = STRATA_OPEN_NO_MMAP;
    if (reopen_db(k, &no_mmap, "reopen the bulk db with STRATA_OPEN_NO_MMAP")) {
        check_db(k, "after a reopen without maps");
        if (read_stats(k->handle, &st))
            check(st.mapped_bytes == 0 && st.mapped_resident_bytes == 0 && st.cache_misses > 0 &&
                      st.cache_bytes > 0 && st.cache_bytes <= BULK_CACHE,
                  "STRATA_OPEN_NO_MMAP maps no table (%" PRIu64 " bytes mapped) and reads "
                  "through a block cache holding at most block_cache_bytes",
                  st.mapped_bytes);
        expect_code(close_db(k->handle), STRATA_OK, "close the bulk db opened without maps");
    }
    if (reopen_db(k, &small, "reopen the bulk db")) {
        check_db(k, "after reopen");
        expect_code(close_db(k->handle), STRATA_OK, "close the bulk db again");
    }
    struct result r = check_path(k->path);
    check(r.code == STRATA_OK && !contains(&r, "damaged"), "check of the bulk db -> OK");
    if (r.code != STRATA_OK)
        diag_text("report", &r);
    result_free(&r);
}

/* ---- damaged tables ---- */

static void test_corruption(struct db *x)
{
    strata_options none = { .no_sync = 1, .compression = STRATA_COMPRESSION_NONE };
    if (!open_db(x, &none, "open a small db to damage"))
        return;
    check(put_keys(x, "dmg", 0, 600, 1, 1, small_value), "write 600 keys to it");
    expect_code(flush_db(x->handle), STRATA_OK, "flush it");
    if (!expect_code(close_db(x->handle), STRATA_OK, "close it"))
        return;

    char name[64];
    off_t size = 0;
    if (!check(largest_table(x->path, name, &size), "the flush left a .sst file"))
        return;
    char *path = path_join(x->path, name);
    check(flip_byte(path, size / 2), "flip byte %lld of %s (%lld bytes)", (long long)size / 2,
          name, (long long)size);
    free(path);

    struct result r = check_path(x->path);
    check(r.code == STRATA_ERR_CORRUPTION && contains(&r, name) && contains(&r, "damaged"),
          "check after the flip -> CORRUPTION, naming %s as damaged (got %s)", name,
          code_name(r.code));
    diag_text("message", &r);
    result_free(&r);

    /* Reads of the damaged table fail with CORRUPTION; none returns wrong data. */
    if (!reopen_db(x, &none, "open the damaged db"))
        return;
    size_t corrupt = 0, wrong = 0;
    for (size_t i = 0; i < x->model.len; i++) {
        const struct model_entry *e = &x->model.entries[i];
        struct result g = get(x->handle, e->key, e->key_len);
        if (g.code == STRATA_ERR_CORRUPTION)
            corrupt++;
        else if (g.code != STRATA_OK || g.len != e->value_len ||
                 (g.len > 0 && memcmp(g.data, e->value, g.len) != 0))
            wrong++;
        result_free(&g);
    }
    check(corrupt > 0 && wrong == 0,
          "gets on the damaged db: %zu fail with CORRUPTION, %zu return wrong data", corrupt,
          wrong);
    r = iter_open(x->handle, NULL, 0, NULL, 0, 0);
    uint64_t iter = r.handle;
    if (expect_code(r, STRATA_OK, "iter_open on the damaged db")) {
        int32_t last = STRATA_OK;
        for (size_t chunks = 0; last == STRATA_OK && chunks <= x->model.len; chunks++) {
            struct result c = iter_next(iter);
            last = c.code;
            bool done = c.code == STRATA_OK && (c.flags & STRATA_ITER_DONE);
            if (c.code != STRATA_OK)
                diag("iter_next: %s: %.*s", code_name(c.code), (int)c.len,
                     c.data ? (char *)c.data : "");
            result_free(&c);
            if (done)
                break;
        }
        check(last == STRATA_ERR_CORRUPTION, "a scan of the damaged db ends in CORRUPTION (got %s)",
              code_name(last));
        strata_iter_close(iter);
    }
    expect_code(close_db(x->handle), STRATA_OK, "close the damaged db");
}

/* ------------------------------------------------------------------------------------------ */

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char dir[] = "/tmp/strata-c-harness-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    struct db a = { .name = "a", .path = path_join(dir, "a") };
    struct db b = { .name = "b", .path = path_join(dir, "b") };
    struct db d = { .name = "threads", .path = path_join(dir, "threads") };
    struct db snap = { .name = "snap", .path = path_join(dir, "snap") };
    struct db lsm = { .name = "lsm", .path = path_join(dir, "lsm") };
    struct db ckpt = { .name = "checkpoint", .path = path_join(dir, "checkpoint") };
    struct db lz4 = { .name = "lz4", .path = path_join(dir, "lz4") };
    struct db plain = { .name = "uncompressed", .path = path_join(dir, "uncompressed") };
    struct db bulk = { .name = "bulk", .path = path_join(dir, "bulk") };
    struct db damaged = { .name = "damaged", .path = path_join(dir, "damaged") };
    struct db logged = { .name = "logged", .path = path_join(dir, "logged") };
    struct db ranges = { .name = "ranges", .path = path_join(dir, "ranges") };
    scratch_dir = dir;

    test_version();
    test_before_runtime();
    test_runtime_start();
    test_process_wide(&logged);
    test_open(dir, &a, &b);
    test_put_get_delete(&a);
    test_get_wait(&a);
    test_write_batches(&a);
    test_rejected_arguments(&a);
    test_range_deletes(&ranges);
    test_iterators(&b);
    test_options(&a, &b);
    check_stats(&a, "before close");

    if (open_db(&d, NULL, "open the threads db"))
        test_threads(&d);

    test_snapshots(&snap, &a);
    test_flush_and_compact(&lsm);
    test_checkpoint(&lsm, &ckpt);
    test_check(&lsm);
    test_compression(&lz4, &plain);
    test_background_work(&bulk);
    test_corruption(&damaged);

    test_close(&a, &b);
    test_reopen(&a, &b);

    expect_code(close_db(a.handle), STRATA_OK, "close a at the end");
    expect_code(close_db(b.handle), STRATA_OK, "close b at the end");
    expect_code(close_db(d.handle), STRATA_OK, "close threads db at the end");
    expect_code(close_db(snap.handle), STRATA_OK, "close the snapshot db at the end");
    expect_code(close_db(lsm.handle), STRATA_OK, "close the lsm db at the end");
    expect_code(close_db(ranges.handle), STRATA_OK, "close the range-delete db at the end");
    check(stash.len == 0, "no unclaimed completions left (%zu)", stash.len);

    close(event_fd);
    stash_free();
    struct db *all[] = { &a,   &b,     &d,    &snap,    &lsm,    &ckpt,
                         &lz4, &plain, &bulk, &damaged, &logged, &ranges };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        db_free(all[i]);
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        diag("could not remove %s: %s", dir, strerror(errno));

    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
