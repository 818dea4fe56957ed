#include "trace/params.h"

#include <math.h>

static trace_value_t value(double x) { return (trace_value_t){isfinite(x) ? (int64_t)x : 0, x}; }

void tracer_params(trace_value_t param[TP_N], const config_t *c, const gpt_dims_t *d, int w)
{
#define PARAM_VALUE(id, name, type, long_name, expr) param[id] = value((double)(expr));
    TRACE_PARAMS(PARAM_VALUE)
#undef PARAM_VALUE
    /* a 64-bit seed does not survive a double: keep its bits */
    param[TP_SEED].i = (int64_t)c->seed;
}
