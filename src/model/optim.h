/* optim: the learning-rate schedule and global-norm gradient clipping (the update itself: adamw.h). */
#ifndef IL_OPTIM_H
#define IL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

/* Linear warmup over the first `warmup` steps to `lr`, then cosine decay to `min_lr` at `max_steps`.
 * step counts from 0. */
float optim_lr(int64_t step, int64_t warmup, int64_t max_steps, float lr, float min_lr);

/* L2 norm of x (n), summed in fixed chunks so the value does not depend on the thread count. */
double optim_norm(const float *x, size_t n);
/* The factor that brings a gradient of this norm down to max_norm: 1 when it is already within, or when
 * max_norm is 0 (clipping off). */
float optim_clip_scale(double norm, float max_norm);

#endif
