/* Optimiser: AdamW against the formulas written out in double, the learning-rate schedule, the global
 * norm and the clipping factor. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/adamw.h"
#include "model/optim.h"
#include "core/rng.h"

#include "tests/check.h"

/* Two tensors as the model would describe them: "w" (3 floats, decays) then "b" (2 floats, does not). */
enum { N_PARAMS = 5 };
static const gpt_tensor_t two_tensors[] = {
    {"w", -1, 0, 3, 1},
    {"b", -1, 3, 2, 0},
};

/* AdamW in double, independent of the code under test: bias-corrected moments and weight decay
 * decoupled from the gradient (p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p)), only where `decay`. */
static void adamw_double(double *p, double *m, double *v, int t, const float *g, double grad_scale,
                         const int *decay, double lr, const adamw_hparams_t *h)
{
    for (int i = 0; i < N_PARAMS; i++) {
        double gi = g[i] * grad_scale;
        m[i] = h->beta1 * m[i] + (1 - h->beta1) * gi;
        v[i] = h->beta2 * v[i] + (1 - h->beta2) * gi * gi;
        double mhat = m[i] / (1 - pow(h->beta1, t)), vhat = v[i] / (1 - pow(h->beta2, t));
        p[i] -= lr * (mhat / (sqrt(vhat) + h->eps) + (decay[i] ? h->weight_decay : 0) * p[i]);
    }
}

static void to_float(float *dst, const double *src, int n)
{
    for (int i = 0; i < n; i++) dst[i] = (float)src[i];
}

static void test_adamw_matches_formulas(void **state)
{
    (void)state;
    const adamw_hparams_t h = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    const float lr = 0.01f;
    const int decay[N_PARAMS] = {1, 1, 1, 0, 0};
    /* grads per step: signs change, one element is zero at first (eps keeps 0/0 away), magnitudes differ
     * by 100x (Adam's update must not care) */
    const float grads[3][N_PARAMS] = {
        {0.2f, -0.5f, 0.0f, 0.02f, -3.0f},
        {-0.1f, -0.4f, 1.0f, 0.03f, 2.0f},
        {0.3f, 0.1f, -0.5f, -0.01f, 1.0f},
    };
    const float p0[N_PARAMS] = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f};
    float p[N_PARAMS];
    memcpy(p, p0, sizeof p);
    double pd[N_PARAMS], md[N_PARAMS] = {0}, vd[N_PARAMS] = {0};
    for (int i = 0; i < N_PARAMS; i++) pd[i] = p0[i];
    adamw_t o;
    adamw_create(&o, N_PARAMS);
    for (int step = 1; step <= 3; step++) {
        adamw_step(&o, p, grads[step - 1], 1.0f, two_tensors, 2, lr, &h);
        adamw_double(pd, md, vd, step, grads[step - 1], 1.0, decay, lr, &h);
        assert_int_equal(o.t, step);
        float want[N_PARAMS];
        /* float against double: parameters ~1 and updates ~lr, so a few 1e-7 of rounding per step */
        to_float(want, pd, N_PARAMS), check_close("params", p, want, N_PARAMS, 0, 1e-6);
        to_float(want, md, N_PARAMS), check_close("m", o.m, want, N_PARAMS, 1e-5, 1e-9);
        to_float(want, vd, N_PARAMS), check_close("v", o.v, want, N_PARAMS, 1e-5, 1e-12);
        if (step == 1) {
            /* By hand, first step: m = 0.1 g, v = 0.05 g^2, so mhat = g and vhat = g^2 and the update is
             * lr * (g / (|g| + eps) + wd * p) = lr * (sign(g) + wd * p) to 1e-7.
             *   w[0]: p = 0.5, g = 0.2 (decays):      0.5 - 0.01 * (1 + 0.1 * 0.5)  = 0.4895
             *   w[2]: p = 2, g = 0 (decays):          2 - 0.01 * (0 + 0.1 * 2)     = 1.998
             *   b[1]: p = -0.75, g = -3 (no decay):  -0.75 - 0.01 * (-1)          = -0.74 */
            assert_near(p[0], 0.4895, 1e-6);
            assert_near(p[2], 1.998, 1e-6);
            assert_near(p[4], -0.74, 1e-6);
        }
    }
    adamw_destroy(&o);
}

/* grad_scale multiplies the gradient before anything else, so scaling the gradients beforehand (the same
 * float multiplication) must give the same bits. */
static void test_adamw_grad_scale(void **state)
{
    (void)state;
    const adamw_hparams_t h = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.05f};
    const float scale = 0.37f;
    rng_t r;
    rng_seed(&r, 1);
    float p_a[N_PARAMS], p_b[N_PARAMS], g[N_PARAMS], g_scaled[N_PARAMS];
    fill_normal(&r, p_a, N_PARAMS, 1);
    memcpy(p_b, p_a, sizeof p_a);
    adamw_t a, b;
    adamw_create(&a, N_PARAMS);
    adamw_create(&b, N_PARAMS);
    for (int step = 0; step < 4; step++) {
        fill_normal(&r, g, N_PARAMS, 1);
        for (int i = 0; i < N_PARAMS; i++) g_scaled[i] = g[i] * scale;
        adamw_step(&a, p_a, g, scale, two_tensors, 2, 1e-2f, &h);
        adamw_step(&b, p_b, g_scaled, 1.0f, two_tensors, 2, 1e-2f, &h);
        assert_memory_equal(p_a, p_b, sizeof p_a);
        assert_memory_equal(a.m, b.m, sizeof p_a);
        assert_memory_equal(a.v, b.v, sizeof p_a);
    }
    /* and it is applied, not ignored: one step from fresh moments has v = (1 - beta2) (scale g)^2 */
    adamw_t c;
    float p_c[N_PARAMS] = {0}, v_want[N_PARAMS];
    adamw_create(&c, N_PARAMS);
    adamw_step(&c, p_c, g, scale, two_tensors, 2, 1e-2f, &h);
    for (int i = 0; i < N_PARAMS; i++) v_want[i] = (float)((1 - (double)h.beta2) * scale * scale * g[i] * g[i]);
    check_close("v after a scaled step", c.v, v_want, N_PARAMS, 1e-5, 0);
    adamw_destroy(&a), adamw_destroy(&b), adamw_destroy(&c);
}

/* ---------------- learning-rate schedule ---------------- */

static void test_lr_schedule(void **state)
{
    (void)state;
    const double lr = 6e-4, min_lr = 6e-5;
    const int64_t warmup = 10, max_steps = 110;
    const double tol = 1e-7 * lr; /* float results of double formulas */
    /* warmup: linear, reaching lr on the last warmup step (step counts from 0, so step 0 already moves) */
    assert_near(optim_lr(0, warmup, max_steps, lr, min_lr), lr / warmup, tol);
    assert_near(optim_lr(4, warmup, max_steps, lr, min_lr), lr * 5 / warmup, tol);
    assert_near(optim_lr(warmup - 1, warmup, max_steps, lr, min_lr), lr, tol);
    assert_near(optim_lr(warmup, warmup, max_steps, lr, min_lr), lr, tol); /* peak: cosine at 0 */
    /* cosine: half way is the mid value, a quarter is min + (lr - min)(1 + cos(pi/4))/2 */
    assert_near(optim_lr(60, warmup, max_steps, lr, min_lr), (lr + min_lr) / 2, tol);
    assert_near(optim_lr(35, warmup, max_steps, lr, min_lr), min_lr + (lr - min_lr) * (1 + sqrt(0.5)) / 2, tol);
    assert_near(optim_lr(max_steps, warmup, max_steps, lr, min_lr), min_lr, tol);
    assert_near(optim_lr(max_steps + 1, warmup, max_steps, lr, min_lr), min_lr, tol);
    assert_near(optim_lr(100 * max_steps, warmup, max_steps, lr, min_lr), min_lr, tol);
    /* rising through warmup, falling after, never outside [min_lr, lr] past warmup */
    for (int64_t s = 1; s < 2 * max_steps; s++) {
        float a = optim_lr(s - 1, warmup, max_steps, lr, min_lr), b = optim_lr(s, warmup, max_steps, lr, min_lr);
        if (s < warmup) assert_true(b > a);
        else if (s > warmup) assert_true(b <= a && b >= (float)min_lr);
    }
    /* no warmup: the peak at step 0, then the same cosine */
    assert_near(optim_lr(0, 0, 100, lr, min_lr), lr, tol);
    assert_near(optim_lr(50, 0, 100, lr, min_lr), (lr + min_lr) / 2, tol);
    assert_near(optim_lr(100, 0, 100, lr, min_lr), min_lr, tol);
    assert_near(optim_lr(1000, 0, 100, lr, min_lr), min_lr, tol);
}

/* ---------------- norm and clipping ---------------- */

static double naive_norm(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

static void test_norm(void **state)
{
    (void)state;
    enum { CHUNK = 65536 };
    /* below, at and across the chunk boundaries, and 0 */
    const size_t sizes[] = {0, 1, 7, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17};
    rng_t r;
    rng_seed(&r, 2);
    float *x = err_calloc(3 * CHUNK + 17, sizeof *x);
    fill_normal(&r, x, 3 * CHUNK + 17, 1);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        /* both sum squares in double; only the grouping differs: relative 1e-12 is generous */
        double want = naive_norm(x, n);
        assert_near(optim_norm(x, n), want, 1e-12 * want);
    }
    /* squares beyond float range (1e25^2 = 1e50) must be summed in double */
    float big[3] = {1e25f, -2e25f, 2e25f};
    assert_near(optim_norm(big, 3), 3e25, 1e-6 * 3e25);
    /* the chunked sum gives the same bits on 1 and 2 threads */
    int saved = omp_get_max_threads();
    double by_threads[2];
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        by_threads[k] = optim_norm(x, 3 * CHUNK + 17);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(&by_threads[0], &by_threads[1], sizeof(double));
    free(x);
}

static void test_clip_scale(void **state)
{
    (void)state;
    assert_true(optim_clip_scale(0.5, 1.0f) == 1.0f);    /* within: untouched */
    assert_true(optim_clip_scale(1.0, 1.0f) == 1.0f);    /* at the threshold */
    assert_near(optim_clip_scale(4.0, 1.0f), 0.25, 1e-7); /* above: brought down to max_norm */
    assert_near(optim_clip_scale(3.0, 1.5f) * 3.0, 1.5, 1e-6);
    assert_true(optim_clip_scale(1e30, 0.0f) == 1.0f);   /* 0 disables clipping */
    assert_true(optim_clip_scale(0.0, 1.0f) == 1.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_matches_formulas),
        cmocka_unit_test(test_adamw_grad_scale),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_norm),
        cmocka_unit_test(test_clip_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
