/*
 * runtime.c - process start-up, GORTDEBUG, crash output and fatal errors.
 *
 * Design.  gort__runtime_init() runs once when the library is loaded (a
 * constructor): it reads GORTDEBUG the way Go reads GODEBUG (comma
 * separated name=value pairs, unknown names ignored), installs the fatal
 * signal handlers and makes the main thread goroutine 1.
 *
 * Crash paths (fatal errors, unrecovered panics, fatal signals) must work
 * when the heap is corrupt and must not deadlock, so they format into a
 * stack buffer (gort__out) and write(2) it, and they serialise through a
 * process-wide crash lock taken once and never released: the first thread
 * to crash prints and exits, any other crashing thread sleeps until the
 * process is gone (Go's paniclk plus "another goroutine is crashing").
 * The same holds for a thread that returns from main() or calls exit()
 * while a goroutine is panicking: an atexit handler gives that goroutine
 * up to a second to recover or crash, and sleeps for good if it crashes
 * (Go's runtime.main and runningPanicDefers).
 *
 * Ordering guarantees: crash_owner is claimed with a compare-and-swap
 * (acq_rel); nothing else is published through it.
 */
#include "runtime_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

gort__debug_settings gort__debug;

/* ===================================================================
 * gort__out: a tiny async-signal-safe formatter
 * =================================================================== */

void gort__out_init(gort__out *o, int fd)
{
    o->fd = fd;
    o->len = 0;
}

void gort__out_flush(gort__out *o)
{
    size_t off = 0;
    while (off < o->len) {
        ssize_t n = write(o->fd, o->buf + off, o->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* nowhere to report a failing stderr */
        off += (size_t)n;
    }
    o->len = 0;
}

void gort__out_mem(gort__out *o, const char *s, size_t n)
{
    while (n > 0) {
        if (o->len == sizeof o->buf)
            gort__out_flush(o);
        size_t room = sizeof o->buf - o->len;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

void gort__out_str(gort__out *o, const char *s)
{
    gort__out_mem(o, s != NULL ? s : "(null)", s != NULL ? strlen(s) : 6);
}

void gort__out_dec(gort__out *o, int64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[--i] = '-';
    gort__out_mem(o, tmp + i, sizeof tmp - (size_t)i);
}

void gort__out_hex(gort__out *o, uint64_t v)
{
    char tmp[18];
    int i = sizeof tmp;
    do {
        tmp[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    gort__out_mem(o, tmp + i, sizeof tmp - (size_t)i);
}

/* Supports %s %d %u %ld %lu %zu %x %p %%: enough for gort's own messages,
 * and safe in a signal handler (no locale, no malloc). */
void gort__out_vfmt(gort__out *o, const char *fmt, va_list ap)
{
    for (const char *f = fmt; *f != '\0'; f++) {
        if (*f != '%') {
            gort__out_mem(o, f, 1);
            continue;
        }
        f++;
        int longs = 0;
        while (*f == 'l' || *f == 'z') {
            longs++;
            f++;
        }
        switch (*f) {
        case 's': gort__out_str(o, va_arg(ap, const char *)); break;
        case 'd':
            gort__out_dec(o, longs ? va_arg(ap, long) : va_arg(ap, int));
            break;
        case 'u':
            gort__out_dec(o, longs ? (int64_t)va_arg(ap, unsigned long)
                                   : (int64_t)va_arg(ap, unsigned));
            break;
        case 'x':
            gort__out_hex(o, longs ? va_arg(ap, unsigned long)
                                   : va_arg(ap, unsigned));
            break;
        case 'p': gort__out_hex(o, (uintptr_t)va_arg(ap, void *)); break;
        case '%': gort__out_mem(o, "%", 1); break;
        case '\0': return;
        default: gort__out_mem(o, f - 1, 2); break;
        }
    }
}

/* ===================================================================
 * Crash serialisation
 * =================================================================== */

static _Atomic long crash_owner;      /* tid of the crashing thread, 0 */
static __thread int crash_depth;      /* nesting within this thread */

static void try_flush(FILE *f);

int gort__crash_enter(void)
{
    long self = (long)syscall(SYS_gettid);
    long expected = 0;
    /* acq_rel: pairs with itself in the other crashing threads; only the
     * ownership itself is communicated. */
    if (atomic_compare_exchange_strong_explicit(&crash_owner, &expected, self,
                                                memory_order_acq_rel,
                                                memory_order_acquire)) {
        /* Go's stdout is unbuffered: what the program printed before the
         * crash must come out before the crash report. */
        try_flush(stdout);
        try_flush(stderr);
        return crash_depth++;
    }
    if (expected == self)
        return crash_depth++;
    /* Another goroutine is crashing and will exit the process. */
    for (;;)
        pause();
}

_Atomic unsigned gort__panicking;

/* Go's runtime.main after main.main returns: a goroutine running a
 * panic's deferred calls gets a moment to recover or to crash (Go: up to
 * 1000 Gosched), and one that is crashing is left to end the process with
 * its report and status 2 instead of exit(0) ending it half-way through
 * (Go issues 3934 and 20018).  An atexit handler: it runs when main
 * returns and at exit(), before stdio is flushed and the library's
 * destructors run. */
static void wait_for_a_crashing_goroutine(void)
{
    long self = (long)syscall(SYS_gettid);
    unsigned own = gort__own_panics(); /* exit() in a deferred call */
    struct timespec nap = {0, 100 * 1000};
    /* Up to a second: the crash report may need the symbolizer. */
    for (int i = 0; i < 10000; i++) {
        if (atomic_load_explicit(&gort__panicking, memory_order_relaxed) <= own ||
            atomic_load_explicit(&crash_owner, memory_order_relaxed) != 0)
            break;
        nanosleep(&nap, NULL);
    }
    long owner = atomic_load_explicit(&crash_owner, memory_order_relaxed);
    if (owner != 0 && owner != self)
        for (;;)
            pause(); /* the crashing goroutine exits the process */
}

int gort__crash_depth(void)
{
    return crash_depth;
}

/* Flushes a stdio stream unless another thread holds its lock (the crash
 * path must not deadlock). */
static void try_flush(FILE *f)
{
    if (ftrylockfile(f) == 0) {
        fflush_unlocked(f);
        funlockfile(f);
    }
}

void gort__crash_exit(void)
{
    _exit(2);
}

/* ===================================================================
 * Fatal errors
 * =================================================================== */

static _Noreturn void fatal_out(gort__out *o)
{
    gort__out_str(o, "\n\n");
    gort__traceback_print(o, NULL);
    gort__out_flush(o);
    gort__crash_exit();
}

void gort__fatal(const char *msg)
{
    gort__crash_enter();
    gort__out o;
    gort__out_init(&o, 2);
    gort__out_str(&o, "fatal error: ");
    gort__out_str(&o, msg);
    fatal_out(&o);
}

void gort__fatalf(const char *fmt, ...)
{
    gort__crash_enter();
    gort__out o;
    gort__out_init(&o, 2);
    gort__out_str(&o, "fatal error: ");
    va_list ap;
    va_start(ap, fmt);
    gort__out_vfmt(&o, fmt, ap);
    va_end(ap);
    fatal_out(&o);
}

void gort__throw_oom(void)
{
    gort__fatal("runtime: out of memory");
}

void gort__assert_fail(const char *expr, const char *file, int line)
{
    gort__fatalf("gort: assertion failed: %s (%s:%d)", expr, file, line);
}

void *gort__xmalloc(size_t size)
{
    void *p = malloc(size != 0 ? size : 1);
    if (p == NULL)
        gort__throw_oom();
    return p;
}

void *gort__xcalloc(size_t n, size_t size)
{
    void *p = calloc(n != 0 ? n : 1, size != 0 ? size : 1);
    if (p == NULL)
        gort__throw_oom();
    return p;
}

/* ===================================================================
 * GORTDEBUG
 * =================================================================== */

/* A GODEBUG value: decimal digits, with an optional leading '-' as Go's
 * atoi accepts (a negative value is its two's complement: mapstrict=-1 is
 * on, as in Go).  Anything else, or an overflow, leaves the setting as it
 * was. */
static bool parse_int(const char *s, size_t n, uint64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    if (neg) {
        s++;
        n--;
    }
    if (n == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? 0 - v : v;
    return true;
}

static void parse_gortdebug(const char *env)
{
    const char *p = env;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq != NULL) {
            size_t klen = (size_t)(eq - p);
            const char *val = eq + 1;
            size_t vlen = len - klen - 1;
            uint64_t v;
            if (parse_int(val, vlen, &v)) {
                if (klen == 12 && memcmp(p, "deferpcstack", 12) == 0)
                    gort__debug.deferpcstack = v != 0;
                else if (klen == 9 && memcmp(p, "mapstrict", 9) == 0)
                    gort__debug.mapstrict = v != 0;
                else if (klen == 8 && memcmp(p, "rcufence", 8) == 0)
                    gort__debug.rcufence = v != 0;
                else if (klen == 7 && memcmp(p, "mapseed", 7) == 0) {
                    gort__debug.has_mapseed = true;
                    gort__debug.mapseed = v;
                }
            }
        }
        p = end != NULL ? end + 1 : NULL;
    }
}

__attribute__((constructor(101))) void gort__runtime_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    parse_gortdebug(getenv("GORTDEBUG"));
    gort__debug_defer = gort__debug.deferpcstack;
    (void)gort__getg(); /* the loading thread is goroutine 1 */
    gort__signal_init();
    gort__hash_atfork();
    gort__goroutine_atfork();
    atexit(wait_for_a_crashing_goroutine);
}
