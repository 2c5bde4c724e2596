/*
 * child.c - run a program as a child process and capture its output.
 */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct growbuf {
    char *p;
    size_t len, cap;
} growbuf;

static void grow_append(growbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether the "NAME=value" entries @a and @b set the same variable. */
static bool same_name(const char *a, const char *b)
{
    size_t n = strcspn(a, "=");
    return strncmp(a, b, n) == 0 && b[n] == '=';
}

/* The child's environment: ours, with @env's entries replacing or added.
 * Built before the fork, so that the child calls no malloc (an allocator
 * lock held by another thread at the fork, ASan's for one, would stay
 * held in the child). */
static char **child_environ(const char *const env[])
{
    size_t n = 0, m = 0;
    while (environ[n] != NULL)
        n++;
    while (env != NULL && env[m] != NULL)
        m++;
    char **e = malloc((n + m + 1) * sizeof *e);
    if (e == NULL)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < m && !replaced; j++)
            replaced = same_name(env[j], environ[i]);
        if (!replaced)
            e[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        e[k++] = (char *)env[j];
    e[k] = NULL;
    return e;
}

static bool run(const char *const argv[], const char *const env[],
                double timeout_s, bool merged, child_result *r)
{
    memset(r, 0, sizeof *r);
    int outp[2], errp[2];
    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0)
        return false;
    char **cenv = child_environ(env);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(cenv);
        return false;
    }
    if (pid == 0) {
        dup2(outp[1], 1);
        dup2(merged ? outp[1] : errp[1], 2);
        execve(argv[0], (char *const *)argv, cenv);
        static const char msg[] = "exec failed\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    free(cenv);
    close(outp[1]);
    close(errp[1]);
    growbuf out = {0}, err = {0};
    grow_append(&out, "", 0);
    grow_append(&err, "", 0);
    struct pollfd fds[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    int open_fds = 2;
    double deadline = now_s() + timeout_s;
    while (open_fds > 0) {
        double left = deadline - now_s();
        if (left <= 0) {
            kill(pid, SIGKILL);
            r->timed_out = true;
            break;
        }
        int n = poll(fds, 2, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t k = read(fds[i].fd, buf, sizeof buf);
            if (k > 0) {
                grow_append(i == 0 ? &out : &err, buf, (size_t)k);
            } else if (k == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = out.p;
    r->err = err.p;
    return true;
}

bool child_run(const char *const argv[], const char *const env[],
               double timeout_s, child_result *r)
{
    return run(argv, env, timeout_s, false, r);
}

bool child_run_merged(const char *const argv[], const char *const env[],
                      double timeout_s, child_result *r)
{
    return run(argv, env, timeout_s, true, r);
}

void child_result_free(child_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

const char *child_sibling_path(const char *rel)
{
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n < 0)
        return rel;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (slash == NULL)
        return rel;
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", rel);
    return path;
}
