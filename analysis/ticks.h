/* ticks: axis ranges and tick values for figures of a few points. gnuplot's autoscale gives one point, or
 * points within a few percent, an axis of one labelled tick (or an "empty range" warning); these ranges are
 * widened to a span that always holds several ticks, and the ticks are listed for the script. */
#ifndef IL_AGG_TICKS_H
#define IL_AGG_TICKS_H

#include <stddef.h>

/* A log axis over data in [*lo, *hi] (positive): padded by 30% each side, then widened about its geometric
 * centre to at least a factor of 10. Its ticks, the values 1, 2, 5 x 10^k inside (only the powers of ten
 * when those are 3 or more), written to buf (n bytes) separated by spaces. Returns the number of ticks. */
int ticks_log(double *lo, double *hi, char *buf, size_t n);

/* A linear axis over data in [*lo, *hi]: padded by 5% of the span each side, then widened about its centre
 * to at least 10% of its magnitude (a span of 0 included). Ticks at a step of 1, 2 or 5 x 10^k giving 5 to 13
 * ticks inside, written to buf; the decimals that tell them apart in *decimals. Returns the number. */
int ticks_linear(double *lo, double *hi, char *buf, size_t n, int *decimals);

#endif
