/*
 * test_lsh.c - unit tests for store/lsh.c: exact and near matches, band
 * misses, the best match and ties, no matches among unrelated signatures,
 * the candidate cap, cluster counts and the memory per document on 200,000
 * random signatures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lsh.h"

#include "test_util.h"

#define K  112
#define PS 56


static void random_sig(uint8_t *p)
{
	for (unsigned i = 0; i < PS; i++)
		p[i] = (uint8_t)rng();
}

/* Change value i of a packed signature to a different 4-bit value. */
static void flip(uint8_t *p, unsigned i)
{
	p[i >> 1] ^= (uint8_t)(0x5 << ((i & 1) * 4));
}

static void test_new(void **unused)
{
	struct sc_lsh *l;

	(void)unused;
	assert_int_equal(sc_lsh_new(0, 8, &l), SC_EUSAGE);
	assert_null(l);
	assert_int_equal(sc_lsh_new(64, 32, &l), SC_EUSAGE);
	assert_int_equal(sc_lsh_new(14, 8, &l), 0);
	assert_int_equal(sc_lsh_count(l), 0);
	assert_int_equal(sc_lsh_clusters(l), 0);
	assert_int_equal(sc_lsh_largest_cluster(l), 0);
	sc_lsh_free(l);
	sc_lsh_free(NULL);
}

static void test_match(void **unused)
{
	struct sc_lsh *l;
	uint8_t a[PS], b[PS], c[PS];
	uint32_t doc = 99;
	double sim = -1;

	(void)unused;
	rng_state = 42;
	assert_int_equal(sc_lsh_new(14, 8, &l), 0);
	random_sig(a);
	assert_int_equal(sc_lsh_query(l, a, 0.8, &doc, &sim), 0); /* empty index */
	assert_int_equal(sc_lsh_insert(l, a), 0);
	assert_memory_equal(sc_lsh_signature(l, 0), a, PS);
	assert_int_equal(sc_lsh_query(l, a, 0.8, &doc, &sim), 1);
	assert_int_equal(doc, 0);
	assert_true(sim == 1.0);

	/* 10 values changed in bands 0..4: f = 102/112, estimate (f - 1/16)/(15/16) */
	memcpy(b, a, PS);
	for (unsigned i = 0; i < 10; i++)
		flip(b, i * 4);
	assert_int_equal(sc_lsh_query(l, b, 0.8, &doc, &sim), 1);
	assert_float_equal(sim, (102.0 / 112 - 1.0 / 16) / (15.0 / 16), 1e-12);
	assert_int_equal(sc_lsh_query(l, b, 0.91, &doc, &sim), 0); /* verified, below threshold */

	/* one value changed in every band: similar, but no shared band -> no candidate */
	memcpy(c, a, PS);
	for (unsigned band = 0; band < 14; band++)
		flip(c, band * 8 + 3);
	assert_float_equal(sc_near_similarity(a, c, K), (98.0 / 112 - 1.0 / 16) / (15.0 / 16), 1e-12);
	assert_int_equal(sc_lsh_query(l, c, 0.5, &doc, &sim), 0);

	/* unrelated */
	random_sig(c);
	assert_int_equal(sc_lsh_query(l, c, 0.0, &doc, &sim), 0);
	sc_lsh_free(l);
}

static void test_best_and_ties(void **unused)
{
	struct sc_lsh *l;
	uint8_t a[PS], far[PS], near[PS], q[PS];
	uint32_t doc;
	double sim;

	(void)unused;
	rng_state = 7;
	assert_int_equal(sc_lsh_new(14, 8, &l), 0);
	random_sig(a);
	memcpy(q, a, PS);
	memcpy(far, a, PS);
	memcpy(near, a, PS);
	for (unsigned i = 0; i < 12; i++)
		flip(far, 64 + i);  /* differs from q in 12 values of bands 8..9 */
	for (unsigned i = 0; i < 4; i++)
		flip(near, 64 + i); /* in 4 */
	assert_int_equal(sc_lsh_insert(l, far), 0);
	assert_int_equal(sc_lsh_insert(l, near), 1);
	assert_int_equal(sc_lsh_insert(l, near), 2);
	assert_int_equal(sc_lsh_query(l, q, 0.8, &doc, &sim), 1);
	assert_int_equal(doc, 1); /* the best, and the earliest of the two equal */
	assert_float_equal(sim, (108.0 / 112 - 1.0 / 16) / (15.0 / 16), 1e-12);
	sc_lsh_free(l);
}

static void test_clusters(void **unused)
{
	struct sc_lsh *l;

	(void)unused;
	assert_int_equal(sc_lsh_new(14, 8, &l), 0);
	assert_int_equal(sc_lsh_note_removed(l, 0), 0);
	assert_int_equal(sc_lsh_note_removed(l, 5), 0);
	assert_int_equal(sc_lsh_note_removed(l, 0), 0);
	assert_int_equal(sc_lsh_note_removed(l, 0), 0);
	assert_int_equal(sc_lsh_clusters(l), 2);
	assert_int_equal(sc_lsh_largest_cluster(l), 4);
	assert_int_equal(sc_lsh_removed(l), 4);
	for (uint32_t d = 100; d < 5100; d++)
		assert_int_equal(sc_lsh_note_removed(l, d * 7919), 0);
	assert_int_equal(sc_lsh_note_removed(l, 5), 0);
	assert_int_equal(sc_lsh_clusters(l), 5002);
	assert_int_equal(sc_lsh_largest_cluster(l), 4);
	assert_int_equal(sc_lsh_removed(l), 5005);
	sc_lsh_free(l);
}

static void test_cap(void **unused)
{
	struct sc_lsh *l;
	uint8_t a[PS];
	uint32_t doc;
	double sim;

	(void)unused;
	rng_state = 99;
	assert_int_equal(sc_lsh_new(14, 8, &l), 0);
	random_sig(a);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(sc_lsh_insert(l, a), i);
	assert_int_equal(sc_lsh_query(l, a, 0.8, &doc, &sim), 1);
	assert_int_equal(doc, 0);
	assert_int_equal(sc_lsh_capped(l), 1);
	sc_lsh_free(l);
}

/*
 * 200,000 random signatures: each finds itself and only itself, 20,000
 * fresh ones find nothing, and the memory per document stays near the
 * documented 134 bytes (at most 140 counting the fixed part, peak included).
 */
static void test_scale(void **unused)
{
	const uint32_t n = 200000;
	struct sc_lsh *l;
	uint8_t *sigs = malloc((size_t)n * PS), q[PS];
	uint32_t doc;
	double sim, per_doc;

	(void)unused;
	assert_non_null(sigs);
	rng_state = 12345;
	assert_int_equal(sc_lsh_new(14, 8, &l), 0);
	for (uint32_t i = 0; i < n; i++) {
		random_sig(sigs + (size_t)i * PS);
		assert_int_equal(sc_lsh_query(l, sigs + (size_t)i * PS, 0.8, &doc, &sim), 0);
		assert_int_equal(sc_lsh_insert(l, sigs + (size_t)i * PS), (int64_t)i);
	}
	for (uint32_t i = 0; i < n; i += 97) {
		assert_int_equal(sc_lsh_query(l, sigs + (size_t)i * PS, 0.8, &doc, &sim), 1);
		assert_int_equal(doc, i);
	}
	for (int i = 0; i < 20000; i++) {
		random_sig(q);
		assert_int_equal(sc_lsh_query(l, q, 0.5, &doc, &sim), 0);
	}
	per_doc = (double)sc_lsh_memory_bytes(l) / n;
	printf("lsh: %u docs, %.1f bytes/doc (signatures %.1f), peak %.1f bytes/doc\n", n,
	       per_doc, (double)sc_lsh_signature_bytes(l) / n, (double)sc_lsh_peak_bytes(l) / n);
	assert_true(per_doc <= 140.0);
	assert_true((double)sc_lsh_peak_bytes(l) / n <= 140.0);
	assert_int_equal(sc_lsh_capped(l), 0);
	sc_lsh_free(l);
	free(sigs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_best_and_ties),
		cmocka_unit_test(test_clusters),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
