/*
 * cases_lfht.c - liburcu's lock-free resizable hash table (rculfhash,
 * cds_lfht) with the urcu-memb flavour, the RCU way.
 *
 * Readers: rcu_read_lock, cds_lfht_lookup, read the node's value,
 * rcu_read_unlock, for every lookup (the static, inlined read-side
 * primitives: _LGPL_SOURCE, as a performance-minded user compiles them).
 * urcu-memb's read side is a per-thread nesting counter and compiler
 * barriers; the writer's grace periods use membarrier(2).
 *
 * Writer: nodes are immutable once published, as RCU wants them: an
 * update allocates a new node with the new value, cds_lfht_replace's it
 * for the old one under rcu_read_lock, and hands the old one to call_rcu
 * (freed after a grace period by liburcu's call_rcu thread).  Nothing is
 * staged; every update is visible at once.  (An in-place atomic store of
 * the value word would be cheaper for an int64 but works only for values
 * that fit a word.)
 *
 * Hash: XXH3-64 of the key bytes (the system libxxhash, inlined), the
 * hash gort's map uses; keys borrowed from the workload.  The table is
 * made with 2^17 buckets for the 100,000 keys, auto-resizing with node
 * accounting, as liburcu's own tests and benchmarks make it (auto-resize
 * alone, without accounting, grows on chain lengths only and on this
 * workload ends up with so many buckets that a full traversal takes
 * seconds).
 */
#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conc.h"

#define CL_IMPL_VAR conc_impl_lfht
#define CL_IMPL_NAME "lfht"
#define CL_IMPL_LABEL "urcu lfht"

typedef struct cl_map {
    struct cds_lfht *ht;
} cl_map;

typedef struct lf_node {
    struct cds_lfht_node node; /* linkage; hash kept by the table */
    const conc_key *key;       /* borrowed from the workload */
    int64_t val;               /* never changed once published */
    struct rcu_head rcu;       /* for call_rcu after a replace */
} lf_node;

static const uint64_t lf_seed = 0x5EED5EED5EED5EEDULL;

static inline unsigned long lf_hash(const conc_key *k)
{
    return (unsigned long)XXH3_64bits_withSeed(k->p, k->len, lf_seed);
}

static int lf_match(struct cds_lfht_node *node, const void *key)
{
    const lf_node *n = caa_container_of(node, lf_node, node);
    const conc_key *k = key;
    return n->key->len == k->len && memcmp(n->key->p, k->p, k->len) == 0;
}

static lf_node *lf_new_node(const conc_key *k, int64_t v)
{
    lf_node *n = malloc(sizeof *n);
    if (n == NULL) {
        fprintf(stderr, "bench_conc: out of memory\n");
        exit(1);
    }
    cds_lfht_node_init(&n->node);
    n->key = k;
    n->val = v;
    return n;
}

static void lf_free_node(struct rcu_head *head)
{
    free(caa_container_of(head, lf_node, rcu));
}

static cl_map *cl_make(const conc_work *w)
{
    cl_map *m = malloc(sizeof *m);
    if (m == NULL) {
        fprintf(stderr, "bench_conc: out of memory\n");
        exit(1);
    }
    m->ht = cds_lfht_new_flavor(1UL << 17, 1UL << 17, 0,
                                CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                                &urcu_memb_flavor, NULL);
    if (m->ht == NULL) {
        fprintf(stderr, "bench_conc: cds_lfht_new failed\n");
        exit(1);
    }
    urcu_memb_register_thread();
    urcu_memb_read_lock();
    for (size_t i = 0; i < w->n; i++) {
        lf_node *n = lf_new_node(&w->keys[i], (int64_t)i);
        cds_lfht_add_unique(m->ht, lf_hash(&w->keys[i]), lf_match,
                            &w->keys[i], &n->node);
    }
    urcu_memb_read_unlock();
    urcu_memb_unregister_thread();
    return m;
}

static void cl_destroy(cl_map *m)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *node;
    size_t n = 0, cap = 1024;
    lf_node **all = malloc(cap * sizeof *all);
    urcu_memb_register_thread();
    urcu_memb_read_lock();
    cds_lfht_for_each(m->ht, &it, node) {
        if (n == cap) {
            cap *= 2;
            all = realloc(all, cap * sizeof *all);
        }
        if (all == NULL) {
            fprintf(stderr, "bench_conc: out of memory\n");
            exit(1);
        }
        all[n++] = caa_container_of(node, lf_node, node);
    }
    for (size_t i = 0; i < n; i++)
        if (cds_lfht_del(m->ht, &all[i]->node) == 0)
            urcu_memb_call_rcu(&all[i]->rcu, lf_free_node);
    urcu_memb_read_unlock();
    urcu_memb_unregister_thread();
    free(all);
    urcu_memb_barrier(); /* every call_rcu callback has run */
    if (cds_lfht_destroy(m->ht, NULL) != 0)
        fprintf(stderr, "bench_conc: cds_lfht_destroy failed\n");
    free(m);
}

static inline int cl_find(cl_map *m, const conc_key *k, int64_t *v)
{
    struct cds_lfht_iter it;
    int found = 0;
    urcu_memb_read_lock();
    cds_lfht_lookup(m->ht, lf_hash(k), lf_match, k, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    if (node != NULL) {
        *v = caa_container_of(node, lf_node, node)->val;
        found = 1;
    }
    urcu_memb_read_unlock();
    return found;
}

static inline void cl_update(cl_map *m, const conc_key *k, int64_t v)
{
    struct cds_lfht_iter it;
    unsigned long h = lf_hash(k);
    lf_node *n = lf_new_node(k, v);
    urcu_memb_read_lock();
    cds_lfht_lookup(m->ht, h, lf_match, k, &it);
    struct cds_lfht_node *old = cds_lfht_iter_get_node(&it);
    /* The only writer: the node looked up is still there to replace. */
    if (old == NULL || cds_lfht_replace(m->ht, &it, h, lf_match, k,
                                        &n->node) != 0) {
        fprintf(stderr, "bench_conc: lfht replace failed\n");
        exit(1);
    }
    urcu_memb_read_unlock();
    urcu_memb_call_rcu(&caa_container_of(old, lf_node, node)->rcu,
                       lf_free_node);
}

static void cl_write_end(cl_map *m)
{
    (void)m; /* nothing staged; reclamation is call_rcu's business */
}

static void cl_thread_begin(void)
{
    urcu_memb_register_thread();
}

static void cl_thread_end(void)
{
    urcu_memb_unregister_thread();
}

#include "loops.h"
