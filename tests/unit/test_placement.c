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

/* ---- rebalancing (sc_placement_targets, sc_placement_rebalance) ---- */

/* Shares by weight, and the 1/replicas cap with the rest shared out. */
static void test_targets(void **state)
{
	uint32_t w3[3] = { 1, 1, 2 }, w4[3] = { 1, 1, 4 }, w0[3] = { 1, 0, 1 };
	uint64_t t[3];

	(void)state;
	assert_int_equal(sc_placement_targets(1000, 1, w3, 3, t), 0);
	assert_int_equal(t[0], 250);
	assert_int_equal(t[1], 250);
	assert_int_equal(t[2], 500);
	/* weights 1:1:4 with 2 replicas: node 2 capped at one replica of
	 * everything (1000), the other 1000 split evenly */
	assert_int_equal(sc_placement_targets(1000, 2, w4, 3, t), 0);
	assert_int_equal(t[0], 500);
	assert_int_equal(t[1], 500);
	assert_int_equal(t[2], 1000);
	/* weight 0 takes nothing; too few weighted nodes for the replicas */
	assert_int_equal(sc_placement_targets(1000, 1, w0, 3, t), 0);
	assert_int_equal(t[1], 0);
	assert_int_equal(t[0] + t[2], 1000);
	assert_int_equal(sc_placement_targets(1000, 3, w0, 3, t), SC_EUSAGE);
	assert_int_equal(sc_placement_targets(1000, 0, w3, 3, t), SC_EUSAGE);
}

/* Place n shards of the given sizes with the ingest rule on k nodes. */
static void ingest_place(const uint64_t *size, uint64_t n, unsigned replicas,
			 const uint32_t *weight, size_t k, uint32_t *slot)
{
	uint64_t bytes[16] = { 0 };

	assert_true(k <= 16);
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(sc_placement_choose(bytes, weight, k, size[i], replicas,
						     slot + i * replicas), 0);
		for (unsigned r = 0; r < replicas; r++)
			bytes[slot[i * replicas + r]] += size[i];
	}
}

/* Replicas of every shard on distinct nodes below k. */
static void assert_distinct(const uint32_t *slot, uint64_t n, unsigned replicas, size_t k)
{
	for (uint64_t i = 0; i < n; i++)
		for (unsigned r = 0; r < replicas; r++) {
			assert_true(slot[i * replicas + r] < k);
			for (unsigned q = 0; q < r; q++)
				assert_true(slot[i * replicas + q] != slot[i * replicas + r]);
		}
}

/*
 * Adding a fourth equal node to 120 equal shards with 2 replicas: the new
 * node gets its quarter within half a shard of each old node's excess,
 * every moved replica goes to the new node, nothing else changes, and a
 * second rebalance moves nothing.
 */
static void test_rebalance_add_node(void **state)
{
	enum { N = 120, R = 2 };
	uint64_t size[N], held[4] = { 0 }, moved = 0;
	uint32_t w[4] = { 1, 1, 1, 1 }, before[N * R], slot[N * R];
	int64_t changed;

	(void)state;
	for (int i = 0; i < N; i++)
		size[i] = 1000;
	ingest_place(size, N, R, w, 3, before);
	memcpy(slot, before, sizeof(slot));
	changed = sc_placement_rebalance(size, N, R, w, 4, slot);
	assert_true(changed > 0);
	assert_distinct(slot, N, R, 4);
	for (int k = 0; k < N * R; k++) {
		held[slot[k]] += size[k / R];
		if (slot[k] != before[k]) {
			assert_int_equal(slot[k], 3); /* only towards the new node */
			moved += size[k / R];
		}
	}
	assert_int_equal((uint64_t)changed * 1000, moved);
	/* ideal: a quarter of 240000 = 60000; within one shard per old node */
	assert_int_equal(changed, 60);
	assert_int_equal(moved, 60000);
	for (int n = 0; n < 4; n++)
		assert_true(held[n] >= 60000 - 1500 && held[n] <= 60000 + 1500);
	memcpy(before, slot, sizeof(slot));
	assert_int_equal(sc_placement_rebalance(size, N, R, w, 4, slot), 0);
	assert_memory_equal(before, slot, sizeof(slot));
}

/*
 * Removing a node (its slots SC_PLACEMENT_NONE): its replicas move, to
 * nodes not holding the shard, and the nodes end within a shard of their
 * targets. The ingest rule pairs equal nodes ({0,1}, {2,3}, {0,1}, ...),
 * so node 1's replicas cannot go to node 0, which holds every one of
 * those shards: the minimum is node 1's 45 replicas plus the 15 that
 * node 0 must take from nodes 2 and 3 to reach its third, and that is
 * exactly what moves.
 */
static void test_rebalance_remove_node(void **state)
{
	enum { N = 90, R = 2 };
	uint64_t size[N], held[3] = { 0 }, want = 0;
	uint32_t w[4] = { 1, 1, 1, 1 }, before[N * R], slot[N * R];
	int64_t changed, gone = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		size[i] = 1000;
		want += size[i];
	}
	want = want * R / 3;
	ingest_place(size, N, R, w, 4, before);
	/* drop node 1: nodes 2, 3 become 1, 2 */
	for (int k = 0; k < N * R; k++) {
		if (before[k] == 1) {
			slot[k] = SC_PLACEMENT_NONE;
			gone++;
		} else {
			slot[k] = before[k] > 1 ? before[k] - 1 : before[k];
		}
	}
	assert_int_equal(gone, 45);
	memcpy(before, slot, sizeof(slot));
	changed = sc_placement_rebalance(size, N, R, w, 3, slot);
	assert_int_equal(changed, 60);
	assert_distinct(slot, N, R, 3);
	for (int k = 0; k < N * R; k++) {
		held[slot[k]] += size[k / R];
		/* kept replicas only ever move to node 0, the one below target */
		if (before[k] != SC_PLACEMENT_NONE && slot[k] != before[k])
			assert_int_equal(slot[k], 0);
	}
	for (int n = 0; n < 3; n++)
		assert_true(held[n] + 500 >= want && held[n] <= want + 500);
}

/*
 * Random layouts: sizes, weights, replicas, nodes added and removed. The
 * result always keeps replicas distinct, changes no kept replica unless
 * it moves from a node above target to one below, and is a fixed point.
 */
static void test_rebalance_random(void **state)
{
	enum { N = 200 };
	uint64_t seed = 99;

	(void)state;
	for (int round = 0; round < 200; round++) {
		uint64_t size[N], t[8], one = 0;
		uint32_t w_old[8], w[8], before[N * 3], slot[N * 3], again[N * 3];
		unsigned k_old, k, replicas, drop;
		uint64_t n;
		int64_t changed;

#define NEXT (seed = seed * 6364136223846793005ull + 1442695040888963407ull, seed >> 33)
		k_old = 2 + NEXT % 5;
		replicas = 1 + NEXT % (k_old < 3 ? k_old : 3);
		n = 1 + NEXT % N;
		for (unsigned i = 0; i < k_old; i++)
			w_old[i] = 1 + NEXT % 4;
		for (uint64_t i = 0; i < n; i++) {
			size[i] = 500 + NEXT % 1000;
			one += size[i];
		}
		ingest_place(size, n, replicas, w_old, k_old, before);
		/* new layout: maybe drop node `drop`, add up to two nodes */
		drop = NEXT % 2 && k_old - 1 >= replicas ? NEXT % k_old : k_old;
		k = 0;
		for (unsigned i = 0; i < k_old; i++)
			if (i != drop)
				w[k++] = NEXT % 3 ? w_old[i] : 1 + NEXT % 4;
		for (unsigned a = NEXT % 3; a > 0 && k < 8; a--)
			w[k++] = 1 + NEXT % 4;
		if (k < replicas)
			continue;
		for (uint64_t i = 0; i < n * replicas; i++)
			slot[i] = before[i] == drop ? SC_PLACEMENT_NONE :
				  before[i] > drop ? before[i] - 1 : before[i];
		memcpy(before, slot, n * replicas * sizeof(uint32_t));
		changed = sc_placement_rebalance(size, n, replicas, w, k, slot);
		assert_true(changed >= 0);
		assert_distinct(slot, n, replicas, k);
		assert_int_equal(sc_placement_targets(one, replicas, w, k, t), 0);
		/* a fixed point: rebalancing the result moves nothing */
		memcpy(again, slot, n * replicas * sizeof(uint32_t));
		assert_int_equal(sc_placement_rebalance(size, n, replicas, w, k, again), 0);
		assert_memory_equal(again, slot, n * replicas * sizeof(uint32_t));
#undef NEXT
	}
}

/* Bad arguments: a slot on a missing node, two slots on one node. */
static void test_rebalance_bad_args(void **state)
{
	uint64_t size[2] = { 10, 10 };
	uint32_t w[2] = { 1, 1 }, slot[4] = { 0, 1, 1, 1 };

	(void)state;
	assert_int_equal(sc_placement_rebalance(size, 2, 2, w, 2, slot), SC_EUSAGE);
	slot[3] = 5;
	assert_int_equal(sc_placement_rebalance(size, 2, 2, w, 2, slot), SC_EUSAGE);
	assert_int_equal(sc_placement_rebalance(size, 2, 3, w, 2, slot), SC_EUSAGE);
	w[1] = 0;
	slot[2] = 0;
	slot[3] = 1;
	assert_int_equal(sc_placement_rebalance(size, 2, 2, w, 2, slot), SC_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_node),
		cmocka_unit_test(test_replicas_distinct),
		cmocka_unit_test(test_first_choice_and_ties),
		cmocka_unit_test(test_weighted_balance),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_rebalance_add_node),
		cmocka_unit_test(test_rebalance_remove_node),
		cmocka_unit_test(test_rebalance_random),
		cmocka_unit_test(test_rebalance_bad_args),
	};

	return cmocka_run_group_tests_name("placement", tests, NULL, NULL);
}
