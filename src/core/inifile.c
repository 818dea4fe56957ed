#include "core/inifile.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "core/err.h"

/* What inih gets instead of a value too long for its buffer: a byte no INI text of ours contains. */
#define PARKED "\x01"

typedef struct {
    FILE *f;
    const char *path;
    inifile_fn fn;
    void *user;
    char *line;      /* getline's buffer */
    size_t cap;
    int lineno;
    int read_errno;
    int err_line;    /* first line with an error of the handler (or a line too long to pass); 0: none */
    char *parked;    /* the value of the current over-long line */
} ctx_t;

static char *skip_space(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    return s;
}

/* The value as inih would have passed it: an inline comment (';' after white space) cut off, then trimmed. */
static char *clean_value(char *v)
{
    v = skip_space(v);
    for (char *p = v; *p; p++)
        if (*p == ';' && p > v && isspace((unsigned char)p[-1])) {
            *p = '\0';
            break;
        }
    size_t n = strlen(v);
    while (n && isspace((unsigned char)v[n - 1])) v[--n] = '\0';
    return v;
}

static char *read_line(char *str, int num, void *stream)
{
    ctx_t *x = stream;
    ssize_t len = getline(&x->line, &x->cap, x->f);
    if (len < 0) {
        if (ferror(x->f)) x->read_errno = errno;
        return NULL;
    }
    x->lineno++;
    if (len + 1 <= num) {
        memcpy(str, x->line, (size_t)len + 1);
        return str;
    }
    /* too long for inih: a key line passes with its value parked; a comment passes as a blank line */
    char *t = skip_space(x->line), *eq = strpbrk(t, "=:");
    if (*t == ';' || *t == '#') {
        snprintf(str, (size_t)num, "\n");
    } else if (*t != '[' && eq && eq - t < num - 8) {
        free(x->parked);
        x->parked = err_strdup(eq + 1);
        snprintf(str, (size_t)num, "%.*s= " PARKED "\n", (int)(eq - t), t);
    } else {
        if (!x->err_line) {
            x->err_line = x->lineno;
            err_set("%s:%d: line too long (%zd characters) and not a key = value line", x->path, x->lineno, len);
        }
        snprintf(str, (size_t)num, "\n");
    }
    return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    ctx_t *x = user;
    if (x->err_line) return 1; /* keep the first error's message; inih reports the first failing line */
    const char *v = value;
    if (!strcmp(value, PARKED) && x->parked) v = clean_value(x->parked);
    if (x->fn(x->user, section, name, v, x->lineno) == 0) return 1;
    x->err_line = x->lineno;
    return 0;
}

int inifile_parse(FILE *f, const char *path, inifile_fn fn, void *user)
{
    ctx_t x = {.f = f, .path = path, .fn = fn, .user = user};
    int rc = ini_parse_stream(read_line, &x, on_key, &x);
    free(x.line);
    free(x.parked);
    CHECK(rc >= -1, "ini_parse_stream: out of memory");
    if (x.read_errno) return err_set("%s: read error: %s", path, strerror(x.read_errno));
    if (rc > 0 && (!x.err_line || rc < x.err_line)) return err_set("%s:%d: syntax error", path, rc);
    return x.err_line ? -1 : 0;
}
