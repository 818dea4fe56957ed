#include "analysis/digits.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Whether a and b, when they differ, print differently at p digits. */
static int apart(double a, double b, int p)
{
    if (!isfinite(a) || !isfinite(b) || a == b) return 1;
    char x[64], y[64];
    snprintf(x, sizeof x, "%.*g", p, a);
    snprintf(y, sizeof y, "%.*g", p, b);
    return strcmp(x, y) != 0;
}

int digits_needed(double est, double lo, double hi)
{
    int p = DIGITS_MIN;
    while (p < DIGITS_MAX && !(apart(est, lo, p) && apart(est, hi, p) && apart(lo, hi, p))) p++;
    return p;
}

void digits_interval(char *buf, size_t n, double est, double lo, double hi, int sign)
{
    int p = digits_needed(est, lo, hi);
    snprintf(buf, n, sign ? "%+.*g [%.*g, %.*g]" : "%.*g [%.*g, %.*g]", p, est, p, lo, p, hi);
}
