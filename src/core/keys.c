#include "core/keys.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* Strings are read into fields of at most this many bytes with the NUL, paths expanded within it. */
enum { KEY_TEXT = 4096 };

const char *key_type_name(key_type_t t)
{
    static const char *names[] = {"int", "uint64", "float", "string", "yes/no", "words"};
    return names[t];
}

/* Shortest "%.*g" text that reads back to the same float: "0.001" rather than "0.00100000005". */
static void format_float(char *buf, size_t n, float v)
{
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        float back = strtof(buf, NULL);
        if (memcmp(&back, &v, sizeof v) == 0) return;
    }
}

void key_format(char *buf, size_t n, const keydef_t *k, const void *base)
{
    const char *p = (const char *)base + k->off;
    switch (k->type) {
    case KEY_INT: snprintf(buf, n, "%d", *(const int *)p); break;
    case KEY_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)p); break;
    case KEY_FLOAT: format_float(buf, n, *(const float *)p); break;
    case KEY_STR: snprintf(buf, n, "%s", p); break;
    case KEY_YESNO: snprintf(buf, n, "%s", *(const int *)p ? "yes" : "no"); break;
    case KEY_WORDS: snprintf(buf, n, "..."); break;
    }
}

static void format_range(char *buf, size_t n, const keydef_t *k)
{
    const char *fmt = k->type == KEY_FLOAT ? "%s%g, %g%s" : "%s%.0f, %.0f%s";
    snprintf(buf, n, fmt, k->flags & KEY_LO_OPEN ? "(" : "[", k->min, k->max, k->flags & KEY_HI_OPEN ? ")" : "]");
}

/* `pre` is "" or a location such as "a.ini:7: "; `text` is the value as the user wrote it. */
static int check_range(const keydef_t *k, double v, const char *text, const char *pre)
{
    int lo_ok = k->flags & KEY_LO_OPEN ? v > k->min : v >= k->min;
    int hi_ok = k->flags & KEY_HI_OPEN ? v < k->max : v <= k->max;
    if (lo_ok && hi_ok) return 0;
    char range[64];
    format_range(range, sizeof range, k);
    if (k->type == KEY_STR)
        return err_set("%s%s.%s: value has %.0f characters; allowed %s", pre, k->section, k->name, v, range);
    return err_set("%s%s.%s: '%s' is out of range %s", pre, k->section, k->name, text, range);
}

int key_matches(const char *pattern, const char *v)
{
    regex_t re;
    CHECK(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0, "bad pattern in a key table: %s", pattern);
    int ok = regexec(&re, v, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* A string key's value: one with a pattern must match it whole and fit its field; one without must have a
 * length in bounds and survive the INI writer, which cannot quote (inih trims whitespace, ';' starts a
 * comment). */
static int check_string(const keydef_t *k, const char *s, size_t len, const char *pre)
{
    if (k->pattern) {
        if (len >= k->size)
            return err_set("%s%s.%s: '%s': longer than %zu characters", pre, k->section, k->name, s, k->size - 1);
        if (!key_matches(k->pattern, s)) return err_set("%s%s.%s: '%s': use %s", pre, k->section, k->name, s, k->want);
        return 0;
    }
    CALL(check_range(k, (double)len, s, pre));
    int bad = len && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1]));
    for (size_t i = 0; i < len; i++) bad |= iscntrl((unsigned char)s[i]) || s[i] == ';';
    if (bad)
        return err_set("%s%s.%s: value contains ';', a control character or leading/trailing space", pre,
                       k->section, k->name);
    return 0;
}

int key_check(const keydef_t *k, const void *base)
{
    const char *p = (const char *)base + k->off;
    if (k->type == KEY_U64 || k->type == KEY_WORDS) return 0;
    if (k->type == KEY_STR) {
        size_t len = strnlen(p, k->size);
        if (len == k->size) return err_set("%s.%s: string is not terminated", k->section, k->name);
        return check_string(k, p, len, "");
    }
    char text[64];
    key_format(text, sizeof text, k, base);
    if (k->type == KEY_INT || k->type == KEY_YESNO) return check_range(k, *(const int *)p, text, "");
    if (!isfinite(*(const float *)p))
        return err_set("%s.%s: %s is not a finite number", k->section, k->name, text);
    return check_range(k, *(const float *)p, text, "");
}

int key_expand_env(const char *text, char *out, size_t n, const char *what)
{
    size_t len = 0;
    for (const char *p = text; *p;) {
        const char *piece = p;
        size_t piece_len = 1, name_len = p[0] == '$' && p[1] == '{' && (isalpha((unsigned char)p[2]) || p[2] == '_')
                                             ? strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
                                             : 0;
        if (name_len && p[2 + name_len] == '}') {
            char name[256];
            if (name_len >= sizeof name) return err_set("%s: a variable name of %zu characters", what, name_len);
            snprintf(name, sizeof name, "%.*s", (int)name_len, p + 2);
            if (!(piece = getenv(name))) return err_set("%s: ${%s} is not set", what, name);
            piece_len = strlen(piece);
            p += name_len + 3;
        } else {
            p++;
        }
        if (len + piece_len >= n)
            return err_set("%s: longer than %zu characters with its variables expanded", what, n - 1);
        memcpy(out + len, piece, piece_len);
        len += piece_len;
    }
    out[len] = '\0';
    return 0;
}

int key_parse(const keydef_t *k, void *base, const char *text, const char *pre, int expand)
{
    char *p = (char *)base + k->off, *end;
    errno = 0;
    switch (k->type) {
    case KEY_INT: {
        long v = strtol(text, &end, 10);
        if (end == text || *end || isspace((unsigned char)text[0]))
            return err_set("%s%s.%s: '%s' is not an integer", pre, k->section, k->name, text);
        /* On overflow strtol saturates to LONG_MIN/LONG_MAX, outside every bound in the table. */
        CALL(check_range(k, (double)v, text, pre));
        *(int *)p = (int)v;
        return 0;
    }
    case KEY_U64: {
        /* strtoull would quietly wrap "-1" to 2^64-1. */
        if (!isdigit((unsigned char)text[0]))
            return err_set("%s%s.%s: '%s' is not an unsigned integer", pre, k->section, k->name, text);
        unsigned long long v = strtoull(text, &end, 10);
        if (*end) return err_set("%s%s.%s: '%s' is not an unsigned integer", pre, k->section, k->name, text);
        if (errno == ERANGE)
            return err_set("%s%s.%s: '%s' does not fit in 64 bits", pre, k->section, k->name, text);
        *(uint64_t *)p = v;
        return 0;
    }
    case KEY_FLOAT: {
        float v = strtof(text, &end);
        if (end == text || *end || isspace((unsigned char)text[0]))
            return err_set("%s%s.%s: '%s' is not a number", pre, k->section, k->name, text);
        if (errno == ERANGE)
            return err_set("%s%s.%s: '%s' is beyond the range of a float", pre, k->section, k->name, text);
        if (!isfinite(v))
            return err_set("%s%s.%s: '%s' is not a finite number", pre, k->section, k->name, text);
        CALL(check_range(k, v, text, pre));
        *(float *)p = v;
        return 0;
    }
    case KEY_STR: {
        /* A string that passes fits the field; strncpy zero-fills the rest, so two equal structs are equal
         * byte for byte. */
        char expanded[KEY_TEXT], what[KEY_TEXT + 300];
        if (expand && k->flags & KEY_PATH && strstr(text, "${")) {
            snprintf(what, sizeof what, "%s%s.%s", pre, k->section, k->name);
            CALL(key_expand_env(text, expanded, k->size < sizeof expanded ? k->size : sizeof expanded, what));
            text = expanded;
        }
        CALL(check_string(k, text, strlen(text), pre));
        strncpy(p, text, k->size);
        return 0;
    }
    case KEY_YESNO:
        if (strcmp(text, "yes") && strcmp(text, "no"))
            return err_set("%s%s.%s: '%s': use yes or no", pre, k->section, k->name, text);
        *(int *)p = !strcmp(text, "yes");
        return 0;
    case KEY_WORDS: break;
    }
    CHECK(0, "%s.%s: a key its table's owner reads", k->section, k->name);
}

void key_defaults(const keydef_t *keys, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i].def)
            CHECK(key_parse(&keys[i], base, keys[i].def, "", 1) == 0, "bad default in a key table: %s", err_msg());
}

/* Names longer than this get no suggestion: no key is that long, and the table below stays on the stack. */
enum { KEY_NEAR_MAX = 64 };

/* The optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two adjacent
 * characters ("modle" -> "model"), each costing one. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int d[KEY_NEAR_MAX + 1][KEY_NEAR_MAX + 1];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

void key_suggest(char *buf, size_t n, const keydef_t *keys, size_t nk, const char *section, const char *name)
{
    buf[0] = '\0';
    size_t len = strlen(name);
    if (len >= KEY_NEAR_MAX) return;
    const keydef_t *best = NULL;
    int best_score = INT32_MAX, limit = len / 3 > 1 ? (int)(len / 3) : 1;
    for (size_t i = 0; i < nk; i++) {
        if (strlen(keys[i].name) >= KEY_NEAR_MAX) continue;
        int score = edit_distance(name, keys[i].name) + (strcmp(section, keys[i].section) != 0);
        if (score < best_score) best = &keys[i], best_score = score;
    }
    if (best && best_score <= limit) snprintf(buf, n, " (did you mean '%s.%s'?)", best->section, best->name);
}

/* Text in a table cell: a '|' would end the cell. */
static void put_cell(FILE *f, const char *s)
{
    for (; *s; s++) fprintf(f, *s == '|' ? "\\|" : "%c", *s);
}

void key_markdown(FILE *f, const keydef_t *keys, size_t n)
{
    fprintf(f, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const keydef_t *k = &keys[i];
        char range[600] = "";
        if (k->type == KEY_INT || k->type == KEY_FLOAT) {
            char r[64];
            format_range(r, sizeof r, k);
            snprintf(range, sizeof range, " Range %s.", r);
        } else if (k->pattern) {
            snprintf(range, sizeof range, " Use %s.", k->want);
        } else if (k->type == KEY_STR) {
            snprintf(range, sizeof range, " At most %.0f characters.", k->max);
        }
        fprintf(f, "| `%s.%s` | %s | %s%s%s | ", k->section, k->name, key_type_name(k->type), k->def ? "`" : "",
                k->def ? k->def : "none", k->def ? "`" : "");
        put_cell(f, k->help);
        fputc('.', f);
        put_cell(f, range);
        fputs(" |\n", f);
    }
}
