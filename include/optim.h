/* optim: AdamW with decoupled weight decay, the learning-rate schedule, and global-norm clipping.
 *
 * Weight decay applies to the tensors the model marks `decay` (weight matrices and the embeddings) and
 * not to biases or LayerNorm gains: shrinking those towards zero only fights their job of setting
 * offsets and scales. */
#ifndef IL_OPTIM_H
#define IL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

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

/* Linear warmup over the first `warmup` steps to `lr`, then cosine decay to `min_lr` at `max_steps`.
 * step counts from 0. */
float optim_lr(int64_t step, int64_t warmup, int64_t max_steps, float lr, float min_lr);

/* L2 norm of x (n), summed in fixed chunks so the value does not depend on the thread count. */
double optim_norm(const float *x, size_t n);
/* The factor that brings a gradient of this norm down to max_norm: 1 when it is already within, or when
 * max_norm is 0 (clipping off). */
float optim_clip_scale(double norm, float max_norm);

#endif
