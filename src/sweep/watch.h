/* watch: il-sweep status --watch, the sweep's table redrawn in place every few seconds, fitted to the
 * terminal, with each run's training loss and a sparkline of its trend, until every run has ended (done,
 * failed or preempted) or Ctrl-C. */
#ifndef IL_SWEEP_WATCH_H
#define IL_SWEEP_WATCH_H

#include <stddef.h>

/* The default seconds between redraws, and the bounds of --watch SECONDS. */
#define WATCH_DEFAULT_S 3.0
#define WATCH_MIN_S 0.2
#define WATCH_MAX_S 3600.0

/* The sparkline of v[0..n) into buf (size cap, NUL-terminated): one character per value from the lowest to
 * the highest of them, in eight levels: Unicode's ▁▂▃▄▅▆▇█ (utf8) or ASCII's _.-~=+*# otherwise; a value
 * that is not finite is a space. Returns its width in columns. */
int watch_sparkline(char *buf, size_t cap, const double *v, int n, int utf8);

/* il-sweep status DIR --watch SECONDS: the runs whose state is in `want`. Returns 0 when every run has ended
 * or on Ctrl-C (SIGINT, SIGTERM), with the cursor shown again; or SWEEPDIR_EINPUT with err_set(). */
int watch_sweep(const char *dir, unsigned want, double seconds);

#endif
