/*
 * test_placement.c - node spec parsing, replica distinctness, determinism
 * and weight balance of the greedy placement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "placement.h"

static void test_parse_node(void **state)
{
	char *p;
	uint32_t w;

	(void)state;
	assert_int_equal(sc_placement_parse_node("/mnt/a", &p, &w), 0);
	assert_string_equal(p, "/mnt/a");
	assert_int_equal(w, 1);
	free(p);
	assert_int_equal(sc_placement_parse_node("/mnt/b:3", &p, &w), 0);
	assert_string_equal(p, "/mnt/b");
	assert_int_equal(w, 3);
	free(p);
	/* a colon not followed by digits is part of the path */
	assert_int_equal(sc_placement_parse_node("/mnt/c:d", &p, &w), 0);
	assert_string_equal(p, "/mnt/c:d");
	assert_int_equal(w, 1);
	free(p);
	assert_int_equal(sc_placement_parse_node("/mnt/e:0", &p, &w), SC_EUSAGE);
	assert_int_equal(sc_placement_parse_node("/mnt/e:99999999", &p, &w), SC_EUSAGE);
	assert_int_equal(sc_placement_parse_node(":5", &p, &w), SC_EUSAGE);
	assert_int_equal(sc_placement_parse_node("", &p, &w), SC_EUSAGE);
}

static void test_replicas_distinct(void **state)
{
	uint64_t bytes[4] = { 0, 0, 0, 0 };
	uint32_t weight[4] = { 1, 1, 1, 1 };
	uint32_t out[4];

	(void)state;
	for (int s = 0; s < 100; s++) {
		assert_int_equal(sc_placement_choose(bytes, weight, 4, 100, 3, out), 0);
		assert_true(out[0] != out[1] && out[0] != out[2] && out[1] != out[2]);
		for (int r = 0; r < 3; r++)
			bytes[out[r]] += 100;
	}
	/* 300 replicas over 4 equal nodes: exactly 75 each */
	for (int i = 0; i < 4; i++)
		assert_int_equal(bytes[i], 7500);
	assert_int_equal(sc_placement_choose(bytes, weight, 4, 1, 5, out), SC_EUSAGE);
	assert_int_equal(sc_placement_choose(bytes, weight, 4, 1, 0, out), SC_EUSAGE);
}

static void test_first_choice_and_ties(void **state)
{
	uint64_t bytes[3] = { 0, 0, 0 };
	uint32_t weight[3] = { 1, 2, 1 };
	uint32_t out[2];

	(void)state;
	/* (0+e)/1 vs (0+e)/2: the heavier node wins first */
	assert_int_equal(sc_placement_choose(bytes, weight, 3, 10, 1, out), 0);
	assert_int_equal(out[0], 1);
	/* equal load per weight: lowest index wins */
	weight[1] = 1;
	assert_int_equal(sc_placement_choose(bytes, weight, 3, 10, 2, out), 0);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 1);
}

/* Random shard sizes, weights 1:2:3:4, replicas 2: each node within 5%. */
static void test_weighted_balance(void **state)
{
	uint64_t bytes[4] = { 0 };
	uint32_t weight[4] = { 1, 2, 3, 4 };
	uint64_t total = 0;
	uint32_t out[2];
	uint64_t seed = 12345;

	(void)state;
	for (int s = 0; s < 60; s++) {
		uint64_t size;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size = 900000 + (seed >> 33) % 200000; /* +-10% sizes */
		assert_int_equal(sc_placement_choose(bytes, weight, 4, size, 2, out), 0);
		for (int r = 0; r < 2; r++)
			bytes[out[r]] += size;
		total += 2 * size;
	}
	for (int i = 0; i < 4; i++) {
		double want = (double)total * weight[i] / 10.0;
		double dev = ((double)bytes[i] - want) / want;

		assert_true(dev < 0.05 && dev > -0.05);
	}
}

static void test_deterministic(void **state)
{
	uint64_t a[3] = { 0 }, b[3] = { 0 };
	uint32_t weight[3] = { 1, 1, 2 };
	uint32_t oa[1], ob[1];

	(void)state;
	for (int s = 0; s < 50; s++) {
		assert_int_equal(sc_placement_choose(a, weight, 3, 1000 + s, 1, oa), 0);
		assert_int_equal(sc_placement_choose(b, weight, 3, 1000 + s, 1, ob), 0);
		assert_int_equal(oa[0], ob[0]);
		a[oa[0]] += 1000 + s;
		b[ob[0]] += 1000 + s;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_node),
		cmocka_unit_test(test_replicas_distinct),
		cmocka_unit_test(test_first_choice_and_ties),
		cmocka_unit_test(test_weighted_balance),
		cmocka_unit_test(test_deterministic),
	};

	return cmocka_run_group_tests_name("placement", tests, NULL, NULL);
}
