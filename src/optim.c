#include "optim.h"

#include <math.h>
#include <stdlib.h>

#include "err.h"

void adamw_create(adamw_t *o, size_t n)
{
    o->n = n;
    o->m = err_calloc(n, sizeof *o->m);
    o->v = err_calloc(n, sizeof *o->v);
    o->t = 0;
}

void adamw_destroy(adamw_t *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

typedef struct {
    float b1, b2, c1, c2, eps, lr, wd, grad_scale;
} adamw_coef_t;

/* One contiguous range; restrict lets the compiler vectorise it. */
static void adamw_range(float *restrict p, float *restrict m, float *restrict v, const float *restrict g, size_t n,
                        const adamw_coef_t *k)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * k->grad_scale;
        m[i] = k->b1 * m[i] + (1.0f - k->b1) * gi;
        v[i] = k->b2 * v[i] + (1.0f - k->b2) * gi * gi;
        float mhat = m[i] * k->c1, vhat = v[i] * k->c2;
        p[i] -= k->lr * (mhat / (sqrtf(vhat) + k->eps) + k->wd * p[i]);
    }
}

enum { ADAMW_CHUNK = 1 << 14 }; /* elements per task: large enough to amortise scheduling */

void adamw_step(adamw_t *o, float *params, const float *grads, float grad_scale, const gpt_tensor_t *tensors,
                int n_tensors, float lr, const adamw_hparams_t *h)
{
    o->t++;
    adamw_coef_t base = {h->beta1, h->beta2, 1.0f / (1.0f - powf(h->beta1, (float)o->t)),
                         1.0f / (1.0f - powf(h->beta2, (float)o->t)), h->eps, lr, 0.0f, grad_scale};
#pragma omp parallel
    for (int ti = 0; ti < n_tensors; ti++) {
        const gpt_tensor_t *t = &tensors[ti];
        adamw_coef_t k = base;
        k.wd = t->decay ? h->weight_decay : 0.0f;
        size_t n_chunks = (t->size + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
#pragma omp for schedule(static) nowait
        for (size_t c = 0; c < n_chunks; c++) {
            size_t off = t->offset + c * ADAMW_CHUNK, n = t->size - c * ADAMW_CHUNK;
            adamw_range(params + off, o->m + off, o->v + off, grads + off, n < ADAMW_CHUNK ? n : ADAMW_CHUNK, &k);
        }
    }
}

float optim_lr(int64_t step, int64_t warmup, int64_t max_steps, float lr, float min_lr)
{
    if (step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (max_steps <= warmup) return lr;
    double progress = (double)(step - warmup) / (double)(max_steps - warmup);
    if (progress > 1.0) progress = 1.0;
    return (float)(min_lr + 0.5 * (1.0 + cos(M_PI * progress)) * (lr - min_lr));
}

enum { NORM_CHUNK = 1 << 16 };

double optim_norm(const float *x, size_t n)
{
    size_t n_chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    double *part = err_calloc(n_chunks, sizeof *part);
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < n_chunks; c++) {
        size_t end = (c + 1) * NORM_CHUNK < n ? (c + 1) * NORM_CHUNK : n;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t i = c * NORM_CHUNK; i < end; i++) s += (double)x[i] * x[i];
        part[c] = s;
    }
    double total = 0;
    for (size_t c = 0; c < n_chunks; c++) total += part[c];
    free(part);
    return sqrt(total);
}

float optim_clip_scale(double norm, float max_norm)
{
    return max_norm > 0 && norm > max_norm ? (float)(max_norm / norm) : 1.0f;
}
