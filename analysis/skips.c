#include "analysis/skips.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "analysis/table.h"

/* Prints a message on stderr, or keeps it when the list holds its messages. */
static void say(skips_t *s, const char *msg)
{
    if (!s->hold) {
        fputs(msg, stderr);
        return;
    }
    size_t n = strlen(msg);
    if (s->held_len + n + 1 > s->held_cap) {
        s->held_cap = 2 * (s->held_len + n + 1);
        s->held = realloc(s->held, s->held_cap);
        CHECK(s->held, "out of memory");
    }
    memcpy(s->held + s->held_len, msg, n + 1);
    s->held_len += n;
}

/* A printf-style message in memory of its own length: warnings can name two paths of 4,096 bytes. */
static char *vformat(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    char *msg = err_calloc((size_t)n + 1, 1);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    return msg;
}

static void sayf(skips_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sayf(skips_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    say(s, msg);
    free(msg);
}

static void append(skips_t *s, const char *path, const char *reason)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->e = realloc(s->e, (size_t)s->cap * sizeof *s->e);
        CHECK(s->e, "out of memory");
    }
    s->e[s->n++] = (skip_t){err_strdup(path), err_strdup(reason)};
}

void skips_add(skips_t *s, const char *path, const char *reason)
{
    append(s, path, reason);
    sayf(s, "il-aggregate: skipped %s: %s\n", path, reason);
}

void skips_warn(skips_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = vformat(fmt, ap);
    va_end(ap);
    sayf(s, "il-aggregate: warning: %s\n", text);
    free(text);
    s->warnings++;
}

void skips_merge(skips_t *dst, const skips_t *src)
{
    for (int i = 0; i < src->n; i++) append(dst, src->e[i].path, src->e[i].reason);
    dst->warnings += src->warnings;
    if (src->held_len) say(dst, src->held);
}

void skips_free(skips_t *s)
{
    for (int i = 0; i < s->n; i++) free(s->e[i].path), free(s->e[i].reason);
    free(s->e);
    free(s->held);
    *s = (skips_t){0};
}

int skips_write(const skips_t *s, const char *out)
{
    static const char *const cols[] = {"path", "reason"};
    table_t t;
    if (table_open(&t, out, "skipped", "Skipped inputs",
                   "Inputs that could not be used, and why. The rest was aggregated; il-aggregate exits with 3 "
                   "when this table is not empty.",
                   cols, 2))
        return -1;
    for (int i = 0; i < s->n; i++) {
        table_str(&t, s->e[i].path);
        table_str(&t, s->e[i].reason);
    }
    return table_commit(&t);
}
