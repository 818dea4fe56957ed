/* adamw: AdamW with decoupled weight decay, over the model's one contiguous parameter buffer.
 *
 * Weight decay applies to the tensors the model marks `decay` (weight matrices and the embeddings) and
 * not to biases or LayerNorm gains: shrinking those towards zero only fights their job of setting
 * offsets and scales. */
#ifndef IL_ADAMW_H
#define IL_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "model/gpt.h"

typedef struct {
    float beta1, beta2, eps, weight_decay;
} adamw_hparams_t;

typedef struct {
    size_t n;
    float *m;     /* [n] first moment */
    float *v;     /* [n] second moment */
    int64_t t;    /* updates taken, for bias correction */
} adamw_t;

void adamw_create(adamw_t *o, size_t n);
void adamw_destroy(adamw_t *o);
/* One update of params from grad_scale * grads at learning rate lr; tensors say which ranges decay.
 * grad_scale carries gradient clipping into the update, saving a pass over the gradients. */
void adamw_step(adamw_t *o, float *params, const float *grads, float grad_scale, const gpt_tensor_t *tensors,
                int n_tensors, float lr, const adamw_hparams_t *h);

#endif
