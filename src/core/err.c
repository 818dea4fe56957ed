#include "core/err.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_msg[1024];
static void (*abort_hook)(int);

int err_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    return -1;
}

const char *err_msg(void) { return last_msg; }

int err_prefix(const char *fmt, ...)
{
    char context[sizeof last_msg], msg[sizeof last_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    memcpy(msg, last_msg, sizeof msg);
    /* a message too long for the buffer keeps its beginning, where the location is */
    int n = snprintf(last_msg, sizeof last_msg, "%s: ", context);
    if (n < (int)sizeof last_msg) snprintf(last_msg + n, sizeof last_msg - (size_t)n, "%s", msg);
    return -1;
}

void err_set_abort_hook(void (*hook)(int)) { abort_hook = hook; }

_Noreturn void err_fatal(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "innerloop: fatal: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    if (abort_hook) abort_hook(IL_EXIT_FAIL);
    exit(IL_EXIT_FAIL);
}

void err_test_kill(const char *point)
{
    const char *at = getenv("IL_TEST_KILL");
    if (at && !strcmp(at, point)) raise(SIGKILL);
}

void *err_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    CHECK(p, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

char *err_strdup(const char *s)
{
    char *d = strdup(s);
    CHECK(d, "out of memory copying %zu bytes", strlen(s) + 1);
    return d;
}
