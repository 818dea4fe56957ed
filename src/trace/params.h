/* params: the sweep parameters of innerloop/schema.h (TRACE_PARAMS) for a run, from the types the trainer
 * knows. Apart from the tracer, so that the trace reader and the aggregator (analysis/) compute them
 * without the tracer's MPI, model state and signals. */
#ifndef IL_TRACE_PARAMS_H
#define IL_TRACE_PARAMS_H

#include <stdint.h>

#include "core/config.h"
#include "innerloop/schema.h"
#include "model/gpt.h"

/* The sweep parameters for a run of config c, model dims d, world size w and tokenizer kind tok
 * (TRACE_TOKENIZERS). */
void tracer_params(trace_value_t param[TP_N], const config_t *c, const gpt_dims_t *d, int w, int tok);

/* The kind of the tokenizer that made the training shard of config c, whose tokenizer id is id: that of the
 * tokenizer.bin beside data.train_path (il-prepare writes it there), which must be the shard's. Without
 * that file the kind is TRACE_TOK_BYTE when id is the byte-level tokenizer's (a fixed id), else
 * TRACE_TOK_UNKNOWN. Returns 0, or -1 with err_set() naming the file. */
int tracer_tokenizer(const config_t *c, uint32_t id, int *kind);

#endif
