/* skips: what the aggregation could not use, and why. Every unreadable input becomes one entry (path and
 * one-line reason) instead of stopping the program; the entries become skipped.csv/md and the exit code. */
#ifndef IL_AGG_SKIPS_H
#define IL_AGG_SKIPS_H

typedef struct {
    char *path, *reason;
} skip_t;

typedef struct {
    skip_t *e;
    int n, cap;
    int warnings; /* warnings printed (duplicated steps and the like): not failures */
} skips_t;

void skips_add(skips_t *s, const char *path, const char *reason);
/* Prints "il-aggregate: warning: ..." on stderr and counts it. */
void skips_warn(skips_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes <out>/skipped.csv and skipped.md (written even when empty, replacing an older one). Returns 0,
 * or -1 with err_set(). */
int skips_write(const skips_t *s, const char *out);
void skips_free(skips_t *s);

#endif
