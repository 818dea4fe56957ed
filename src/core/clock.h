/* clock: seconds on the monotonic clock, for durations (a step, a read, a tokenizer's training): never
 * set back, unlike the wall clock, so a difference of two readings is never negative. */
#ifndef IL_CLOCK_H
#define IL_CLOCK_H

#include <time.h>

static inline double clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
