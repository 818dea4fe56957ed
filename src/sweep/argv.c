#include "sweep/argv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void argv_add(argv_t *a, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    a->v = realloc(a->v, (size_t)(a->n + 2) * sizeof *a->v);
    CHECK(len >= 0 && a->v && (a->v[a->n] = malloc((size_t)len + 1)), "out of memory");
    vsnprintf(a->v[a->n], (size_t)len + 1, fmt, again);
    va_end(again);
    va_end(ap);
    a->v[++a->n] = NULL;
}

void argv_free(argv_t *a)
{
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

static void print_arg(const char *s)
{
    int plain = *s != '\0';
    for (const char *p = s; *p; p++)
        plain &= !!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%,+-", *p);
    if (plain) {
        fputs(s, stdout);
        return;
    }
    putchar('\'');
    for (const char *p = s; *p; p++) *p == '\'' ? fputs("'\\''", stdout) : putchar(*p);
    putchar('\'');
}

void argv_print(const argv_t *a)
{
    for (int i = 0; i < a->n; i++) {
        if (i) putchar(' ');
        print_arg(a->v[i]);
    }
    putchar('\n');
}
