/*
 * cases_boost.cpp - Boost's open-addressing table (Boost >= 1.81),
 * boost::unordered_flat_map<std::string_view, int64_t> with its default
 * hash (boost::hash, post-mixed by the container) and equality: the keys
 * are borrowed, as Go's map and gort's strref map borrow them.
 * reserve(N) is the size hint.
 */
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bench_map.h"

#define BM_IMPL_VAR bench_impl_boost
#define BM_IMPL_NAME "boost"
#define BM_IMPL_LABEL "Boost"
#define BM_HAS_HINT 1

typedef boost::unordered_flat_map<std::string_view, int64_t> bm_map;

static inline bm_map *bm_new(size_t hint)
{
    bm_map *m = new bm_map();
    if (hint != 0)
        m->reserve(hint);
    return m;
}

static inline void bm_free(bm_map *m) { delete m; }

static inline void bm_insert(bm_map *m, const bench_key *k, int64_t v)
{
    (*m)[std::string_view(k->p, k->len)] = v;
}

static inline int bm_find(bm_map *m, const bench_key *k, int64_t *v)
{
    auto it = m->find(std::string_view(k->p, k->len));
    if (it == m->end())
        return 0;
    *v = it->second;
    return 1;
}

static inline int bm_erase(bm_map *m, const bench_key *k)
{
    return m->erase(std::string_view(k->p, k->len)) != 0;
}

static inline int64_t bm_sum(bm_map *m, size_t *visited)
{
    int64_t s = 0;
    size_t c = 0;
    for (const auto &e : *m) {
        s += e.second;
        c++;
    }
    *visited += c;
    return s;
}

static inline size_t bm_len(bm_map *m) { return m->size(); }

static inline double bm_keycopy(bm_map *) { return NAN; }

static inline double bm_ownbytes(bm_map *) { return NAN; }

#include "phases.h"
