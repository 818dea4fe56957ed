#include "model/adamw.h"

#include <math.h>
#include <stdlib.h>

#include "core/err.h"

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
