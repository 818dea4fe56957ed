#include "sweep/grow.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* What names a run's place rather than its experiment: left out when a directory's run is compared. */
static const char *const place[] = {"run.name", "run.out_dir", NULL};

/* An expanded run by its name or by its experiment's hash, sorted for bsearch. */
typedef struct {
    uint64_t hash;
    const char *name;
    int run;
} entry_t;

static int by_name(const void *a, const void *b) { return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name); }

static int by_hash(const void *a, const void *b)
{
    uint64_t x = ((const entry_t *)a)->hash, y = ((const entry_t *)b)->hash;
    return (x > y) - (x < y);
}

/* "model.d_model=64 train.seed=2": row r of the manifest by its axis columns. */
static void describe_row(const tsv_t *t, int r, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int c = 2; c < t->cols && len < n; c++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", c > 2 ? " " : "", t->cell[c], t->cell[r * t->cols + c]);
}

/* The first run not yet matched whose values are row r's for every axis both the manifest and the spec have:
 * what a changed spec made of the row's run. -1: none. */
static int same_values(const spec_t *s, const spec_run_t *runs, int n, const int *taken, const tsv_t *t, int r)
{
    for (int j = 0; j < n; j++) {
        int same = !taken[j];
        for (int c = 2; c < t->cols && same; c++)
            for (int a = 0; a < s->n_axes; a++)
                if (!strcmp(s->axes[a].key, t->cell[c])) same = !strcmp(runs[j].values[a], t->cell[r * t->cols + c]);
        if (same) return j;
    }
    return -1;
}

/* runs[k] becomes what runs[perm[k]] was, for every k, in place: a sweep's runs may take gigabytes. */
static void permute(spec_run_t *runs, int *perm, int n)
{
    spec_run_t *spare = err_calloc(1, sizeof *spare);
    for (int k = 0; k < n; k++) {
        if (perm[k] == k) continue;
        *spare = runs[k];
        int cur = k;
        while (perm[cur] != k) {
            int src = perm[cur];
            runs[cur] = runs[src];
            perm[cur] = cur;
            cur = src;
        }
        runs[cur] = *spare;
        perm[cur] = cur;
    }
    free(spare);
    for (int k = 0; k < n; k++) runs[k].index = k;
}

/* The untaken run whose experiment is the saved config's, found by hash (table sorted by_hash): -1 if none. */
static int same_experiment(const entry_t *table, int n, const spec_run_t *runs, const int *taken, const config_t *saved)
{
    entry_t key = {spec_experiment_hash(saved), NULL, 0};
    const entry_t *e = bsearch(&key, table, (size_t)n, sizeof *table, by_hash);
    if (!e) return -1;
    while (e > table && e[-1].hash == key.hash) e--;
    char diff[64];
    for (; e < table + n && e->hash == key.hash; e++)
        if (!taken[e->run] && !config_diff(saved, &runs[e->run].cfg, place, diff, sizeof diff)) return e->run;
    return -1;
}

int grow_merge(const sweepdir_t *w, const char *spec_path, spec_run_t *runs, int n, grow_t *g)
{
    char path[PATH_MAX + 64];
    sweepdir_path(w, path, sizeof path, "manifest.tsv");
    tsv_t t;
    CALL(sweepdir_manifest_read(&t, path));
    memset(g, 0, sizeof *g);
    int m = t.rows - 1, rc = 0;
    int *perm = err_calloc((size_t)n + 1, sizeof *perm), *taken = err_calloc((size_t)n + 1, sizeof *taken);
    entry_t *names = err_calloc((size_t)n + 1, sizeof *names), *hashes = NULL;
    for (int j = 0; j < n; j++) names[j] = (entry_t){0, runs[j].cfg.name, j};
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < m && rc == 0; i++) {
        const char *index = t.cell[(i + 1) * t.cols], *name = t.cell[(i + 1) * t.cols + 1];
        char want[16], values[2048], cfg_path[PATH_MAX + 300], diff[CONFIG_STR + 160];
        snprintf(want, sizeof want, "%d", i);
        describe_row(&t, i + 1, values, sizeof values);
        if (strcmp(index, want)) {
            rc = err_set("%s:%d: run index '%s' where %d belongs", path, i + 2, index, i);
            break;
        }
        entry_t key = {0, name, 0}, *e = bsearch(&key, names, (size_t)n, sizeof *names, by_name);
        int j = e && !taken[e->run] ? e->run : -1;
        if (j < 0 && w->spec.probe_line) {
            /* a probe run's name holds all of its arguments: one not found is one the spec changed or lost */
            rc = err_set("%s: run %d (%s%s%s) is not among the runs %s expands to (a path removed, or a [probe] key "
                         "changed?); a sweep keeps its runs: submit it with another sweep name or --out", path, i, name,
                         *values ? ", " : "", values, spec_path);
            break;
        }
        if (j < 0) {
            /* not by name: an older build's name, or a run the spec changed or lost */
            config_t saved;
            config_defaults(&saved);
            config_mark_absent(&saved); /* a key the config lacks meant the behaviour from before it */
            snprintf(cfg_path, sizeof cfg_path, "%s/configs/%s.ini", w->dir, name);
            if (config_load(&saved, cfg_path)) {
                rc = err_prefix("%s: run %d (%s)", path, i, name);
                break;
            }
            if (!hashes) {
                hashes = err_calloc((size_t)n + 1, sizeof *hashes);
                for (int k = 0; k < n; k++) hashes[k] = (entry_t){spec_experiment_hash(&runs[k].cfg), NULL, k};
                qsort(hashes, (size_t)n, sizeof *hashes, by_hash);
            }
            j = same_experiment(hashes, n, runs, taken, &saved);
            if (j >= 0) {
                g->renamed++; /* it keeps its name, given below: names[] still points at the new one */
            } else {
                int near = same_values(&w->spec, runs, n, taken, &t, i + 1);
                if (near >= 0 && config_diff(&saved, &runs[near].cfg, place, diff, sizeof diff))
                    rc = err_set("%s: run %d (%s%s%s) would change: %s; a sweep keeps its runs as they are: submit %s "
                                 "with another sweep name or --out", path, i, name, *values ? ", " : "", values, diff,
                                 spec_path);
                else
                    rc = err_set("%s: run %d (%s%s%s) is not among the runs %s expands to (a value removed?); a "
                                 "sweep keeps its runs: submit it with another sweep name or --out", path, i, name,
                                 *values ? ", " : "", values, spec_path);
                break;
            }
        }
        taken[j] = 1;
        perm[i] = j;
    }
    if (rc == 0) {
        for (int i = 0; i < m; i++)
            snprintf(runs[perm[i]].cfg.name, sizeof runs[perm[i]].cfg.name, "%s", t.cell[(i + 1) * t.cols + 1]);
        int k = m;
        for (int j = 0; j < n; j++)
            if (!taken[j]) perm[k++] = j;
        permute(runs, perm, n);
        g->existing = m;
    }
    free(perm);
    free(taken);
    free(names);
    free(hashes);
    tsv_free(&t);
    return rc;
}
