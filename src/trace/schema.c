#include "trace/schema.h"

#define VAR_ROW(id, name, type, shape, units, weight, summary, finite, src, long_name) \
    [id] = {name, type, shape, units, weight, summary, finite, long_name},
const trace_var_t trace_vars[TV_N] = {TRACE_VARS(VAR_ROW)};
#undef VAR_ROW

#define FIXED_ROW(id, name, type, dim, long_name, src) [id] = {name, type, dim, long_name},
const trace_fixed_t trace_fixed[TF_N] = {TRACE_FIXED(FIXED_ROW)};
#undef FIXED_ROW

#define PARAM_ROW(id, name, type, long_name, value) [id] = {name, type, long_name},
const trace_param_t trace_params[TP_N] = {TRACE_PARAMS(PARAM_ROW)};
#undef PARAM_ROW

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
    fprintf(f, "\n| variable | dims after step | type | units | merged over ranks by | never NaN | long_name |\n"
               "|---|---|---|---|---|---|---|\n");
    for (int v = 0; v < TV_N; v++) {
        const trace_var_t *r = &trace_vars[v];
        fprintf(f, "| `%s` | ", r->name);
        dims_of(f, r->shape);
        fprintf(f, " | %s | %s | %s | %s | ", type_name(r->type), r->units, weight_name[r->weight], r->finite ? "yes" : "");
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
