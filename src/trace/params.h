/* params: the sweep parameters of innerloop/schema.h (TRACE_PARAMS) for a run, from the types the trainer
 * knows. Apart from the tracer, so that the trace reader and the aggregator (analysis/) compute them
 * without the tracer's MPI, model state and signals. */
#ifndef IL_TRACE_PARAMS_H
#define IL_TRACE_PARAMS_H

#include "core/config.h"
#include "innerloop/schema.h"
#include "model/gpt.h"

/* The sweep parameters for a run of config c, model dims d and world size w. */
void tracer_params(trace_value_t param[TP_N], const config_t *c, const gpt_dims_t *d, int w);

#endif
