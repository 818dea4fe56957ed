/* skips: what the aggregation could not use, and why. Every unreadable input becomes one entry (path and
 * one-line reason) instead of stopping the program; the entries become skipped.csv/md and the exit code.
 *
 * A list either prints its messages as they come (the sweep's) or, with `hold` set, keeps them (a run's,
 * processed on any MPI rank): skips_merge then prints them into the sweep's list, so that rank 0 says
 * everything in run order whichever rank read the run. */
#ifndef IL_AGG_SKIPS_H
#define IL_AGG_SKIPS_H

#include <stddef.h>

typedef struct {
    char *path, *reason;
} skip_t;

typedef struct {
    skip_t *e;
    int n, cap;
    int warnings; /* warnings (duplicated steps and the like): not failures */
    int hold;     /* 1: keep messages in `held` instead of printing them */
    char *held;   /* the held messages, each line as it would be printed */
    size_t held_len, held_cap;
} skips_t;

/* Records an entry and says "il-aggregate: skipped PATH: REASON". */
void skips_add(skips_t *s, const char *path, const char *reason);
/* Says "il-aggregate: warning: ..." and counts it. */
void skips_warn(skips_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends src's entries and warnings to dst and says src's held messages through dst. */
void skips_merge(skips_t *dst, const skips_t *src);
/* Writes <out>/skipped.csv and skipped.md (written even when empty, replacing an older one). Returns 0,
 * or -1 with err_set(). */
int skips_write(const skips_t *s, const char *out);
void skips_free(skips_t *s);

#endif
