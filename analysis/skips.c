#include "skips.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "table.h"

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = err_calloc(n, 1);
    memcpy(d, s, n);
    return d;
}

void skips_add(skips_t *s, const char *path, const char *reason)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->e = realloc(s->e, (size_t)s->cap * sizeof *s->e);
        CHECK(s->e, "out of memory");
    }
    s->e[s->n++] = (skip_t){dup(path), dup(reason)};
    fprintf(stderr, "il-aggregate: skipped %s: %s\n", path, reason);
}

void skips_warn(skips_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("il-aggregate: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    s->warnings++;
}

void skips_free(skips_t *s)
{
    for (int i = 0; i < s->n; i++) free(s->e[i].path), free(s->e[i].reason);
    free(s->e);
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
