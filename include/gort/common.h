/*
 * gort/common.h - export macros and attributes shared by every gort header.
 *
 * Included by the other public headers; users need not include it
 * themselves.
 */
#ifndef GORT_COMMON_H
#define GORT_COMMON_H

#if !defined(__GNUC__) && !defined(__clang__)
#error "gort needs GCC or Clang (it relies on __attribute__((cleanup)) and GNU C)"
#endif

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "gort supports x86-64 and aarch64 Linux only"
#endif

/* GORT_API marks the exported symbols; the library is built with
 * -fvisibility=hidden so everything else stays private. */
#define GORT_API __attribute__((visibility("default")))

#ifdef __cplusplus
#define GORT_BEGIN_DECLS extern "C" {
#define GORT_END_DECLS }
#define GORT_NORETURN __attribute__((noreturn))
#else
#define GORT_BEGIN_DECLS
#define GORT_END_DECLS
#define GORT_NORETURN _Noreturn
#endif

/* A null pointer constant that C++'s -Wzero-as-null-pointer-constant
 * accepts, for the headers' inline code. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define GORT__NULL nullptr
#else
#define GORT__NULL NULL
#endif

/* The inline paths (defer.h's frames, read_section.h's sections,
 * snapmap.h's views) compile the layout of gort__frame, of the
 * library's per-thread records (gort__gstate, gort__rs_thread), of
 * gort__rs_global and of gort__snapmap_reader into the program.  The
 * variables they name carry this layout's number (gort__g is the symbol
 * gort__g_abi1), so a program built against headers of another layout
 * fails to link or to load ("undefined symbol: gort__g_abi1") instead
 * of reading the records at the wrong offsets.  Bump the number with
 * any change to one of those structures. */
#define GORT__ABI(name) name##_abi1

#define GORT_LIKELY(x) __builtin_expect(!!(x), 1)
#define GORT_UNLIKELY(x) __builtin_expect(!!(x), 0)

#if defined(__SANITIZE_THREAD__)
#define GORT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT__TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define GORT__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT__ASAN 1
#endif
#endif

#endif /* GORT_COMMON_H */
