/* jsonl: the one-object-per-line JSON of metrics.jsonl and launches.jsonl. Enough JSON for those files: an
 * object of strings, numbers, true/false/null and objects nested one level deep (by_category); arrays are
 * not used there and are rejected. */
#ifndef IL_AGG_JSONL_H
#define IL_AGG_JSONL_H

typedef enum { JSON_NUM, JSON_NULL, JSON_BOOL, JSON_STR } json_kind_t;

/* Called for every scalar member: parent is NULL at the top level, else the key of the enclosing object.
 * num holds numbers and booleans (1/0); str holds strings (unescaped, NUL-terminated). */
typedef void (*jsonl_fn)(void *user, const char *parent, const char *key, json_kind_t kind, double num,
                         const char *str);

/* Parses one line. Returns 0, or -1 when the line is not such an object (the callback may have been called
 * for members before the error). */
int jsonl_parse(const char *line, jsonl_fn fn, void *user);

#endif
