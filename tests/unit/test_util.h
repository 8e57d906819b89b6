/*
 * test_util.h - small helpers shared by the unit tests.
 *
 * rng(): a seeded xorshift64 generator, so every "random" case is the same
 * on every run (set rng_state to a non-zero seed first).
 */
#ifndef SC_TEST_UTIL_H
#define SC_TEST_UTIL_H

#include <stdint.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static inline uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

#endif
