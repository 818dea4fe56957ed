/* runcache: a finished run's reduced contribution (onerun.h: its row, held messages, statistics and
 * summary.nc curves, as message.h packs them for rank 0) kept in <run>/aggregate.cache, so that a
 * re-aggregation reads only the runs that are new or changed (docs/aggregate.md, "Run caches"; the format in
 * docs/formats.md).
 *
 * The cache is trusted only when its key equals the run's key now: this cache version, the trace schema and
 * the layout of what is cached, the run directory as named, and a fingerprint (size, modification time,
 * FNV-1a 64 of the first and last RUNCACHE_BLOCK bytes) of config.ini, metrics.jsonl, launches.jsonl, every
 * trace file and the validation data the run's baseline reads. Anything else (another version, a stale
 * key, a file cut short, a bad checksum) is ignored and rebuilt; a corrupt one says so in one line on
 * stderr. Only finished runs are cached: every trace file consolidated, the run's lock free, nothing
 * skipped. A run directory that cannot be written is aggregated as without a cache (one note per process). */
#ifndef IL_AGG_RUNCACHE_H
#define IL_AGG_RUNCACHE_H

#include "analysis/onerun.h"

#define RUNCACHE_NAME "aggregate.cache"
enum { RUNCACHE_VERSION = 1, RUNCACHE_BLOCK = 32768 };

/* 0: neither read nor write caches (--no-cache); on by default. */
void runcache_use(int on);
/* onerun_process(p, dir), or its result from the run's cache; a cacheable run's cache is (re)written. The
 * key's hash (made under --no-cache too) goes to p->sum.key, and p->sum.cached says that the run came from
 * its cache: what summary.nc's writer needs to copy the run's curves (sumreuse.h). */
void runcache_process(onerun_t *p, const char *dir);

/* What this process did: runs read from their inputs, runs taken from their caches, caches written. */
enum { RC_READ, RC_HIT, RC_WRITTEN, RC_N };
typedef struct {
    long n[RC_N];
} runcache_counts_t;
runcache_counts_t runcache_counts(void);

#endif
