/*
 * cases_absl.cpp - Abseil's Swiss table, absl::flat_hash_map<std::string_view,
 * int64_t> with its default hash (absl::Hash) and equality: the keys are
 * borrowed, as Go's map and gort's strref map borrow them.  reserve(N) is
 * the size hint.
 */
#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <string_view>

#define BM_IMPL_VAR bench_impl_absl
#define BM_IMPL_NAME "absl"
#define BM_IMPL_LABEL "Abseil"

typedef absl::flat_hash_map<std::string_view, int64_t> bm_map;

#include "cases_std_like.hpp"
