/* rng: a small deterministic generator (xoshiro256**, seeded through splitmix64), so that runs
 * reproduce bit for bit on any machine and its state fits in a checkpoint. */
#ifndef IL_RNG_H
#define IL_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng_t;

void rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_u64(rng_t *r);
double rng_uniform(rng_t *r); /* [0, 1) with 53 random bits */
float rng_normal(rng_t *r);   /* standard normal, Box-Muller, no cached second value */

#endif
