/* acdd: the discovery metadata of every NetCDF file innerloop writes (trace segments, consolidated traces,
 * summary.nc): the CF-1.10 and ACDD-1.3 global attributes, in one place so the files agree.
 *
 * Who made a file comes from the environment of the process that writes it, so a cluster's job scripts can
 * set it once: IL_CREATOR_NAME (default: the login name), IL_CREATOR_EMAIL and IL_CREATOR_URL (left out
 * when unset), IL_INSTITUTION and IL_LICENSE (default "not specified": a dataset without a stated license
 * is not thereby free to reuse). */
#ifndef IL_ACDD_H
#define IL_ACDD_H

#include <stddef.h>

typedef struct {
    const char *id;      /* the run name, or the sweep's output directory */
    const char *title;
    const char *summary;
    const char *command; /* for the history attribute; may be NULL */
} acdd_t;

/* Writes the global attributes (define mode): Conventions, title, summary, keywords, id, history,
 * date_created, source, creator_*, institution, license, references, product_version. Aborts (CHECK_RC)
 * on a netCDF error. */
void acdd_put(int ncid, const acdd_t *a);

/* time_coverage_start and time_coverage_end as ISO-8601 UTC from seconds since 1970 (define mode); end may
 * be NaN (not known yet: a file being written). */
void acdd_time_coverage(int ncid, double start, double end);

/* Seconds since 1970-01-01 UTC as ISO-8601 ("2024-01-01T00:00:00Z") into buf. */
void acdd_iso(double seconds, char *buf, size_t n);

#endif
