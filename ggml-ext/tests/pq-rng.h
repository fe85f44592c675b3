// The tests' and benchmarks' random numbers: splitmix64, so that every platform (and qemu) draws
// the same sequence and a failing case reproduces anywhere. Define PQ_RNG_SEED before including.
#pragma once

#include <stdint.h>

#ifndef PQ_RNG_SEED
#define PQ_RNG_SEED 0x9E3779B97F4A7C15ull
#endif

static uint64_t rng_state = PQ_RNG_SEED;

static inline uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in [-1, 1).
static inline float frand(void) { return (float) ((rng() >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f; }
