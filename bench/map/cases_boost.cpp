/*
 * cases_boost.cpp - Boost's open-addressing table (Boost >= 1.81),
 * boost::unordered_flat_map<std::string_view, int64_t> with its default
 * hash (boost::hash, post-mixed by the container) and equality: the keys
 * are borrowed, as Go's map and gort's strref map borrow them.
 * reserve(N) is the size hint.
 */
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <string_view>

#define BM_IMPL_VAR bench_impl_boost
#define BM_IMPL_NAME "boost"
#define BM_IMPL_LABEL "Boost"

typedef boost::unordered_flat_map<std::string_view, int64_t> bm_map;

#include "cases_std_like.hpp"
