/*
 * cases_std_like.hpp - the bench_map operations for a C++ hash map with the
 * standard container interface (operator[], find, erase, iteration,
 * reserve as the size hint) and std::string_view keys, which borrow the
 * key bytes as Go's map and gort's strref map do.  The including file
 * names the implementation (BM_IMPL_VAR, BM_IMPL_NAME, BM_IMPL_LABEL) and
 * defines the type bm_map; cases_absl.cpp and cases_boost.cpp use it.
 */
#ifndef GORT_BENCH_CASES_STD_LIKE_HPP
#define GORT_BENCH_CASES_STD_LIKE_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bench_map.h"

#define BM_HAS_HINT 1

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

#endif /* GORT_BENCH_CASES_STD_LIKE_HPP */
