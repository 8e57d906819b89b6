/*
 * test_dedup.c - unit tests for codec/dedup.c: set semantics, the
 * all-zero fingerprint, determinism, and the memory budget promised in
 * dedup.h (checked after every one of 2 million inserts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dedup.h"

/* splitmix64: a fixed stream of well-mixed 64-bit values */
static uint64_t next_u64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static struct sc_fp random_fp(uint64_t *state)
{
	struct sc_fp fp;

	fp.lo = next_u64(state);
	fp.hi = next_u64(state);
	return fp;
}

static void test_empty(void **unused)
{
	struct sc_dedup *d = NULL;
	struct sc_fp fp = { 1, 2 };

	(void)unused;
	assert_int_equal(sc_dedup_new(&d), 0);
	assert_non_null(d);
	assert_int_equal(sc_dedup_count(d), 0);
	assert_int_equal(sc_dedup_contains(d, &fp), 0);
	/* an empty index is its directory only */
	assert_true(sc_dedup_memory_bytes(d) > 0);
	assert_true(sc_dedup_memory_bytes(d) <= 64 * 1024);
	assert_int_equal(sc_dedup_peak_bytes(d), sc_dedup_memory_bytes(d));
	sc_dedup_free(d);
	sc_dedup_free(NULL);
	assert_int_equal(sc_dedup_count(NULL), 0);
	assert_int_equal(sc_dedup_memory_bytes(NULL), 0);
}

static void test_insert_and_duplicates(void **unused)
{
	struct sc_dedup *d;
	struct sc_fp a = { 0x1111, 0x2222 }, b = { 0x1111, 0x2223 };
	struct sc_fp c = { 0x1112, 0x2222 };

	(void)unused;
	assert_int_equal(sc_dedup_new(&d), 0);
	assert_int_equal(sc_dedup_insert(d, &a), 1);
	assert_int_equal(sc_dedup_insert(d, &a), 0);
	assert_int_equal(sc_dedup_count(d), 1);
	/* differs from a in one half only: distinct */
	assert_int_equal(sc_dedup_contains(d, &b), 0);
	assert_int_equal(sc_dedup_contains(d, &c), 0);
	assert_int_equal(sc_dedup_insert(d, &b), 1);
	assert_int_equal(sc_dedup_insert(d, &c), 1);
	assert_int_equal(sc_dedup_insert(d, &b), 0);
	assert_int_equal(sc_dedup_insert(d, &c), 0);
	assert_int_equal(sc_dedup_count(d), 3);
	assert_int_equal(sc_dedup_contains(d, &a), 1);
	assert_int_equal(sc_dedup_contains(d, &b), 1);
	assert_int_equal(sc_dedup_contains(d, &c), 1);
	sc_dedup_free(d);
}

static void test_zero_fingerprint(void **unused)
{
	struct sc_dedup *d;
	struct sc_fp zero = { 0, 0 }, lo_only = { 0, 5 }, hi_only = { 5, 0 };

	(void)unused;
	assert_int_equal(sc_dedup_new(&d), 0);
	assert_int_equal(sc_dedup_contains(d, &zero), 0);
	assert_int_equal(sc_dedup_insert(d, &zero), 1);
	assert_int_equal(sc_dedup_contains(d, &zero), 1);
	assert_int_equal(sc_dedup_insert(d, &zero), 0);
	assert_int_equal(sc_dedup_count(d), 1);
	/* half-zero fingerprints are ordinary values */
	assert_int_equal(sc_dedup_contains(d, &lo_only), 0);
	assert_int_equal(sc_dedup_contains(d, &hi_only), 0);
	assert_int_equal(sc_dedup_insert(d, &lo_only), 1);
	assert_int_equal(sc_dedup_insert(d, &hi_only), 1);
	assert_int_equal(sc_dedup_count(d), 3);
	assert_int_equal(sc_dedup_insert(d, &zero), 0);
	sc_dedup_free(d);
}

/* Many fingerprints in the same sub-table and the same home slot. */
static void test_collisions(void **unused)
{
	struct sc_dedup *d;
	struct sc_fp fp;

	(void)unused;
	assert_int_equal(sc_dedup_new(&d), 0);
	for (uint64_t k = 0; k < 2000; k++) {
		fp.lo = k;             /* home slot 0 in every size */
		fp.hi = UINT64_C(7);   /* sub-table 0 */
		assert_int_equal(sc_dedup_insert(d, &fp), 1);
	}
	for (uint64_t k = 0; k < 2000; k++) {
		fp.lo = k;
		fp.hi = UINT64_C(7);
		assert_int_equal(sc_dedup_insert(d, &fp), 0);
		fp.hi = UINT64_C(8);
		assert_int_equal(sc_dedup_contains(d, &fp), 0);
	}
	assert_int_equal(sc_dedup_count(d), 2000);
	sc_dedup_free(d);
}

/*
 * 2 million random fingerprints, each inserted once and every tenth
 * inserted again: the count, the answers and the budget
 *   memory <= 24 * count + 64 KiB       after every insert
 *   peak   <= 24 * count + 1 MiB        once count >= 100k
 * must hold throughout; then every fingerprint is found and fresh ones
 * are not.
 */
static void test_budget_2m(void **unused)
{
	const uint64_t n = 2000000;
	struct sc_dedup *d;
	uint64_t st = 42, count = 0;

	(void)unused;
	assert_int_equal(sc_dedup_new(&d), 0);
	for (uint64_t k = 0; k < n; k++) {
		struct sc_fp fp = random_fp(&st);
		uint64_t mem, peak;

		if (sc_dedup_insert(d, &fp) != 1)
			fail_msg("insert %llu not new", (unsigned long long)k);
		count++;
		if (k % 10 == 0 && sc_dedup_insert(d, &fp) != 0)
			fail_msg("insert %llu again not a duplicate", (unsigned long long)k);
		mem = sc_dedup_memory_bytes(d);
		peak = sc_dedup_peak_bytes(d);
		if (mem > 24 * count + 64 * 1024)
			fail_msg("memory %llu bytes > budget at count %llu",
				 (unsigned long long)mem, (unsigned long long)count);
		if (count >= 100000 && peak > 24 * count + 1024 * 1024)
			fail_msg("peak %llu bytes > budget at count %llu",
				 (unsigned long long)peak, (unsigned long long)count);
		if (peak < mem)
			fail_msg("peak below current memory");
	}
	assert_int_equal(sc_dedup_count(d), n);
	st = 42;
	for (uint64_t k = 0; k < n; k++) {
		struct sc_fp fp = random_fp(&st);

		if (!sc_dedup_contains(d, &fp))
			fail_msg("fingerprint %llu lost", (unsigned long long)k);
	}
	for (uint64_t k = 0; k < 100000; k++) {
		struct sc_fp fp = random_fp(&st); /* beyond the inserted stream */

		if (sc_dedup_contains(d, &fp))
			fail_msg("phantom fingerprint %llu", (unsigned long long)k);
	}
	sc_dedup_free(d);
}

/* The same input gives the same answers, counts and memory figures. */
static void test_deterministic(void **unused)
{
	struct sc_dedup *d1, *d2;
	uint64_t s1 = 7, s2 = 7;

	(void)unused;
	assert_int_equal(sc_dedup_new(&d1), 0);
	assert_int_equal(sc_dedup_new(&d2), 0);
	for (int k = 0; k < 20000; k++) {
		struct sc_fp a = random_fp(&s1), b = random_fp(&s2);

		/* a small universe so that duplicates are frequent */
		a.lo &= 0xFFFF;
		a.hi &= UINT64_C(0xF000000000000003);
		b.lo &= 0xFFFF;
		b.hi &= UINT64_C(0xF000000000000003);
		assert_int_equal(sc_dedup_insert(d1, &a), sc_dedup_insert(d2, &b));
	}
	assert_true(sc_dedup_count(d1) < 50000);
	assert_int_equal(sc_dedup_count(d1), sc_dedup_count(d2));
	assert_int_equal(sc_dedup_memory_bytes(d1), sc_dedup_memory_bytes(d2));
	assert_int_equal(sc_dedup_peak_bytes(d1), sc_dedup_peak_bytes(d2));
	sc_dedup_free(d1);
	sc_dedup_free(d2);
}

/* Small sets stay small: a few records cost a few cache lines. */
static void test_small_sets(void **unused)
{
	struct sc_dedup *d;
	uint64_t st = 3, base;

	(void)unused;
	assert_int_equal(sc_dedup_new(&d), 0);
	base = sc_dedup_memory_bytes(d);
	for (uint64_t c = 1; c <= 3000; c++) {
		struct sc_fp fp = random_fp(&st);

		assert_int_equal(sc_dedup_insert(d, &fp), 1);
		/* each used sub-table holds at most 1.5 * its count + 3 slots */
		if (sc_dedup_memory_bytes(d) - base > 24 * c + 48 * 1024)
			fail_msg("small set of %llu uses %llu bytes",
				 (unsigned long long)c,
				 (unsigned long long)sc_dedup_memory_bytes(d));
	}
	sc_dedup_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_insert_and_duplicates),
		cmocka_unit_test(test_zero_fingerprint),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_budget_2m),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_small_sets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
