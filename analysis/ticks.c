#include "analysis/ticks.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Appends v to the space-separated list in buf. */
static void put(char *buf, size_t n, double v)
{
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "%s%.9g", len ? " " : "", v);
}

int ticks_log(double *lo, double *hi, char *buf, size_t n)
{
    double a = *lo / 1.3, b = *hi * 1.3;
    if (b / a < 10) {
        double c = sqrt(a * b);
        a = c / sqrt(10), b = c * sqrt(10);
    }
    *lo = a, *hi = b;
    int first = (int)floor(log10(a)), last = (int)ceil(log10(b)), decades = 0;
    for (int k = first; k <= last; k++) decades += pow(10, k) >= a && pow(10, k) <= b;
    static const double mant[] = {1, 2, 5};
    int m = 0;
    buf[0] = '\0';
    for (int k = first; k <= last; k++)
        for (int j = 0; j < (decades >= 3 ? 1 : 3); j++) {
            double v = mant[j] * pow(10, k);
            if (v >= a && v <= b) put(buf, n, v), m++;
        }
    return m;
}

int ticks_linear(double *lo, double *hi, char *buf, size_t n, int *decimals)
{
    double pad = 0.05 * (*hi - *lo), a = *lo - pad, b = *hi + pad, mag = fmax(fabs(a), fabs(b));
    double min_span = 0.1 * (mag > 0 ? mag : 1);
    if (b - a < min_span) {
        double c = (a + b) / 2;
        a = c - min_span / 2, b = c + min_span / 2;
    }
    *lo = a, *hi = b;
    /* the largest 1, 2 or 5 x 10^k at most a fifth of the span */
    double raw = (b - a) / 5, p = pow(10, floor(log10(raw))), step = p;
    if (5 * p <= raw) step = 5 * p;
    else if (2 * p <= raw) step = 2 * p;
    int m = 0;
    buf[0] = '\0';
    for (double k = ceil(a / step); k * step <= b; k++) put(buf, n, k * step), m++;
    *decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    return m;
}
