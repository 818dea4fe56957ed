/* check: numeric comparison helpers shared by the kernel, model and optimiser suites.
 * Include after <cmocka.h> (check_close fails the running test through fail_msg). */
#ifndef IL_TESTS_CHECK_H
#define IL_TESTS_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "core/rng.h"

/* How many elements lie outside |got - want| <= atol + rtol * |want| (a NaN on either side counts as
 * outside). With `report`, the worst one is printed under `name`, so a failure says where and by how much.
 * Returning the count, rather than failing, lets a test assert that a comparison *rejects* wrong data. */
static inline size_t count_far(const char *name, const float *got, const float *want, size_t n, double rtol,
                               double atol, int report)
{
    size_t bad = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]), lim = atol + rtol * fabs((double)want[i]);
        if (d <= lim) continue;
        bad++;
        double excess = isnan(d) ? INFINITY : d - lim;
        if (excess > worst_excess) worst_excess = excess, worst = i;
    }
    if (bad && report)
        printf("%s: %zu of %zu outside tolerance (rtol %g, atol %g); worst [%zu]: got %.9g want %.9g\n", name, bad,
               n, rtol, atol, worst, got[worst], want[worst]);
    return bad;
}

static inline void check_close(const char *name, const float *got, const float *want, size_t n, double rtol,
                               double atol)
{
    if (count_far(name, got, want, n, rtol, atol, 1)) fail_msg("%s: values differ beyond tolerance", name);
}

/* |got - want| <= tol for scalars (this cmocka has no assert_double_equal); a macro, so that a failure
 * reports the test's own line and expression. */
#define assert_near(got, want, tol)                                                                       \
    do {                                                                                                   \
        double got_ = (got), want_ = (want), tol_ = (tol);                                                 \
        if (!(fabs(got_ - want_) <= tol_))                                                                 \
            fail_msg("%s = %.9g, want %s = %.9g within %g", #got, got_, #want, want_, tol_);               \
    } while (0)

static inline double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs((double)x[i]) > m ? fabs((double)x[i]) : m;
    return m;
}

/* Normwise comparison: each element within rtol of its own magnitude or of the array's largest. Suits
 * results of float sums, whose rounding error scales with the magnitude of the terms, not of the sum
 * (an element that cancels to near zero carries the absolute error of its large neighbours). */
static inline void check_close_scaled(const char *name, const float *got, const float *want, size_t n, double rtol)
{
    check_close(name, got, want, n, rtol, rtol * max_abs(want, n));
}

static inline void fill_normal(rng_t *r, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = scale * rng_normal(r);
}

#endif
