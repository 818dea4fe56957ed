#include "core/jsonl.h"

#include <stdlib.h>
#include <string.h>

enum { KEY_MAX = 256 };

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    return p;
}

/* A string at p (at its opening quote) into buf; returns the position after it, NULL when malformed. Escapes
 * other than \uXXXX are decoded; \uXXXX becomes '?', which no key or genre name of ours contains. */
static const char *string(const char *p, char *buf, size_t n)
{
    if (*p++ != '"') return NULL;
    size_t k = 0;
    for (; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\') {
            c = *++p;
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *at = c ? strchr(from, c) : NULL;
            if (at) c = to[at - from];
            else if (c == 'u' && strlen(p) >= 5) c = '?', p += 4;
            else return NULL;
        }
        if (k + 1 < n) buf[k++] = c;
    }
    buf[k] = '\0';
    return *p == '"' ? p + 1 : NULL;
}

static const char *object(const char *p, const char *parent, int depth, jsonl_fn fn, void *user)
{
    p = ws(p);
    if (*p++ != '{') return NULL;
    p = ws(p);
    if (*p == '}') return p + 1;
    for (;;) {
        char key[KEY_MAX], str[KEY_MAX];
        if (!(p = string(ws(p), key, sizeof key))) return NULL;
        p = ws(p);
        if (*p++ != ':') return NULL;
        p = ws(p);
        if (*p == '{') {
            if (depth > 0 || !(p = object(p, key, depth + 1, fn, user))) return NULL;
        } else if (*p == '"') {
            if (!(p = string(p, str, sizeof str))) return NULL;
            fn(user, parent, key, JSON_STR, 0, str);
        } else if (!strncmp(p, "null", 4)) {
            fn(user, parent, key, JSON_NULL, 0, NULL), p += 4;
        } else if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5)) {
            fn(user, parent, key, JSON_BOOL, *p == 't', NULL), p += *p == 't' ? 4 : 5;
        } else {
            char *end;
            double v = strtod(p, &end);
            if (end == p) return NULL;
            fn(user, parent, key, JSON_NUM, v, NULL), p = end;
        }
        p = ws(p);
        if (*p == '}') return p + 1;
        if (*p++ != ',') return NULL;
    }
}

int jsonl_parse(const char *line, jsonl_fn fn, void *user)
{
    const char *p = object(line, NULL, 0, fn, user);
    return p && !*ws(p) ? 0 : -1;
}
