#include "trace/schema.h"

#define VAR_ROW(id, name, type, shape, units, weight, summary, finite, src, long_name) \
    [id] = {name, type, shape, units, weight, summary, finite, long_name},
const trace_var_t trace_vars[TV_N] = {TRACE_VARS(VAR_ROW)};
#undef VAR_ROW

#define PARAM_ROW(id, name, type, long_name, value) [id] = {name, type, long_name},
const trace_param_t trace_params[TP_N] = {TRACE_PARAMS(PARAM_ROW)};
#undef PARAM_ROW

#define DIM_ROW(id, name, long_name) [id] = {name, long_name},
const trace_dim_t trace_dims[TD_N] = {TRACE_DIMS(DIM_ROW)};
#undef DIM_ROW

#define SHAPE_ROW(id, d1, d2) [id] = {d1, d2},
const int trace_shape_dims[SH_N][2] = {TRACE_SHAPES(SHAPE_ROW)};
#undef SHAPE_ROW

static size_t dim_len(int d, int L, int T, int n_bucket, int n_sv)
{
    switch (d) {
    case TD_DEPTH: return (size_t)L + 1;
    case TD_LAYER: return (size_t)L;
    case TD_POS: return (size_t)T;
    case TD_BUCKET: return (size_t)n_bucket;
    case TD_SV: return (size_t)n_sv;
    default: return 1; /* TD_NONE */
    }
}

size_t trace_shape_len(trace_shape_t shape, int L, int T, int n_bucket, int n_sv)
{
    return dim_len(trace_shape_dims[shape][0], L, T, n_bucket, n_sv) *
           dim_len(trace_shape_dims[shape][1], L, T, n_bucket, n_sv);
}

static const char *type_name(nc_type t)
{
    switch (t) {
    case NC_INT: return "int";
    case NC_INT64: return "int64";
    case NC_FLOAT: return "float";
    case NC_DOUBLE: return "double";
    default: return "?";
    }
}

/* '|' would end a Markdown table cell. */
static void cell(FILE *f, const char *s)
{
    for (; *s; s++) *s == '|' ? fputs("\\|", f) : fputc(*s, f);
}

void trace_schema_markdown(FILE *f)
{
    static const char *const weight_name[] = {"", "same on every rank", "batch", "batch × T", "bucket_tokens"};
    fprintf(f, "| dimension and its coordinate variable | long_name |\n|---|---|\n");
    for (int d = 0; d < TD_N; d++) {
        fprintf(f, "| `%s` | ", trace_dims[d].name);
        cell(f, trace_dims[d].long_name);
        fprintf(f, " |\n");
    }
    fprintf(f, "\n| fixed variable | dims | type | long_name |\n|---|---|---|---|\n| `%s` | %s | int64 | %s |\n",
            TRACE_BUCKET_IDS, trace_dims[TD_BUCKET].name, TRACE_BUCKET_IDS_LONG_NAME);
    fprintf(f, "\n| variable | dims after step | type | units | merged over ranks by | long_name |\n"
               "|---|---|---|---|---|---|\n");
    for (int v = 0; v < TV_N; v++) {
        const trace_var_t *r = &trace_vars[v];
        const int *dims = trace_shape_dims[r->shape];
        fprintf(f, "| `%s` | %s%s%s | %s | %s | %s | ", r->name, dims[0] >= 0 ? trace_dims[dims[0]].name : "",
                dims[1] >= 0 ? ", " : "", dims[1] >= 0 ? trace_dims[dims[1]].name : "", type_name(r->type), r->units,
                weight_name[r->weight]);
        cell(f, r->long_name);
        fprintf(f, " |\n");
    }
    fprintf(f, "\n| parameter | type | long_name |\n|---|---|---|\n");
    for (int p = 0; p < TP_N; p++) {
        fprintf(f, "| `%s` | %s | ", trace_params[p].name, type_name(trace_params[p].type));
        cell(f, trace_params[p].long_name);
        fprintf(f, " |\n");
    }
}
