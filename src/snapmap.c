/*
 * snapmap.c - the snapshot map ("MapWrapper"): lock-free read-only views
 * and write-deferred batches, built on two gort_map copies ("left-right")
 * and read-side sections (read_section.c).
 *
 * Design.  A snapshot map keeps its contents twice, in two ordinary string
 * maps (gort_map_new_str: keys copied, values of val_size bytes).  One copy
 * is published: s->r.published points to it, it is frozen (any write path of
 * the map ends the process, map_internal.h), and readers use it directly.
 * The other one is idle: no reader can reach it, and only the publisher
 * (the holder of s->wlock) writes to it.  A publication:
 *   1. takes the whole queue (the batch) under s->qlock: an O(1) swap of
 *      buffers, so writers queue the next batch meanwhile;
 *   2. thaws the idle copy, applies the batch in queue order, freezes it;
 *   3. publishes it with a release store of s->r.published;
 *   4. gort_synchronize(): waits, sleeping, until every read section that
 *      began before step 3 has ended: nobody uses the old copy any more;
 *   5. thaws the old copy, replays the same batch, freezes it: it is the
 *      next idle copy, equal to the published one.
 * The cost is two applications of the batch plus one grace period, the
 * same for a map of 1e4 or 1e6 keys; copying the whole map per batch (a
 * copy-on-write map behind an atomic pointer) costs the map size.  Memory
 * is two maps plus the queue.  docs/design/snapmap.md has the figures.
 * Go has no such type; the technique is left-right (Ramalhete and
 * Correia), as in Rust's evmap, with RCU grace periods instead of
 * per-reader epoch counters.
 *
 * The queue is one byte buffer of records (key, value, kind) appended
 * under s->qlock, so the ops of one writer keep its program order and
 * concurrent writers interleave in lock order; a publication takes all of
 * it, so every op is applied exactly once and no version shows a part of
 * a batch.  Triggers:
 *   - size: the writer whose op makes the queue reach batch_size wakes the
 *     flusher goroutine, which publishes.  The writer never publishes
 *     itself: it may hold a view, and a publisher waits for every view.
 *     Back-pressure keeps the queue bounded: a writer outside any read
 *     section that finds queue_batches (8) batches queued sleeps until a
 *     publisher takes the queue; a writer inside one never waits (it could be the reader
 *     the publisher waits for);
 *   - age: the flusher sleeps on a futex until the oldest queued op is
 *     batch_age_ms old (or it is woken by the size trigger, a setting
 *     change or free), then publishes;
 *   - flush: the caller publishes under s->wlock itself; everything queued
 *     before the call is either in its batch or was taken by a publication
 *     that finished before it got the lock.
 * The flusher goroutine starts with the first queued op; free stops it
 * and waits until it has stopped touching the map.
 *
 * Views.  gort_snapmap_read_begin opens a read section and loads
 * s->r.published; the view stays valid until the matching read_end, since
 * a publisher replaces a copy only after a grace period.  The section's
 * entry in the goroutine's section stack (read_section_internal.h) is
 * tagged with (map, view): read_end checks its argument against the
 * tags, and flush and free refuse to run (fatal error, not a deadlock)
 * while the caller holds one.  A panic unwinding out of the frame that
 * opened a view makes the recovery close its section, tag and all
 * (gort__read_recover).  Both paths are inline: a view per lookup costs a
 * few TLS loads and stores.
 *
 * Ordering guarantees.  The publication's release store of s->r.published
 * pairs with the acquire load in gort_snapmap_read_begin(): the applied
 * batch and the frozen flag are visible to every view of the new copy.
 * gort_synchronize() orders every read of the old copy (its read section
 * ended) before the replay writes to it.  s->qlock and s->wlock are gort
 * mutexes (acquire/release); the futex words only wake sleepers, who then
 * re-check under qlock.  Counters are relaxed atomics read by
 * gort_snapmap_stats.  Lock order: wlock before qlock; qlock is never
 * held across a wait for readers, so any goroutine (in a view too) may
 * take it.
 */
#include "map_internal.h"
#include "read_section_internal.h"
#include "runtime_internal.h"

#include <gort/mutex.h>
#include <gort/read_section.h>
#include <gort/snapmap.h>

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>


enum {
    DEFAULT_BATCH_SIZE = 1000,
    DEFAULT_BATCH_AGE_MS = 200,
    /* Batches a writer may queue ahead of the flusher before it waits
     * (gort_snapmap_set_queue_batches).  A publication takes the whole
     * queue and costs one grace period however many batches it holds, so
     * the bound sets how many ops share a grace period when writers
     * outrun publication: measured with bench_conc (snapmap, 2 readers,
     * one writer, 2 cores), 8 batches gave the writer 0.49-0.53 M
     * updates/s against 0.15-0.21 with 2, the readers 2.6-3.4 M
     * lookups/s against 2.8-3.5. */
    QUEUE_BATCHES = 8,
    /* Largest value size: a larger one would make the map's bucket (8
     * values) overflow its 2^31-byte limit (map.c MAX_BUCKET_SIZE). */
    MAX_VAL_SIZE = 1 << 27,
    /* A spare queue buffer larger than this and four times the last batch
     * is freed rather than kept (a burst must not pin its memory). */
    SPARE_KEEP_BYTES = 1 << 20,
};

/* Why a version is published (statistics). */
enum { BY_SIZE, BY_AGE, BY_FLUSH, BY_FREE };

/* ===================================================================
 * Futexes
 * =================================================================== */

static void futex_wait(uint32_t *word, uint32_t val, const struct timespec *rel)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, rel, NULL, 0);
}

static void futex_wake_all(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ===================================================================
 * The queue: a byte buffer of op records
 * =================================================================== */

/* Record: header, key bytes, value bytes (set only), each part padded to
 * 8 bytes so headers stay aligned. */
typedef struct op_hdr {
    size_t klen; /* key length */
    size_t del;  /* 1: delete, 0: set (a word: keeps records 8-aligned) */
} op_hdr;

typedef struct op_buf {
    unsigned char *data; /* records; NULL until the first append */
    size_t len;          /* bytes used, <= cap */
    size_t cap;          /* bytes allocated */
    size_t nops;         /* records in data */
} op_buf;

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Makes room for @need more bytes (doubling). */
static void buf_reserve(op_buf *b, size_t need)
{
    if (b->cap - b->len >= need)
        return;
    size_t cap = b->cap != 0 ? b->cap : 4096;
    while (cap - b->len < need) {
        if (cap > SIZE_MAX / 2)
            gort__throw_oom();
        cap *= 2;
    }
    unsigned char *p = realloc(b->data, cap);
    if (p == NULL)
        gort__throw_oom();
    b->data = p;
    b->cap = cap;
}

/* Bytes of the record of an op with a @klen-byte key. */
static size_t rec_size(size_t klen, size_t vbytes)
{
    size_t n = sizeof(op_hdr) + pad8(klen);
    if (n < klen || SIZE_MAX - n < vbytes)
        gort__throw_oom();
    return n + vbytes;
}

/* Applies every record of @b to @m, in order. */
/* Prefetches the bucket where key (k, klen) lives in the current table
 * of @m (a hint only: during a growth the key may still be in an old
 * bucket). */
static inline void prefetch_key_bucket(const gort_map *m, const char *k,
                                       size_t klen)
{
    if (m->buckets == NULL || m->B <= 10)
        return; /* small tables stay in the cache */
    uint64_t hash = gort__map_hash_str(m, k, klen);
    gort__map_prefetch_bucket(m, gort__map_bucket_at(m, m->buckets,
                                                     hash & m->mask));
}

/* The record after the one at @p. */
static const unsigned char *next_op(const unsigned char *p, size_t val_size)
{
    op_hdr h;
    memcpy(&h, p, sizeof h);
    return p + sizeof h + pad8(h.klen) + (h.del ? 0 : pad8(val_size));
}

/* Ops whose buckets are prefetched ahead of the one being applied.  16
 * rather than 8: bench_conc --flush at 10^6 keys, 140 flushes of each
 * interleaved, median 123 us against 141 (32: 120); at 10^4 keys no
 * worse (58 against 62). */
enum { APPLY_AHEAD = 16 };

/* Applies a batch in order.  Each op's bucket is a cache (and, in a big
 * map, TLB) miss that the op's own work cannot hide, so the bucket of
 * the op APPLY_AHEAD records further is prefetched first (its key hashed
 * an extra time): the misses of a batch overlap instead of following one
 * another.  Measured with bench_conc --flush (1000 ops of 16-byte keys):
 * see docs/design/snapmap.md. */
static void apply_batch(gort_map *m, const op_buf *b, size_t val_size)
{
    const unsigned char *p = b->data, *end = b->data + b->len;
    const unsigned char *ahead = p;
    for (int i = 0; i < APPLY_AHEAD && ahead < end; i++)
        ahead = next_op(ahead, val_size);
    while (p < end) {
        if (ahead < end) {
            op_hdr ha;
            memcpy(&ha, ahead, sizeof ha);
            prefetch_key_bucket(m, (const char *)ahead + sizeof ha, ha.klen);
            ahead = next_op(ahead, val_size);
        }
        op_hdr h;
        memcpy(&h, p, sizeof h);
        const char *k = (const char *)p + sizeof h;
        p += sizeof h + pad8(h.klen);
        if (h.del) {
            gort_map_delete_str(m, k, h.klen);
            continue;
        }
        void *slot = gort_map_set_str(m, k, h.klen);
        if (val_size != 0)
            memcpy(slot, p, val_size);
        p += pad8(val_size);
    }
}

/* ===================================================================
 * The snapshot map
 * =================================================================== */

struct gort_snapmap {
    /* Reader line: the only field a view touches, alone on its cache
     * line so that writers' stores do not evict it from readers. */
    gort__snapmap_reader r; /* r.published: copies[live]; frozen;
                               changed only by the wlock holder, with a
                               release store.  First member: the inline
                               begin of gort/snapmap.h reads it there */
    char pad_reader_[64 - sizeof(gort__snapmap_reader)];

    /* Publication (wlock). */
    gort_mutex wlock;     /* held for a whole publication */
    gort_map *copies[2];  /* copies[live] == published; copies[!live] is
                             idle, frozen except while the wlock holder
                             applies a batch to it */
    unsigned live;        /* 0 or 1 */
    op_buf spare;         /* empty (len 0); swapped in for the queue */
    size_t val_size;      /* bytes per value, <= MAX_VAL_SIZE; constant */
    void (*free_hook)(const gort_map *, void *); /* tests: final version */
    void *free_hook_ctx;

    /* Queue (qlock). */
    gort_mutex qlock;     /* never held while waiting for readers */
    op_buf queue;         /* ops not yet taken, in order */
    uint64_t oldest_ns;   /* CLOCK_MONOTONIC of queue's first op; valid
                             while queue.nops > 0 */
    size_t batch_size;    /* >= 1; written under qlock, atomically */
    unsigned batch_age_ms;/* written under qlock, atomically */
    unsigned queue_batches; /* back-pressure bound, in batches, >= 1
                               (qlock) */
    uint32_t taken;       /* futex word: bumped each time the queue is
                             taken (back-pressure waiters sleep on it) */
    uint32_t taken_waiters; /* writers sleeping on taken (qlock) */
    bool flusher_started; /* the flusher goroutine exists (qlock) */
    unsigned flusher_gen; /* gort__fork_gen where it was started (qlock) */
    bool stop;            /* free asks the flusher to exit (qlock) */

    /* Flusher goroutine. */
    uint32_t fl_seq;      /* futex word: bumped under qlock to wake it */
    uint32_t fl_done;     /* futex word: 1 once it no longer touches s */

    /* Statistics: relaxed atomics. */
    uint64_t by_size, by_age, by_flush; /* versions per trigger */
    uint64_t ops_queued;  /* accepted set/delete calls (qlock) */
    uint64_t ops_applied; /* ops in published versions (wlock) */
    uint64_t writer_waits;/* back-pressure sleeps (qlock) */
    size_t live_len;      /* gort_map_len(published) */
};

_Static_assert(offsetof(struct gort_snapmap, r) == 0,
               "gort/snapmap.h reads the published version at offset 0");

/* ===================================================================
 * Views held by the calling goroutine
 * =================================================================== */

/* Whether the calling goroutine is inside a read section (a view or a
 * plain gort_read_begin): then a publisher would wait for it, so it must
 * not wait for a publisher. */
static bool in_read_section(void)
{
    return gort__read_depth() != 0;
}

/* Flush and free wait for every reader: refuse to deadlock. */
static void check_may_wait(const char *fn)
{
    if (GORT_UNLIKELY(gort__read_holds_view()))
        gort__fatalf("%s: called while holding a view "
                     "(gort_snapmap_read_begin): it would wait for that view "
                     "to end; call gort_snapmap_read_end first",
                     fn);
    if (GORT_UNLIKELY(in_read_section()))
        gort__fatalf("%s: called inside a read section (gort_read_begin): it "
                     "would wait for that section to end; call gort_read_end "
                     "first",
                     fn);
}

/* ===================================================================
 * Publication
 * =================================================================== */

static void thaw(gort_map *m)
{
    gort__map_set_frozen(m, false);
}

static void freeze(gort_map *m)
{
    gort__map_set_frozen(m, true);
}

/* Takes the queue (qlock taken here), leaving the spare buffer in its
 * place, and releases the writers waiting for room. */
static op_buf take_queue_wlocked(gort_snapmap *s)
{
    gort_mutex_lock(&s->qlock);
    op_buf batch = s->queue;
    s->queue = s->spare;
    s->spare = (op_buf){0};
    __atomic_store_n(&s->taken, s->taken + 1, __ATOMIC_RELAXED);
    bool waiters = s->taken_waiters != 0;
    gort_mutex_unlock(&s->qlock);
    if (waiters)
        futex_wake_all(&s->taken);
    return batch;
}

/* Empties @batch and keeps it as the spare buffer unless it is big and
 * was mostly unused (after a burst). */
static void recycle_wlocked(gort_snapmap *s, op_buf *batch)
{
    if (batch->cap > SPARE_KEEP_BYTES && batch->cap / 4 > batch->len) {
        free(batch->data);
        *batch = (op_buf){0};
    }
    batch->len = 0;
    batch->nops = 0;
    s->spare = *batch;
}

/* Publishes the queue as a new version (steps 1-5 of the file comment);
 * false if it was empty.  BY_FREE skips the replay (both copies are about
 * to be freed).  Caller holds s->wlock and is outside any read section. */
static bool publish_wlocked(gort_snapmap *s, int why)
{
    op_buf batch = take_queue_wlocked(s);
    if (batch.nops == 0) {
        recycle_wlocked(s, &batch);
        return false;
    }
    gort_map *idle = s->copies[s->live ^ 1];
    thaw(idle);
    apply_batch(idle, &batch, s->val_size);
    freeze(idle);
    /* Statistics first: whoever sees the new version (acquire) also sees
     * them counted. */
    __atomic_store_n(&s->live_len, gort_map_len(idle), __ATOMIC_RELAXED);
    uint64_t *ctr = why == BY_SIZE ? &s->by_size
                    : why == BY_AGE ? &s->by_age
                                    : &s->by_flush;
    if (why != BY_FREE)
        __atomic_fetch_add(ctr, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->ops_applied, batch.nops, __ATOMIC_RELAXED);
    /* release: pairs with the acquire load in gort_snapmap_read_begin():
     * a reader that sees @idle sees the applied batch, the frozen flag
     * and the statistics above. */
    __atomic_store_n(&s->r.published, idle, __ATOMIC_RELEASE);
    s->live ^= 1;
    /* Every reader that may still use the old copy began before the
     * store above; wait for them (a bounded spin, then asleep). */
    gort_synchronize();
    if (why != BY_FREE) {
        gort_map *old = s->copies[s->live ^ 1];
        /* No view of @old is left, so no iterator of it: what its map
         * kept for them goes (iterating views would otherwise keep an
         * array per growth, for the life of the snapmap). */
        gort__map_forget_iterators(old);
        thaw(old);
        apply_batch(old, &batch, s->val_size);
        freeze(old);
    }
    recycle_wlocked(s, &batch);
    return true;
}

/* ===================================================================
 * The flusher goroutine
 * =================================================================== */

/* Wakes the flusher.  Caller holds s->qlock; the futex wake is a
 * syscall, but at most two per batch (first op, batch full). */
static void wake_flusher_qlocked(gort_snapmap *s)
{
    __atomic_store_n(&s->fl_seq, s->fl_seq + 1, __ATOMIC_RELAXED);
    futex_wake_all(&s->fl_seq);
}

/* How much nicer than its creator the flusher goroutine runs.  The
 * flusher is background work: it applies every queued op twice (the idle
 * copy, then the replay), so a writer that updates flat out keeps it
 * about as busy as itself.  On a machine with fewer cores than runnable
 * threads, at the same priority it takes a full share of CPU from the
 * readers, which are the snapshot map's reason to exist; nicer, it takes
 * what readers leave, and back-pressure (QUEUE_BATCHES) paces the writer
 * to it.  Measured with bench_conc (2 readers with a view per lookup, one
 * writer flat out, 2 cores, 3 interleaved runs): at +0 readers 4.4-8.1 M
 * lookups/s, writer 2.3-2.8 M updates/s; at +5 6.2-13.0 and 1.5-1.9; at
 * +10 8.9-15.5 and 0.7-0.8 (Go's copy-on-write map in the same runs:
 * readers 7.2-10.5, writer 0.02-0.03).  gort_snapmap_flush publishes in
 * its caller, so only the size and age triggers wait for the flusher; the
 * age trigger's 200 ms are far above a nice-10 thread's scheduling delay
 * (milliseconds).  Linux nice values are per thread. */
enum { FLUSHER_NICE = 10 };

static void lower_flusher_priority(void)
{
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, tid);
    if (cur == -1 && errno != 0)
        return; /* best effort: the flusher runs at its creator's nice */
    int want = cur + FLUSHER_NICE > 19 ? 19 : cur + FLUSHER_NICE;
    (void)setpriority(PRIO_PROCESS, tid, want);
}

static void flusher_main(void *arg)
{
    gort_snapmap *s = arg;
    lower_flusher_priority();
    gort_mutex_lock(&s->qlock);
    while (!s->stop) {
        uint32_t seq = s->fl_seq;
        size_t n = s->queue.nops;
        int why = -1;
        struct timespec rel, *timeout = NULL;
        if (n != 0 && n >= s->batch_size) {
            why = BY_SIZE;
        } else if (n != 0) {
            uint64_t age = (uint64_t)s->batch_age_ms * 1000000u;
            uint64_t now = now_ns(), due = s->oldest_ns + age;
            if (now >= due) {
                why = BY_AGE;
            } else {
                rel.tv_sec = (time_t)((due - now) / 1000000000u);
                rel.tv_nsec = (long)((due - now) % 1000000000u);
                timeout = &rel;
            }
        }
        gort_mutex_unlock(&s->qlock);
        if (why >= 0) {
            gort_mutex_lock(&s->wlock);
            (void)publish_wlocked(s, why);
            gort_mutex_unlock(&s->wlock);
        } else {
            /* A wake between the unlock and this wait changed fl_seq:
             * the wait returns at once. */
            futex_wait(&s->fl_seq, seq, timeout);
        }
        gort_mutex_lock(&s->qlock);
    }
    gort_mutex_unlock(&s->qlock);
    /* release: pairs with the acquire load in stop_flusher(); the last
     * access to s. */
    __atomic_store_n(&s->fl_done, 1, __ATOMIC_RELEASE);
    /* The waker may already have freed s: FUTEX_WAKE only uses the
     * address as a key, it does not access the memory. */
    futex_wake_all(&s->fl_done);
}

/* Whether this process has s's flusher goroutine: one was started, and
 * not in the parent of a fork (the child has only the forking thread; it
 * starts a flusher of its own at its first write).  Caller holds
 * s->qlock. */
static bool has_flusher_qlocked(const gort_snapmap *s)
{
    return s->flusher_started && s->flusher_gen == gort__fork_gen;
}

/* Stops the flusher goroutine (if it ever started) and waits until it has
 * stopped touching s. */
static void stop_flusher(gort_snapmap *s)
{
    gort_mutex_lock(&s->qlock);
    bool started = has_flusher_qlocked(s);
    s->stop = true;
    wake_flusher_qlocked(s);
    gort_mutex_unlock(&s->qlock);
    if (!started)
        return;
    /* acquire: pairs with the release store at the end of flusher_main(). */
    while (__atomic_load_n(&s->fl_done, __ATOMIC_ACQUIRE) == 0)
        futex_wait(&s->fl_done, 0, NULL);
}

/* ===================================================================
 * Lifecycle
 * =================================================================== */

gort_snapmap *gort_snapmap_new_str(size_t val_size)
{
    if (val_size > MAX_VAL_SIZE)
        gort_panic("gort_snapmap_new_str: value size %zu is larger than %zu "
                   "bytes",
                   val_size, (size_t)MAX_VAL_SIZE);
    gort_snapmap *s;
    if (posix_memalign((void **)&s, 64, sizeof *s) != 0)
        gort__throw_oom();
    memset(s, 0, sizeof *s);
    s->val_size = val_size;
    s->batch_size = DEFAULT_BATCH_SIZE;
    s->batch_age_ms = DEFAULT_BATCH_AGE_MS;
    s->queue_batches = QUEUE_BATCHES;
    for (int i = 0; i < 2; i++) {
        s->copies[i] = gort_map_new_str(val_size, 0);
        freeze(s->copies[i]);
    }
    s->live = 0;
    s->r.published = s->copies[0];
    return s;
}

void gort_snapmap_free(gort_snapmap *s)
{
    if (s == NULL)
        return;
    check_may_wait("gort_snapmap_free");
    stop_flusher(s);
    gort_mutex_lock(&s->wlock);
    /* Applies what is still queued: the final version.  Its grace period
     * also waits for the views still open on the old copy; without a
     * final batch, wait for those of the current one. */
    if (!publish_wlocked(s, BY_FREE))
        gort_synchronize();
    if (s->free_hook != NULL)
        s->free_hook(s->r.published, s->free_hook_ctx);
    gort_mutex_unlock(&s->wlock);
    for (int i = 0; i < 2; i++) {
        thaw(s->copies[i]);
        gort_map_free(s->copies[i]);
    }
    free(s->queue.data);
    free(s->spare.data);
    free(s);
}

/* Tests: @fn is called by gort_snapmap_free with the final version (what
 * a view opened just before the end would show), after the pending ops
 * were applied and every view ended. */
GORT_API void gort__snapmap_set_free_hook(gort_snapmap *s,
                                          void (*fn)(const gort_map *, void *),
                                          void *ctx);
GORT_API void gort__snapmap_set_free_hook(gort_snapmap *s,
                                          void (*fn)(const gort_map *, void *),
                                          void *ctx)
{
    gort_mutex_lock(&s->wlock);
    s->free_hook = fn;
    s->free_hook_ctx = ctx;
    gort_mutex_unlock(&s->wlock);
}

/* ===================================================================
 * Readers
 * =================================================================== */

/* The whole of gort_snapmap_read_begin: a nil map, first use on this
 * thread, deep nesting, the fence fallback. */
__attribute__((noinline)) static const gort_map *
read_begin_slow(gort_snapmap *s)
{
    if (s == NULL)
        gort_panic("gort_snapmap_read_begin: nil snapmap");
    /* The view is tagged once it is known: the published copy must be
     * loaded inside the section. */
    gort__rs_entry *e = gort__read_begin_slow(s, NULL);
    /* acquire: pairs with the release store in publish_wlocked(). */
    const gort_map *v = __atomic_load_n(&s->r.published, __ATOMIC_ACQUIRE);
    e->view = v;
    return v;
}

/* The out-of-line begin (gort/snapmap.h inlines the common case into
 * callers; this one serves its slow cases and `(gort_snapmap_read_begin)`
 * callers).  The common case calls nothing (slow paths go by tail
 * calls). */
const gort_map *(gort_snapmap_read_begin)(gort_snapmap *s)
{
    /* The header's common case (its acquire load pairs with the release
     * store in publish_wlocked()). */
    const gort_map *v;
    if (GORT_UNLIKELY(!gort__snapmap_try_begin(s, &v)))
        return read_begin_slow(s);
    return v;
}

/* Every read_end but the innermost view's in the membarrier flavour. */
__attribute__((noinline)) static void read_end_slow(gort_snapmap *s,
                                                    const gort_map *view)
{
    if (s != NULL && view != NULL &&
        gort__read_end_top(s, view))
        return; /* the innermost view, fence fallback */
    /* Views may end in any order: sections are a nesting count. */
    if (s == NULL || view == NULL ||
        !gort__read_end_tagged(s, view))
        gort__fatal("gort_snapmap_read_end: the view is not open on this "
                    "goroutine (not returned by gort_snapmap_read_begin of "
                    "this snapmap here, or already ended)");
}

void (gort_snapmap_read_end)(gort_snapmap *s, const gort_map *view)
{
    /* s is never dereferenced: once the section ends, a free may
     * proceed.  A nil map is no section's owner. */
    if (GORT_UNLIKELY(!gort__read_try_end_top(s, view)))
        read_end_slow(s, view);
}

/* ===================================================================
 * Writers
 * =================================================================== */

static void check_map(const gort_snapmap *s, const char *fn)
{
    if (GORT_UNLIKELY(s == NULL))
        gort_panic("%s: nil snapmap", fn);
}

static size_t queue_bound(size_t batch_size, unsigned batches)
{
    return batch_size > SIZE_MAX / batches ? SIZE_MAX : batches * batch_size;
}

static void enqueue(gort_snapmap *s, const char *k, size_t klen,
                    const void *val, bool del)
{
    size_t vbytes = del ? 0 : pad8(s->val_size);
    size_t need = rec_size(klen, vbytes);
    op_hdr h = {klen, del};
    gort_mutex_lock(&s->qlock);
    op_buf *q = &s->queue;
    buf_reserve(q, need);
    unsigned char *p = q->data + q->len;
    memcpy(p, &h, sizeof h);
    if (klen != 0)
        memcpy(p + sizeof h, k, klen);
    if (!del && s->val_size != 0)
        memcpy(p + sizeof h + pad8(klen), val, s->val_size);
    q->len += need;
    size_t n = ++q->nops;
    __atomic_store_n(&s->ops_queued, s->ops_queued + 1, __ATOMIC_RELAXED);
    if (GORT_UNLIKELY(!has_flusher_qlocked(s))) {
        s->flusher_started = true;
        s->flusher_gen = gort__fork_gen;
        __atomic_store_n(&s->fl_done, 0, __ATOMIC_RELAXED);
        gort__go_system(flusher_main, s);
    }
    size_t bs = s->batch_size;
    if (n == 1) {
        s->oldest_ns = now_ns();
        wake_flusher_qlocked(s); /* starts the age timer */
    } else if (n == bs) {
        wake_flusher_qlocked(s);
    }
    /* Back-pressure: queue_batches batches queued and the flusher has
     * not taken them.  Only a goroutine that cannot be a reader the
     * publisher waits for may sleep here. */
    size_t bound = queue_bound(bs, s->queue_batches);
    if (GORT_UNLIKELY(n >= bound) && !in_read_section()) {
        __atomic_store_n(&s->writer_waits, s->writer_waits + 1,
                         __ATOMIC_RELAXED);
        wake_flusher_qlocked(s);
        while (s->queue.nops >= bound) {
            uint32_t seen = s->taken;
            s->taken_waiters++;
            gort_mutex_unlock(&s->qlock);
            futex_wait(&s->taken, seen, NULL);
            gort_mutex_lock(&s->qlock);
            s->taken_waiters--;
            bs = s->batch_size;
            bound = queue_bound(bs, s->queue_batches);
        }
    }
    gort_mutex_unlock(&s->qlock);
}

void gort_snapmap_set_str(gort_snapmap *s, const char *k, size_t klen,
                          const void *val)
{
    check_map(s, "gort_snapmap_set_str");
    if (GORT_UNLIKELY(k == NULL && klen != 0))
        gort_panic("gort_snapmap_set_str: NULL key with length %zu", klen);
    if (GORT_UNLIKELY(val == NULL && s->val_size != 0))
        gort_panic("gort_snapmap_set_str: NULL value with value size %zu",
                   s->val_size);
    enqueue(s, k, klen, val, false);
}

void gort_snapmap_delete_str(gort_snapmap *s, const char *k, size_t klen)
{
    check_map(s, "gort_snapmap_delete_str");
    if (GORT_UNLIKELY(k == NULL && klen != 0))
        gort_panic("gort_snapmap_delete_str: NULL key with length %zu", klen);
    enqueue(s, k, klen, NULL, true);
}

void gort_snapmap_flush(gort_snapmap *s)
{
    check_map(s, "gort_snapmap_flush");
    check_may_wait("gort_snapmap_flush");
    gort_mutex_lock(&s->wlock);
    (void)publish_wlocked(s, BY_FLUSH);
    gort_mutex_unlock(&s->wlock);
}

/* ===================================================================
 * Settings and statistics
 * =================================================================== */

void gort_snapmap_set_batch_size(gort_snapmap *s, size_t ops)
{
    check_map(s, "gort_snapmap_set_batch_size");
    if (ops == 0)
        gort_panic("gort_snapmap_set_batch_size: batch size 0");
    gort_mutex_lock(&s->qlock);
    __atomic_store_n(&s->batch_size, ops, __ATOMIC_RELAXED);
    wake_flusher_qlocked(s);
    /* The back-pressure bound moved: let the waiters re-check it. */
    __atomic_store_n(&s->taken, s->taken + 1, __ATOMIC_RELAXED);
    bool waiters = s->taken_waiters != 0;
    gort_mutex_unlock(&s->qlock);
    if (waiters)
        futex_wake_all(&s->taken);
}

void gort_snapmap_set_queue_batches(gort_snapmap *s, unsigned batches)
{
    check_map(s, "gort_snapmap_set_queue_batches");
    if (batches == 0)
        gort_panic("gort_snapmap_set_queue_batches: 0 batches");
    gort_mutex_lock(&s->qlock);
    s->queue_batches = batches;
    /* The back-pressure bound moved: let the waiters re-check it. */
    __atomic_store_n(&s->taken, s->taken + 1, __ATOMIC_RELAXED);
    bool waiters = s->taken_waiters != 0;
    gort_mutex_unlock(&s->qlock);
    if (waiters)
        futex_wake_all(&s->taken);
}

void gort_snapmap_set_batch_age_ms(gort_snapmap *s, unsigned ms)
{
    check_map(s, "gort_snapmap_set_batch_age_ms");
    gort_mutex_lock(&s->qlock);
    __atomic_store_n(&s->batch_age_ms, ms, __ATOMIC_RELAXED);
    wake_flusher_qlocked(s);
    gort_mutex_unlock(&s->qlock);
}

void gort_snapmap_stats(gort_snapmap *s, gort_snapmap_info *info)
{
    check_map(s, "gort_snapmap_stats");
    memset(info, 0, sizeof *info);
    info->by_size = __atomic_load_n(&s->by_size, __ATOMIC_RELAXED);
    info->by_age = __atomic_load_n(&s->by_age, __ATOMIC_RELAXED);
    info->by_flush = __atomic_load_n(&s->by_flush, __ATOMIC_RELAXED);
    info->version = info->by_size + info->by_age + info->by_flush;
    info->ops_queued = __atomic_load_n(&s->ops_queued, __ATOMIC_RELAXED);
    info->ops_applied = __atomic_load_n(&s->ops_applied, __ATOMIC_RELAXED);
    info->writer_waits = __atomic_load_n(&s->writer_waits, __ATOMIC_RELAXED);
    info->len = __atomic_load_n(&s->live_len, __ATOMIC_RELAXED);
    info->batch_size = __atomic_load_n(&s->batch_size, __ATOMIC_RELAXED);
    info->batch_age_ms = __atomic_load_n(&s->batch_age_ms, __ATOMIC_RELAXED);
    /* qlock is never held across a wait for readers: safe in a view. */
    gort_mutex_lock(&s->qlock);
    info->pending = s->queue.nops;
    info->queue_batches = s->queue_batches;
    gort_mutex_unlock(&s->qlock);
}
