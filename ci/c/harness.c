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
 * Output: one "ok - ..." or "not ok - ..." line per check, "# ..." diagnostics, and a final
 * "N passed, M failed" line. Exit status 1 if any check failed.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, pthread barriers and poll under -std=c11 */

#include <errno.h>
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

/* The eventfd from strata_runtime_start; only the main thread drains it. */
static int event_fd = -1;

enum { WAIT_TIMEOUT_MS = 10000, DRAIN_BATCH = 16 };

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Waits for the completion of `token`, stashing completions for other tokens. Drains before the
 * first poll because the queue starts with the drainer marked awake (no signal is sent). */
static struct result wait_for(uint64_t token)
{
    struct result r;
    int64_t deadline = now_ms() + WAIT_TIMEOUT_MS;
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
    diag("no completion for token %" PRIu64 " within %d ms", token, WAIT_TIMEOUT_MS);
    return (struct result){ .token = token, .code = RESULT_TIMEOUT };
}

/* Tokens the main thread uses; writer threads use THREAD_TOKEN_BASE and above, submissions
 * expected to be rejected use REJECTED_TOKEN_BASE and above, so neither can collide. */
static uint64_t next_token = 1;
#define THREAD_TOKEN_BASE (UINT64_C(1) << 32)
#define REJECTED_TOKEN_BASE (UINT64_C(1) << 40)
static uint64_t next_rejected_token = REJECTED_TOKEN_BASE;

static uint64_t new_token(void) { return next_token++; }

/* Turns a submission into its result: waits for the completion if the submission was accepted. */
static struct result complete(int32_t submitted, uint64_t token)
{
    if (submitted != STRATA_OK) {
        diag("submission for token %" PRIu64 " returned %s", token, code_name(submitted));
        return (struct result){ .token = token, .code = RESULT_REJECTED };
    }
    return wait_for(token);
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

/* What a database must contain; compared against strata with get. */
struct model {
    struct model_entry *entries;
    size_t len;
    size_t cap;
};

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *copy = xmalloc(n);
    if (n > 0)
        memcpy(copy, p, n);
    return copy;
}

static struct model_entry *model_find(struct model *m, const void *key, size_t key_len)
{
    for (size_t i = 0; i < m->len; i++)
        if (m->entries[i].key_len == key_len && memcmp(m->entries[i].key, key, key_len) == 0)
            return &m->entries[i];
    if (m->len == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->entries = xrealloc(m->entries, m->cap * sizeof *m->entries);
    }
    struct model_entry *e = &m->entries[m->len++];
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
static struct result open_path(const char *path, size_t path_len, const strata_options *opts)
{
    uint8_t *exact = dup_bytes(path, path_len);
    uint64_t t = new_token();
    int32_t rc = strata_db_open(exact, path_len, opts, t);
    free(exact); /* strata copied it before returning */
    return complete(rc, t);
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
    struct result r = complete(strata_db_write(db->handle, batch, batch_len, t), t);
    /* An empty batch is acknowledged without becoming a batch in the WAL. */
    if (r.code == STRATA_OK && batch_len > 0)
        db->acked_batches++;
    return r;
}

static struct result get(uint64_t handle, const void *key, size_t key_len)
{
    uint64_t t = new_token();
    return complete(strata_db_get(handle, key, key_len, t), t);
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

static struct result iter_open(uint64_t handle, const void *start, size_t start_len,
                               const void *end, size_t end_len, uint32_t flags)
{
    uint64_t t = new_token();
    return complete(strata_iter_open(handle, start, start_len, end, end_len, flags, t), t);
}

static struct result iter_next(uint64_t iter)
{
    uint64_t t = new_token();
    return complete(strata_iter_next(iter, t), t);
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
    check(s.tls_inits == s.strata_threads,
          "%s %s: stats tls_inits (%" PRIu64 ") == strata_threads (%" PRIu64 ")", db->name, when,
          s.tls_inits, s.strata_threads);
    check(s.batches_written == db->acked_batches,
          "%s %s: stats batches_written (%" PRIu64 ") == acknowledged writes (%" PRIu64 ")",
          db->name, when, s.batches_written, db->acked_batches);
}

/* Compares every key of the model with what strata returns. */
static void check_model(struct db *db, const char *when)
{
    size_t wrong = 0;
    for (size_t i = 0; i < db->model.len; i++) {
        const struct model_entry *e = &db->model.entries[i];
        struct result r = get(db->handle, e->key, e->key_len);
        bool ok = e->present ? r.code == STRATA_OK && r.len == e->value_len &&
                                   (r.len == 0 || memcmp(r.data, e->value, r.len) == 0)
                             : r.code == STRATA_ERR_NOT_FOUND;
        if (!ok && wrong++ == 0)
            diag("key %zu of %zu (%zu bytes): got %s, %zu bytes", i, db->model.len, e->key_len,
                 code_name(r.code), r.len);
        result_free(&r);
    }
    check(wrong == 0 && db->model.len > 0, "%s %s: all %zu modelled keys read back byte-exact",
          db->name, when, db->model.len);
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

static void batch_put(struct batch *b, const void *key, size_t key_len, const void *value,
                      size_t value_len)
{
    uint8_t kind = 1;
    batch_append(b, &kind, 1);
    batch_u32(b, key_len);
    batch_append(b, key, key_len);
    batch_u32(b, value_len);
    batch_append(b, value, value_len);
}

static void batch_delete(struct batch *b, const void *key, size_t key_len)
{
    uint8_t kind = 2;
    batch_append(b, &kind, 1);
    batch_u32(b, key_len);
    batch_append(b, key, key_len);
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

/* Open misuse is refused synchronously; the valid opens are returned in *a and *b. */
static void test_open(const char *dir, struct db *a, struct db *b)
{
    strata_options bad = { .no_sync = 0, .reserved = 1 };
    uint8_t nul_path[] = { '/', 't', 'm', 'p', 0, 'x' };
    struct {
        const char *what;
        const uint8_t *path;
        size_t len;
        const strata_options *opts;
    } cases[] = {
        { "open with options.reserved != 0", (const uint8_t *)a->path, strlen(a->path), &bad },
        { "open with a NULL path and a length", NULL, 5, NULL },
        { "open with a zero-length path", (const uint8_t *)a->path, 0, NULL },
        { "open with a NULL path of length 0", NULL, 0, NULL },
        { "open with a NUL byte inside the path", nul_path, sizeof nul_path, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t rc =
            strata_db_open(cases[i].path, cases[i].len, cases[i].opts, next_rejected_token++);
        check(rc == STRATA_ERR_INVALID_ARGUMENT, "%s -> INVALID_ARGUMENT", cases[i].what);
    }

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

    strata_options no_sync = { .no_sync = 1 };
    open_db(b, &no_sync, "open b (opts.no_sync = 1)");
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
    EXPECT_INVALID(strata_db_get(db, NULL, 3, token), "get with a NULL key of length 3");
    EXPECT_INVALID(strata_db_get(db, BYTES("k"), 0, token), "get with a zero-length key");
    EXPECT_INVALID(strata_db_get(db, long_key, too_long, token),
                   "get with a key of STRATA_MAX_KEY_LEN+1 bytes");
    EXPECT_INVALID(strata_db_delete(db, NULL, 3, token), "delete with a NULL key of length 3");
    EXPECT_INVALID(strata_db_delete(db, BYTES("k"), 0, token), "delete with a zero-length key");
    EXPECT_INVALID(strata_db_delete(db, long_key, too_long, token),
                   "delete with a key of STRATA_MAX_KEY_LEN+1 bytes");
    EXPECT_INVALID(strata_iter_open(db, NULL, 0, NULL, 0, 2, token),
                   "iter_open with unknown flag bit 2");
    EXPECT_INVALID(strata_iter_open(db, NULL, 0, NULL, 0, 0x80000000u, token),
                   "iter_open with unknown flag bit 31");
    EXPECT_INVALID(strata_iter_open(db, NULL, 1, NULL, 0, 0, token),
                   "iter_open with a NULL start of length 1");
    EXPECT_INVALID(strata_iter_open(db, NULL, 0, NULL, 1, 0, token),
                   "iter_open with a NULL end of length 1");
    free(long_key);
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
        EXPECT_INVALID(strata_db_write(db, batches[i].bytes, batches[i].len, token),
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
    while (off < r->len) {
        if (r->len - off < 8)
            return false;
        const uint8_t *p = r->data + off;
        size_t key_len = p[0] | p[1] << 8 | p[2] << 16 | (size_t)p[3] << 24;
        size_t value_len = p[4] | p[5] << 8 | p[6] << 16 | (size_t)p[7] << 24;
        if (r->len - off - 8 < key_len || r->len - off - 8 - key_len < value_len)
            return false;
        if (*next < lo || *next >= hi)
            return false; /* more entries than the range holds */
        char key[16];
        uint8_t value[ITER_VALUE_MAX];
        size_t want_key = iter_key(*next, key);
        size_t want_value = iter_value(*next, value);
        if (key_len != want_key || memcmp(p + 8, key, key_len) != 0 || value_len != want_value ||
            memcmp(p + 8 + key_len, value, value_len) != 0)
            return false;
        off += 8 + key_len + value_len;
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
    int32_t rc = strata_iter_open(b->handle, start, 8, end, 8, 0, t);
    free(start);
    free(end);
    struct result r = complete(rc, t);
    uint64_t iter = r.handle;
    if (expect_code(r, STRATA_OK, "iter_open with bounds freed before completion")) {
        check_iteration(iter, 10, 20, false, "iterator with freed bounds");
        strata_iter_close(iter);
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
            if (strata_db_get(db, (uint8_t *)key, key_len, new_token()) != STRATA_OK)
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

    test_version();
    test_before_runtime();
    test_runtime_start();
    test_open(dir, &a, &b);
    test_put_get_delete(&a);
    test_write_batches(&a);
    test_rejected_arguments(&a);
    test_iterators(&b);
    test_options(&a, &b);
    check_stats(&a, "before close");

    if (open_db(&d, NULL, "open the threads db"))
        test_threads(&d);

    test_close(&a, &b);
    test_reopen(&a, &b);

    expect_code(close_db(a.handle), STRATA_OK, "close a at the end");
    expect_code(close_db(b.handle), STRATA_OK, "close b at the end");
    expect_code(close_db(d.handle), STRATA_OK, "close threads db at the end");
    check(stash.len == 0, "no unclaimed completions left (%zu)", stash.len);

    close(event_fd);
    stash_free();
    db_free(&a);
    db_free(&b);
    db_free(&d);
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        diag("could not remove %s: %s", dir, strerror(errno));

    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
