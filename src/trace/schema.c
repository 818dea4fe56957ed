#include "innerloop/schema.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define VAR_ROW(id, name, type, shape, units, weight, summary, finite, src, long_name) \
    [id] = {name, type, shape, units, weight, summary, finite, long_name},
const trace_var_t trace_vars[TV_N] = {TRACE_VARS(VAR_ROW)};
#undef VAR_ROW

#define SPARSE_ROW(id) [id] = 1,
const unsigned char trace_sparse[TV_N] = {TRACE_SPARSE(SPARSE_ROW)};
#undef SPARSE_ROW

#define FIXED_ROW(id, name, type, dim, long_name, src) [id] = {name, type, dim, long_name},
const trace_fixed_t trace_fixed[TF_N] = {TRACE_FIXED(FIXED_ROW)};
#undef FIXED_ROW

#define PARAM_ROW(id, name, type, long_name, value) [id] = {name, type, long_name},
const trace_param_t trace_params[TP_N] = {TRACE_PARAMS(PARAM_ROW)};
#undef PARAM_ROW

#define TOKENIZER_NAME(id, value, name) [value] = name,
static const char *const tokenizer_name[TRACE_TOK_N] = {TRACE_TOKENIZERS(TOKENIZER_NAME)};
#undef TOKENIZER_NAME

const char *trace_tokenizer_name(int64_t k) { return k >= 0 && k < TRACE_TOK_N ? tokenizer_name[k] : NULL; }

int trace_tokenizer_flags(int ncid, int varid)
{
    long long values[TRACE_TOK_N];
    char meanings[256] = "";
    for (int k = 0; k < TRACE_TOK_N; k++) {
        values[k] = k;
        snprintf(meanings + strlen(meanings), sizeof meanings - strlen(meanings), "%s%s", k ? " " : "", tokenizer_name[k]);
    }
    int rc = nc_put_att_longlong(ncid, varid, "flag_values", NC_INT64, TRACE_TOK_N, values);
    return rc != NC_NOERR ? rc : nc_put_att_text(ncid, varid, "flag_meanings", strlen(meanings), meanings);
}

#define DOMAIN_COUNT(id, kind, nan, when) +1
_Static_assert(0 TRACE_DOMAINS(DOMAIN_COUNT) == TV_N, "TRACE_DOMAINS needs one row per record variable");
#undef DOMAIN_COUNT
#define DOMAIN_ROW(id, kind, nan, when) [id] = {kind, nan, when},
const trace_domain_t trace_domains[TV_N] = {TRACE_DOMAINS(DOMAIN_ROW)};
#undef DOMAIN_ROW

#define KIND_TEXT(id, text) [id] = text,
static const char *const kind_text[DK_N] = {TRACE_DOMAIN_KINDS(KIND_TEXT)};
#undef KIND_TEXT

#define DIM_ROW(id, name, long_name) [id] = {name, long_name},
const trace_dim_t trace_dims[TD_N] = {TRACE_DIMS(DIM_ROW)};
#undef DIM_ROW

#define SHAPE_ROW(id, d1, d2, d3) [id] = {d1, d2, d3},
const int trace_shape_dims[SH_N][3] = {TRACE_SHAPES(SHAPE_ROW)};
#undef SHAPE_ROW

size_t trace_shape_len(trace_shape_t shape, const trace_extent_t *e)
{
    size_t n = 1;
    for (int j = 0; j < 3; j++)
        if (trace_shape_dims[shape][j] != TD_NONE) n *= e->n[trace_shape_dims[shape][j]];
    return n;
}

void trace_domain_range(trace_domain_kind_t kind, const trace_value_t param[TP_N], double *lo, double *hi)
{
    *lo = -INFINITY, *hi = INFINITY;
    switch (kind) {
    case DK_REAL: break;
    case DK_NONNEG: *lo = 0; break;
    case DK_STEP: *lo = 0, *hi = param[TP_MAX_STEPS].d; break;
    case DK_LOSS: *lo = 0, *hi = 1000; break;
    case DK_NORM: *lo = 0, *hi = sqrt(FLT_MAX); break;
    case DK_UNIT: *lo = -1, *hi = 1; break;
    case DK_PROB: *lo = 0, *hi = 1; break;
    case DK_ERANK:
        *lo = 1, *hi = fmin(param[TP_PROBE_WINDOWS].d * param[TP_SEQ_LEN].d, param[TP_D_MODEL].d);
        break;
    case DK_N: break;
    }
}

int trace_in_domain(int k, double x, int first, const trace_value_t param[TP_N])
{
    const trace_domain_t *d = &trace_domains[k];
    if (isnan(x)) return d->nan == TN_WHEN || (d->nan == TN_FIRST && first);
    double lo, hi;
    trace_domain_range(d->kind, param, &lo, &hi);
    /* the bounds hold up to float rounding; `!(x >= lo)` also refuses a bound that is NaN */
    return isfinite(x) && x >= lo - 1e-5 * fmax(1, fabs(lo)) && !(x > hi + 1e-5 * fmax(1, fabs(hi)));
}

const char *trace_domain_text(int k) { return kind_text[trace_domains[k].kind]; }

static const char *type_name(nc_type t)
{
    switch (t) {
    case NC_INT: return "int";
    case NC_INT64: return "int64";
    case NC_FLOAT: return "float";
    case NC_DOUBLE: return "double";
    case NC_STRING: return "string";
    default: return "?";
    }
}

/* '|' would end a Markdown table cell. */
static void cell(FILE *f, const char *s)
{
    for (; *s; s++) *s == '|' ? fputs("\\|", f) : fputc(*s, f);
}

static void dims_of(FILE *f, trace_shape_t shape)
{
    for (int j = 0, first = 1; j < 3; j++) {
        int d = trace_shape_dims[shape][j];
        if (d == TD_NONE) continue;
        fprintf(f, "%s%s", first ? "" : ", ", trace_dims[d].name);
        first = 0;
    }
}

void trace_schema_markdown(FILE *f)
{
    static const char *const weight_name[] = {"", "same on every rank", "windows", "bucket_tokens", "genre_tokens",
                                              "gathered by group"};
    fprintf(f, "| dimension and its coordinate variable | long_name |\n|---|---|\n");
    for (int d = 0; d < TD_N; d++) {
        fprintf(f, "| `%s` | ", trace_dims[d].name);
        cell(f, trace_dims[d].long_name);
        fprintf(f, " |\n");
    }
    fprintf(f, "\n| fixed variable | dims | type | long_name |\n|---|---|---|---|\n");
    for (int v = 0; v < TF_N; v++) {
        if (!trace_fixed[v].long_name) continue; /* a coordinate: listed with its dimension */
        fprintf(f, "| `%s` | %s | %s | ", trace_fixed[v].name,
                trace_fixed[v].dim == TD_NONE ? "" : trace_dims[trace_fixed[v].dim].name, type_name(trace_fixed[v].type));
        cell(f, trace_fixed[v].long_name);
        fprintf(f, " |\n");
    }
    fprintf(f, "| `%s` | genre | string | name of the genre |\n", TRACE_GENRE_NAME);
    fprintf(f, "\n| variable | dims after step | type | units | merged over ranks by | domain | NaN | long_name |\n"
               "|---|---|---|---|---|---|---|---|\n");
    for (int v = 0; v < TV_N; v++) {
        const trace_var_t *r = &trace_vars[v];
        const trace_domain_t *d = &trace_domains[v];
        fprintf(f, "| `%s` | ", r->name);
        dims_of(f, r->shape);
        fprintf(f, " | %s | %s | %s | %s | ", type_name(r->type), r->units, weight_name[r->weight],
                trace_domain_text(v));
        cell(f, d->nan == TN_NEVER ? "never" : d->nan == TN_FIRST ? "in a launch's first record only" : d->when);
        if (trace_sparse[v]) fprintf(f, "; the fill at the trace steps that are not full (trace.full_every)");
        fprintf(f, " | ");
        cell(f, r->long_name);
        fprintf(f, " |\n");
    }
    fprintf(f, "\n| parameter | type | long_name |\n|---|---|---|\n");
    for (int p = 0; p < TP_N; p++) {
        fprintf(f, "| `%s` | %s | ", trace_params[p].name, type_name(trace_params[p].type));
        cell(f, trace_params[p].long_name);
        fprintf(f, " |\n");
    }
    fprintf(f, "\n`tokenizer` values (its `flag_values` and `flag_meanings`):");
    for (int k = 0; k < TRACE_TOK_N; k++) fprintf(f, "%s %d `%s`", k ? "," : "", k, tokenizer_name[k]);
    fprintf(f, ".\n");
}

int tracer_due(int64_t step, int64_t max_steps, int interval, int log_spaced)
{
    if (step < 0 || step > max_steps) return 0;
    if (step == 0 || step == max_steps || (interval > 0 && step % interval == 0)) return 1;
    if (log_spaced == TRACE_EARLY_POW2) return step < interval && (step & (step - 1)) == 0;
    if (log_spaced != TRACE_EARLY_LOG) return 0;
    /* the j with 10^(j/10) nearest to step, and its neighbours, decide whether round(10^(j/10)) == step */
    int j0 = (int)floor(10.0 * log10((double)step));
    for (int j = j0 - 1; j <= j0 + 1; j++)
        if (j >= 0 && llround(pow(10.0, j / 10.0)) == step) return 1;
    return 0;
}

int64_t tracer_ordinal(int64_t step, int64_t max_steps, int interval, int log_spaced)
{
    if (step <= 0) return 0;
    if (step > max_steps) return tracer_ordinal(max_steps, max_steps, interval, log_spaced) + 1; /* all of them */
    /* step 0, the multiples of the interval below step, then the early steps below step that are none of them */
    int64_t n = 1 + (interval > 0 ? (step - 1) / interval : 0), prev = 0;
    for (int j = 0; log_spaced == TRACE_EARLY_POW2 || log_spaced == TRACE_EARLY_LOG; j++) {
        int64_t e = log_spaced == TRACE_EARLY_LOG ? llround(pow(10.0, j / 10.0)) : j < 62 ? (int64_t)1 << j : INT64_MAX;
        if (e >= step || (log_spaced == TRACE_EARLY_POW2 && e >= interval)) break;
        if (e != prev && (interval <= 0 || e % interval)) n++;
        prev = e;
    }
    return n;
}

int tracer_full(int64_t ordinal, int64_t step, int64_t max_steps, int full_every)
{
    return full_every <= 1 || ordinal % full_every == 0 || step == max_steps;
}
