#include "model/optim.h"

#include <math.h>
#include <stdlib.h>

#include "core/err.h"

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
