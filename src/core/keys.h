/* keys: one engine for the project's key tables, the trainer's config keys (config.c) and a sweep spec's
 * [sweep] keys (src/sweep/spec.c). A table row says a key's type, field, default, bounds or pattern and help;
 * from it come reading a value with one-line errors naming the key, the defaults, the bounds checks and the
 * Markdown table of the documentation (README.md, docs/sweeps.md), which tests compare with the docs. */
#ifndef IL_KEYS_H
#define IL_KEYS_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    KEY_INT,   /* int, bounds [min, max] */
    KEY_U64,   /* uint64_t, unbounded */
    KEY_FLOAT, /* float, bounds [min, max] */
    KEY_STR,   /* char[size]: length bounds [min, max], or the whole value matches pattern */
    KEY_YESNO, /* int 0 or 1, written no or yes */
    KEY_WORDS, /* read by the table's owner (sbatch_args); the engine documents it only */
} key_type_t;

/* Flags: an open end of [min, max]; a path, whose ${VAR}s are expanded as it is read (key_expand_env). */
enum { KEY_LO_OPEN = 1, KEY_HI_OPEN = 2, KEY_PATH = 4 };

typedef struct {
    const char *section, *name;
    key_type_t type;
    size_t off, size;    /* the field in its struct; size: a string's capacity */
    const char *def;     /* the default as a file would spell it; NULL: none (zero, an empty string) */
    double min, max;     /* numbers: the bounds; strings without a pattern: the length bounds */
    int flags;
    const char *pattern; /* KEY_STR, KEY_WORDS: an extended regular expression the whole value must match */
    const char *want;    /* what the message asks for instead of a value that does not match */
    const char *help;
} keydef_t;

/* Reads text into k's field of the struct at base, refusing anything but a whole, in-range value, with a
 * one-line err_set() that starts with pre ("spec.ini:3: " or "") and names the key. expand: 0 leaves a path's
 * ${VAR}s as written. Returns 0 or -1. */
int key_parse(const keydef_t *k, void *base, const char *text, const char *pre, int expand);
/* The defaults of the n keys into the struct at base (all of it otherwise as it was). */
void key_defaults(const keydef_t *keys, size_t n, void *base);
/* Bounds of the value in the struct, for one filled in by code: 0, or -1 with err_set() naming the key. */
int key_check(const keydef_t *k, const void *base);
/* The value as a file spells it: the shortest float text that reads back the same ("0.001"). */
void key_format(char *buf, size_t n, const keydef_t *k, const void *base);
/* Whether the whole of v matches the pattern; a bad pattern in a table is fatal. */
int key_matches(const char *pattern, const char *v);
/* Copies text to out (n bytes) with every ${NAME} replaced by the environment variable NAME (letters, digits
 * and '_', not starting with a digit); anything else, a lone '$' included, stays as it is. Returns 0, or -1
 * with err_set() "WHAT: ${NAME} is not set" or when the result does not fit. */
int key_expand_env(const char *text, char *out, size_t n, const char *what);
/* The type as the documentation spells it: "int", "float", "string", ... */
const char *key_type_name(key_type_t t);
/* " (did you mean 'optim.lr'?)" into buf (n bytes) for an unknown key section.name: the key of the table
 * nearest to it, or "" when none is near enough. Nearness is the edit distance (adjacent transpositions
 * count one) between the names, plus one when the sections differ, so that train.lr finds optim.lr and
 * model.d_modle model.d_model; it must be at most a third of the name's length, and at least 1 is allowed. */
void key_suggest(char *buf, size_t n, const keydef_t *keys, size_t nk, const char *section, const char *name);
/* The Markdown table of the documentation: key, type, default, meaning with the bounds. */
void key_markdown(FILE *f, const keydef_t *keys, size_t n);

#endif
