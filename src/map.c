/*
 * map.c - Go's classic hash map (Go 1.19 runtime/map.go) in C: creation,
 * growth and evacuation, generic keys, clear, free, dump, stats, verify.
 *
 * Design.  A map is an array of 2^B buckets (Go's hmap.buckets).  Each
 * bucket holds 8 slots: 8 tophash bytes, then the 8 keys, then the 8
 * values, then a pointer to an overflow bucket (Go's bmap; keys together
 * and values together so that padding is needed only once).  The low B
 * bits of a key's hash pick the bucket, its top byte (moved above the
 * marks 0..4) is the slot's tophash, so a lookup compares one byte per
 * slot and reads a key only when the byte matches.  The 8 tophash bytes
 * are read as one 64-bit word and compared at once (SWAR).
 *
 * Tophash marks (Go's): emptyRest 0 (this slot and every later slot of
 * the chain are empty: lookups stop there), emptyOne 1, and, in an old
 * array being evacuated, evacuatedX 2 / evacuatedY 3 (the entry moved to
 * the first / second half of the new array) and evacuatedEmpty 4.
 * Invariants (checked by gort__map_verify): a chain is filled and
 * emptyOne slots, then emptyRest slots, and never ends in emptyOne; the
 * current array holds no evacuation mark; an old bucket chain is either
 * entirely marked (evacuated) or not at all; a new bucket whose old
 * bucket is not evacuated is empty; an empty slot's value bytes are zero
 * (so an insertion returns a zeroed value without clearing it: Go's
 * issue 25936).
 *
 * Growth.  An insertion of a new key that would take the map above 6.5
 * entries per bucket (Go's loadFactor; see Go's table of overflow rate,
 * bytes per entry and probe lengths: 6.5 balances them, and our layout is
 * Go's, so its measurements apply) allocates an array twice as big; one
 * that finds about as many overflow buckets as buckets (after many
 * deletions and insertions) allocates one of the same size.  The new
 * array is allocated before anything changes (an allocation failure is a
 * fatal error, never a half-grown map).  Entries move incrementally: each
 * write evacuates the old bucket of the key it touches and one more
 * (nevacuate, Go's growWork), keeping their order (entries of a chain go
 * to X or Y in order), so an iterator never sees an entry twice.  Reads
 * during a growth look in the old bucket while it is not evacuated.
 *
 * Old arrays and iterators (the one place where C differs from Go).  Go's
 * iterator keeps reading the array it started on after a growth moved
 * its entries (and looks evacuated entries up in the current table); Go's
 * garbage collector keeps that array alive.  C has none, and an abandoned
 * iterator has no clean-up call.  So gort_map_iter_init records, in
 * iter_flags (Go's iterator/oldIterator bits), that the current arrays
 * may be in use; when a growth completes and the old array may be in use,
 * it is not freed but kept on the retired list (with its overflow buckets
 * and its keys and values intact).  The map also counts live iterations
 * (live_iters: begun, and neither at their end nor ended by
 * gort_map_iter_end); a growth that finds none live, at its start or
 * end, frees what was kept (release_kept) and moves iter_epoch, which
 * every iterator step checks, so an iterator stepped against the rules
 * is a fatal error, not a read of freed memory.  gort_map_clear,
 * gort_map_free and a delete that empties the map free it too: the
 * moments when no entry an old iterator could produce exists, so
 * iterators are told to stop (the clear sequence, Go >= 1.21 semantics of
 * clear).  A copied key that a kept array still points to is not freed
 * when its entry is deleted but deferred to the same moments
 * (GORT__STRKEY_SHARED marks those keys).  A map that is never iterated
 * keeps nothing, so insert-only or lookup-only work uses no more memory
 * than Go's map.  docs/design/map.md has the cost analysis.
 *
 * Misuse.  Writers set a flag (Go's hashWriting) for the duration of the
 * write; readers and writers check it on entry (map_internal.h), with
 * relaxed atomics so the library has no data race of its own: Go's
 * best-effort detection of concurrent misuse, at the cost of a byte load
 * and a branch.
 *
 * User callbacks (generic maps) may panic.  The hash of the key is
 * computed before the writing flag is set; evacuation computes all its
 * X/Y decisions before it moves anything; lookups call `equal` before any
 * change; and the writing flag is cleared by a deferred call if a
 * callback panics.  So a panic leaves the map consistent and usable.
 *
 * Mirrors Go 1.19 runtime/map.go (makemap, makeBucketArray, mapassign,
 * mapdelete, mapclear, hashGrow, growWork, evacuate,
 * advanceEvacuationMark, overLoadFactor, tooManyOverflowBuckets,
 * incrnoverflow, newoverflow); behaviour only, no code.  The string and
 * uint64 hot paths are in map_fast_str.c and map_fast_u64.c, the iterator
 * in map_iter.c.
 *
 * Ordering guarantees: none; a map is not synchronised.  flags and
 * iter_flags are accessed with relaxed atomics only so that misuse is
 * detected without undefined behaviour; they publish nothing.
 */
#include "map_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Go's maxAlloc on 64-bit Linux: a hint needing more is bogus. */
#define MAX_ALLOC ((size_t)1 << 48)
/* Largest bucket (key and value sizes beyond are refused). */
#define MAX_BUCKET_SIZE ((size_t)1 << 31)

static uint64_t next_map_id = 1;

/* ===================================================================
 * Errors
 * =================================================================== */

void gort__map_fatal_read(void)
{
    gort__fatal("concurrent map read and map write");
}

void gort__map_fatal_write(void)
{
    gort__fatal("concurrent map writes");
}

void gort__map_fatal_iter(void)
{
    gort__fatal("concurrent map iteration and map write");
}

void gort__map_fatal_write_check(const gort_map *m)
{
    if (gort__map_load_flags(m) & GORT__MAP_FROZEN)
        gort__fatal("gort: write to a read-only map view "
                    "(gort_snapmap_read_begin)");
    gort__fatal("concurrent map writes");
}

void gort__map_set_frozen(gort_map *m, bool frozen)
{
    uint8_t f = gort__map_load_flags(m);
    f = frozen ? (uint8_t)(f | GORT__MAP_FROZEN)
               : (uint8_t)(f & ~GORT__MAP_FROZEN);
    __atomic_store_n(&m->flags, f, __ATOMIC_RELAXED);
}

static const char *kind_name(unsigned kind)
{
    switch (kind) {
    case GORT__MAP_STR:
        return "string (copied)";
    case GORT__MAP_STRREF:
        return "string (borrowed)";
    case GORT__MAP_U64:
        return "uint64";
    default:
        return "generic";
    }
}

void gort__map_panic_kind(const char *fn, const gort_map *m)
{
    gort_panic("%s: the map has %s keys", fn, kind_name(m->kind));
}

void gort__map_panic_null_key(const char *fn, size_t klen)
{
    gort_panic("%s: NULL key with length %zu", fn, klen);
}

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size != 0 ? size : 1);
    if (q == NULL)
        gort__throw_oom();
    return q;
}

/* ===================================================================
 * Creation (Go's makemap, makeBucketArray)
 * =================================================================== */

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

/* Computes the bucket layout; false if it would overflow. */
static bool layout(gort_map *m, size_t key_size, size_t key_align,
                   size_t val_size)
{
    size_t val_align = val_size >= 16 ? 16 : 8;
    if (key_size > MAX_BUCKET_SIZE / 16 || val_size > MAX_BUCKET_SIZE / 16)
        return false;
    size_t val_stride = round_up(val_size, val_align);
    size_t keys_off = round_up(GORT__MAP_BUCKET_CNT, key_align);
    size_t val_off = round_up(keys_off + GORT__MAP_BUCKET_CNT * key_size,
                              val_align);
    size_t ovf_off = round_up(val_off + GORT__MAP_BUCKET_CNT * val_stride,
                              sizeof(void *));
    size_t align = key_align > val_align ? key_align : val_align;
    size_t bucket_size = round_up(ovf_off + sizeof(void *), align);
    if (bucket_size > MAX_BUCKET_SIZE)
        return false;
    m->bucket_size = (uint32_t)bucket_size;
    m->keys_off = (uint32_t)keys_off;
    m->key_stride = (uint32_t)key_size;
    m->val_off = (uint32_t)val_off;
    m->val_stride = (uint32_t)val_stride;
    m->val_size = (uint32_t)val_size;
    return true;
}

/* Asks for transparent huge pages on the 2 MiB-aligned part of a big
 * bucket array (Go's heap gets them too: its arenas are madvised).  A
 * lookup of a big map misses the TLB as well as the cache; with 4 KiB
 * pages the page walk doubles the cost of each bucket access.  Best
 * effort: THP may be off ("never"), then nothing changes.  The memory
 * stays malloc's (calloc'ed, counted by mallinfo), only its page size
 * changes. */
static void advise_huge(void *arr, size_t bytes)
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)arr + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)arr + bytes) & ~(huge - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* The number of buckets (2^B + @n_go - 2^B preallocated overflow ones)
 * to allocate in one array, adjusted to the allocator as Go's
 * makeBucketArray adjusts it to its size classes (roundupsize: the
 * rounding's spare bytes become more overflow buckets).  glibc serves an
 * array of 128 KiB or more with mmap, in whole pages, after a chunk
 * header of its own (16 bytes, plus up to 16 of alignment): Go's count
 * of 2^B + 2^(B-4) buckets is a whole number of pages as soon as B >= 14
 * for the usual bucket sizes (208 = 13 * 16 bytes for str -> int64), so
 * the header alone would cost a page more than Go's array takes.  The
 * preallocated overflow buckets therefore fill the pages Go's count needs
 * less that header: one fewer when the count is page-aligned (a 10^6-key
 * map: 16383 instead of 16384, 4 KiB less), more when the last page has
 * room.  They are an estimate (Go's comment says so); the map takes more
 * from chunks when it needs them. */
#define ALLOC_PAGE ((size_t)4096)
#define ALLOC_MMAP_MIN ((size_t)128 << 10) /* glibc's M_MMAP_THRESHOLD */
#define ALLOC_HEADER ((size_t)32)          /* chunk header and alignment */

static size_t fit_to_pages(size_t base, size_t n_go, size_t bucket_size)
{
    size_t bytes = n_go * bucket_size; /* the caller checked overflow */
    if (n_go == base || bytes < ALLOC_MMAP_MIN || bytes > SIZE_MAX / 2)
        return n_go;
    size_t pages = (bytes + ALLOC_PAGE - 1) / ALLOC_PAGE;
    size_t n = (pages * ALLOC_PAGE - ALLOC_HEADER) / bucket_size;
    return n > base ? n : n_go;
}

/* Allocates a zeroed array of 2^B buckets, plus about 2^(B-4)
 * preallocated overflow buckets when B >= 4 (Go's estimate of the
 * overflow buckets the median map of that size needs; fit_to_pages).  The
 * last preallocated bucket's overflow pointer is a non-NULL sentinel (the
 * array): a free bucket whose pointer is NULL has more free buckets after
 * it. */
static uint8_t *make_bucket_array(const gort_map *m, unsigned B,
                                  size_t *nalloc, uint8_t **next_overflow)
{
    size_t base = gort__map_bucket_shift(B);
    size_t n = base;
    if (B >= 4)
        n += gort__map_bucket_shift(B - 4);
    size_t bytes;
    if (__builtin_mul_overflow(n, (size_t)m->bucket_size, &bytes))
        gort__throw_oom();
    n = fit_to_pages(base, n, m->bucket_size);
    bytes = n * (size_t)m->bucket_size;
    uint8_t *arr = gort__xcalloc(1, bytes);
    if (bytes >= ((size_t)2 << 20))
        advise_huge(arr, bytes);
    *nalloc = n;
    *next_overflow = NULL;
    if (n != base) {
        *next_overflow = gort__map_bucket_at(m, arr, base);
        gort__map_set_overflow(m, gort__map_bucket_at(m, arr, n - 1), arr);
    }
    return arr;
}

/* make(map, hint): the smallest B that holds @hint entries; a hint whose
 * buckets could not be allocated is taken as 0 (TestIgnoreBogusMapHint). */
static unsigned hint_to_B(const gort_map *m, size_t hint)
{
    size_t mem;
    if (__builtin_mul_overflow(hint, (size_t)m->bucket_size, &mem) ||
        mem > MAX_ALLOC)
        hint = 0;
    unsigned B = 0;
    while (gort__map_over_load(hint, B))
        B++;
    if (__builtin_mul_overflow(gort__map_bucket_shift(B),
                               (size_t)m->bucket_size, &mem) ||
        mem > MAX_ALLOC)
        B = 0;
    return B;
}

static gort_map *map_new(unsigned kind, size_t key_size, size_t key_align,
                         size_t val_size, const gort_map_type *t,
                         size_t hint, const char *fn)
{
    gort_map probe;
    memset(&probe, 0, sizeof probe);
    if (!layout(&probe, key_size, key_align, val_size))
        gort_panic("%s: key size %zu and value size %zu make a bucket "
                   "larger than %zu bytes",
                   fn, key_size, val_size, (size_t)MAX_BUCKET_SIZE);
    /* Validated: now allocate (nothing to undo on a panic above). */
    gort_map *m;
    size_t size = round_up(sizeof *m, 64);
    if (posix_memalign((void **)&m, 64, size) != 0)
        gort__throw_oom();
    *m = probe;
    m->kind = (uint8_t)kind;
    if (t != NULL)
        m->type = *t;
    gort__map_set_seed(m, gort__map_new_seed());
    m->strict = gort__debug.mapstrict != 0;
    m->id = __atomic_fetch_add(&next_map_id, 1, __ATOMIC_RELAXED);
    m->B = (uint8_t)hint_to_B(m, hint);
    m->mask = gort__map_bucket_mask(m->B);
    /* B == 0: the bucket is allocated by the first insertion (Go). */
    if (m->B != 0)
        m->buckets = make_bucket_array(m, m->B, &m->nalloc, &m->next_overflow);
    gort__map_update_summary(m);
    return m;
}

gort_map *gort_map_new_str(size_t val_size, size_t hint)
{
    return map_new(GORT__MAP_STR, sizeof(gort__strslot), 8, val_size, NULL,
                   hint, "gort_map_new_str");
}

gort_map *gort_map_new_strref(size_t val_size, size_t hint)
{
    return map_new(GORT__MAP_STRREF, sizeof(gort__strkey), 8, val_size, NULL,
                   hint, "gort_map_new_strref");
}

gort_map *gort_map_new_u64(size_t val_size, size_t hint)
{
    return map_new(GORT__MAP_U64, sizeof(uint64_t), 8, val_size, NULL, hint,
                   "gort_map_new_u64");
}

gort_map *gort_map_new(const gort_map_type *t, size_t hint)
{
    if (t == NULL)
        gort_panic("gort_map_new: NULL type");
    if (t->hash == NULL)
        gort_panic("gort_map_new: type without hash function");
    if (t->equal == NULL)
        gort_panic("gort_map_new: type without equal function");
    /* Keys at their natural alignment: a C type's alignment divides its
     * size, so the lowest set bit of the size is enough (capped at 16). */
    size_t align = t->key_size == 0 ? 1 : t->key_size & -t->key_size;
    if (align > 16)
        align = 16;
    return map_new(GORT__MAP_GENERIC, t->key_size, align, t->val_size, t,
                   hint, "gort_map_new");
}

void gort__map_alloc_first(gort_map *m)
{
    m->buckets = make_bucket_array(m, m->B, &m->nalloc, &m->next_overflow);
}

/* ===================================================================
 * Arrays, overflow buckets, key copies
 * =================================================================== */

static bool in_array(const gort_map *m, const uint8_t *b, const uint8_t *arr,
                     size_t nalloc)
{
    uintptr_t p = (uintptr_t)b, lo = (uintptr_t)arr;
    return p >= lo && p < lo + nalloc * m->bucket_size;
}

static bool in_chunks(const gort_map *m, const uint8_t *b,
                      const gort__map_chunk *c)
{
    for (; c != NULL; c = c->next)
        if (in_array(m, b, GORT__CHUNK_BUCKETS(c), c->nbuckets))
            return true;
    return false;
}

static void free_chunks(gort__map_chunk *c)
{
    while (c != NULL) {
        gort__map_chunk *next = c->next;
        free(c);
        c = next;
    }
}

static void free_array(uint8_t *arr, gort__map_chunk *chunks)
{
    free_chunks(chunks);
    free(arr);
}

static void free_retired(gort_map *m)
{
    gort__map_array *a = m->retired;
    while (a != NULL) {
        gort__map_array *next = a->next;
        free_array(a->buckets, a->chunks);
        free(a);
        a = next;
    }
    m->retired = NULL;
}

static void free_deferred(gort_map *m)
{
    for (size_t i = 0; i < m->ndeferred; i++)
        free(m->deferred[i]);
    free(m->deferred);
    m->deferred = NULL;
    m->ndeferred = m->cap_deferred = 0;
    m->deferred_bytes = 0;
}

/* str maps: calls @fn on each filled slot of the chain from @b whose key
 * is stored out of line (a copy the map owns). */
static void each_copied_key(gort_map *m, uint8_t *b,
                            void (*fn)(gort__strslot *slot))
{
    for (; b != NULL; b = gort__map_overflow(m, b)) {
        for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++) {
            if (b[i] < GORT__MIN_TOPHASH)
                continue;
            gort__strslot *slot = (gort__strslot *)gort__map_key(m, b, i);
            if (!gort__strslot_is_inline(slot))
                fn(slot);
        }
    }
}

static void free_key_copy(gort__strslot *slot)
{
    free((void *)gort__strslot_ptr(slot));
}

/* str maps: frees the key copies of every live entry (current array, and
 * old buckets not yet evacuated; an evacuated old slot's key lives on in
 * the new array or was released on delete).  Inline keys have none. */
static void free_chain_keys(gort_map *m, uint8_t *b)
{
    each_copied_key(m, b, free_key_copy);
}

static void free_live_keys(gort_map *m)
{
    if (m->kind != GORT__MAP_STR || m->buckets == NULL)
        return;
    for (size_t i = 0; i < gort__map_bucket_shift(m->B); i++)
        free_chain_keys(m, gort__map_bucket_at(m, m->buckets, i));
    if (m->oldbuckets != NULL) {
        for (size_t i = 0; i < gort__map_noldbuckets(m); i++) {
            uint8_t *b = gort__map_bucket_at(m, m->oldbuckets, i);
            if (!gort__map_evacuated(b))
                free_chain_keys(m, b);
        }
    }
    m->key_bytes = 0;
}

const char *gort__map_copy_key(gort_map *m, const char *k, size_t klen)
{
    GORT_ASSERT(klen > GORT__STRSLOT_INLINE_MAX);
    char *p = gort__xmalloc(klen);
    memcpy(p, k, klen);
    m->key_bytes += klen;
    return p;
}

void gort__map_release_key(gort_map *m, const gort__strslot *slot)
{
    if (gort__strslot_is_inline(slot))
        return;
    const gort__strkey *sk = &slot->out;
    size_t len = GORT__STRKEY_LEN(sk);
    m->key_bytes -= len;
    if (!(sk->len & GORT__STRKEY_SHARED)) {
        free((void *)sk->p);
        return;
    }
    if (m->ndeferred == m->cap_deferred) {
        size_t cap = m->cap_deferred != 0 ? 2 * m->cap_deferred : 16;
        m->deferred = xrealloc(m->deferred, cap * sizeof *m->deferred);
        m->cap_deferred = cap;
    }
    m->deferred[m->ndeferred++] = (char *)sk->p;
    m->deferred_bytes += len;
}

static void clear_shared_mark(gort__strslot *slot)
{
    slot->out.len &= ~GORT__STRKEY_SHARED;
}

/* str maps: clears the shared marks of the live key copies in the
 * current array (no growth under way). */
static void clear_shared_marks(gort_map *m)
{
    for (size_t i = 0; i < gort__map_bucket_shift(m->B); i++)
        each_copied_key(m, gort__map_bucket_at(m, m->buckets, i),
                        clear_shared_mark);
}

/* Nothing kept for iterators is needed any more: no iteration is live
 * (live_iters is 0, or the caller knows that none exists).  Frees the
 * kept arrays and deferred key copies, clears the key copies' shared
 * marks, forgets the iterators, and moves iter_epoch so that an iterator
 * stepped against the rules afterwards (a copy of one that finished, one
 * used after its snapmap view ended) stops with a fatal error instead of
 * reading freed memory.  No growth may be under way.  @marked: live key
 * copies may carry shared marks although no array is retired (the old
 * array of the growth that just ended was freed, not retired). */
static void release_kept(gort_map *m, bool marked)
{
    /* Keys are marked shared only while an old array kept for iterators
     * may point to them: that array is retired when its growth ends, or
     * freed here at once (@marked).  So the walk runs once per growth
     * that had an iterator, whose own cost it matches. */
    if ((marked || m->retired != NULL) && m->kind == GORT__MAP_STR)
        clear_shared_marks(m);
    free_retired(m);
    free_deferred(m);
    __atomic_store_n(&m->iter_flags, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->live_iters, 0, __ATOMIC_RELAXED);
    m->iter_epoch++;
}

/* Whether the map keeps anything for iterators (or marks that it may). */
static bool keeps_for_iterators(const gort_map *m)
{
    return m->retired != NULL || m->ndeferred != 0 ||
           __atomic_load_n(&m->iter_flags, __ATOMIC_RELAXED) != 0;
}

void gort__map_forget_iterators(gort_map *m)
{
    /* No iterator exists: none is live, whatever the count says
     * (abandoned iterations of a view count until now). */
    __atomic_store_n(&m->live_iters, 0, __ATOMIC_RELAXED);
    m->iter_epoch++;
    if (m->oldbuckets != NULL)
        return; /* finish_growth releases, the count being 0 */
    release_kept(m, false);
}

void gort__map_emptied(gort_map *m)
{
    free_retired(m);
    free_deferred(m);
    m->clear_seq++;
    m->iter_epoch++;
    __atomic_store_n(&m->iter_flags, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->live_iters, 0, __ATOMIC_RELAXED);
    gort__map_set_seed(m, gort__map_new_seed()); /* Go's issue 25237 */
}

/* Go's incrnoverflow: exact below 2^16 buckets, then sampled with
 * probability 1/2^(B-15) so that 2^15 means "as many as buckets". */
static void incr_noverflow(gort_map *m)
{
    if (m->B >= 16) {
        uint64_t mask = ((uint64_t)1 << (m->B - 15)) - 1;
        if ((gort__fastrand64() & mask) != 0)
            return;
    }
    if (m->noverflow != UINT16_MAX)
        m->noverflow++;
    gort__map_update_insert_limit(m);
}

/* Overflow buckets per chunk: 1/128 of the array (Go preallocates 1/16
 * with the array; a map that needs more gets them 1/128 at a time), at
 * least 1, at most 32 (6.5 KiB for a str->int64 map): the unused tail of
 * the last chunk stays under 0.2 bytes per entry (measured at 10^5
 * entries), and a chunk's 32 bytes of headers are spread over its
 * buckets instead of a malloc header per bucket.  Small maps rarely
 * overflow and get single buckets. */
static size_t chunk_buckets(const gort_map *m)
{
    size_t k = gort__map_bucket_shift(m->B) / 128;
    return k < 1 ? 1 : k > 32 ? 32 : k;
}

uint8_t *gort__map_newoverflow(gort_map *m, uint8_t *b)
{
    if (m->next_overflow == NULL) {
        /* A new chunk, handed out with the preallocated buckets' rule:
         * its last bucket's overflow pointer is a non-NULL sentinel. */
        size_t k = chunk_buckets(m);
        gort__map_chunk *c =
            gort__xcalloc(1, sizeof *c + k * (size_t)m->bucket_size);
        c->next = m->chunks;
        c->nbuckets = k;
        m->chunks = c;
        m->next_overflow = GORT__CHUNK_BUCKETS(c);
        gort__map_set_overflow(
            m, gort__map_bucket_at(m, GORT__CHUNK_BUCKETS(c), k - 1),
            (uint8_t *)c);
    }
    uint8_t *ovf = m->next_overflow;
    if (gort__map_overflow(m, ovf) == NULL) {
        m->next_overflow = ovf + m->bucket_size;
    } else { /* the last free one: clear the sentinel */
        gort__map_set_overflow(m, ovf, NULL);
        m->next_overflow = NULL;
    }
    incr_noverflow(m);
    gort__map_set_overflow(m, b, ovf);
    return ovf;
}

/* ===================================================================
 * Growth (Go's hashGrow, growWork, evacuate, advanceEvacuationMark)
 * =================================================================== */

void gort__map_hash_grow(gort_map *m)
{
    unsigned bigger = gort__map_over_load(m->count + 1, m->B) ? 1 : 0;
    size_t nalloc;
    uint8_t *next_overflow;
    uint8_t *nb = make_bucket_array(m, m->B + bigger, &nalloc, &next_overflow);
    /* Committed: nothing below can fail. */
    if (__atomic_load_n(&m->live_iters, __ATOMIC_RELAXED) == 0 &&
        keeps_for_iterators(m))
        release_kept(m, false); /* every iteration has finished */
    uint8_t f = __atomic_load_n(&m->iter_flags, __ATOMIC_RELAXED);
    __atomic_store_n(&m->iter_flags,
                     (uint8_t)((f & GORT__MAP_ITER) ? GORT__MAP_OLD_ITER : 0),
                     __ATOMIC_RELAXED);
    m->oldbuckets = m->buckets;
    m->old_nalloc = m->nalloc;
    m->old_chunks = m->chunks;
    m->chunks = NULL;
    m->buckets = nb;
    m->nalloc = nalloc;
    m->next_overflow = next_overflow;
    m->B = (uint8_t)(m->B + bigger);
    m->mask = gort__map_bucket_mask(m->B);
    m->same_size = bigger == 0;
    m->nevacuate = 0;
    m->noverflow = 0;
    gort__map_update_summary(m);
}

/* The growth is complete: the old array goes, unless an iteration that
 * may still read it is live (then it is retired until no iteration is,
 * seen at a growth's start or end, or until clear, free or emptying). */
static void finish_growth(gort_map *m)
{
    size_t nold = gort__map_noldbuckets(m);
    bool old_iter = __atomic_load_n(&m->iter_flags, __ATOMIC_RELAXED) &
                    GORT__MAP_OLD_ITER;
    bool live = __atomic_load_n(&m->live_iters, __ATOMIC_RELAXED) != 0;
    if (old_iter && live) {
        gort__map_array *a = gort__xmalloc(sizeof *a);
        a->buckets = m->oldbuckets;
        a->nmain = nold;
        a->nalloc = m->old_nalloc;
        a->chunks = m->old_chunks;
        a->next = m->retired;
        m->retired = a;
    } else {
        free_array(m->oldbuckets, m->old_chunks);
    }
    m->oldbuckets = NULL;
    m->old_nalloc = 0;
    m->old_chunks = NULL;
    m->same_size = 0;
    gort__map_update_summary(m);
    if (!live && keeps_for_iterators(m))
        release_kept(m, old_iter);
}

static void advance_evacuation_mark(gort_map *m, size_t newbit)
{
    m->nevacuate++;
    /* Go's bound: O(1) work per write whatever the evacuation pattern. */
    size_t stop = m->nevacuate + 1024;
    if (stop > newbit)
        stop = newbit;
    while (m->nevacuate != stop &&
           gort__map_evacuated(
               gort__map_bucket_at(m, m->oldbuckets, m->nevacuate)))
        m->nevacuate++;
    if (m->nevacuate == newbit)
        finish_growth(m);
}

/* Generic maps, doubling: all X/Y decisions of the chain at @b, before
 * anything moves (the user hash may panic). */
static const uint8_t *generic_decide(gort_map *m, const uint8_t *b,
                                     size_t newbit)
{
    size_t nb = 0;
    for (const uint8_t *c = b; c != NULL; c = gort__map_overflow(m, c))
        nb++;
    size_t need = nb * GORT__MAP_BUCKET_CNT;
    if (need > m->scratch_cap) {
        free(m->scratch);
        m->scratch = NULL;
        m->scratch_cap = 0;
        m->scratch = gort__xmalloc(need);
        m->scratch_cap = need;
    }
    size_t n = 0;
    for (const uint8_t *c = b; c != NULL; c = gort__map_overflow(m, c)) {
        for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++, n++) {
            uint8_t y = 0;
            if (c[i] >= GORT__MIN_TOPHASH)
                y = (m->type.hash(gort__map_key(m, c, i), m->hash0) & newbit) != 0;
            m->scratch[n] = y;
        }
    }
    return m->scratch;
}

typedef struct evac_dst {
    uint8_t *b; /* current destination bucket */
    size_t i;   /* next slot in it, 0..8 */
} evac_dst;

/* Go's evacuate, specialised per key kind by the constant @kind. */
static inline __attribute__((always_inline)) void
evacuate_kind(gort_map *m, size_t oldbucket, unsigned kind)
{
    uint8_t *b = gort__map_bucket_at(m, m->oldbuckets, oldbucket);
    size_t newbit = gort__map_noldbuckets(m);
    if (!gort__map_evacuated(b)) {
        bool bigger = !m->same_size;
        evac_dst xy[2];
        xy[0].b = gort__map_bucket_at(m, m->buckets, oldbucket);
        xy[0].i = 0;
        xy[1].b = bigger ? gort__map_bucket_at(m, m->buckets, oldbucket + newbit)
                         : NULL;
        xy[1].i = 0;
        /* Out-of-line key copies now also referenced by an array an
         * iterator may keep: their free must wait
         * (gort__map_release_key).  Inline keys are copied with their
         * slot. */
        size_t shared = 0;
        if (kind == GORT__MAP_STR &&
            (__atomic_load_n(&m->iter_flags, __ATOMIC_RELAXED) &
             GORT__MAP_OLD_ITER))
            shared = GORT__STRKEY_SHARED;
        const uint8_t *decide = NULL;
        if (kind == GORT__MAP_GENERIC && bigger)
            decide = generic_decide(m, b, newbit);
        if ((kind == GORT__MAP_STR || kind == GORT__MAP_STRREF) && bigger) {
            /* The keys' bytes are elsewhere (but inline ones) and must be
             * hashed: start all their cache misses now, so that they
             * overlap. */
            for (const uint8_t *c = b; c != NULL; c = gort__map_overflow(m, c))
                for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++)
                    if (c[i] >= GORT__MIN_TOPHASH)
                        __builtin_prefetch(
                            gort__map_strkey_ptr(m, gort__map_key(m, c, i)));
        }
        size_t n = 0;
        for (; b != NULL; b = gort__map_overflow(m, b)) {
            for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++, n++) {
                uint8_t top = b[i];
                if (gort__map_is_empty(top)) {
                    b[i] = GORT__EVAC_EMPTY;
                    continue;
                }
                GORT_ASSERT(top >= GORT__MIN_TOPHASH); /* "bad map state" */
                const uint8_t *k = gort__map_key(m, b, i);
                unsigned useY = 0;
                if (bigger) {
                    uint64_t h;
                    if (kind == GORT__MAP_GENERIC) {
                        useY = decide[n];
                    } else if (kind == GORT__MAP_U64) {
                        h = gort__hash_u64(gort__load64(k), m->hash0);
                        useY = (h & newbit) != 0;
                    } else {
                        h = gort__map_hash_str(m, gort__map_strkey_ptr(m, k),
                                               gort__map_strkey_len(m, k));
                        useY = (h & newbit) != 0;
                    }
                }
                b[i] = (uint8_t)(GORT__EVAC_X + useY);
                evac_dst *dst = &xy[useY];
                if (dst->i == GORT__MAP_BUCKET_CNT) {
                    dst->b = gort__map_newoverflow(m, dst->b);
                    dst->i = 0;
                }
                dst->b[dst->i] = top;
                uint8_t *dk = gort__map_key(m, dst->b, dst->i);
                if (kind == GORT__MAP_STR) {
                    /* The slot as is: inline bytes, or the pointer to the
                     * copy, then shared by both arrays. */
                    gort__strslot sk;
                    memcpy(&sk, k, sizeof sk);
                    if (!gort__strslot_is_inline(&sk))
                        sk.out.len |= shared;
                    memcpy(dk, &sk, sizeof sk);
                } else if (kind == GORT__MAP_STRREF) {
                    memcpy(dk, k, sizeof(gort__strkey));
                } else if (kind == GORT__MAP_U64) {
                    memcpy(dk, k, sizeof(uint64_t));
                } else {
                    memcpy(dk, k, m->key_stride);
                }
                memcpy(gort__map_val(m, dst->b, dst->i), gort__map_val(m, b, i),
                       m->val_size);
                dst->i++;
            }
        }
        /* The old chain keeps its keys and values: an iterator that
         * started on this array reads them to look the keys up again. */
    }
    if (oldbucket == m->nevacuate)
        advance_evacuation_mark(m, newbit);
}

static void evacuate(gort_map *m, size_t oldbucket)
{
    switch (m->kind) {
    case GORT__MAP_STR:
        evacuate_kind(m, oldbucket, GORT__MAP_STR);
        break;
    case GORT__MAP_STRREF:
        evacuate_kind(m, oldbucket, GORT__MAP_STRREF);
        break;
    case GORT__MAP_U64:
        evacuate_kind(m, oldbucket, GORT__MAP_U64);
        break;
    default:
        evacuate_kind(m, oldbucket, GORT__MAP_GENERIC);
        break;
    }
}

void gort__map_grow_work(gort_map *m, size_t bucket)
{
    /* The old bucket of the bucket about to be used, then one more. */
    evacuate(m, bucket & gort__map_oldbucket_mask(m));
    if (m->oldbuckets != NULL)
        evacuate(m, m->nevacuate);
}

/* ===================================================================
 * Lookups shared with the iterator (Go's mapaccessK)
 * =================================================================== */

uint64_t gort__map_hash_slot(const gort_map *m, const uint8_t *slot)
{
    switch (m->kind) {
    case GORT__MAP_STR:
    case GORT__MAP_STRREF:
        return gort__map_hash_str(m, gort__map_strkey_ptr(m, slot),
                                  gort__map_strkey_len(m, slot));
    case GORT__MAP_U64:
        return gort__hash_u64(gort__load64(slot), m->hash0);
    default:
        return m->type.hash(slot, m->hash0);
    }
}

static bool slot_equal(const gort_map *m, const void *key, const uint8_t *slot)
{
    switch (m->kind) {
    case GORT__MAP_STR:
    case GORT__MAP_STRREF: {
        const char *a = gort__map_strkey_ptr(m, key);
        const char *b = gort__map_strkey_ptr(m, slot);
        size_t n = gort__map_strkey_len(m, key);
        return gort__map_strkey_len(m, slot) == n &&
               (a == b || gort__str_eq(a, b, n));
    }
    case GORT__MAP_U64:
        return gort__load64(key) == gort__load64(slot);
    default:
        return m->type.equal(key, slot);
    }
}

/* Candidate slots whose tophash is exactly @top (no false positives:
 * generic maps must not call the user's equal on other slots). */
static inline uint64_t match_exact(uint64_t w, uint8_t top)
{
    uint64_t x = w ^ (GORT__SWAR_LO * top);
    const uint64_t lo7 = 0x7F7F7F7F7F7F7F7Full;
    return ~(((x & lo7) + lo7) | x | lo7);
}

const uint8_t *gort__map_lookup_slot(const gort_map *m, const void *key,
                                     const uint8_t **val)
{
    if (m->count == 0)
        return NULL;
    uint64_t hash = gort__map_hash_slot(m, key);
    uint8_t top = gort__map_tophash(hash);
    for (const uint8_t *b = gort__map_lookup_bucket(m, hash); b != NULL;
         b = gort__map_overflow(m, b)) {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = match_exact(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            const uint8_t *k = gort__map_key(m, b, i);
            if (slot_equal(m, key, k)) {
                *val = gort__map_val(m, b, i);
                return k;
            }
        }
        if (gort__swar_zero(w) != 0)
            break; /* emptyRest: nothing further */
    }
    return NULL;
}

/* ===================================================================
 * Generic keys (gort_map_new); u64 maps accept these calls too
 * =================================================================== */

/* The key of a u64 map called through the generic API: 8 bytes at key. */
static uint64_t u64_key(const void *key, const char *fn)
{
    if (key == NULL)
        gort__map_panic_null_key(fn, 8);
    return gort__load64(key);
}

/* The generic entry points' argument checks (u64 maps forwarded). */
static void check_generic_args(const gort_map *m, const void *key,
                               const char *fn)
{
    if (m->kind != GORT__MAP_GENERIC)
        gort__map_panic_kind(fn, m);
    if (key == NULL && m->key_stride != 0)
        gort__map_panic_null_key(fn, m->key_stride);
}

const void *gort_map_get(const gort_map *m, const void *key)
{
    if (m == NULL)
        return NULL;
    GORT__MAP_RACE_READ(m);
    if (m->kind == GORT__MAP_U64) {
        return gort_map_get_u64(m, u64_key(key, "gort_map_get"));
    }
    check_generic_args(m, key, "gort_map_get");
    if (m->count == 0)
        return NULL;
    gort__map_check_read(m);
    uint64_t hash = m->type.hash(key, m->hash0);
    uint8_t top = gort__map_tophash(hash);
    for (const uint8_t *b = gort__map_lookup_bucket(m, hash); b != NULL;
         b = gort__map_overflow(m, b)) {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = match_exact(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            if (m->type.equal(key, gort__map_key(m, b, i)))
                return gort__map_val(m, b, i);
        }
        if (gort__swar_zero(w) != 0)
            break;
    }
    return NULL;
}

/* Clears the writing flag if a user callback panics mid-write. */
typedef struct write_guard {
    gort_map *m;
    bool active; /* between write_begin and write_end */
} write_guard;

static void write_guard_release(void *arg)
{
    write_guard *g = arg;
    if (g->active)
        __atomic_and_fetch(&g->m->flags, (uint8_t)~GORT__MAP_WRITING,
                           __ATOMIC_RELAXED);
}

/* mapassign for generic maps, the writing flag held.  Every call of
 * `equal` comes before the map changes (growth work before it is
 * complete in itself, and made its decisions before moving anything). */
static void *generic_assign(gort_map *m, const void *key, uint64_t hash)
{
    if (m->buckets == NULL)
        gort__map_alloc_first(m);
    uint8_t top = gort__map_tophash(hash);
again:;
    size_t bucket = hash & m->mask;
    if (m->oldbuckets != NULL)
        gort__map_grow_work(m, bucket);
    uint8_t *b = gort__map_bucket_at(m, m->buckets, bucket);
    uint8_t *ins = NULL;
    unsigned ins_i = 0;
    for (;;) {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = match_exact(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            uint8_t *k = gort__map_key(m, b, i);
            if (m->type.equal(key, k)) {
                /* Go stores the key again when its type needs it
                 * (t.needkeyupdate: +0 and -0 are equal floats with other
                 * bytes); equal C keys may differ likewise, so always.
                 * @key is the write's own copy: it never overlaps. */
                memcpy(k, key, m->key_stride);
                return gort__map_val(m, b, i);
            }
        }
        gort__map_note_empty(w, b, &ins, &ins_i);
        if (gort__swar_zero(w) != 0)
            break;
        uint8_t *next = gort__map_overflow(m, b);
        if (next == NULL)
            break;
        b = next;
    }
    if (gort__map_needs_grow(m)) {
        gort__map_hash_grow(m);
        goto again; /* growing invalidates everything found */
    }
    if (ins == NULL) {
        ins = gort__map_newoverflow(m, b);
        ins_i = 0;
    }
    memcpy(gort__map_key(m, ins, ins_i), key, m->key_stride);
    ins[ins_i] = top;
    m->count++;
    return gort__map_val(m, ins, ins_i);
}

/* Generic keys of up to this many bytes are copied on the stack by a
 * write (larger ones on the heap). */
enum { KEY_COPY_STACK = 256 };

/* The key of a generic write may be an iterator's it.key, which points
 * into a bucket that this very write can free (a growth that finishes
 * during it; Go's keys are values, so Go never meets this).  The write
 * therefore works on a copy of the key: @buf when it is large enough,
 * else a heap copy that a deferred free releases (also if a callback
 * panics).  Called inside the write's GORT_FRAME. */
#define GENERIC_KEY_COPY(m, key, buf)                                          \
    do {                                                                       \
        size_t ksz_ = (m)->key_stride;                                         \
        void *kc_ = (buf);                                                     \
        if (ksz_ > sizeof(buf)) {                                              \
            kc_ = gort__xmalloc(ksz_);                                         \
            gort_defer(free, kc_);                                             \
        }                                                                      \
        memcpy(kc_, (key), ksz_);                                              \
        (key) = kc_;                                                           \
    } while (0)

/* The key a generic write works on when a zero-size key is NULL (which
 * map.h allows: nothing is read from it), so that the key copy never
 * copies from NULL. */
static const unsigned char zero_size_key[1];

static void *generic_set(gort_map *m, const void *key, uint64_t hash)
{
    write_guard g = {m, false};
    GORT_FRAME_RETURN(NULL);
    _Alignas(16) unsigned char kbuf[KEY_COPY_STACK];
    GENERIC_KEY_COPY(m, key, kbuf);
    gort_defer(write_guard_release, &g);
    gort__map_write_begin(m);
    g.active = true;
    void *val = generic_assign(m, key, hash);
    g.active = false;
    gort__map_write_end(m);
    return val;
}

void *gort_map_set(gort_map *m, const void *key)
{
    if (m == NULL)
        gort_panic_err(&gort_err_nil_map_write);
    GORT__MAP_RACE_WRITE(m);
    if (m->kind == GORT__MAP_U64) {
        return gort_map_set_u64(m, u64_key(key, "gort_map_set"));
    }
    check_generic_args(m, key, "gort_map_set");
    gort__map_check_write(m);
    /* Before the writing flag: a panicking hash has changed nothing. */
    uint64_t hash = m->type.hash(key, m->hash0);
    return generic_set(m, key != NULL ? key : zero_size_key, hash);
}

/* mapdelete for generic maps, the writing flag held. */
static bool generic_remove(gort_map *m, const void *key, uint64_t hash)
{
    size_t bucket = hash & m->mask;
    if (m->oldbuckets != NULL)
        gort__map_grow_work(m, bucket);
    uint8_t *borig = gort__map_bucket_at(m, m->buckets, bucket);
    uint8_t top = gort__map_tophash(hash);
    for (uint8_t *b = borig; b != NULL; b = gort__map_overflow(m, b)) {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = match_exact(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            uint8_t *k = gort__map_key(m, b, i);
            if (!m->type.equal(key, k))
                continue;
            gort__map_zero_val(m, gort__map_val(m, b, i));
            gort__map_mark_deleted(m, borig, b, i);
            if (--m->count == 0)
                gort__map_emptied(m);
            return true;
        }
        if (gort__swar_zero(w) != 0)
            break;
    }
    return false;
}

static bool generic_delete(gort_map *m, const void *key, uint64_t hash)
{
    write_guard g = {m, false};
    GORT_FRAME_RETURN(false);
    _Alignas(16) unsigned char kbuf[KEY_COPY_STACK];
    GENERIC_KEY_COPY(m, key, kbuf);
    gort_defer(write_guard_release, &g);
    gort__map_write_begin(m);
    g.active = true;
    bool found = generic_remove(m, key, hash);
    g.active = false;
    gort__map_write_end(m);
    return found;
}

bool gort_map_delete(gort_map *m, const void *key)
{
    if (m == NULL)
        return false;
    GORT__MAP_RACE_WRITE(m);
    if (m->kind == GORT__MAP_U64) {
        return gort_map_delete_u64(m, u64_key(key, "gort_map_delete"));
    }
    check_generic_args(m, key, "gort_map_delete");
    if (m->count == 0)
        return false;
    gort__map_check_write(m);
    uint64_t hash = m->type.hash(key, m->hash0);
    return generic_delete(m, key != NULL ? key : zero_size_key, hash);
}

/* ===================================================================
 * len, clear, free
 * =================================================================== */

size_t gort_map_len(const gort_map *m)
{
    if (m == NULL)
        return 0;
    GORT__MAP_RACE_READ(m);
    return m->count;
}

/* Go 1.19's mapclear: keeps the current array (zeroed), drops the old
 * one and every overflow bucket; plus what C needs: frees key copies,
 * retired arrays and deferred keys, and stops running iterators. */
void gort_map_clear(gort_map *m)
{
    if (m == NULL)
        return;
    GORT__MAP_RACE_WRITE(m);
    if (m->count == 0)
        return;
    gort__map_check_write(m);
    gort__map_write_begin(m);
    free_live_keys(m);
    if (m->oldbuckets != NULL) {
        free_array(m->oldbuckets, m->old_chunks);
        m->oldbuckets = NULL;
        m->old_nalloc = 0;
        m->old_chunks = NULL;
        gort__map_update_summary(m);
    }
    size_t nmain = gort__map_bucket_shift(m->B);
    free_chunks(m->chunks);
    m->chunks = NULL;
    memset(m->buckets, 0, m->nalloc * m->bucket_size);
    m->next_overflow = NULL;
    if (m->nalloc != nmain) {
        m->next_overflow = gort__map_bucket_at(m, m->buckets, nmain);
        gort__map_set_overflow(
            m, gort__map_bucket_at(m, m->buckets, m->nalloc - 1), m->buckets);
    }
    m->same_size = 0;
    m->nevacuate = 0;
    m->noverflow = 0;
    gort__map_update_insert_limit(m);
    m->count = 0;
    gort__map_emptied(m); /* kept memory, iterators, a new seed */
    gort__map_write_end(m);
}

void gort_map_free(gort_map *m)
{
    if (m == NULL)
        return;
    GORT__MAP_RACE_WRITE(m);
    gort__map_check_write(m);
    free_live_keys(m);
    if (m->oldbuckets != NULL)
        free_array(m->oldbuckets, m->old_chunks);
    free_retired(m);
    free_deferred(m);
    free_array(m->buckets, m->chunks);
    free(m->scratch);
    free(m);
}

/* ===================================================================
 * Debug: dump, stats, verify
 * =================================================================== */

static void dump_chain(const gort_map *m, FILE *out, const char *label,
                       size_t idx, const uint8_t *b, const uint8_t *arr,
                       size_t nalloc)
{
    bool first = true;
    for (; b != NULL; b = gort__map_overflow(m, b)) {
        if (first)
            fprintf(out, "    %s[%zu] %p:", label, idx, (const void *)b);
        else
            fprintf(out, "      -> overflow %p%s:", (const void *)b,
                    in_array(m, b, arr, nalloc) ? " (preallocated)" : " (chunk)");
        for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++)
            fprintf(out, " %02x", b[i]);
        fputc('\n', out);
        first = false;
    }
}

static void count_chain_forms(const gort_map *m, const uint8_t *b,
                              size_t *nin, size_t *nout)
{
    for (; b != NULL; b = gort__map_overflow(m, b))
        for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++)
            if (b[i] >= GORT__MIN_TOPHASH) {
                if (gort__strslot_is_inline(gort__map_key(m, b, i)))
                    (*nin)++;
                else
                    (*nout)++;
            }
}

/* str maps: live keys stored inline and out of line. */
static void count_key_forms(const gort_map *m, size_t *nin, size_t *nout)
{
    if (m->buckets == NULL)
        return;
    for (size_t i = 0; i < gort__map_bucket_shift(m->B); i++)
        count_chain_forms(m, gort__map_bucket_at(m, m->buckets, i), nin, nout);
    if (m->oldbuckets != NULL)
        for (size_t i = 0; i < gort__map_noldbuckets(m); i++) {
            const uint8_t *b = gort__map_bucket_at(m, m->oldbuckets, i);
            if (!gort__map_evacuated(b))
                count_chain_forms(m, b, nin, nout);
        }
}

void gort_map_dump(const gort_map *m, FILE *out)
{
    if (out == NULL)
        out = stderr;
    if (m == NULL) {
        fprintf(out, "gort_map (nil map)\n");
        return;
    }
    GORT__MAP_RACE_READ(m);
    size_t nbuckets = gort__map_bucket_shift(m->B);
    fprintf(out,
            "gort_map %p: kind=%s count=%zu B=%u buckets=%zu noverflow=%u "
            "hash0=%#" PRIx64 " flags=%#x iter_flags=%#x clear_seq=%" PRIu64
            " live_iters=%zu\n",
            (const void *)m, kind_name(m->kind), m->count, m->B,
            m->buckets != NULL ? nbuckets : 0, m->noverflow, m->hash0,
            gort__map_load_flags(m),
            __atomic_load_n(&m->iter_flags, __ATOMIC_RELAXED), m->clear_seq,
            __atomic_load_n(&m->live_iters, __ATOMIC_RELAXED));
    fprintf(out,
            "  layout: bucket %u bytes = tophash[8]@0 keys[8]@%u x%u "
            "values[8]@%u x%u (val_size %u) overflow@%u\n",
            m->bucket_size, m->keys_off, m->key_stride, m->val_off,
            m->val_stride, m->val_size,
            m->bucket_size - (uint32_t)sizeof(void *));
    fprintf(out, "  tophash marks: 00 emptyRest, 01 emptyOne, 02 evacuatedX, "
                 "03 evacuatedY, 04 evacuatedEmpty\n");
    if (m->oldbuckets != NULL)
        fprintf(out, "  growth: %s, %zu of %zu old buckets evacuated\n",
                m->same_size ? "same size" : "doubling", m->nevacuate,
                gort__map_noldbuckets(m));
    else
        fprintf(out, "  growth: none\n");
    if (m->buckets == NULL) {
        fprintf(out, "  buckets: none allocated yet\n");
    } else {
        size_t spare = 0;
        for (const uint8_t *p = m->next_overflow; p != NULL;
             p = gort__map_overflow(m, p) == NULL ? p + m->bucket_size : NULL)
            spare++;
        fprintf(out, "  buckets %p (%zu + %zu preallocated overflow, %zu "
                     "unused):\n",
                (const void *)m->buckets, nbuckets, m->nalloc - nbuckets, spare);
        for (size_t i = 0; i < nbuckets; i++)
            dump_chain(m, out, "", i, gort__map_bucket_at(m, m->buckets, i),
                       m->buckets, m->nalloc);
    }
    if (m->oldbuckets != NULL) {
        size_t nold = gort__map_noldbuckets(m);
        fprintf(out, "  oldbuckets %p (%zu):\n", (const void *)m->oldbuckets,
                nold);
        for (size_t i = 0; i < nold; i++)
            dump_chain(m, out, "old", i,
                       gort__map_bucket_at(m, m->oldbuckets, i),
                       m->oldbuckets, m->old_nalloc);
    }
    size_t nret = 0;
    for (const gort__map_array *a = m->retired; a != NULL; a = a->next)
        nret++;
    fprintf(out, "  retired arrays kept for iterators: %zu\n", nret);
    if (m->kind == GORT__MAP_STR) {
        size_t nin = 0, nout = 0;
        count_key_forms(m, &nin, &nout);
        fprintf(out, "  key slots: %zu inline (keys of <= %d bytes), %zu out "
                     "of line\n",
                nin, GORT__STRSLOT_INLINE_MAX, nout);
        fprintf(out, "  key copies: %zu bytes live, %zu deferred (%zu bytes)\n",
                m->key_bytes, m->ndeferred, m->deferred_bytes);
    }
}

/* Bytes of an array and its overflow chunks. */
static size_t array_bytes(const gort_map *m, size_t nalloc,
                          const gort__map_chunk *c)
{
    size_t bytes = nalloc * m->bucket_size;
    for (; c != NULL; c = c->next)
        bytes += sizeof *c + c->nbuckets * m->bucket_size;
    return bytes;
}

void gort_map_stats(const gort_map *m, gort_map_info *info)
{
    if (GORT_UNLIKELY(info == NULL))
        gort_panic("gort_map_stats: NULL info");
    memset(info, 0, sizeof *info);
    if (m == NULL)
        return;
    GORT__MAP_RACE_READ(m);
    size_t nbuckets = gort__map_bucket_shift(m->B);
    info->count = m->count;
    info->B = m->B;
    info->buckets = nbuckets;
    info->growing = m->oldbuckets != NULL;
    info->same_size_grow = info->growing && m->same_size;
    if (info->growing) {
        info->old_buckets = gort__map_noldbuckets(m);
        info->evacuated = m->nevacuate;
    }
    info->bucket_size = m->bucket_size;
    info->load = (double)m->count / (double)(GORT__MAP_BUCKET_CNT * nbuckets);
    info->bytes = round_up(sizeof *m, 64) + m->scratch_cap +
                  m->cap_deferred * sizeof(char *) + m->key_bytes +
                  m->deferred_bytes;
    if (m->buckets != NULL) {
        size_t chains = 0, chain_buckets = 0;
        for (size_t i = 0; i < nbuckets; i++) {
            size_t len = 0;
            bool live = false;
            for (const uint8_t *b = gort__map_bucket_at(m, m->buckets, i);
                 b != NULL; b = gort__map_overflow(m, b)) {
                len++;
                for (size_t j = 0; j < GORT__MAP_BUCKET_CNT; j++)
                    live |= b[j] >= GORT__MIN_TOPHASH;
            }
            info->overflow_buckets += len - 1;
            if (len > info->max_chain)
                info->max_chain = len;
            if (live) {
                chains++;
                chain_buckets += len;
            }
        }
        info->avg_chain = chains != 0 ? (double)chain_buckets / (double)chains : 0;
        info->bytes += array_bytes(m, m->nalloc, m->chunks);
    }
    if (m->oldbuckets != NULL)
        info->bytes += array_bytes(m, m->old_nalloc, m->old_chunks);
    for (const gort__map_array *a = m->retired; a != NULL; a = a->next) {
        info->retained_arrays++;
        info->retained_bytes += array_bytes(m, a->nalloc, a->chunks) + sizeof *a;
    }
    info->bytes += info->retained_bytes;
    info->key_bytes = m->key_bytes;
    info->deferred_keys = m->ndeferred;
    info->live_iterations = __atomic_load_n(&m->live_iters, __ATOMIC_RELAXED);
}

#define VFAIL(...)                                                             \
    do {                                                                       \
        fprintf(stderr, "gort__map_verify: map %p: ", (const void *)m);       \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        return false;                                                          \
    } while (0)

static bool zero_bytes(const uint8_t *p, size_t n)
{
    static const uint8_t zeros[256];
    for (; n > sizeof zeros; p += sizeof zeros, n -= sizeof zeros)
        if (memcmp(p, zeros, sizeof zeros) != 0)
            return false;
    return memcmp(p, zeros, n) == 0;
}

typedef struct verify_acc {
    size_t live;        /* filled slots found */
    size_t key_bytes;   /* their key copy bytes (str) */
    size_t chain_limit; /* bound on a chain's length (cycle detection) */
} verify_acc;

/* Every overflow bucket linked into the chains of an array is one of its
 * preallocated buckets or in one of its chunks, and no chain loops. */
static bool verify_owned(const gort_map *m, const uint8_t *arr, size_t nmain,
                         size_t nalloc, const gort__map_chunk *chunks)
{
    size_t capacity = nalloc - nmain, linked = 0;
    for (const gort__map_chunk *c = chunks; c != NULL; c = c->next)
        capacity += c->nbuckets;
    const uint8_t *prealloc = gort__map_bucket_at(m, arr, nmain);
    for (size_t i = 0; i < nmain; i++) {
        size_t len = 0;
        for (const uint8_t *b = gort__map_overflow(m, gort__map_bucket_at(m, arr, i));
             b != NULL; b = gort__map_overflow(m, b)) {
            if (++len > capacity)
                VFAIL("overflow chain of bucket %zu of array %p loops", i,
                      (const void *)arr);
            if (!in_array(m, b, prealloc, nalloc - nmain) &&
                !in_chunks(m, b, chunks))
                VFAIL("bucket %zu of array %p links to %p, not an overflow "
                      "bucket of that array", i, (const void *)arr,
                      (const void *)b);
            linked++;
        }
    }
    if (linked > capacity)
        VFAIL("array %p: %zu overflow buckets linked, %zu allocated",
              (const void *)arr, linked, capacity);
    return true;
}

/* A filled key slot of a str map: one of the two forms exactly (inline:
 * length <= 23, zero padding; out of line: a copy of 24 bytes or more,
 * zero tail, shared only while an array is kept for iterators).  Adds
 * the bytes of its copy to *key_bytes. */
static bool verify_strslot(const gort_map *m, const uint8_t *key,
                           const char *where, size_t x, size_t k,
                           bool shared_ok, size_t *key_bytes)
{
    uint8_t tag = gort__strslot_tag(key);
    if (tag & GORT__STRSLOT_INLINE) {
        size_t len = gort__strslot_len(key);
        if (len > GORT__STRSLOT_INLINE_MAX)
            VFAIL("%s %zu slot %zu: inline key of length %zu", where, x, k,
                  len);
        if (!zero_bytes(key + len, GORT__STRSLOT_INLINE_MAX - len))
            VFAIL("%s %zu slot %zu: inline key of length %zu not "
                  "zero-padded", where, x, k, len);
        return true;
    }
    const gort__strslot *sl = (const gort__strslot *)key;
    if (sl->tail != 0)
        VFAIL("%s %zu slot %zu: out-of-line key slot with a non-zero tail",
              where, x, k);
    if (sl->out.p == NULL)
        VFAIL("%s %zu slot %zu: NULL key pointer", where, x, k);
    if ((sl->out.len & GORT__STRKEY_SHARED) && !shared_ok)
        VFAIL("%s %zu slot %zu: key marked shared with no array kept for "
              "iterators", where, x, k);
    size_t len = GORT__STRKEY_LEN(&sl->out);
    if (len <= GORT__STRSLOT_INLINE_MAX)
        VFAIL("%s %zu slot %zu: key of %zu bytes out of line", where, x, k,
              len);
    *key_bytes += len;
    return true;
}

/* One chain of the current array: tophash discipline, placement, no
 * duplicates, zeroed empty slots. */
static bool verify_chain(const gort_map *m, size_t x, verify_acc *acc,
                         size_t *novf, bool must_be_empty, bool shared_ok)
{
    const uint8_t *b0 = gort__map_bucket_at(m, m->buckets, x);
    size_t mask = gort__map_bucket_mask(m->B);
    size_t n = 0, k = 0;
    for (const uint8_t *b = b0; b != NULL; b = gort__map_overflow(m, b))
        for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++)
            if (b[i] != GORT__EMPTY_REST)
                n++;
    size_t len = 0;
    for (const uint8_t *b = b0; b != NULL; b = gort__map_overflow(m, b)) {
        if (++len > acc->chain_limit)
            VFAIL("chain of bucket %zu loops", x);
        if (b != b0)
            (*novf)++;
        for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++, k++) {
            uint8_t top = b[i];
            if (k < n && top == GORT__EMPTY_REST)
                VFAIL("bucket %zu: early emptyRest at slot %zu", x, k);
            if (k >= n && top != GORT__EMPTY_REST)
                VFAIL("bucket %zu: late non-emptyRest %#x at slot %zu", x, top, k);
            if (k + 1 == n && top == GORT__EMPTY_ONE)
                VFAIL("bucket %zu: chain ends in emptyOne", x);
            if (top > GORT__EMPTY_ONE && top < GORT__MIN_TOPHASH)
                VFAIL("bucket %zu slot %zu: evacuation mark %#x in the "
                      "current array", x, k, top);
            const uint8_t *key = gort__map_key(m, b, i);
            if (top < GORT__MIN_TOPHASH) {
                if (!zero_bytes(gort__map_val(m, b, i), m->val_size))
                    VFAIL("bucket %zu slot %zu: empty slot with a non-zero "
                          "value", x, k);
                /* String slots are zeroed on delete: no stale key bytes
                 * nor pointers to freed copies. */
                if (m->kind <= GORT__MAP_STRREF &&
                    !zero_bytes(key, m->key_stride))
                    VFAIL("bucket %zu slot %zu: empty slot with non-zero "
                          "key bytes", x, k);
                continue;
            }
            if (must_be_empty)
                VFAIL("bucket %zu has entries but its old bucket is not "
                      "evacuated", x);
            if (m->kind == GORT__MAP_STR) {
                if (!verify_strslot(m, key, "bucket", x, k, shared_ok,
                                    &acc->key_bytes))
                    return false;
            } else if (m->kind == GORT__MAP_STRREF) {
                const gort__strkey *sk = (const gort__strkey *)key;
                if (sk->p == NULL)
                    VFAIL("bucket %zu slot %zu: NULL key pointer", x, k);
                if (sk->len & GORT__STRKEY_SHARED)
                    VFAIL("bucket %zu slot %zu: borrowed key marked shared",
                          x, k);
            }
            uint64_t h = gort__map_hash_slot(m, key);
            if ((h & mask) != x)
                VFAIL("bucket %zu slot %zu: key belongs in bucket %zu", x, k,
                      (size_t)(h & mask));
            if (gort__map_tophash(h) != top)
                VFAIL("bucket %zu slot %zu: tophash %#x, key hashes to %#x", x,
                      k, top, gort__map_tophash(h));
            /* No equal key later in the chain. */
            size_t i2 = i + 1;
            for (const uint8_t *c = b; c != NULL; c = gort__map_overflow(m, c), i2 = 0)
                for (; i2 < GORT__MAP_BUCKET_CNT; i2++)
                    if (c[i2] == top && slot_equal(m, key, gort__map_key(m, c, i2)))
                        VFAIL("bucket %zu: duplicate key", x);
            acc->live++;
        }
    }
    return true;
}

static bool verify_old_chain(const gort_map *m, size_t x, verify_acc *acc,
                             bool shared_ok)
{
    const uint8_t *b0 = gort__map_bucket_at(m, m->oldbuckets, x);
    bool evac = gort__map_evacuated(b0);
    size_t oldmask = gort__map_oldbucket_mask(m);
    if (x < m->nevacuate && !evac)
        VFAIL("old bucket %zu below nevacuate %zu is not evacuated", x,
              m->nevacuate);
    size_t len = 0, k = 0;
    for (const uint8_t *b = b0; b != NULL; b = gort__map_overflow(m, b)) {
        if (++len > acc->chain_limit)
            VFAIL("old chain %zu loops", x);
        for (size_t i = 0; i < GORT__MAP_BUCKET_CNT; i++, k++) {
            uint8_t top = b[i];
            if (evac) {
                if (top < GORT__EVAC_X || top > GORT__EVAC_EMPTY ||
                    (m->same_size && top == GORT__EVAC_Y))
                    VFAIL("old bucket %zu: evacuated chain has tophash %#x",
                          x, top);
                continue;
            }
            if (top > GORT__EMPTY_ONE && top < GORT__MIN_TOPHASH)
                VFAIL("old bucket %zu: half-evacuated chain (%#x)", x, top);
            if (top < GORT__MIN_TOPHASH)
                continue;
            const uint8_t *key = gort__map_key(m, b, i);
            if (m->kind == GORT__MAP_STR &&
                !verify_strslot(m, key, "old bucket", x, k, shared_ok,
                                &acc->key_bytes))
                return false;
            uint64_t h = gort__map_hash_slot(m, key);
            if ((h & oldmask) != x || gort__map_tophash(h) != top)
                VFAIL("old bucket %zu: misplaced key", x);
            acc->live++;
        }
    }
    return true;
}

bool gort__map_verify(const gort_map *m)
{
    if (m == NULL)
        return true;
    if (gort__map_load_flags(m) & GORT__MAP_WRITING)
        VFAIL("writing flag set outside a write");
    uint8_t itf = __atomic_load_n(&m->iter_flags, __ATOMIC_RELAXED);
    if (itf & ~(GORT__MAP_ITER | GORT__MAP_OLD_ITER))
        VFAIL("bad iter_flags %#x", itf);
    if (m->kind > GORT__MAP_GENERIC)
        VFAIL("bad kind %u", m->kind);
    if (m->B >= 64)
        VFAIL("bad B %u", m->B);
    if (m->mask != gort__map_bucket_mask(m->B))
        VFAIL("mask %zx for B %u", m->mask, m->B);
    {
        /* The lookup fast path's keyed hash is XXH3 with hash0. */
        static const char probe[] = "0123456789abcdefghijklmnopqrstuv";
        for (size_t len = 4; len <= 32; len++)
            if (gort__hash_str_keyed(m, probe, len) !=
                gort__hash_str(probe, len, m->hash0))
                VFAIL("hkey words do not match hash0 (length %zu)", len);
    }
    {
        uint8_t f = gort__map_load_flags(m);
        bool fast = m->kind <= GORT__MAP_STRREF && m->B != 0;
        if (!(f & GORT__MAP_STR_SLOTS) != (m->kind != GORT__MAP_STR))
            VFAIL("flags %#x: STR_SLOTS wrong (kind %u)", f, m->kind);
        if (!(f & GORT__MAP_STRICT) != !m->strict)
            VFAIL("flags %#x: STRICT wrong (strict %u)", f, m->strict);
        gort_map probe = *m;
        gort__map_update_insert_limit(&probe);
        if (probe.insert_limit != m->insert_limit)
            VFAIL("insert_limit %zu, want %zu (B %u, noverflow %u)",
                  m->insert_limit, probe.insert_limit, m->B, m->noverflow);
        if (m->key_stride != (m->kind == GORT__MAP_STR ? sizeof(gort__strslot)
                              : m->kind == GORT__MAP_STRREF
                                  ? sizeof(gort__strkey)
                                  : m->key_stride))
            VFAIL("key_stride %u for kind %u", m->key_stride, m->kind);
        if (!(f & GORT__MAP_GROWING) != (m->oldbuckets == NULL))
            VFAIL("flags %#x: GROWING wrong (oldbuckets %p)", f,
                  (void *)m->oldbuckets);
        if (!(f & GORT__MAP_NO_FAST_STR) != fast)
            VFAIL("flags %#x: NO_FAST_STR wrong (kind %u, B %u)", f,
                  m->kind, m->B);
    }
    if (m->buckets == NULL) {
        if (m->B != 0 || m->count != 0 || m->oldbuckets != NULL)
            VFAIL("no buckets but B %u count %zu", m->B, m->count);
        return true;
    }
    if (m->same_size && m->oldbuckets == NULL)
        VFAIL("sameSizeGrow without a growth");
    verify_acc acc = {0, 0, 0};
    acc.chain_limit = SIZE_MAX; /* verify_owned runs first and bounds them */
    bool shared_ok = m->retired != NULL ||
                     (m->oldbuckets != NULL && (itf & GORT__MAP_OLD_ITER));
    size_t nbuckets = gort__map_bucket_shift(m->B);
    if (m->next_overflow != NULL &&
        !in_array(m, m->next_overflow, gort__map_bucket_at(m, m->buckets, nbuckets),
                  m->nalloc - nbuckets) &&
        !in_chunks(m, m->next_overflow, m->chunks))
        VFAIL("next_overflow %p is not a free overflow bucket of the array",
              (const void *)m->next_overflow);
    if (!verify_owned(m, m->buckets, nbuckets, m->nalloc, m->chunks))
        return false;
    if (m->oldbuckets != NULL &&
        !verify_owned(m, m->oldbuckets, gort__map_noldbuckets(m),
                      m->old_nalloc, m->old_chunks))
        return false;
    for (const gort__map_array *a = m->retired; a != NULL; a = a->next)
        if (!verify_owned(m, a->buckets, a->nmain, a->nalloc, a->chunks))
            return false;
    size_t novf = 0;
    for (size_t x = 0; x < nbuckets; x++) {
        bool must_be_empty = false;
        if (m->oldbuckets != NULL)
            must_be_empty = !gort__map_evacuated(gort__map_bucket_at(
                m, m->oldbuckets, x & gort__map_oldbucket_mask(m)));
        if (!verify_chain(m, x, &acc, &novf, must_be_empty, shared_ok))
            return false;
    }
    if (m->oldbuckets != NULL) {
        size_t nold = gort__map_noldbuckets(m);
        if (!m->same_size && m->B == 0)
            VFAIL("doubling growth with B 0");
        if (m->nevacuate >= nold)
            VFAIL("nevacuate %zu >= old buckets %zu while growing",
                  m->nevacuate, nold);
        for (size_t x = 0; x < nold; x++)
            if (!verify_old_chain(m, x, &acc, shared_ok))
                return false;
    }
    if (acc.live != m->count)
        VFAIL("count %zu but %zu live entries", m->count, acc.live);
    if (m->B < 16 && m->noverflow != UINT16_MAX && m->noverflow != novf)
        VFAIL("noverflow %u but %zu overflow buckets", m->noverflow, novf);
    if (m->kind == GORT__MAP_STR && acc.key_bytes != m->key_bytes)
        VFAIL("key_bytes %zu but live keys hold %zu", m->key_bytes,
              acc.key_bytes);
    if (m->count == 0 && (m->retired != NULL || m->ndeferred != 0))
        VFAIL("empty map keeps arrays or keys for iterators");
    return true;
}
