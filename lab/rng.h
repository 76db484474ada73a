/* rng.h: explicit, serialisable random numbers (xoshiro256** seeded by splitmix64).
 * No global state: every consumer holds or borrows a lab_rng. */
#ifndef LAB_RNG_H
#define LAB_RNG_H

#include <stdint.h>

typedef struct lab_rng {
  uint64_t s[4];
} lab_rng;

void lab_rng_seed(lab_rng *r, uint64_t seed);
uint64_t lab_rng_u64(lab_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float lab_rng_uniform(lab_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint32_t lab_rng_below(lab_rng *r, uint32_t n);
/* Standard normal (Box-Muller, double internally). */
float lab_rng_normal(lab_rng *r);
/* Normal(0, std) redrawn until within 2 std (as torch.nn.init.trunc_normal_ with a=-2std, b=2std). */
float lab_rng_trunc_normal(lab_rng *r, float std);
/* An independent stream derived from r's current state and a tag (r advances once). */
lab_rng lab_rng_split(lab_rng *r, uint64_t tag);

#endif
