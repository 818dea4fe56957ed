#include "analysis/report.h"

static const char *const norm_cols[] = {"run", "depth", "rho_pos", "first_ratio", "mean_norm", "growth", "rho_freq",
                                        "rho_bucket", "group_spread"};
static const char *const inner_cols[] = {"run", "depth", "cos_end", "cos_slope", "cos_local_end", "cos_local_slope",
                                         "eta_end", "eta_slope", "lens_end", "lens_slope", "lens_drop_end",
                                         "lens_drop_slope", "sink_end", "sink_slope", "erank_end", "erank_slope"};
enum { N_NORM = sizeof norm_cols / sizeof *norm_cols, N_INNER = sizeof inner_cols / sizeof *inner_cols };
_Static_assert(N_INNER == 2 + 2 * IN_N, "inner.csv has an end and a slope column per inner signal");

int report_open(report_t *r, const char *out)
{
    if (table_open(&r->norms, out, "norms", "Representation norms (S1, S6) at the end of training",
                   "Per run and depth l (h^l; l = L leaves the last block), at the last trace step, over the whole "
                   "probe set. rho_pos: Spearman ρ(t, N[l][t]) over positions t ≥ 1 (H1); first_ratio: N[l][0] / "
                   "mean over t > 0; mean_norm: mean over t; growth: mean_norm[l] / mean_norm[l-1] (H3); rho_freq: "
                   "Spearman ρ(log training count of the input token, |h^l_t|) over every probe token (H4); "
                   "rho_bucket: Spearman ρ(frequency bucket, S6 mean norm of the bucket), the curve's shape, not the "
                   "test; group_spread: (max − min over probe groups of mean_norm) / mean_norm.",
                   norm_cols, N_NORM))
        return -1;
    if (table_open(&r->inner, out, "inner", "Inner-loop signals by depth",
                   "Per run and row l: block signals of block l (it starts at h^l; none in the last row) and depth "
                   "signals at h^l. cos: S3 and cos_local: S3b, means over the probe tokens; eta: S4 implied step; lens: S5 "
                   "logit-lens loss (nats); lens_drop: lens[l] − lens[l+1]; sink: S8; erank: S9 effective rank. "
                   "_end: at the last trace step; _slope: least-squares slope against log10(step + 1), the change "
                   "per decade of training.",
                   inner_cols, N_INNER)) {
        table_abort(&r->norms);
        return -1;
    }
    return 0;
}

void report_run(report_t *r, const char *name, const runstats_t *s)
{
    for (int l = 0; l <= s->L; l++) {
        table_str(&r->norms, name);
        table_num(&r->norms, l);
        const double v[] = {s->rho_pos[l], s->first_ratio[l], s->mean_norm[l], s->growth[l], s->rho_freq[l],
                            s->rho_bucket[l], s->spread[l]};
        for (size_t k = 0; k < sizeof v / sizeof *v; k++) table_num(&r->norms, v[k]);
        table_str(&r->inner, name);
        table_num(&r->inner, l);
        for (int k = 0; k < IN_N; k++) {
            table_num(&r->inner, s->inner_end[k][l]);
            table_num(&r->inner, s->inner_slope[k][l]);
        }
    }
}

int report_commit(report_t *r)
{
    if (table_commit(&r->norms)) {
        table_abort(&r->inner);
        return -1;
    }
    return table_commit(&r->inner);
}

void report_abort(report_t *r)
{
    table_abort(&r->norms);
    table_abort(&r->inner);
}
