/*
 * map_fast_u64.c - the uint64-key hot paths (Go's map_fast64.go):
 * gort_map_get_u64, gort_map_set_u64, gort_map_delete_u64.
 *
 * Design.  Keys are 8 bytes inline in the bucket.  The hash is XXH3-64 of
 * the 8 key bytes with the map seed (its 4-8 byte path: a few XORs and
 * two multiplications).  As in map_fast_str.c, the 8 tophash bytes are
 * matched as one word and a candidate's key is compared; the lookup
 * stops at the first bucket holding an emptyRest slot.  Go's fast64 paths
 * instead compare all 8 keys of a bucket (one cache line) and skip the
 * tophash; with the tophash word a lookup reads one key, and the
 * prefetched lines overlap, so the SWAR form is kept (measured equal or
 * faster on the WORKLOAD sizes).
 *
 * Writes follow Go's mapassign_fast64 / mapdelete_fast64 (see
 * map_fast_str.c for the shape).
 *
 * Ordering guarantees: none (see map.c).
 */
#include "map_internal.h"

static inline void check_kind(const gort_map *m, const char *fn)
{
    if (GORT_UNLIKELY(m->kind != GORT__MAP_U64))
        gort__map_panic_kind(fn, m);
}

static inline bool key_at(const gort_map *m, const uint8_t *b, unsigned i,
                          uint64_t k)
{
    (void)m; /* u64 keys start at offset 8, 8 bytes each */
    return gort__load64(b + GORT__MAP_BUCKET_CNT + (size_t)i * 8) == k;
}

const void *gort_map_get_u64(const gort_map *m, uint64_t k)
{
    if (GORT_UNLIKELY(m == NULL))
        return NULL;
    GORT__MAP_RACE_READ(m);
    check_kind(m, "gort_map_get_u64");
    if (m->count == 0)
        return NULL;
    gort__map_check_read(m);
    uint64_t hash = gort__hash_u64(k, m->hash0);
    const uint8_t *b = gort__map_lookup_bucket(m, hash);
    gort__map_prefetch_bucket(m, b);
    uint8_t top = gort__map_tophash(hash);
    do {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = gort__swar_match(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            if (key_at(m, b, i, k))
                return gort__map_val(m, b, i);
        }
        if (gort__swar_zero(w) != 0)
            return NULL;
        b = gort__map_overflow(m, b);
    } while (b != NULL);
    return NULL;
}

void *gort_map_set_u64(gort_map *m, uint64_t k)
{
    if (GORT_UNLIKELY(m == NULL))
        gort_panic_err(&gort_err_nil_map_write);
    GORT__MAP_RACE_WRITE(m);
    check_kind(m, "gort_map_set_u64");
    gort__map_check_write(m);
    uint64_t hash = gort__hash_u64(k, m->hash0);
    gort__map_write_begin(m);
    if (GORT_UNLIKELY(m->buckets == NULL))
        gort__map_alloc_first(m);
    uint8_t top = gort__map_tophash(hash);
    void *val;
again:;
    size_t bucket = hash & m->mask;
    if (GORT_UNLIKELY(m->oldbuckets != NULL))
        gort__map_grow_work(m, bucket);
    uint8_t *b = gort__map_bucket_at(m, m->buckets, bucket);
    gort__map_prefetch_bucket(m, b);
    uint8_t *ins = NULL;
    unsigned ins_i = 0;
    for (;;) {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = gort__swar_match(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            if (key_at(m, b, i, k)) {
                val = gort__map_val(m, b, i);
                goto done;
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
        goto again;
    }
    if (ins == NULL) {
        ins = gort__map_newoverflow(m, b);
        ins_i = 0;
    }
    memcpy(gort__map_key(m, ins, ins_i), &k, sizeof k);
    ins[ins_i] = top;
    m->count++;
    val = gort__map_val(m, ins, ins_i);
done:
    gort__map_write_end(m);
    return val;
}

bool gort_map_delete_u64(gort_map *m, uint64_t k)
{
    if (m == NULL)
        return false;
    GORT__MAP_RACE_WRITE(m);
    check_kind(m, "gort_map_delete_u64");
    if (m->count == 0)
        return false;
    gort__map_check_write(m);
    uint64_t hash = gort__hash_u64(k, m->hash0);
    gort__map_write_begin(m);
    size_t bucket = hash & m->mask;
    if (GORT_UNLIKELY(m->oldbuckets != NULL))
        gort__map_grow_work(m, bucket);
    uint8_t *borig = gort__map_bucket_at(m, m->buckets, bucket);
    gort__map_prefetch_bucket(m, borig);
    uint8_t top = gort__map_tophash(hash);
    bool found = false;
    for (uint8_t *b = borig; b != NULL; b = gort__map_overflow(m, b)) {
        uint64_t w = gort__swar_load(b);
        for (uint64_t c = gort__swar_match(w, top); c != 0; c &= c - 1) {
            unsigned i = gort__swar_index(c);
            if (!key_at(m, b, i, k))
                continue;
            memset(gort__map_key(m, b, i), 0, sizeof k);
            gort__map_zero_val(m, gort__map_val(m, b, i));
            gort__map_mark_deleted(m, borig, b, i);
            if (--m->count == 0)
                gort__map_emptied(m);
            found = true;
            goto out;
        }
        if (gort__swar_zero(w) != 0)
            break;
    }
out:
    gort__map_write_end(m);
    return found;
}
