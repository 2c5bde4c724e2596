/*
 * caller_internal.h - the CFA of gort_recover's caller (caller.c).
 */
#ifndef GORT_CALLER_INTERNAL_H
#define GORT_CALLER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * gort__caller_cfa - canonical frame address of the function that called
 * the function whose frame pointer is @frame and return address is @ret.
 * @callee: the called function (gort_recover), to check the call site.
 * @start:  set to the start address of the caller (0 if unknown).
 * @direct: set to whether the call instruction targets @callee (a helper
 *          that tail-called @callee returns into the caller too).
 *
 * Must be called directly by the callee (gort_recover), which must keep
 * a frame pointer: the slow path unwinds exactly two frames above it.
 */
uintptr_t gort__caller_cfa(uintptr_t ret, uintptr_t frame, uintptr_t callee,
                           uintptr_t *start, bool *direct);

/*
 * gort__function_start - start address of the function containing the
 * return address @ret (from the unwind tables, cached per thread), or 0.
 */
uintptr_t gort__function_start(uintptr_t ret);

/*
 * gort__is_function - whether @start (from gort__function_start) is the
 * start of function pointer @fn, also when @fn is a PLT entry.
 */
bool gort__is_function(uintptr_t start, uintptr_t fn);

#endif /* GORT_CALLER_INTERNAL_H */
