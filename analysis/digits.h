/* digits: how many significant digits an estimate and its interval need. At a fixed %.3g an interval as
 * narrow as a jackknife's over near-equal groups prints as "1.04 [1.04, 1.04]", which says nothing of its
 * width; the precision is raised until numbers that differ print apart. */
#ifndef IL_AGG_DIGITS_H
#define IL_AGG_DIGITS_H

#include <stddef.h>

enum { DIGITS_MIN = 3, DIGITS_MAX = 9 };

/* The fewest significant digits, DIGITS_MIN to DIGITS_MAX, at which each two of est, lo and hi that differ
 * print differently under "%.*g" (numbers that are equal print alike at any precision; NaN is skipped). */
int digits_needed(double est, double lo, double hi);

/* "est [lo, hi]" at digits_needed's precision, with a sign on est when `sign`, into buf (n bytes). */
void digits_interval(char *buf, size_t n, double est, double lo, double hi, int sign);

#endif
