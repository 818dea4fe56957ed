#include "analysis/onerun.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "analysis/curves.h"
#include "analysis/timings.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/metrics.h"

/* Reads config.ini into cfg; returns 1 when there is a usable one. */
static int load_config(skips_t *sk, const char *dir, config_t *cfg)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/config.ini", dir);
    if (stat(path, &st) != 0) return 0;
    config_defaults(cfg);
    config_mark_absent(cfg); /* a saved config: what it lacks meant the behaviour from before the key */
    if (config_load(cfg, path) == 0) return 1;
    skips_add(sk, path, err_msg());
    return 0;
}

void onerun_process(onerun_t *p, const char *dir)
{
    double t = clock_seconds();
    memset(p, 0, sizeof *p);
    p->skips.hold = 1;
    config_t cfg;
    int have_cfg = load_config(&p->skips, dir, &cfg);
    metrics_t m;
    int have_m = metrics_read(&m, dir, have_cfg ? cfg.max_steps : 0);
    char path[4200], reason[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (have_m < 0) skips_add(&p->skips, dir, err_msg()); /* the message names metrics.jsonl or launches.jsonl */
    if (have_m > 0 && m.bad_lines) {
        snprintf(reason, sizeof reason, "%d malformed line(s), the first at line %d (%s); the other lines were used",
                 m.bad_lines, m.first_bad, m.bad_reason);
        skips_add(&p->skips, path, reason);
    }
    if (have_m > 0 && m.out_of_order) {
        snprintf(reason, sizeof reason, "%d line(s) out of order, the first at line %d (%s); the other lines were used",
                 m.out_of_order, m.first_out_of_order, m.order_reason);
        skips_add(&p->skips, path, reason);
    }
    curves_t c;
    int used = curves_load(&c, dir, have_cfg ? &cfg : NULL, &p->skips);
    t = timings_lap(TM_READ, t);
    runs_fill(&p->row, dir, have_cfg ? &cfg : NULL, have_m > 0 ? &m : NULL, used ? &c : NULL, &p->skips);
    /* never trained here, weights from elsewhere: a model whose replicates are other models, not seeds */
    if (have_m == 0 && m.launch_source[0]) p->row.source = err_strdup(m.launch_source);
    p->has_stats = used && c.n_rec;
    if (p->has_stats) {
        runstats_compute(&p->stat, &c);
        summary_run_make(&p->sum, &c);
    }
    curves_free(&c);
    timings_lap(TM_REDUCE, t);
}

void onerun_free(onerun_t *p)
{
    runs_free(&p->row);
    skips_free(&p->skips);
    runstats_free(&p->stat);
    summary_run_free(&p->sum);
}
