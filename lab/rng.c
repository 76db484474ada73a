/* rng.c: xoshiro256** (Blackman & Vigna) with splitmix64 seeding. */
#include "lab/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void lab_rng_seed(lab_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t lab_rng_u64(lab_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float lab_rng_uniform(lab_rng *r) { return (float)(lab_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

uint32_t lab_rng_below(lab_rng *r, uint32_t n) {
  /* Lemire's multiply-shift with rejection. */
  uint64_t m = (uint64_t)(uint32_t)(lab_rng_u64(r) >> 32) * n;
  uint32_t lo = (uint32_t)m;
  if (lo < n) {
    uint32_t t = (uint32_t)(-n) % n;
    while (lo < t) {
      m = (uint64_t)(uint32_t)(lab_rng_u64(r) >> 32) * n;
      lo = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

float lab_rng_normal(lab_rng *r) {
  double u1 = ((double)(lab_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0); /* (0,1] */
  double u2 = (double)(lab_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float lab_rng_trunc_normal(lab_rng *r, float std) {
  for (;;) {
    float z = lab_rng_normal(r);
    if (z >= -2.0f && z <= 2.0f) return z * std;
  }
}

lab_rng lab_rng_split(lab_rng *r, uint64_t tag) {
  lab_rng out;
  lab_rng_seed(&out, lab_rng_u64(r) ^ (tag * 0xD1B54A32D192ED03ull));
  return out;
}
