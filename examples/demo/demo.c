/*
 * demo.c - gort-demo: replays the scenarios of gort's design notes and
 * shows what happens, next to what Go does.
 *
 *     gort-demo list             the scenarios
 *     gort-demo all              every scenario; exit 0 iff all behaved
 *     gort-demo <scenario>       one scenario
 *     gort-demo --child <name>   hidden: run a scenario's body raw (the
 *                                driver runs crashing parts this way)
 *
 * This file is the driver: the scenario table, the child-process runner
 * and the small helpers of demo.h.  The scenarios live in scn_*.c.
 */
#define _GNU_SOURCE
#include "demo.h"

#include <gort/gort.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Seconds a child part may take before it is killed (valgrind is slow). */
enum { CHILD_TIMEOUT_S = 60 };

/* ===================================================================
 * The scenario table: one row per scenario (see demo.h)
 * =================================================================== */

static const char *const expect_defer_trace[] = {
    "gort: defer push goroutine 1 site",
    "gort: defer run/panic goroutine 1 site",
    "gort: defer run/return goroutine 1 site",
    "recover() -> \"boom in inner\"",
    "main: outer returned",
    NULL,
};

static const char *const expect_nested_crash[] = {
    "panic: first\n\tpanic: second\n\ngoroutine 1 [running]:\n",
    "panic_second: run #1",
    "!panic_second: run #2", /* "!": must not appear */
    "older: run by the second panic",
    NULL,
};

static const char *const expect_nested_repanic[] = {
    "panic: boom [recovered]\n\tpanic: boom\n\ngoroutine 1 [running]:\n",
    NULL,
};

static const char *const expect_nil_deref[] = {
    ("recovered: runtime error: invalid memory address or nil pointer "
     "dereference (runtime error: yes, gort_err_nil_deref: yes)"),
    NULL,
};

static const char *const expect_goroutine_panic[] = {
    "deferred call of goroutine 2 runs before the crash",
    "panic: boom in goroutine 2\n\ngoroutine 2 [running]:\n",
    "\ncreated by child_goroutine_panic\n",
    NULL,
};

static const char *const expect_nil_map_crash[] = {
    "store_answer: returning; its deferred call runs now",
    "deferred: m[\"answer\"] = 42",
    "panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\n",
    "write_nil_map",
    "!not Go's behaviour",
    NULL,
};

static const char *const expect_iter_write_race[] = {
    "fatal error: concurrent map iteration and map write\n",
    "\ngoroutine 1 [running]:\n",
    "!never detected",
    NULL,
};

/* The program's own lines; scn_race.c checks the report's structure. */
static const char *const expect_race_report[] = {
    "main: the first write is over; starting the second writer",
    "WARNING: ThreadSanitizer: data race",
    "main: m = map[first:1 second:2], len 2; done",
    "ThreadSanitizer: reported 1 warnings",
    "!fatal error: concurrent map writes", /* hashWriting: no overlap */
    NULL,
};

static const char *const expect_snapmap_write_view[] = {
    "fatal error: gort: write to a read-only map view "
    "(gort_snapmap_read_begin)\n",
    "\ngoroutine 1 [running]:\n",
    "!the write went through",
    NULL,
};

static const demo_scenario scenarios[] = {
    {
        .name = "defer-order",
        .description = "deferred calls run last-in first-out",
        .look_for =
            "Go: `defer fmt.Println(\"first\")`, then \"second\" and\n"
            "\"third\", prints third, second, first when the function\n"
            "returns.  In a loop, gort_defer_copy evaluates the argument at\n"
            "the defer statement like `defer fmt.Print(i)` (9..0);\n"
            "gort_defer(&i) is a closure over i and sees its final value, as\n"
            "Go's `defer func() { fmt.Print(i) }()` did before Go 1.22 (10\n"
            "ten times).  Ten defers overflow the frame's eight inline\n"
            "records into the per-thread pool; the order does not change.",
        .fn = scenario_defer_order,
    },
    {
        .name = "defer-trace",
        .description = "GORTDEBUG=deferpcstack=1 traces the defer chain",
        .look_for =
            "The demo re-runs itself with GORTDEBUG=deferpcstack=1.  Each\n"
            "\"push\" line is a defer statement adding a record to the\n"
            "goroutine's chain (site, pc, sp = the frame, depth = chain\n"
            "length); \"run/panic\" lines are records run by the panic loop\n"
            "(Go's gopanic), \"run/return\" lines records run when a function\n"
            "returns (Go's deferreturn).  outer -> middle -> inner; inner\n"
            "panics and its own deferred call recovers, so inner returns\n"
            "normally and middle's and outer's records run on return.",
        .fn = scenario_defer_trace,
        .runs_as_child = true,
        .exit_status = 0,
        .env = "GORTDEBUG=deferpcstack=1",
        .expect = expect_defer_trace,
    },
    {
        .name = "nested-panic",
        .description = "a deferred call panics while the goroutine panics",
        .look_for =
            "Go prints every panic of the chain, oldest first, later ones\n"
            "after a tab: \"panic: first\\n\\tpanic: second\", then the\n"
            "traceback, exit status 2.  The deferred call that panicked is\n"
            "marked started, so the second panic does not run it again (Go's\n"
            "d.started); it runs the older record instead.  Recovering and\n"
            "panicking again marks the first panic \" [recovered]\".\n"
            "In-process, a recover() in the older record stops the second\n"
            "panic, and the first one, which the second overtook, is over\n"
            "too.",
        .fn = scenario_nested_panic,
    },
    {
        .name = "recover",
        .description = "recover() turns a panic into an error result",
        .look_for =
            "Go's named-result pattern: `defer func() { if r := recover();\n"
            "r != nil { err = r.(error) } }()`.  GORT_FRAME_RETURN(res) is\n"
            "what the function returns after a recovered panic, and the\n"
            "deferred call sets res.err, so a runtime error (integer divide\n"
            "by zero), a user error compared by identity (errors.Is) and a\n"
            "nil-pointer fault (gort_signal_panics, in a child) all come\n"
            "back as values.  A string panic is not an error: the deferred\n"
            "call panics again with it.  recover() called from a helper of\n"
            "the deferred function returns NULL, as in Go.",
        .fn = scenario_recover,
    },
    {
        .name = "goroutines",
        .description = "own defer chains and ids, WaitGroup, Goexit",
        .look_for =
            "Each goroutine (an OS thread from gort_go) has its own id and\n"
            "its own defer chain: a panic in one runs only its deferred calls\n"
            "and is recovered there; gort_goexit runs every deferred call of\n"
            "its goroutine (the deferred wg.Done too) and recover() sees\n"
            "nothing while they run.  main is goroutine 1.  An unrecovered\n"
            "panic in a goroutine ends the whole process with status 2, and\n"
            "its traceback ends with \"created by\" and the gort_go call site.",
        .fn = scenario_goroutines,
    },
    {
        .name = "nil-map-defer",
        .description = "a nil map written inside a deferred call",
        .look_for =
            "`var m map[string]int64` is nil (a NULL gort_map *): reading,\n"
            "len, delete and range work and find nothing, but\n"
            "`defer func() { m[\"answer\"] = 42 }()` panics when the deferred\n"
            "call runs with Go's runtime error \"assignment to entry in nil\n"
            "map\" (no \"runtime error: \" prefix, as in Go).  Unrecovered:\n"
            "Go's \"panic: ...\" and traceback, exit status 2.  A deferred\n"
            "recover() in an outer frame gets it as an error value:\n"
            "gort_err_nil_map_write, a runtime.Error.",
        .fn = scenario_nil_map_defer,
    },
    {
        .name = "iter-write-race",
        .description = "a goroutine writes a map while main iterates it",
        .look_for =
            "Go checks hashWriting at every iterator step: a write running at\n"
            "the same time ends the process with \"fatal error: concurrent map\n"
            "iteration and map write\", the traceback of the detecting\n"
            "goroutine (main, goroutine 1) and exit status 2; it cannot be\n"
            "recovered.  The writer only updates existing keys (no growth).\n"
            "Detection is best effort, so main iterates until it happens\n"
            "(bounded).  In a ThreadSanitizer build (tsan preset) TSan's data\n"
            "race report on the map comes first.",
        .fn = scenario_iter_write_race,
    },
    {
        .name = "race-report",
        .description = "race mode: TSan reports two unordered map writes",
        .look_for =
            "One goroutine writes m[\"first\"], then another m[\"second\"];\n"
            "main learns that the first write is over from a relaxed flag,\n"
            "which orders nothing (Go: a time.Sleep).  The writes never\n"
            "overlap, so the hashWriting check stays silent, but nothing\n"
            "orders them: built with ThreadSanitizer (race mode, Go's -race)\n"
            "the map reports each operation as a read or write of the map\n"
            "as a whole, whatever the key, and TSan prints one \"WARNING:\n"
            "ThreadSanitizer: data race\" with both stacks (gort_map_set_str\n"
            "in each goroutine) and where each goroutine was created\n"
            "(gort_go); exit status 66.  gort-demo-race is the program under\n"
            "TSan, a separate executable built in every tree (in the tsan\n"
            "preset gort-demo runs it itself).",
        .fn = scenario_race_report,
    },
    {
        .name = "map-layout",
        .description = "gort_map_dump, gort_map_stats, sizes and offsets",
        .look_for =
            "The dump prints the header (Go's hmap), the bucket layout\n"
            "(tophash, keys, values, overflow pointer), each bucket's eight\n"
            "tophash bytes (00 emptyRest, 01 emptyOne: a deleted key) and\n"
            "overflow chain, and a growth in progress: oldbuckets, evacuated\n"
            "ones marked 02/03 (evacuatedX/Y), nevacuate.  Then the stats and\n"
            "the unsafe.Sizeof/Offsetof analogue: gort_map_iter, the private\n"
            "struct gort_map, and the bucket of several map types (208 bytes\n"
            "for map[string]int64 and 144 for map[uint64]int64, as in Go).",
        .fn = scenario_map_layout,
    },
    {
        .name = "config-store",
        .description = "a config store on RWMutex + atomic value",
        .look_for =
            "The design notes' pattern: readers load the current config\n"
            "with gort_atomic_value_load inside a read section and use it in\n"
            "place (no lock, no copy); a writer serialised by a gort_rwmutex\n"
            "publishes a whole new config with gort_atomic_value_store.\n"
            "Readers keep reading while the writer holds the lock (they\n"
            "never block on it), every version is seen, and each old config\n"
            "is destroyed only after the readers that could hold it left\n"
            "their read sections (Go's GC does that part for Go).",
        .fn = scenario_config_store,
    },
    {
        .name = "snapmap",
        .description = "the snapshot map: read-only views, batched writes",
        .look_for =
            "Writes are queued and published as a new version when the\n"
            "batch reaches its size, when its oldest op reaches its age (a\n"
            "background flusher goroutine), or on gort_snapmap_flush.  A\n"
            "view (gort_snapmap_read_begin) is a lock-free, zero-copy\n"
            "const gort_map that stays the same snapshot until read_end while\n"
            "newer versions are published.  Writing through a view is a\n"
            "fatal error (child).",
        .fn = scenario_snapmap,
    },

    /* Hidden child parts, run by the scenarios above. */
    {
        .name = "nested-panic-crash",
        .fn = child_nested_panic_crash,
        .runs_as_child = true,
        .exit_status = 2,
        .expect = expect_nested_crash,
    },
    {
        .name = "nested-panic-repanic",
        .fn = child_nested_panic_repanic,
        .runs_as_child = true,
        .exit_status = 2,
        .expect = expect_nested_repanic,
    },
    {
        .name = "recover-nil-deref",
        .fn = child_recover_nil_deref,
        .runs_as_child = true,
        .exit_status = 0,
        .expect = expect_nil_deref,
    },
    {
        .name = "goroutine-panic",
        .fn = child_goroutine_panic,
        .runs_as_child = true,
        .exit_status = 2,
        .expect = expect_goroutine_panic,
    },
    {
        .name = "nil-map-defer-crash",
        .fn = child_nil_map_defer_crash,
        .runs_as_child = true,
        .exit_status = 2,
        .expect = expect_nil_map_crash,
    },
    {
        .name = "iter-write-race-crash",
        .fn = child_iter_write_race,
        .runs_as_child = true,
        .exit_status = 2,
        .expect = expect_iter_write_race,
    },
    {
        /* Run as gort-demo-race, or as a child of a tsan gort-demo. */
        .name = "race-report-program",
        .fn = demo_race_program,
        .runs_as_child = true,
        .exit_status = 66, /* TSan's exitcode after a report */
        /* TSan's defaults, whatever the caller's environment says. */
        .env = "TSAN_OPTIONS=halt_on_error=0 exitcode=66",
        .expect = expect_race_report,
    },
    {
        .name = "snapmap-write-view",
        .fn = child_snapmap_write_view,
        .runs_as_child = true,
        .exit_status = 2,
        .expect = expect_snapmap_write_view,
    },
};

enum { NSCENARIOS = sizeof scenarios / sizeof scenarios[0] };

static const char *progname = "gort-demo";

/* What the driver executes for a child part: the path /proc/self/exe links
 * to, read once at start-up.  Executing the link itself would run
 * valgrind's tool instead of the demo under valgrind, which does rewrite
 * readlink's answer. */
static char self_exe[PATH_MAX] = "/proc/self/exe";

static const demo_scenario *find_scenario(const char *name)
{
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (strcmp(scenarios[i].name, name) == 0)
            return &scenarios[i];
    return NULL;
}

/* ===================================================================
 * Helpers for the scenarios
 * =================================================================== */

int demo_check(bool ok, const char *what)
{
    printf("  %s %s\n", ok ? "[ok]  " : "[FAIL]", what);
    return ok ? 0 : 1;
}

void demo_log_reset(demo_log *l)
{
    l->text[0] = '\0';
    l->len = 0;
}

void demo_log_add(demo_log *l, const char *fmt, ...)
{
    if (l->len + 1 >= sizeof l->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < sizeof l->text - l->len
                      ? (size_t)n
                      : sizeof l->text - l->len - 1;
}

/* ===================================================================
 * Running a scenario in a child process
 * =================================================================== */

/* The environment of the child: ours, with @add ("NAME=value") replacing
 * any variable of the same name.  Built before fork, so that the child
 * only calls async-signal-safe functions between fork and exec. */
static char **child_environ(const char *add)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (env == NULL)
        return NULL;
    size_t namelen = add != NULL ? strcspn(add, "=") + 1 : 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (add == NULL || strncmp(environ[i], add, namelen) != 0)
            env[k++] = environ[i];
    if (add != NULL)
        env[k++] = (char *)add;
    env[k] = NULL;
    return env;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads everything @fd yields until EOF or the deadline; returns a
 * malloc'd NUL-terminated string (NULL on allocation failure). */
static char *read_all(int fd, pid_t pid, bool *timed_out)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    double deadline = now_s() + CHILD_TIMEOUT_S;
    *timed_out = false;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            kill(pid, SIGKILL);
            *timed_out = true;
            break;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (len + 4096 + 1 > cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL)
                break;
            buf = bigger;
            cap *= 2;
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    return buf;
}

/* Prints @text with every line prefixed, so the child's output stands out
 * from the driver's. */
static void relay(const char *text)
{
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        printf("  | %.*s\n", (int)n, p);
        p += n + (nl != NULL);
    }
}

static void describe_status(int st, char *buf, size_t size)
{
    if (WIFEXITED(st))
        snprintf(buf, size, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(buf, size, "wait status 0x%x", (unsigned)st);
}

/* Runs @sc's child part: this program with "--child <name>", or the
 * program @exe (no arguments) when not NULL.  *output (when not NULL)
 * receives the merged output. */
static int spawn(const demo_scenario *sc, const char *exe, char **output)
{
    if (output != NULL)
        *output = NULL;
    int pipefd[2];
    char **env = child_environ(sc->env);
    if (env == NULL || pipe2(pipefd, O_CLOEXEC) != 0) {
        printf("  [FAIL] cannot set up the child: %s\n", strerror(errno));
        free(env);
        return 1;
    }
    const char *slash = exe != NULL ? strrchr(exe, '/') : NULL;
    const char *exe_name = slash != NULL ? slash + 1 : exe;
    char *const self_argv[] = {(char *)progname, (char *)"--child",
                               (char *)sc->name, NULL};
    char *const exe_argv[] = {(char *)exe_name, NULL};
    char *const *argv = exe != NULL ? exe_argv : self_argv;
    if (exe != NULL)
        printf("  $ %s%s%s\n", sc->env != NULL ? sc->env : "",
               sc->env != NULL ? " " : "", exe_name);
    else
        printf("  $ %s%s%s --child %s\n", sc->env != NULL ? sc->env : "",
               sc->env != NULL ? " " : "", progname, sc->name);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        printf("  [FAIL] fork: %s\n", strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        free(env);
        return 1;
    }
    if (pid == 0) {
        /* stdout and stderr share one pipe: the output stays in order. */
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        execve(exe != NULL ? exe : self_exe, argv, env);
        static const char msg[] = "gort-demo: exec of the child failed\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
    }
    free(env);
    close(pipefd[1]);
    bool timed_out = false;
    char *out = read_all(pipefd[0], pid, &timed_out);
    close(pipefd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;

    relay(out != NULL ? out : "");
    char how[96];
    describe_status(st, how, sizeof how);
    int fails = 0;
    char what[256];
    snprintf(what, sizeof what, "child %s: %s%s (expected exit status %d)",
             sc->name, how, timed_out ? " after the timeout" : "",
             sc->exit_status);
    fails += demo_check(!timed_out && WIFEXITED(st) &&
                            WEXITSTATUS(st) == sc->exit_status,
                        what);
    for (size_t i = 0; sc->expect != NULL && sc->expect[i] != NULL; i++) {
        const char *want = sc->expect[i];
        bool negate = want[0] == '!';
        if (negate)
            want++;
        bool found = out != NULL && strstr(out, want) != NULL;
        /* Show the expected text on one line, escaping newlines/tabs. */
        char shown[160];
        size_t k = 0;
        for (const char *c = want; *c != '\0' && k + 3 < sizeof shown; c++) {
            if (*c == '\n' || *c == '\t') {
                shown[k++] = '\\';
                shown[k++] = *c == '\n' ? 'n' : 't';
            } else {
                shown[k++] = *c;
            }
        }
        shown[k] = '\0';
        snprintf(what, sizeof what, "output %s \"%s\"",
                 negate ? "lacks" : "has", shown);
        fails += demo_check(found != negate, what);
    }
    if (output != NULL)
        *output = out;
    else
        free(out);
    return fails;
}

int demo_run_program(const char *path, const char *name, char **output)
{
    if (output != NULL)
        *output = NULL;
    const demo_scenario *sc = find_scenario(name);
    if (sc == NULL || !sc->runs_as_child) {
        printf("  [FAIL] no child part named %s\n", name);
        return 1;
    }
    return spawn(sc, path, output);
}

int demo_run_child(const char *name)
{
    return demo_run_program(NULL, name, NULL);
}

/* ===================================================================
 * Driver
 * =================================================================== */

static void print_indented(const char *text)
{
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        printf("  %.*s\n", (int)n, p);
        p += n + (nl != NULL);
    }
}

/* Prints the heading and explanation, runs the scenario, prints a
 * verdict.  Returns 0 when it behaved as expected, DEMO_SKIPPED when it
 * could not run in this build. */
static int run_scenario(const demo_scenario *sc)
{
    printf("\n=== %s: %s\n", sc->name,
           sc->description != NULL ? sc->description : "(child part)");
    if (sc->look_for != NULL)
        print_indented(sc->look_for);
    printf("\n");
    int fails = sc->runs_as_child ? spawn(sc, NULL, NULL) : sc->fn();
    printf("--- %s: %s\n", sc->name,
           fails == 0              ? "behaved as expected"
           : fails == DEMO_SKIPPED ? "SKIPPED (cannot run in this build)"
                                   : "DID NOT behave as expected");
    fflush(stdout);
    return fails;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s <scenario>|all|list\n"
            "\n"
            "Replays gort's scenarios and shows what happens, next to what Go\n"
            "does.  Scenarios that end the process run in a child process.\n"
            "Exit status: 0 when every scenario run behaved as expected (a\n"
            "scenario this build cannot run is skipped, with the reason;\n"
            "run alone, a skipped scenario exits with status 77).\n"
            "\n"
            "scenarios:\n",
            progname);
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (scenarios[i].description != NULL)
            fprintf(f, "  %-16s %s\n", scenarios[i].name,
                    scenarios[i].description);
    fprintf(f,
            "\nchild parts (run by the scenarios above; hidden from all):\n");
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (scenarios[i].description == NULL)
            fprintf(f, "  %s\n", scenarios[i].name);
    fprintf(f, "\n--child <name> runs a scenario's body directly, without the\n"
               "driver (a crashing part then ends gort-demo itself).\n");
}

int main(int argc, char **argv)
{
    /* Lines reach a pipe in the order they are printed, interleaved
     * correctly with gort's own write(2)s to stderr. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
        const char *slash = strrchr(argv[0], '/');
        progname = slash != NULL ? slash + 1 : argv[0];
    }
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n > 0)
        self_exe[n] = '\0';
    else
        snprintf(self_exe, sizeof self_exe, "/proc/self/exe");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "list") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--child") == 0) {
        const demo_scenario *sc = argc == 3 ? find_scenario(argv[2]) : NULL;
        if (sc == NULL) {
            fprintf(stderr, "%s: --child needs a scenario name\n", progname);
            return 2;
        }
        return sc->fn();
    }
    if (strcmp(cmd, "all") == 0) {
        int total = 0, failed = 0, skipped = 0;
        char names[256] = "", skipped_names[256] = "";
        for (size_t i = 0; i < NSCENARIOS; i++) {
            if (scenarios[i].description == NULL)
                continue;
            total++;
            int r = run_scenario(&scenarios[i]);
            if (r == 0)
                continue;
            char *list = names;
            if (r == DEMO_SKIPPED) {
                skipped++;
                list = skipped_names;
            } else {
                failed++;
            }
            strncat(list, " ", sizeof names - strlen(list) - 1);
            strncat(list, scenarios[i].name, sizeof names - strlen(list) - 1);
        }
        if (failed == 0 && skipped == 0)
            printf("\n%s: all %d scenarios behaved as expected\n", progname,
                   total);
        else if (failed == 0)
            printf("\n%s: %d of %d scenarios behaved as expected, %d "
                   "skipped (cannot run in this build, see above):%s\n",
                   progname, total - skipped, total, skipped, skipped_names);
        else
            printf("\n%s: %d of %d scenarios did not behave as expected:%s"
                   "%s%s\n",
                   progname, failed, total, names,
                   skipped != 0 ? "; skipped:" : "", skipped_names);
        return failed == 0 ? 0 : 1;
    }
    const demo_scenario *sc = find_scenario(cmd);
    if (sc == NULL) {
        fprintf(stderr, "%s: unknown scenario \"%s\"\n\n", progname, cmd);
        usage(stderr);
        return 2;
    }
    int r = run_scenario(sc);
    return r == 0 ? 0 : r == DEMO_SKIPPED ? 77 : 1;
}
