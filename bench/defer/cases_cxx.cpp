/*
 * cases_cxx.cpp - the C++ peer: RAII destructors for cases 1-3 and
 * throw/catch for the panic cases (the Itanium ABI's two-phase unwinder,
 * the same libgcc unwinder gort_recover uses to check its caller).
 *
 * The deferred work is the same out-of-line bench_incr() as everywhere.
 * The exception is a small class thrown by value: __cxa_allocate_exception
 * (malloc), _Unwind_RaiseException's search and cleanup phases, and the
 * landing pads of every frame in between are the cost being measured.
 */
#include "bench_defer.h"

namespace {

/* One deferred call: the destructor runs at every scope exit, including
 * unwinding by an exception. */
struct Guard {
    uint64_t *c;
    explicit Guard(uint64_t *counter) : c(counter) {}
    ~Guard() { bench_incr(c); }
    Guard(const Guard &) = delete;
    Guard &operator=(const Guard &) = delete;
};

/* A defer registered in a loop needs a run-time list; a fixed-capacity
 * array whose destructor runs it LIFO is the cheapest honest version (a
 * std::vector<std::function<void()>> would add allocations). */
struct DeferStack {
    unsigned n = 0;              // calls pushed, 0..8
    void (*fn[8])(void *);       // fn[0..n) valid
    void *arg[8];                // arg[i] goes with fn[i]
    void push(void (*f)(void *), void *a)
    {
        fn[n] = f;
        arg[n] = a;
        n++;
    }
    ~DeferStack()
    {
        while (n != 0) {
            n--;
            fn[n](arg[n]);
        }
    }
};

struct Boom {
    const char *msg;
};

BENCH_NOINLINE void defer1(uint64_t *c)
{
    Guard g0(c);
}

BENCH_NOINLINE void defer8(uint64_t *c)
{
    Guard g0(c), g1(c), g2(c), g3(c), g4(c), g5(c), g6(c), g7(c);
}

BENCH_NOINLINE void loop4(uint64_t *c)
{
    DeferStack s;
    for (int i = 0; i < 4; i++)
        s.push(bench_incr, c);
}

BENCH_NOINLINE void thrower(uint64_t *)
{
    throw Boom{"boom"};
}

BENCH_NOINLINE void panic1(uint64_t *c)
{
    try {
        thrower(c);
    } catch (const Boom &) {
        bench_incr(c);
    }
}

BENCH_NOINLINE void level(int n, uint64_t *c)
{
    Guard g(c);
    if (n == 0)
        throw Boom{"boom"};
    level(n - 1, c);
}

BENCH_NOINLINE void panic10(uint64_t *c)
{
    try {
        level(9, c);
    } catch (const Boom &) {
        bench_incr(c);
    }
}

} // namespace

extern "C" const bench_impl bench_impl_cxx = {
    "cxx",
    {
        defer1,  // BENCH_DEFER1
        defer8,  // BENCH_DEFER8
        loop4,   // BENCH_LOOP4
        panic1,  // BENCH_PANIC1
        panic10, // BENCH_PANIC10
        panic1,  // BENCH_PANIC1E: C++ throws the same static-message value
    },
};
