#include "analysis/curves.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/stats.h"

typedef struct {
    int rank, seg;
    char path[4096];
} fname_t;

/* One kept record: file index and record index. */
typedef struct {
    int64_t step;
    int file, rec, order;
} item_t;

static int cmp_fname(const void *a, const void *b)
{
    const fname_t *x = a, *y = b;
    return x->rank != y->rank ? (x->rank > y->rank) - (x->rank < y->rank) : (x->seg > y->seg) - (x->seg < y->seg);
}

/* by step, then by the order the records were collected (segment order), so the last of equals is the later */
static int cmp_item(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    if (x->step != y->step) return (x->step > y->step) - (x->step < y->step);
    return (x->order > y->order) - (x->order < y->order);
}

/* "rankRRRR.segSSSS.nc" with R and S of 4 to 7 digits; -1 for any other name. */
static int parse_name(const char *name, int *rank, int *seg)
{
    const char *p = name;
    int *out[2] = {rank, seg};
    const char *const lead[2] = {"rank", ".seg"};
    for (int i = 0; i < 2; i++) {
        if (strncmp(p, lead[i], 4)) return -1;
        p += 4;
        int digits = 0;
        long v = 0;
        for (; *p >= '0' && *p <= '9'; p++, digits++) v = v * 10 + (*p - '0');
        if (digits < 4 || digits > 7) return -1;
        *out[i] = (int)v;
    }
    return strcmp(p, ".nc") ? -1 : 0;
}

static int list_files(const char *tdir, fname_t **out)
{
    DIR *d = opendir(tdir);
    if (!d) return -1;
    int n = 0, cap = 0;
    fname_t *f = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        int r, s;
        size_t len = strlen(e->d_name);
        /* a name like a trace's that does not parse is listed with rank -1, to be reported */
        if (parse_name(e->d_name, &r, &s) && (strncmp(e->d_name, "rank", 4) || len < 7 || strcmp(e->d_name + len - 3, ".nc")))
            continue;
        if (parse_name(e->d_name, &r, &s)) r = -1, s = -1;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            f = realloc(f, (size_t)cap * sizeof *f);
            CHECK(f, "out of memory");
        }
        f[n].rank = r, f[n].seg = s;
        /* a path too long to hold is not listed: tread_t could not name it either */
        if (snprintf(f[n].path, sizeof f[n].path, "%s/%s", tdir, e->d_name) < (int)sizeof f[n].path) n++;
    }
    closedir(d);
    if (n) qsort(f, (size_t)n, sizeof *f, cmp_fname);
    *out = f;
    return n;
}

/* Whether file g fits its name, the run's config.ini (cfg, may be NULL) and the run defined by the reference
 * file r (NULL for the first); otherwise err_set() the reason. */
static int consistent(const tread_t *r, const tread_t *g, const fname_t *name, const config_t *cfg)
{
    if (g->rank != name->rank || g->segment != name->seg)
        return err_set("foreign: attributes say rank %d segment %d, the file name rank %d segment %d", g->rank,
                       g->segment, name->rank, name->seg);
    if (cfg) {
        const struct {
            int p;
            double want;
        } same[] = {{TP_N_LAYER, cfg->n_layer}, {TP_SEQ_LEN, cfg->seq_len}, {TP_D_MODEL, cfg->d_model},
                    {TP_N_HEAD, cfg->n_head}, {TP_MAX_STEPS, cfg->max_steps}, {TP_GLOBAL_BATCH, cfg->global_batch}};
        for (size_t i = 0; i < sizeof same / sizeof *same; i++)
            if (g->param[same[i].p].d != same[i].want)
                return err_set("foreign: %s = %g in the file, %g in the run's config.ini", trace_params[same[i].p].name,
                               g->param[same[i].p].d, same[i].want);
    }
    if (!r) return 0;
    if (g->L != r->L || g->T != r->T || g->n_bucket != r->n_bucket)
        return err_set("foreign: depth %d, position %d, bucket %d differ from %s (%d, %d, %d)", g->L + 1, g->T,
                       g->n_bucket, r->path, r->L + 1, r->T, r->n_bucket);
    if (memcmp(g->bucket, r->bucket, (size_t)r->n_bucket * sizeof *r->bucket))
        return err_set("foreign: frequency buckets differ from %s", r->path);
    return 0;
}

/* Files expected but absent: every segment that has any usable file should have one per rank of its world.
 * One entry per segment names the absent ranks as ranges, so the work follows the files present, not a
 * world size a file claims. names are sorted by rank, then segment. */
static void report_missing(const fname_t *names, int n, const tread_t *files, const int *ok, skips_t *sk)
{
    for (int i = 0; i < n; i++) {
        if (!ok[i]) continue;
        int seg = names[i].seg, world = files[i].world_size, first = 1, absent = 0, next = 0;
        for (int j = 0; j < i; j++) first &= !(ok[j] && names[j].seg == seg);
        if (!first) continue;
        char ranges[256] = "";
        size_t len = 0;
        /* walk the ranks present in this segment (in order) and note the gaps between them */
        for (int j = 0; j <= n; j++) {
            int r = j < n ? names[j].rank : world;
            if (j < n && (names[j].seg != seg || r >= world || r < next)) continue;
            if (r > next) {
                absent += r - next;
                if (len < sizeof ranges - 32)
                    len += (size_t)snprintf(ranges + len, sizeof ranges - len, r - 1 > next ? "%s%d-%d" : "%s%d",
                                            len ? ", " : "", next, r - 1);
                else if (len < sizeof ranges - 4)
                    len += (size_t)snprintf(ranges + len, sizeof ranges - len, ", ...");
            }
            next = r + 1;
        }
        if (!absent) continue;
        char path[4200], reason[512];
        const char *slash = strrchr(names[i].path, '/');
        snprintf(path, sizeof path, "%.*s/rank*.seg%04d.nc", (int)(slash - names[i].path), names[i].path, seg);
        snprintf(reason, sizeof reason, "missing: segment %d was written by %d ranks; the files of %d are absent (rank%s %s)",
                 seg, world, absent, absent > 1 ? "s" : "", ranges);
        skips_add(sk, path, reason);
    }
}

/* The first step a later launch replayed: the smallest start_step of any later segment, INT64_MAX if none. */
static int64_t cut_of(int seg, const fname_t *names, const tread_t *files, const int *ok, int n)
{
    int64_t cut = INT64_MAX;
    for (int j = 0; j < n; j++)
        if (ok[j] && names[j].seg > seg && files[j].start_step < cut) cut = files[j].start_step;
    return cut;
}

/* The records of one rank after the segment rule and deduplication, sorted by step; returns the count. */
static int rank_items(const char *run_dir, int rank, const fname_t *names, const tread_t *files, const int *ok, int n,
                      int *warned_seg, skips_t *sk, item_t *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!ok[i] || names[i].rank != rank) continue;
        int64_t cut = cut_of(names[i].seg, names, files, ok, n);
        int dropped = 0;
        for (size_t k = 0; k < files[i].n_rec; k++) {
            if (files[i].step[k] >= cut) {
                dropped++;
                continue;
            }
            out[m] = (item_t){files[i].step[k], i, (int)k, m};
            m++;
        }
        if (dropped && !warned_seg[i]) {
            skips_warn(sk, "%s: %d trace steps of segment %d (from step %lld) are repeated by a later launch that "
                           "restarted at step %lld; keeping the later records", run_dir, dropped, names[i].seg,
                       (long long)cut, (long long)cut);
            for (int j = 0; j < n; j++) warned_seg[j] |= names[j].seg == names[i].seg;
        }
    }
    qsort(out, (size_t)m, sizeof *out, cmp_item);
    int u = 0, dups = 0;
    for (int i = 0; i < m; i++) {
        if (u && out[u - 1].step == out[i].step) {
            if (!dups++)
                skips_warn(sk, "%s: rank %d: step %lld appears twice (%s record %d and %s record %d); keeping the later",
                           run_dir, rank, (long long)out[i].step, files[out[u - 1].file].path, out[u - 1].rec,
                           files[out[i].file].path, out[i].rec);
            out[u - 1] = out[i];
        } else {
            out[u++] = out[i];
        }
    }
    return u;
}

static double weight_of(const tread_t *f, int rec, trace_weight_t w, size_t e, int nb)
{
    switch (w) {
    case W_GLOBAL: return 1;
    case W_BATCH: return (double)f->batch[rec];
    case W_TOKENS: return (double)f->batch[rec] * f->T; /* tokens = B*T (schema) */
    case W_BUCKET: return (double)f->bucket_tokens[(size_t)rec * nb + e % (size_t)nb];
    case W_NONE: break;
    }
    return 0;
}

static int find_step(const int64_t *steps, int n, int64_t s)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (steps[mid] < s) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

size_t curves_len(const curves_t *c, int k)
{
    return trace_shape_len(trace_vars[k].shape, c->L, c->T, c->n_bucket, c->n_sv);
}

static void merge(curves_t *c, const tread_t *files, item_t *const *items, const int *n_items, int n_ranks)
{
    int L = c->L, T = c->T, nb = c->n_bucket, n = c->n_rec;
    double *wsum[TV_N] = {0};
    for (int k = 0; k < TV_N; k++) {
        if (trace_vars[k].weight == W_NONE) continue;
        size_t len = (size_t)n * curves_len(c, k);
        c->v[k] = err_calloc(len, sizeof *c->v[k]);
        wsum[k] = err_calloc(len, sizeof *wsum[k]);
    }
    size_t D = (size_t)L + 1;
    double *lo = err_calloc((size_t)n * D, sizeof *lo), *hi = err_calloc((size_t)n * D, sizeof *hi);
    for (size_t i = 0; i < (size_t)n * D; i++) lo[i] = INFINITY, hi[i] = -INFINITY;
    for (int r = 0; r < n_ranks; r++)
        for (int j = 0; j < n_items[r]; j++) {
            const item_t *it = &items[r][j];
            const tread_t *f = &files[it->file];
            int s = find_step(c->step, n, it->step);
            for (int k = 0; k < TV_N; k++) {
                if (trace_vars[k].weight == W_NONE) continue;
                size_t len = curves_len(c, k);
                const double *x = f->v[k] + (size_t)it->rec * len;
                double *sum = c->v[k] + (size_t)s * len, *ws = wsum[k] + (size_t)s * len;
                for (size_t e = 0; e < len; e++) {
                    double w = weight_of(f, it->rec, trace_vars[k].weight, e, nb);
                    if (isfinite(x[e]) && w > 0) sum[e] += w * x[e], ws[e] += w;
                }
            }
            const double *norm = f->v[TV_NORM] + (size_t)it->rec * D * T;
            for (size_t l = 0; l < D; l++) {
                double m = stats_mean(norm + l * T, T, 1);
                if (!isfinite(m)) continue;
                lo[s * D + l] = fmin(lo[s * D + l], m);
                hi[s * D + l] = fmax(hi[s * D + l], m);
            }
        }
    for (int k = 0; k < TV_N; k++) {
        if (trace_vars[k].weight == W_NONE) continue;
        size_t len = (size_t)n * curves_len(c, k);
        for (size_t e = 0; e < len; e++) c->v[k][e] = wsum[k][e] > 0 ? c->v[k][e] / wsum[k][e] : NAN;
        free(wsum[k]);
    }
    c->norm_spread = lo;
    for (size_t i = 0; i < (size_t)n * D; i++) lo[i] = hi[i] >= lo[i] ? hi[i] - lo[i] : NAN;
    free(hi);
}

int curves_load(curves_t *c, const char *run_dir, const config_t *cfg, skips_t *sk)
{
    memset(c, 0, sizeof *c);
    char tdir[4200];
    snprintf(tdir, sizeof tdir, "%s/trace", run_dir);
    fname_t *names = NULL;
    int n = list_files(tdir, &names);
    if (n <= 0) {
        skips_add(sk, tdir, n < 0 ? "no trace directory: no signals for this run" : "no trace files");
        free(names);
        return 0;
    }
    tread_t *files = err_calloc((size_t)n, sizeof *files);
    int *ok = err_calloc((size_t)n, sizeof *ok), *warned = err_calloc((size_t)n, sizeof *warned), ref = -1;
    for (int i = 0; i < n; i++) {
        if (names[i].rank < 0) {
            skips_add(sk, names[i].path, "foreign: not a trace file name (rankRRRR.segSSSS.nc, 4 to 7 digits each)");
            continue;
        }
        ok[i] = tread_file(&files[i], names[i].path) == 0 &&
                consistent(ref < 0 ? NULL : &files[ref], &files[i], &names[i], cfg) == 0;
        if (!ok[i]) {
            skips_add(sk, names[i].path, err_msg());
            tread_free(&files[i]);
        } else if (ref < 0) {
            ref = i;
        }
    }
    int used = 0;
    if (ref >= 0) {
        report_missing(names, n, files, ok, sk);
        int n_ranks = 0, total = 0;
        for (int i = 0; i < n; i++)
            if (ok[i]) n_ranks = names[i].rank + 1, total += (int)files[i].n_rec;
        item_t **items = err_calloc((size_t)n_ranks, sizeof *items);
        int *n_items = err_calloc((size_t)n_ranks, sizeof *n_items);
        for (int r = 0; r < n_ranks; r++) {
            int mine = 0;
            for (int i = 0; i < n; i++) mine += ok[i] && names[i].rank == r ? (int)files[i].n_rec : 0;
            items[r] = err_calloc((size_t)mine, sizeof **items);
            n_items[r] = rank_items(run_dir, r, names, files, ok, n, warned, sk, items[r]);
        }
        /* the union of every rank's steps */
        item_t *all = err_calloc((size_t)total, sizeof *all);
        int m = 0;
        for (int r = 0; r < n_ranks; r++)
            for (int j = 0; j < n_items[r]; j++) all[m] = items[r][j], all[m].order = m, m++;
        qsort(all, (size_t)m, sizeof *all, cmp_item);
        const tread_t *rf = &files[ref];
        c->L = rf->L, c->T = rf->T, c->n_bucket = rf->n_bucket, c->n_sv = rf->n_sv;
        memcpy(c->param, rf->param, sizeof c->param);
        snprintf(c->run_name, sizeof c->run_name, "%s", rf->run_name);
        c->bucket = err_calloc((size_t)c->n_bucket, sizeof *c->bucket);
        memcpy(c->bucket, rf->bucket, (size_t)c->n_bucket * sizeof *c->bucket);
        c->step = err_calloc((size_t)(m ? m : 1), sizeof *c->step);
        for (int j = 0; j < m; j++)
            if (!c->n_rec || c->step[c->n_rec - 1] != all[j].step) c->step[c->n_rec++] = all[j].step;
        free(all);
        for (int i = 0; i < n; i++) {
            if (!ok[i]) continue;
            used++;
            if (files[i].world_size > c->world_size) c->world_size = files[i].world_size;
        }
        c->param[TP_WORLD_SIZE].i = c->world_size, c->param[TP_WORLD_SIZE].d = c->world_size;
        merge(c, files, items, n_items, n_ranks);
        for (int r = 0; r < n_ranks; r++) free(items[r]);
        free(items);
        free(n_items);
    }
    for (int i = 0; i < n; i++) tread_free(&files[i]);
    free(files);
    free(ok);
    free(warned);
    free(names);
    return used;
}

void curves_free(curves_t *c)
{
    free(c->bucket);
    free(c->step);
    free(c->norm_spread);
    for (int k = 0; k < TV_N; k++) free(c->v[k]);
    memset(c, 0, sizeof *c);
}
