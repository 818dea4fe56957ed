#include "analysis/curves.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/stats.h"
#include "run/experiment.h"
#include "run/rundir.h"
#include "trace/segrule.h"

typedef struct {
    int rank, seg, world; /* world: P of a consolidated rankRRRR.ofPPPP.nc, else 0 (the name does not say) */
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

/* `lead` and a number of 4 to 7 digits at *p into *out, moving *p past them; -1 (*p unmoved) if not there. */
static int number(const char **p, const char *lead, int *out)
{
    size_t n = strlen(lead);
    if (strncmp(*p, lead, n)) return -1;
    const char *q = *p + n;
    int digits = 0;
    long v = 0;
    for (; *q >= '0' && *q <= '9'; q++, digits++) v = v * 10 + (*q - '0');
    if (digits < 4 || digits > 7) return -1;
    *out = (int)v, *p = q;
    return 0;
}

/* "rankRRRR.segSSSS.nc", the consolidated "rankRRRR.nc" (seg -1), or "rankRRRR.ofPPPP.nc", consolidated
 * from launches of P ranks (seg -1, world P; consolidate.h), each number of 4 to 7 digits; -1 for any other
 * name. */
static int parse_name(const char *name, int *rank, int *seg, int *world)
{
    const char *p = name;
    *seg = -1, *world = 0;
    if (number(&p, "rank", rank)) return -1;
    int bad = 0;
    if (!strncmp(p, ".seg", 4)) bad = number(&p, ".seg", seg);
    else if (!strncmp(p, ".of", 3)) bad = number(&p, ".of", world) || *world < 1;
    return bad || strcmp(p, ".nc") ? -1 : 0;
}

static int list_files(const char *tdir, fname_t **out)
{
    DIR *d = opendir(tdir);
    if (!d) return -1;
    int n = 0, cap = 0;
    fname_t *f = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        int r, s, w;
        size_t len = strlen(e->d_name);
        /* a name like a trace's that does not parse is listed with rank -1, to be reported */
        int bad = parse_name(e->d_name, &r, &s, &w);
        if (bad && (strncmp(e->d_name, "rank", 4) || len < 7 || strcmp(e->d_name + len - 3, ".nc"))) continue;
        if (bad) r = -1, s = -1, w = 0;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            f = realloc(f, (size_t)cap * sizeof *f);
            CHECK(f, "out of memory");
        }
        f[n].rank = r, f[n].seg = s, f[n].world = w;
        /* a path too long to hold is not listed: traceread_t could not name it either */
        if (snprintf(f[n].path, sizeof f[n].path, "%s/%s", tdir, e->d_name) < (int)sizeof f[n].path) n++;
    }
    closedir(d);
    /* a rank's consolidated files hold every record of its segments: they are not read beside them */
    int m = 0;
    for (int i = 0; i < n; i++) {
        int superseded = 0;
        for (int j = 0; j < n && f[i].seg >= 0 && f[i].rank >= 0; j++) superseded |= f[j].rank == f[i].rank && f[j].seg == -1;
        if (!superseded) f[m++] = f[i];
    }
    n = m;
    if (n) qsort(f, (size_t)n, sizeof *f, cmp_fname);
    *out = f;
    return n;
}

/* Whether file g fits its name, the run's config.ini (cfg, may be NULL) and the run defined by the reference
 * file r (NULL for the first); otherwise err_set() the reason. */
static int consistent(const traceread_t *r, const traceread_t *g, const fname_t *name, const config_t *cfg)
{
    if (g->rank != name->rank || g->segment != name->seg)
        return err_set("foreign: attributes say rank %d segment %d, the file name rank %d segment %d", g->rank,
                       g->segment, name->rank, name->seg);
    if (name->world && g->world_size != name->world)
        return err_set("foreign: attributes say world size %d, the file name %d", g->world_size, name->world);
    /* the dealing rule: group k belongs to rank k mod P, so no two files of a launch share a group */
    for (size_t k = 0; k < g->extent.n[TD_GROUP]; k++)
        if (g->fixed[TF_GROUP][k] % g->world_size != g->rank)
            return err_set("corrupt: group %lld is not traced by rank %d of %d", (long long)g->fixed[TF_GROUP][k],
                           g->rank, g->world_size);
    /* The file's config (its parameters agree with it: traceread.h) is the experiment of the run's config.ini, or
     * without one of the run's first file, and its run_name is the run's; keys a resumed launch may change
     * are left out. */
    const config_t *run = cfg ? cfg : r ? &r->config : NULL;
    const char *whose = cfg ? "the run's config.ini" : r ? r->path : NULL;
    char key[1200];
    if (run && strcmp(g->run_name, run->name))
        return err_set("foreign: run_name '%s' is not this run's ('%s' in %s)", g->run_name, run->name, whose);
    if (run && config_diff(run, &g->config, snapshot_may_change, key, sizeof key))
        return err_set("foreign: its config attribute differs from %s: %s", whose, key);
    if (!r) return 0;
    const int same_dims[] = {TD_DEPTH, TD_POS, TD_BUCKET, TD_SV, TD_GENRE};
    for (size_t i = 0; i < sizeof same_dims / sizeof *same_dims; i++) {
        int d = same_dims[i];
        if (g->extent.n[d] != r->extent.n[d])
            return err_set("foreign: dimension %s = %zu differs from %s (%zu)", trace_dims[d].name, g->extent.n[d],
                           r->path, r->extent.n[d]);
    }
    if (g->param[TP_PROBE_GROUPS].i != r->param[TP_PROBE_GROUPS].i)
        return err_set("foreign: probe_groups differs from %s", r->path);
    int64_t tok = g->param[TP_TOKENIZER].i, rtok = r->param[TP_TOKENIZER].i;
    if (tok != TRACE_TOK_UNKNOWN && rtok != TRACE_TOK_UNKNOWN && tok != rtok)
        return err_set("foreign: tokenizer %s differs from %s's %s", trace_tokenizer_name(tok), r->path,
                       trace_tokenizer_name(rtok));
    if (memcmp(g->fixed[TF_BUCKET], r->fixed[TF_BUCKET], r->extent.n[TD_BUCKET] * sizeof(int64_t)))
        return err_set("foreign: frequency buckets differ from %s", r->path);
    return 0;
}

/* Files expected but absent: every segment that has any usable file should have one per rank of its world,
 * and so should the consolidated files of each world size the names give (rankRRRR.nc: the last launch's).
 * One entry per segment or consolidated world names the absent ranks as ranges, so the work follows the
 * files present, not a world size a file claims. names are sorted by rank, then segment. */
static void report_missing(const fname_t *names, int n, const traceread_t *files, const int *ok, skips_t *sk)
{
    for (int i = 0; i < n; i++) {
        if (!ok[i]) continue;
        int seg = names[i].seg, of = names[i].world, world = files[i].world_size, first = 1, absent = 0, next = 0;
        for (int j = 0; j < i; j++) first &= !(ok[j] && names[j].seg == seg && names[j].world == of);
        if (!first) continue;
        char ranges[256] = "";
        size_t len = 0;
        /* walk the ranks present in this segment (in order) and note the gaps between them */
        for (int j = 0; j <= n; j++) {
            int r = j < n ? names[j].rank : world;
            if (j < n && (names[j].seg != seg || names[j].world != of || r >= world || r < next)) continue;
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
        if (seg < 0 && of) {
            snprintf(path, sizeof path, "%.*s/rank*.of%04d.nc", (int)(slash - names[i].path), names[i].path, of);
            snprintf(reason, sizeof reason, "missing: the launches of %d ranks were consolidated, but the files of %d "
                     "are absent (rank%s %s)", world, absent, absent > 1 ? "s" : "", ranges);
        } else if (seg < 0) {
            snprintf(path, sizeof path, "%.*s/rank*.nc", (int)(slash - names[i].path), names[i].path);
            snprintf(reason, sizeof reason, "missing: the run of %d ranks was consolidated, but the files of %d are "
                     "absent (rank%s %s)", world, absent, absent > 1 ? "s" : "", ranges);
        } else {
            snprintf(path, sizeof path, "%.*s/rank*.seg%04d.nc", (int)(slash - names[i].path), names[i].path, seg);
            snprintf(reason, sizeof reason, "missing: segment %d was written by %d ranks; the files of %d are absent "
                     "(rank%s %s)", seg, world, absent, absent > 1 ? "s" : "", ranges);
        }
        skips_add(sk, path, reason);
    }
}

/* The records of one rank kept by the segment rule (segrule.h; segs: every usable file's segment and steps)
 * and deduplicated, sorted by step; returns the count. */
static int rank_items(const char *run_dir, int rank, const fname_t *names, const traceread_t *files, const int *ok, int n,
                      const segrule_seg_t *segs, int *warned_seg, skips_t *sk, item_t *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!ok[i] || names[i].rank != rank) continue;
        int dropped = 0;
        int64_t first = -1, last = -1;
        for (size_t k = 0; k < files[i].n_rec; k++) {
            int64_t s = files[i].step[k];
            if (segrule_superseded(&segs[i], s, segs, n)) {
                if (!dropped++) first = s;
                last = s;
                continue;
            }
            out[m] = (item_t){s, i, (int)k, m};
            m++;
        }
        if (dropped && !warned_seg[i]) {
            skips_warn(sk, "%s: %d trace steps of segment %d (steps %lld to %lld) were traced again by a later launch; "
                           "keeping the later records", run_dir, dropped, names[i].seg, (long long)first, (long long)last);
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

/* Weight of element e of variable k's record in file f. */
static double weight_of(const traceread_t *f, int k, size_t e, size_t len)
{
    switch (trace_vars[k].weight) {
    case W_GLOBAL: return 1;
    case W_WINDOWS: return (double)f->windows;
    case W_BUCKET: return (double)f->fixed[TF_BUCKET_TOKENS][e % f->extent.n[TD_BUCKET]];
    case W_GENRE: return (double)f->fixed[TF_GENRE_TOKENS][e / (len / f->extent.n[TD_GENRE])];
    case W_GROUP: case W_NONE: break;
    }
    return 0;
}

static int is_group(int k) { return trace_vars[k].weight == W_GROUP; }

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

size_t curves_len(const curves_t *c, int k) { return trace_shape_len(trace_vars[k].shape, &c->extent); }

size_t curves_run_len(const curves_t *c, int k) { return curves_len(c, k) / (is_group(k) ? (size_t)c->G : 1); }

const double *curves_run(const curves_t *c, int k) { return is_group(k) ? c->mean[k] : c->v[k]; }

int curves_recorded(const curves_t *c, int k, int upto)
{
    if (!trace_sparse[k] || !c->v[k]) return upto;
    size_t len = curves_len(c, k);
    for (int i = upto; i >= 0; i--)
        for (size_t e = 0; e < len; e++)
            if (!isnan(c->v[k][(size_t)i * len + e])) return i;
    return upto;
}

/* One record of a file into step s of the run: weighted sums into v (wsum the weights), or its groups
 * placed by their number. */
static void take(curves_t *c, const traceread_t *f, size_t rec, int s, double **wsum)
{
    for (int k = 0; k < TV_N; k++) {
        if (trace_vars[k].weight == W_NONE) continue;
        size_t flen = traceread_len(f, k), len = curves_len(c, k);
        const double *x = f->v[k] + rec * flen;
        double *out = c->v[k] + (size_t)s * len;
        if (is_group(k)) {
            size_t per = flen / f->extent.n[TD_GROUP];
            for (size_t gi = 0; gi < f->extent.n[TD_GROUP]; gi++)
                memcpy(out + (size_t)f->fixed[TF_GROUP][gi] * per, x + gi * per, per * sizeof *x);
            continue;
        }
        double *ws = wsum[k] + (size_t)s * len;
        for (size_t e = 0; e < len; e++) {
            double w = weight_of(f, k, e, len);
            if (isfinite(x[e]) && w > 0) out[e] += w * x[e], ws[e] += w;
        }
    }
}

/* The run value of every group variable, and the spread of the norm over groups. */
static void group_means(curves_t *c)
{
    size_t D = (size_t)c->L + 1, T = (size_t)c->T, n = (size_t)c->n_rec;
    for (int k = 0; k < TV_N; k++) {
        if (!is_group(k)) continue;
        size_t per = curves_run_len(c, k);
        c->mean[k] = err_calloc(n * per, sizeof(double));
        for (size_t s = 0; s < n; s++)
            for (size_t e = 0; e < per; e++) {
                double sum = 0, w = 0;
                for (int g = 0; g < c->G; g++) {
                    double x = c->v[k][(s * c->G + g) * per + e];
                    if (isfinite(x) && c->group_windows[g] > 0) sum += c->group_windows[g] * x, w += c->group_windows[g];
                }
                c->mean[k][s * per + e] = w > 0 ? sum / w : NAN;
            }
    }
    c->norm_spread = err_calloc(n * D, sizeof(double));
    for (size_t s = 0; s < n; s++)
        for (size_t l = 0; l < D; l++) {
            double lo = INFINITY, hi = -INFINITY;
            for (int g = 0; g < c->G; g++) {
                double m = stats_mean(c->v[TV_NORM] + ((s * c->G + g) * D + l) * T, (int)T, 1);
                if (isfinite(m)) lo = fmin(lo, m), hi = fmax(hi, m);
            }
            c->norm_spread[s * D + l] = hi >= lo ? hi - lo : NAN;
        }
}

/* Which groups a file's record placed at each step: (n_rec, G), 1 where one did. A rank whose file ends
 * earlier (a live run's, synced less far) leaves its groups unheld at the later steps. */
static unsigned char *held_groups(const curves_t *c, const traceread_t *files, item_t *const *items, const int *n_items,
                                  int n_ranks)
{
    unsigned char *held = err_calloc((size_t)c->n_rec * (size_t)c->G + 1, 1);
    for (int r = 0; r < n_ranks; r++)
        for (int j = 0; j < n_items[r]; j++) {
            const traceread_t *f = &files[items[r][j].file];
            size_t s = (size_t)find_step(c->step, c->n_rec, items[r][j].step);
            for (size_t gi = 0; gi < f->extent.n[TD_GROUP]; gi++)
                held[s * (size_t)c->G + (size_t)f->fixed[TF_GROUP][gi]] = 1;
        }
    return held;
}

/* Whether group g of variable k has a value at step s. */
static int group_measured(const curves_t *c, int k, int s, int g, size_t per)
{
    const double *x = c->v[k] + ((size_t)s * c->G + g) * per;
    for (size_t e = 0; e < per; e++)
        if (!isnan(x[e])) return 1;
    return 0;
}

/* A group variable whose every element is NaN in some groups that a record holds, at a step where other
 * groups have values: its run value and interval then rest on the other groups alone, which the tables
 * cannot show. One warning per variable, naming the groups and the first such step. */
static void warn_missing_groups(const curves_t *c, const unsigned char *held, const char *run_dir, skips_t *sk)
{
    for (int k = 0; k < TV_N; k++) {
        if (!is_group(k)) continue;
        size_t per = curves_run_len(c, k);
        int steps = 0;
        int64_t first = -1;
        char groups[256] = "";
        size_t len = 0;
        for (int s = 0; s < c->n_rec; s++) {
            int missing = 0, measured = 0;
            for (int g = 0; g < c->G; g++) {
                int any = group_measured(c, k, s, g, per);
                measured += any;
                missing += !any && held[(size_t)s * c->G + g];
            }
            if (!missing || !measured || steps++) continue;
            first = c->step[s];
            for (int g = 0; g < c->G && len < sizeof groups - 16; g++)
                if (held[(size_t)s * c->G + g] && !group_measured(c, k, s, g, per))
                    len += (size_t)snprintf(groups + len, sizeof groups - len, "%s%d", len ? ", " : "", g);
        }
        if (steps)
            skips_warn(sk, "%s: '%s' is NaN throughout probe group(s) %s at step %lld (and at %d trace step(s) in "
                           "all) while other groups have values; its run value and interval rest on the other groups",
                       run_dir, trace_vars[k].name, groups, (long long)first, steps);
    }
}

static void merge(curves_t *c, const traceread_t *files, item_t *const *items, const int *n_items, int n_ranks)
{
    size_t n = (size_t)c->n_rec;
    double *wsum[TV_N] = {0};
    for (int k = 0; k < TV_N; k++) {
        if (trace_vars[k].weight == W_NONE) continue;
        size_t len = n * curves_len(c, k);
        c->v[k] = err_calloc(len ? len : 1, sizeof *c->v[k]);
        if (is_group(k))
            for (size_t e = 0; e < len; e++) c->v[k][e] = NAN; /* groups no file holds stay missing */
        else wsum[k] = err_calloc(len ? len : 1, sizeof *wsum[k]);
    }
    for (int r = 0; r < n_ranks; r++)
        for (int j = 0; j < n_items[r]; j++) {
            const item_t *it = &items[r][j];
            take(c, &files[it->file], (size_t)it->rec, find_step(c->step, c->n_rec, it->step), wsum);
        }
    for (int k = 0; k < TV_N; k++) {
        if (!wsum[k]) continue;
        for (size_t e = 0; e < n * curves_len(c, k); e++) c->v[k][e] = wsum[k][e] > 0 ? c->v[k][e] / wsum[k][e] : NAN;
        free(wsum[k]);
    }
    group_means(c);
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
    traceread_t *files = err_calloc((size_t)n, sizeof *files);
    int *ok = err_calloc((size_t)n, sizeof *ok), *warned = err_calloc((size_t)n, sizeof *warned), ref = -1;
    char holder[256];
    int live = rundir_held(run_dir, holder, sizeof holder);
    for (int i = 0; i < n; i++) {
        if (names[i].rank < 0) {
            skips_add(sk, names[i].path, "foreign: not a trace file name (rankRRRR.segSSSS.nc, rankRRRR.nc or "
                                         "rankRRRR.ofPPPP.nc, 4 to 7 digits each)");
            continue;
        }
        int opened = traceread_file(&files[i], names[i].path) == 0;
        ok[i] = opened && consistent(ref < 0 ? NULL : &files[ref], &files[i], &names[i], cfg) == 0;
        if (!ok[i]) {
            char reason[1200];
            /* a segment caught in the middle of its writer's sync is not damaged: the next reading gets it */
            if (live && !opened && names[i].seg >= 0)
                snprintf(reason, sizeof reason, "live: its run is training (il-train, %s) and it could not be read "
                         "between two syncs (%s); aggregate again later", holder, err_msg());
            else
                snprintf(reason, sizeof reason, "%s", err_msg());
            skips_add(sk, names[i].path, reason);
            traceread_free(&files[i]);
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
        segrule_seg_t *segs = err_calloc((size_t)n, sizeof *segs);
        for (int i = 0; i < n; i++) /* an unusable file supersedes nothing: it holds no records */
            if (ok[i])
                segs[i] = (segrule_seg_t){names[i].seg, files[i].step, files[i].n_rec, files[i].fixed[TF_GROUP],
                                          files[i].extent.n[TD_GROUP]};
        for (int r = 0; r < n_ranks; r++) {
            int mine = 0;
            for (int i = 0; i < n; i++) mine += ok[i] && names[i].rank == r ? (int)files[i].n_rec : 0;
            items[r] = err_calloc((size_t)mine, sizeof **items);
            n_items[r] = rank_items(run_dir, r, names, files, ok, n, segs, warned, sk, items[r]);
        }
        free(segs);
        /* the union of every rank's steps */
        item_t *all = err_calloc((size_t)total, sizeof *all);
        int m = 0;
        for (int r = 0; r < n_ranks; r++)
            for (int j = 0; j < n_items[r]; j++) all[m] = items[r][j], all[m].order = m, m++;
        qsort(all, (size_t)m, sizeof *all, cmp_item);
        const traceread_t *rf = &files[ref];
        c->extent = rf->extent;
        c->G = (int)rf->param[TP_PROBE_GROUPS].i;
        c->extent.n[TD_GROUP] = (size_t)c->G;
        c->L = (int)c->extent.n[TD_LAYER], c->T = (int)c->extent.n[TD_POS], c->n_bucket = (int)c->extent.n[TD_BUCKET];
        c->n_genre = (int)c->extent.n[TD_GENRE];
        memcpy(c->param, rf->param, sizeof c->param);
        /* a run resumed from segments of trace schema 3 knows its tokenizer from its newer files */
        for (int i = 0; i < n; i++)
            if (ok[i] && files[i].param[TP_TOKENIZER].i != TRACE_TOK_UNKNOWN)
                c->param[TP_TOKENIZER] = files[i].param[TP_TOKENIZER];
        snprintf(c->run_name, sizeof c->run_name, "%s", rf->run_name);
        c->bucket = err_calloc((size_t)c->n_bucket, sizeof *c->bucket);
        memcpy(c->bucket, rf->fixed[TF_BUCKET], (size_t)c->n_bucket * sizeof *c->bucket);
        c->genre_name = err_calloc((size_t)c->n_genre, sizeof *c->genre_name);
        memcpy(c->genre_name, rf->genre_name, (size_t)c->n_genre * sizeof *c->genre_name);
        c->group_windows = err_calloc((size_t)c->G, sizeof *c->group_windows);
        for (int i = 0; i < n; i++)
            for (size_t gi = 0; ok[i] && gi < files[i].extent.n[TD_GROUP]; gi++)
                c->group_windows[files[i].fixed[TF_GROUP][gi]] = (double)files[i].fixed[TF_GROUP_WINDOWS][gi];
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
        unsigned char *held = held_groups(c, files, items, n_items, n_ranks);
        warn_missing_groups(c, held, run_dir, sk);
        free(held);
        if (live) {
            int64_t every = INT64_MAX; /* the last step of the rank that synced least far */
            for (int r = 0; r < n_ranks; r++)
                if (n_items[r] && items[r][n_items[r] - 1].step < every) every = items[r][n_items[r] - 1].step;
            skips_warn(sk, "%s: live: still training (il-train, %s holds its lock); its traces were read as far as "
                           "their writers had synced them, to step %lld of %lld (every rank to step %lld)", run_dir,
                       holder, c->n_rec ? (long long)c->step[c->n_rec - 1] : -1LL, (long long)c->param[TP_MAX_STEPS].i,
                       every == INT64_MAX ? -1LL : (long long)every);
        }
        for (int r = 0; r < n_ranks; r++) free(items[r]);
        free(items);
        free(n_items);
    }
    for (int i = 0; i < n; i++) traceread_free(&files[i]);
    free(files);
    free(ok);
    free(warned);
    free(names);
    return used;
}

void curves_free(curves_t *c)
{
    free(c->bucket);
    free(c->genre_name);
    free(c->group_windows);
    free(c->step);
    free(c->norm_spread);
    for (int k = 0; k < TV_N; k++) free(c->v[k]), free(c->mean[k]);
    memset(c, 0, sizeof *c);
}
