/*
 * gort-crashers: the crash scenarios of tests/golden, one per argument.
 *
 * Each scenario function has the same name as its twin in
 * tests/golden/go/main.go, and main() calls it directly, so the
 * normalised tracebacks of the two programs must be identical.  Go's
 * closures (testprog) are named functions in both programs.  Scenarios
 * without a golden file (test_crash_golden.c checks them line by line):
 * stack_overflow, illegal_instruction (no Go twin: Go cannot run ud2
 * without assembly), out_of_memory and concurrent_panics (no Go twins),
 * map_race_sequenced (tsan preset: tests/map/test_map_misuse_race.c
 * checks TSan's report).  The concurrent_map_* scenarios take an optional
 * second argument, the racers' deadline in seconds (default 20).
 *
 * Functions that fault on purpose are FAULTS: not instrumented by UBSan
 * (it would report the null access itself) nor by ASan (it would check a
 * wild address's shadow before the access).
 */
#define _GNU_SOURCE
#include <gort/gort.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int *volatile sink;

__attribute__((noinline)) static void panicSimple(void)
{
    gort_panic("boom");
}

__attribute__((noinline)) static void nestedSecond(void *arg)
{
    (void)arg;
    gort_panic("second");
}

__attribute__((noinline)) static void panicNested(void)
{
    GORT_FRAME;
    gort_defer(nestedSecond, NULL);
    gort_panic("first");
}

__attribute__((noinline)) static void recoverThenPanic(void *arg)
{
    (void)arg;
    gort_recover();
    gort_panic("second");
}

__attribute__((noinline)) static void panicRecoveredRepanic(void)
{
    GORT_FRAME;
    gort_defer(recoverThenPanic, NULL);
    gort_panic("first");
}

static const gort_error errUser = {"user error value", false};

__attribute__((noinline)) static void panicErrorValue(void)
{
    gort_panic_err(&errUser);
}

__attribute__((noinline)) static void goroutineWorker(void *arg)
{
    (void)arg;
    gort_panic("in goroutine");
}

__attribute__((noinline)) static void panicInGoroutine(void)
{
    gort_go(goroutineWorker, NULL);
    sleep(10);
}

/* A goroutine panics while main returns: the panic's report and status 2
 * must win over main's exit(0), as in Go (go.dev/issue/3934). */
static atomic_int workerPanicking;

static void signalMain(void *arg)
{
    (void)arg;
    atomic_store(&workerPanicking, 1);
}

__attribute__((noinline)) static void panickingWorker(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(signalMain, NULL);
    gort_panic("while main returns");
}

__attribute__((noinline)) static void panicInGoroutineAsMainReturns(void)
{
    gort_go(panickingWorker, NULL);
    while (!atomic_load(&workerPanicking))
        sched_yield();
}

/* gort_go as the last statement of a goroutine built with optimization:
 * without gort_go's wrapper, GCC turns the call into a jump and the new
 * goroutine's "created by" line is lost (found by review).  This file is
 * built at -O0; the attribute optimizes this one function as -O2 would. */
__attribute__((noinline)) static void tailWorker(void *arg)
{
    (void)arg;
    gort_panic("started by a tail call");
}

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O2", "optimize-sibling-calls")))
#endif
__attribute__((noinline)) static void tailStarter(void *arg)
{
    (void)arg;
    gort_go(tailWorker, NULL);
}

__attribute__((noinline)) static void goFromTailCall(void)
{
    gort_go(tailStarter, NULL);
    sleep(10);
}

/* A panic 201 frames deep: Go 1.21 shows the innermost and the outermost
 * 50 frames and how many it elided between them. */
static volatile int deepPanics = 1; /* keeps -Winfinite-recursion quiet */

__attribute__((noinline)) static void deepRecursion(int n)
{
    if (n == 0 && deepPanics)
        gort_panic("deep");
    if (n == 0)
        return;
    deepRecursion(n - 1);
    __asm__ volatile(""); /* not a tail call */
}

/* gort_once_do with a NULL function: Go's o.Do(nil) faults calling it. */
__attribute__((noinline)) static void onceNilFunc(void)
{
    static gort_once o;
    gort_once_do(&o, NULL, NULL);
}

/* gort_once_do called from inside its own function (Go deadlocks): main
 * alone, then with another goroutine still running (Go reports the
 * deadlock once that goroutine has ended). */
static gort_once recursive_once;

__attribute__((noinline)) static void onceRecursiveInner(void *arg)
{
    (void)arg;
}

__attribute__((noinline)) static void onceRecursiveFn(void *arg)
{
    (void)arg;
    gort_once_do(&recursive_once, onceRecursiveInner, NULL);
}

__attribute__((noinline)) static void onceRecursive(void)
{
    gort_once_do(&recursive_once, onceRecursiveFn, NULL);
}

__attribute__((noinline)) static void sleepAWhile(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void onceRecursiveAfterGoroutines(void)
{
    gort_go(sleepAWhile, NULL);
    gort_once_do(&recursive_once, onceRecursiveFn, NULL);
}

/* A goroutine whose once function calls gort_once_do on the same once is
 * parked for ever, asleep: main's deadlock, or main's Goexit, then finds
 * every goroutine asleep (Go's checkdead) instead of waiting for it. */
static gort_once goroutine_once;

__attribute__((noinline)) static void onceRecursiveGoroutineFn(void *arg)
{
    (void)arg;
    gort_once_do(&goroutine_once, onceRecursiveInner, NULL);
}

__attribute__((noinline)) static void onceRecursiveGoroutine(void *arg)
{
    (void)arg;
    gort_once_do(&goroutine_once, onceRecursiveGoroutineFn, NULL);
}

__attribute__((noinline)) static void onceRecursiveInGoroutineThenGoexit(void)
{
    gort_go(onceRecursiveGoroutine, NULL);
    gort_goexit();
}

__attribute__((noinline)) static void onceRecursiveInGoroutineAndMain(void)
{
    gort_go(onceRecursiveGoroutine, NULL);
    gort_once_do(&recursive_once, onceRecursiveFn, NULL);
}

__attribute__((noinline)) static void nilFuncDeferred(void)
{
    GORT_FRAME;
    void (*volatile nilf)(void *) = NULL;
    gort_defer(nilf, NULL);
}

/* UBSan (asan preset) would stop the null store before the fault. */
__attribute__((noinline, no_sanitize("undefined"))) static void nilDeref(void)
{
    *sink = 1;
}

__attribute__((noinline)) static void deferredPrint(void *arg)
{
    (void)arg;
    fprintf(stderr, "deferred call ran\n");
}

__attribute__((noinline)) static void goexitMain(void)
{
    GORT_FRAME;
    gort_defer(deferredPrint, NULL);
    gort_goexit();
}

__attribute__((noinline)) static void panicNil(void)
{
    gort_panic(NULL);
}

static void ignore(void *arg)
{
    (void)arg;
}

/* An argument copy too large for any heap: Go's out-of-memory fatal
 * error, not a crash. */
__attribute__((noinline)) static void outOfMemory(void)
{
    GORT_FRAME;
    static char small;
    gort_defer_copy(ignore, &small, (size_t)1 << 62);
}

static gort_waitgroup start_line;

__attribute__((noinline)) static void racingPanicker(void *arg)
{
    gort_waitgroup_done(&start_line);
    gort_waitgroup_wait(&start_line);
    gort_panic("racing panic %ld", (long)(intptr_t)arg);
}

/* Eight goroutines panic at the same instant: exactly one report, never
 * interleaved (Go's paniclk). */
__attribute__((noinline)) static void concurrentPanics(void)
{
    gort_waitgroup_add(&start_line, 8);
    for (long i = 0; i < 8; i++)
        gort_go(racingPanicker, (void *)(intptr_t)i);
    sleep(10);
}

/* ===================================================================
 * Fatal signals
 * =================================================================== */

/* See the header: faults on purpose. */
#define FAULTS __attribute__((noinline, no_sanitize("address", "undefined")))

FAULTS static void derefDeferred(void *arg)
{
    (void)arg;
    *sink = 1;
}

/* A nil dereference inside a deferred call run by a panic: it becomes a
 * second panic (no opt-in needed: the thread is panicking), and Go
 * prints both panics, then the signal line. */
__attribute__((noinline)) static void nilDerefInDeferred(void)
{
    GORT_FRAME;
    gort_defer(derefDeferred, NULL);
    gort_panic("first");
}

static void (*volatile nilFn)(void);

/* A call through a NULL function pointer, without gort_signal_panics:
 * pc 0; the traceback starts at the caller of the bad call. */
FAULTS static void nilFuncCall(void)
{
    nilFn();
}

static volatile int one = 1, zero;
static volatile int sinkInt;

/* C traps (SIGFPE); Go 1.19 checks the divisor in code and prints no
 * "[signal" line: hand-written golden (tests/golden/README.md). */
FAULTS static void divideByZero(void)
{
    sinkInt = one / zero; /* both volatile: GCC folds 1 / x into a test */
}

/* Above Go's nil page (4096) and below mmap_min_addr, so unmapped in
 * every preset (ASan's and TSan's reserved ranges are higher up). */
static volatile uintptr_t badAddr = 0xdead;

FAULTS static void badAddress(void)
{
    *(volatile int *)badAddr = 1;
}

static volatile int forever = 1;

/* Infinite recursion (the flag keeps GCC's -Winfinite-recursion quiet):
 * 1 KiB frames, so TSan's shadow call stack holds every frame. */
__attribute__((noinline)) static unsigned char stackOverflow(void)
{
    volatile unsigned char buf[1024];
    buf[0] = 0;
    if (!forever)
        return buf[0];
    return (unsigned char)(buf[0] + stackOverflow());
}

/* __builtin_trap is ud2 on x86-64: Go's _SigThrow report for SIGILL. */
__attribute__((noinline)) static void illegalInstruction(void)
{
    __builtin_trap();
}

static void deferredNothing(void *arg)
{
    (void)arg;
}

/* With gort_signal_panics(true): the fault becomes a panic, the deferred
 * call runs, nobody recovers, Go's nil-dereference report. */
FAULTS static void nilDerefWithDefer(void)
{
    GORT_FRAME;
    gort_defer(deferredNothing, NULL);
    *sink = 1;
}

/* ===================================================================
 * Ports of Go 1.19 runtime/crash_test.go (testdata/testprog/deadlock.go
 * and crash.go); Go's closures are named functions here and in main.go.
 * =================================================================== */

static void recursivePanic3Recover(void *arg)
{
    (void)arg;
    gort_recover();
}

__attribute__((noinline)) static void recursivePanic3Deferred(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(recursivePanic3Recover, NULL);
    gort_panic("second panic");
}

/* TestRecursivePanic3: the first panic finishes as a panic, though the
 * second one was recovered. */
__attribute__((noinline)) static void recursivePanic3(void)
{
    GORT_FRAME;
    gort_defer(recursivePanic3Deferred, NULL);
    gort_panic("first panic");
}

__attribute__((noinline)) static void recursivePanic4Deferred(void *arg)
{
    (void)arg;
    gort_recover();
    gort_panic("second panic");
}

/* TestRecursivePanic4: one deferred call recovers the first panic and
 * starts a second; the first stays listed, "[recovered]". */
__attribute__((noinline)) static void recursivePanic4(void)
{
    GORT_FRAME;
    gort_defer(recursivePanic4Deferred, NULL);
    gort_panic("first panic");
}

static char *doubleXXX;

__attribute__((noinline)) static void doublePanicDeferred(void *arg)
{
    (void)arg;
    /* Go's P.String runs the GC to free the text of the panic values
     * while they are printed (issue 30150).  Here the buffer the first
     * panic was formatted from is freed and its memory written over. */
    size_t n = strlen(doubleXXX) + 1;
    free(doubleXXX);
    char *reuse = malloc(n);
    if (reuse != NULL)
        memset(reuse, 'Z', n - 1), reuse[n - 1] = '\0';
    doubleXXX = reuse;
    gort_panic("YYY");
}

/* TestDoublePanic: neither panic message is clobbered. */
__attribute__((noinline)) static void doublePanic(void)
{
    GORT_FRAME;
    gort_defer(doublePanicDeferred, NULL);
    doubleXXX = strdup("XXX");
    gort_panic("%s", doubleXXX != NULL ? doubleXXX : "strdup failed");
}

__attribute__((noinline)) static void panicHello(void *arg)
{
    (void)arg;
    gort_panic("hello");
}

/* TestPanicAfterGoexit: an uncaught panic still works after Goexit. */
__attribute__((noinline)) static void panicAfterGoexit(void)
{
    GORT_FRAME;
    gort_defer(panicHello, NULL);
    gort_goexit();
}

static void goexitExitSleeper(void *arg)
{
    (void)arg;
    usleep(1000);
}

/* TestGoexitCrash (testprog GoexitExit): Goexit in main, the other
 * goroutine ends normally.  Go's println writes to stderr.  (Go's
 * SetFinalizer and GC have no C counterpart.) */
__attribute__((noinline)) static void goexitExit(void)
{
    fprintf(stderr, "t1\n");
    gort_go(goexitExitSleeper, NULL);
    fprintf(stderr, "t2\n");
    fprintf(stderr, "t3\n");
    fprintf(stderr, "t4\n");
    gort_goexit();
}

static void goexitDeadlockF(void *arg)
{
    (void)arg;
    for (volatile int i = 0; i < 10; i++) {
    }
}

/* TestGoexitDeadlock. */
__attribute__((noinline)) static void goexitDeadlock(void)
{
    gort_go(goexitDeadlockF, NULL);
    gort_go(goexitDeadlockF, NULL);
    gort_goexit();
}

static void forkBlocker(void *arg)
{
    (void)arg;
    for (;;)
        pause();
}

/* Not Go's (Go never forks without exec): a fork child's main calls
 * Goexit while the parent has another goroutine.  The child has only the
 * forking thread, so it reports Go's "no goroutines" deadlock instead of
 * waiting for a goroutine it does not have.  The parent exits with the
 * child's status. */
__attribute__((noinline)) static void goexitInForkChild(void)
{
    gort_go(forkBlocker, NULL);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        gort_goexit();
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        exit(3);
    exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void goexitDeferred(void *arg)
{
    (void)arg;
    gort_goexit();
}

__attribute__((noinline)) static void goexitInPanicWorker(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(goexitDeferred, NULL);
    gort_panic("hello");
}

/* TestGoexitInPanic (issue 8774: used to recurse forever). */
__attribute__((noinline)) static void goexitInPanic(void)
{
    gort_go(goexitInPanicWorker, NULL);
    gort_goexit();
}

static void mustRecover(void *arg)
{
    (void)arg;
    if (gort_recover() == NULL)
        gort_panic("bad recover");
}

__attribute__((noinline)) static void panicHelloRecovered(void *arg)
{
    (void)arg;
    GORT_FRAME;
    gort_defer(mustRecover, NULL);
    gort_panic("hello");
}

/* TestRecoveredPanicAfterGoexit. */
__attribute__((noinline)) static void recoveredPanicAfterGoexit(void)
{
    GORT_FRAME;
    gort_defer(panicHelloRecovered, NULL);
    gort_goexit();
}

/* TestRecoverBeforePanicAfterGoexit: the recovery resumes the Goexit
 * loop, not the caller (which would make the Goexit disappear). */
__attribute__((noinline)) static void recoverBeforePanicAfterGoexit(void)
{
    GORT_FRAME;
    gort_defer(mustRecover, NULL);
    gort_defer(panicHello, NULL);
    gort_goexit();
}

/* TestRecoverBeforePanicAfterGoexit2: the same below two more defers. */
__attribute__((noinline)) static void recoverBeforePanicAfterGoexit2(void)
{
    GORT_FRAME;
    for (int i = 0; i < 2; i++)
        gort_defer(deferredNothing, NULL);
    gort_defer(mustRecover, NULL);
    gort_defer(panicHello, NULL);
    gort_goexit();
}

static void recoverNothing(void *arg)
{
    (void)arg;
    gort_recover();
}

/* TestGoNil: Go 1.19 throws (no deferred call runs, nothing recovers). */
__attribute__((noinline)) static void goNil(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    void (*volatile f)(void *) = NULL;
    gort_go(f, NULL);
    for (;;)
        pause();
}

/* TestMainGoroutineID: the main thread is goroutine 1. */
__attribute__((noinline)) static void mainGoroutineID(void)
{
    gort_panic("test");
}

/* A message longer than the panic record's inline buffer (256 bytes):
 * formatted into the heap. */
__attribute__((noinline)) static void panicLongMessage(void)
{
    char msg[512] = "long:";
    for (int i = 0; i < 40; i++)
        strcat(msg, " 0123456789");
    gort_panic("%s", msg);
}

static const gort_error errWorker = {"error value in a goroutine", false};

__attribute__((noinline)) static void errorWorker(void *arg)
{
    (void)arg;
    gort_panic_err(&errWorker);
}

/* An error value panicking in a goroutine: "created by". */
__attribute__((noinline)) static void panicErrorInGoroutine(void)
{
    gort_go(errorWorker, NULL);
    sleep(10);
}

/* stdout is a pipe, so fully buffered: the crash must flush it first,
 * as Go's unbuffered stdout would have written it already. */
__attribute__((noinline)) static void panicAfterStdout(void)
{
    printf("stdout text before the panic\n");
    gort_panic("after stdout");
}

/* ===================================================================
 * Maps
 * =================================================================== */

/* The design notes' first scenario: a map left NULL (Go's nil map),
 * written inside a deferred call.  Go: panic "assignment to entry in
 * nil map", a runtime error, not recovered. */
static gort_map *nilMap;

__attribute__((noinline)) static void writeNilMap(void *arg)
{
    (void)arg;
    int64_t *v = gort_map_set_str(nilMap, "key", 3);
    *v = 1;
}

__attribute__((noinline)) static void nilMapWriteDeferred(void)
{
    GORT_FRAME;
    gort_defer(writeNilMap, NULL);
}

/* Concurrent misuse: goroutines race on raceMap, updating (never adding)
 * its eight keys, so the map never grows (a growth race could crash
 * before the check sees it).  The loops are bounded by a deadline
 * (RACE_SECONDS, or the scenario's argument): without detection they end
 * and main exits 1 ("no detection"). */
static gort_map *raceMap;
static const char *const raceKeys[8] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};
static gort_waitgroup raceDone;
static double raceSeconds = 20;
static volatile int64_t raceSink;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void raceMapInit(void)
{
    raceMap = gort_map_new_str(sizeof(int64_t), 8);
    for (int i = 0; i < 8; i++)
        *(int64_t *)gort_map_set_str(raceMap, raceKeys[i], 2) = i;
}

/* Waits for the racers; reached only if nothing was detected. */
static void raceMapWait(void)
{
    gort_waitgroup_wait(&raceDone);
    fprintf(stderr, "no detection within %g s\n", raceSeconds);
    exit(1);
}

__attribute__((noinline)) static void mapWriter(void *arg)
{
    (void)arg;
    double deadline = now_seconds() + raceSeconds;
    for (long i = 0;; i++) {
        if ((i & 1023) == 0 && now_seconds() > deadline)
            break;
        *(int64_t *)gort_map_set_str(raceMap, raceKeys[i & 7], 2) = i;
    }
    gort_waitgroup_done(&raceDone);
}

__attribute__((noinline)) static void mapReader(void *arg)
{
    (void)arg;
    double deadline = now_seconds() + raceSeconds;
    for (long i = 0;; i++) {
        if ((i & 1023) == 0 && now_seconds() > deadline)
            break;
        const int64_t *v = gort_map_get_str(raceMap, raceKeys[i & 7], 2);
        raceSink += *v;
    }
    gort_waitgroup_done(&raceDone);
}

__attribute__((noinline)) static void mapIterator(void *arg)
{
    (void)arg;
    double deadline = now_seconds() + raceSeconds;
    while (now_seconds() <= deadline) {
        for (int r = 0; r < 64; r++) {
            gort_map_iter it;
            gort_map_iter_init(&it, raceMap);
            while (gort_map_iter_next(&it))
                raceSink += *(const int64_t *)it.val;
        }
    }
    gort_waitgroup_done(&raceDone);
}

/* Two writers: "concurrent map writes". */
__attribute__((noinline)) static void concurrentMapWrites(void)
{
    raceMapInit();
    gort_waitgroup_add(&raceDone, 2);
    gort_go(mapWriter, NULL);
    gort_go(mapWriter, NULL);
    raceMapWait();
}

/* A reader and one writer: only the reader can see the other's write,
 * "concurrent map read and map write". */
__attribute__((noinline)) static void concurrentMapReadWrite(void)
{
    raceMapInit();
    gort_waitgroup_add(&raceDone, 2);
    gort_go(mapReader, NULL);
    gort_go(mapWriter, NULL);
    raceMapWait();
}

/* An iteration and one writer: "concurrent map iteration and map write". */
__attribute__((noinline)) static void concurrentMapIterWrite(void)
{
    raceMapInit();
    gort_waitgroup_add(&raceDone, 2);
    gort_go(mapIterator, NULL);
    gort_go(mapWriter, NULL);
    raceMapWait();
}

/* Race mode (tsan preset): two goroutines use the map with no
 * happens-before edge between them, one after the other: the setter has
 * ended before the getter starts (a sleep is not synchronisation, and a
 * goroutine's end orders nothing, as in Go).  TSan must report the two
 * map calls. */
static gort_waitgroup raceGetDone;

__attribute__((noinline)) static void raceSetter(void *arg)
{
    (void)arg;
    gort_map_set_str(raceMap, "k0", 2);
}

__attribute__((noinline)) static void raceGetter(void *arg)
{
    (void)arg;
    raceSink += gort_map_get_str(raceMap, "k0", 2) != NULL;
    gort_waitgroup_done(&raceGetDone);
}

__attribute__((noinline)) static void mapRaceSequenced(void)
{
    raceMap = gort_map_new_str(sizeof(int64_t), 8);
    gort_waitgroup_add(&raceGetDone, 1);
    gort_go(raceSetter, NULL);
    usleep(200 * 1000);
    gort_go(raceGetter, NULL);
    gort_waitgroup_wait(&raceGetDone);
    printf("done\n");
}

/* ===================================================================
 * sync misuse (Go's sync/mutex_test.go TestMutexMisuse)
 * ===================================================================
 * Each case defers a recover, as Go's test does: these are fatal errors,
 * nothing recovers them.  The locks are locals, as in Go. */

__attribute__((noinline)) static void mutexUnlock(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    gort_mutex mu = {0};
    gort_mutex_unlock(&mu);
}

__attribute__((noinline)) static void mutexUnlock2(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    gort_mutex mu = {0};
    gort_mutex_lock(&mu);
    gort_mutex_unlock(&mu);
    gort_mutex_unlock(&mu);
}

__attribute__((noinline)) static void rwmutexUnlock(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    gort_rwmutex mu = {0};
    gort_rwmutex_unlock(&mu);
}

__attribute__((noinline)) static void rwmutexUnlock2(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    gort_rwmutex mu = {0};
    gort_rwmutex_rlock(&mu);
    gort_rwmutex_unlock(&mu);
}

__attribute__((noinline)) static void rwmutexUnlock3(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    gort_rwmutex mu = {0};
    gort_rwmutex_lock(&mu);
    gort_rwmutex_unlock(&mu);
    gort_rwmutex_unlock(&mu);
}

__attribute__((noinline)) static void rwmutexRUnlock(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    gort_rwmutex mu = {0};
    gort_rwmutex_runlock(&mu);
}

__attribute__((noinline)) static void rwmutexRUnlock2(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    gort_rwmutex mu = {0};
    gort_rwmutex_lock(&mu);
    gort_rwmutex_runlock(&mu);
}

__attribute__((noinline)) static void rwmutexRUnlock3(void)
{
    GORT_FRAME;
    gort_defer(recoverNothing, NULL);
    gort_rwmutex mu = {0};
    gort_rwmutex_rlock(&mu);
    gort_rwmutex_runlock(&mu);
    gort_rwmutex_runlock(&mu);
}

/* A mutex locked by one goroutine and unlocked twice by another (Go allows
 * the first unlock from any goroutine): the report names the goroutine
 * that unlocked. */
static gort_mutex handedMutex;
static gort_waitgroup handedDone;

__attribute__((noinline)) static void unlockTwiceElsewhere(void *arg)
{
    (void)arg;
    gort_mutex_unlock(&handedMutex);
    gort_mutex_unlock(&handedMutex);
    gort_waitgroup_done(&handedDone);
}

__attribute__((noinline)) static void mutexUnlockInGoroutine(void)
{
    gort_mutex_lock(&handedMutex);
    gort_waitgroup_add(&handedDone, 1);
    gort_go(unlockTwiceElsewhere, NULL);
    gort_waitgroup_wait(&handedDone);
}

__attribute__((noinline)) static void spinForever(void *arg)
{
    (void)arg;
    for (;;)
        sleep(1);
}

/* Go: returning from main.main ends the program, running goroutines
 * included.  Exit status 0. */
__attribute__((noinline)) static void mainReturnsWhileGoroutinesRun(void)
{
    for (int i = 0; i < 4; i++)
        gort_go(spinForever, NULL);
}

int main(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : "";
    /* The concurrent-map scenarios take an optional deadline (seconds). */
    if (argc > 2)
        raceSeconds = atof(argv[2]);
    if (strcmp(s, "panic_simple") == 0)
        panicSimple();
    else if (strcmp(s, "panic_nested") == 0)
        panicNested();
    else if (strcmp(s, "panic_recovered_repanic") == 0)
        panicRecoveredRepanic();
    else if (strcmp(s, "panic_error_value") == 0)
        panicErrorValue();
    else if (strcmp(s, "panic_in_goroutine") == 0)
        panicInGoroutine();
    else if (strcmp(s, "panic_in_goroutine_as_main_returns") == 0)
        panicInGoroutineAsMainReturns();
    else if (strcmp(s, "once_nil_func") == 0)
        onceNilFunc();
    else if (strcmp(s, "once_recursive") == 0)
        onceRecursive();
    else if (strcmp(s, "once_recursive_after_goroutines") == 0)
        onceRecursiveAfterGoroutines();
    else if (strcmp(s, "once_recursive_in_goroutine_then_goexit") == 0)
        onceRecursiveInGoroutineThenGoexit();
    else if (strcmp(s, "once_recursive_in_goroutine_and_main") == 0)
        onceRecursiveInGoroutineAndMain();
    else if (strcmp(s, "go_from_tail_call") == 0)
        goFromTailCall();
    else if (strcmp(s, "deep_recursion") == 0)
        deepRecursion(200);
    else if (strcmp(s, "nil_func_deferred") == 0)
        nilFuncDeferred();
    else if (strcmp(s, "nil_deref") == 0)
        nilDeref();
    else if (strcmp(s, "goexit_main") == 0)
        goexitMain();
    else if (strcmp(s, "panic_nil") == 0)
        panicNil();
    else if (strcmp(s, "main_returns") == 0)
        mainReturnsWhileGoroutinesRun();
    else if (strcmp(s, "out_of_memory") == 0)
        outOfMemory();
    else if (strcmp(s, "goexit_in_fork_child") == 0)
        goexitInForkChild();
    else if (strcmp(s, "concurrent_panics") == 0)
        concurrentPanics();
    else if (strcmp(s, "nil_deref_in_deferred") == 0)
        nilDerefInDeferred();
    else if (strcmp(s, "nil_func_call") == 0)
        nilFuncCall();
    else if (strcmp(s, "divide_by_zero") == 0)
        divideByZero();
    else if (strcmp(s, "bad_address") == 0)
        badAddress();
    else if (strcmp(s, "stack_overflow") == 0)
        stackOverflow();
    else if (strcmp(s, "illegal_instruction") == 0)
        illegalInstruction();
    else if (strcmp(s, "nil_deref_with_defer") == 0) {
        gort_signal_panics(true);
        nilDerefWithDefer();
    } else if (strcmp(s, "recursive_panic3") == 0)
        recursivePanic3();
    else if (strcmp(s, "recursive_panic4") == 0)
        recursivePanic4();
    else if (strcmp(s, "double_panic") == 0)
        doublePanic();
    else if (strcmp(s, "panic_after_goexit") == 0)
        panicAfterGoexit();
    else if (strcmp(s, "goexit_exit") == 0)
        goexitExit();
    else if (strcmp(s, "goexit_deadlock") == 0)
        goexitDeadlock();
    else if (strcmp(s, "goexit_in_panic") == 0)
        goexitInPanic();
    else if (strcmp(s, "recovered_panic_after_goexit") == 0)
        recoveredPanicAfterGoexit();
    else if (strcmp(s, "recover_before_panic_after_goexit") == 0)
        recoverBeforePanicAfterGoexit();
    else if (strcmp(s, "recover_before_panic_after_goexit2") == 0)
        recoverBeforePanicAfterGoexit2();
    else if (strcmp(s, "go_nil") == 0)
        goNil();
    else if (strcmp(s, "main_goroutine_id") == 0)
        mainGoroutineID();
    else if (strcmp(s, "panic_long_message") == 0)
        panicLongMessage();
    else if (strcmp(s, "panic_error_in_goroutine") == 0)
        panicErrorInGoroutine();
    else if (strcmp(s, "panic_after_stdout") == 0)
        panicAfterStdout();
    else if (strcmp(s, "nil_map_write_deferred") == 0)
        nilMapWriteDeferred();
    else if (strcmp(s, "concurrent_map_writes") == 0)
        concurrentMapWrites();
    else if (strcmp(s, "concurrent_map_read_write") == 0)
        concurrentMapReadWrite();
    else if (strcmp(s, "concurrent_map_iter_write") == 0)
        concurrentMapIterWrite();
    else if (strcmp(s, "map_race_sequenced") == 0)
        mapRaceSequenced();
    else if (strcmp(s, "sync_mutex_unlock") == 0)
        mutexUnlock();
    else if (strcmp(s, "sync_mutex_unlock2") == 0)
        mutexUnlock2();
    else if (strcmp(s, "sync_rwmutex_unlock") == 0)
        rwmutexUnlock();
    else if (strcmp(s, "sync_rwmutex_unlock2") == 0)
        rwmutexUnlock2();
    else if (strcmp(s, "sync_rwmutex_unlock3") == 0)
        rwmutexUnlock3();
    else if (strcmp(s, "sync_rwmutex_runlock") == 0)
        rwmutexRUnlock();
    else if (strcmp(s, "sync_rwmutex_runlock2") == 0)
        rwmutexRUnlock2();
    else if (strcmp(s, "sync_rwmutex_runlock3") == 0)
        rwmutexRUnlock3();
    else if (strcmp(s, "sync_mutex_unlock_in_goroutine") == 0)
        mutexUnlockInGoroutine();
    else {
        fprintf(stderr, "gort-crashers: unknown scenario %s\n", s);
        return 64;
    }
    return 0;
}
