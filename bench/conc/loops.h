/*
 * loops.h - the reader and writer loops of the concurrent read-mostly map
 * workload, written once for every implementation.
 *
 * An implementation's translation unit defines, before including this
 * file:
 *
 *   CL_IMPL_VAR, CL_IMPL_NAME, CL_IMPL_LABEL   its conc_impl, R-line key
 *                                            and column title;
 *   typedef ... cl_map;
 *   static cl_map *cl_make(const conc_work *w);  filled: key i -> value i
 *   static void cl_destroy(cl_map *m);
 *   static int cl_find(cl_map *m, const conc_key *k, int64_t *v);
 *       one lookup as a reader does it, with whatever the map asks of a
 *       reader around it (a read lock, an RCU read section, a snapshot
 *       view opened and closed); 1 if found;
 *   static void cl_update(cl_map *m, const conc_key *k, int64_t v);
 *       one update of an existing key as the writer does it (staged maps
 *       stage it and publish every CONC_BATCH updates);
 *   static void cl_write_end(cl_map *m);
 *       publishes what the writer still has staged (inside its timed span,
 *       so its updates/s count only published work);
 *   static void cl_thread_begin(void), cl_thread_end(void);
 *       registration a reader or writer thread needs (RCU, gort);
 *   optionally CL_HAS_NOTE and
 *   static void cl_note(cl_map *m, int threads, int writer);
 *       prints the map's own statistics of the run as an "S" line.
 *
 * The loops look at the stop flag every CONC_CHUNK operations (a relaxed
 * load of a line nobody writes until the end: it costs nothing measurable)
 * and keep their counters in registers until the end.
 */
#ifndef BENCH_CONC_LOOPS_H
#define BENCH_CONC_LOOPS_H

#include "conc.h"

/* Random hit lookups until stopped: checks that each found value belongs
 * to the key looked up (its low CONC_IDX_BITS bits are the key's index,
 * whatever the writer did), so the lookups cannot be optimised away and a
 * wrong map is caught. */
CONC_NOINLINE static void cl_read_loop(void *map, const conc_work *w,
                                       conc_thread *t)
{
    cl_map *m = map;
    const conc_key *keys = w->keys;
    const uint64_t n = w->n;
    uint64_t s = t->seed, ops = 0, got = 0, want = 0, missing = 0;
    while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
        for (int c = 0; c < CONC_CHUNK; c++) {
            uint32_t i = conc_index(bench_splitmix64(&s), n);
            int64_t v;
            if (cl_find(m, &keys[i], &v)) {
                got += (uint64_t)v & CONC_IDX_MASK;
                want += i;
            } else {
                missing++;
            }
        }
        ops += CONC_CHUNK;
    }
    t->seed = s;
    t->ops = ops;
    t->got = got;
    t->want = want;
    t->missing = missing;
}

/* Updates of random existing keys until stopped; value = index | seq << 20
 * with seq = 1, 2, ... so a reader can still check the index bits. */
CONC_NOINLINE static void cl_write_loop(void *map, const conc_work *w,
                                        conc_thread *t)
{
    cl_map *m = map;
    const conc_key *keys = w->keys;
    const uint64_t n = w->n;
    uint64_t s = t->seed, seq = 0;
    uint32_t i = 0;
    while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
        for (int c = 0; c < CONC_CHUNK; c++) {
            i = conc_index(bench_splitmix64(&s), n);
            seq++;
            cl_update(m, &keys[i], (int64_t)(i | seq << CONC_IDX_BITS));
        }
    }
    cl_write_end(m);
    t->seed = s;
    t->ops = seq;
    t->last_key = i;
    t->last_val = (int64_t)(i | seq << CONC_IDX_BITS);
}

static void *cl_make_v(const conc_work *w)
{
    return cl_make(w);
}

static void cl_destroy_v(void *map)
{
    cl_destroy(map);
}

static int cl_lookup_v(void *map, const conc_key *k, int64_t *v)
{
    return cl_find(map, k, v);
}

#ifdef CL_HAS_NOTE
static void cl_note_v(void *map, int threads, int writer)
{
    cl_note(map, threads, writer);
}
#define CL_NOTE_FN cl_note_v
#else
#define CL_NOTE_FN NULL
#endif

extern const conc_impl CL_IMPL_VAR;
const conc_impl CL_IMPL_VAR = {
    CL_IMPL_NAME,    CL_IMPL_LABEL, cl_make_v,       cl_destroy_v,
    cl_read_loop,    cl_write_loop, cl_lookup_v,     cl_thread_begin,
    cl_thread_end,   CL_NOTE_FN,
};

#endif /* BENCH_CONC_LOOPS_H */
