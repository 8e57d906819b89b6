/*
 * test_manifest.c - manifest JSON round trip, checksum tamper detection and
 * hostile-field validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "digest.h"
#include "manifest.h"
#include "normalize.h"

static void fill(struct sc_manifest *m, struct sc_manifest_node *nodes,
		 struct sc_manifest_shard *shards)
{
	memset(m, 0, sizeof(*m));
	m->version = SC_MANIFEST_VERSION;
	m->shard_format = 1;
	strcpy(m->set_id, "0123456789abcdef0123456789abcdef");
	m->generation = 7;
	strcpy(m->created, "2026-11-24T20:00:00Z");
	m->tool = "shardctl test";
	m->config.text_field = "te\"xt";
	m->config.input_format = "jsonl";
	m->config.normalize = SC_NORM_DEFAULT & ~SC_NORM_TRIM;
	m->config.normalize_version = 1;
	m->config.dedup = "exact";
	m->config.fingerprint_version = 1;
	m->config.max_record_size = 1 << 20;
	m->config.frame_size = 1 << 20;
	m->config.shard_size = 1 << 28;
	m->config.zstd_level = 3;
	m->config.replicas = 2;
	m->stats.records_in = 100;
	m->stats.records_kept = 90;
	m->stats.duplicates = 7;
	m->stats.records_rejected = 3;
	m->stats.rejected[SC_REJECT_MALFORMED_JSON] = 2;
	m->stats.rejected[SC_REJECT_NUL_BYTE] = 1;
	m->stats.bytes_stored = 12345678901ull;
	m->stats.elapsed_s = 1.5;
	nodes[0].path = "data";
	nodes[0].weight = 1;
	nodes[1].path = "/mnt/nvme1";
	nodes[1].weight = 2;
	m->nodes = nodes;
	m->nnodes = 2;
	for (int i = 0; i < 2; i++) {
		memset(&shards[i], 0, sizeof(shards[i]));
		shards[i].name = i ? "0123456789abcdef0123456789abcdef/g000007/000001.zst"
				   : "0123456789abcdef0123456789abcdef/g000007/000000.zst";
		shards[i].records = 45;
		shards[i].raw_bytes = 1000 + (uint64_t)i;
		shards[i].stored_bytes = 300;
		shards[i].frames = 2;
		for (int k = 0; k < 32; k++)
			shards[i].sha256[k] = (unsigned char)(k * 7 + i);
		shards[i].nreplicas = 2;
		shards[i].replica[0] = (uint32_t)i;
		shards[i].replica[1] = (uint32_t)(1 - i);
	}
	m->shards = shards;
	m->nshards = 2;
}

static void test_roundtrip(void **state)
{
	struct sc_manifest_node nodes[2];
	struct sc_manifest_shard shards[2];
	struct sc_manifest m, r;
	struct sc_buf b, b2;
	char err[256];

	(void)state;
	fill(&m, nodes, shards);
	sc_buf_init(&b, 1 << 20);
	sc_buf_init(&b2, 1 << 20);
	assert_int_equal(sc_manifest_write_json(&m, &b), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), 0);
	assert_string_equal(r.set_id, m.set_id);
	assert_int_equal(r.generation, 7);
	assert_string_equal(r.config.text_field, "te\"xt");
	assert_int_equal(r.config.normalize, m.config.normalize);
	assert_int_equal(r.stats.records_in, 100);
	assert_int_equal(r.stats.bytes_stored, 12345678901ull);
	assert_int_equal(r.stats.rejected[SC_REJECT_MALFORMED_JSON], 2);
	assert_int_equal(r.stats.rejected[SC_REJECT_NUL_BYTE], 1);
	assert_int_equal(r.nnodes, 2);
	assert_string_equal(r.nodes[1].path, "/mnt/nvme1");
	assert_int_equal(r.nodes[1].weight, 2);
	assert_int_equal(r.nshards, 2);
	assert_string_equal(r.shards[1].name, shards[1].name);
	assert_memory_equal(r.shards[1].sha256, shards[1].sha256, 32);
	assert_int_equal(r.shards[1].replica[0], 1);
	assert_int_equal(r.shards[1].raw_bytes, 1001);
	/* writing what was read gives the same bytes */
	assert_int_equal(sc_manifest_write_json(&r, &b2), 0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	sc_manifest_release(&r);
	sc_buf_release(&b);
	sc_buf_release(&b2);
}

/* Every single-byte change anywhere in the file is rejected. */
static void test_tamper(void **state)
{
	struct sc_manifest_node nodes[2];
	struct sc_manifest_shard shards[2];
	struct sc_manifest m, r;
	struct sc_buf b;
	char err[256];

	(void)state;
	fill(&m, nodes, shards);
	sc_buf_init(&b, 1 << 20);
	assert_int_equal(sc_manifest_write_json(&m, &b), 0);
	for (size_t i = 0; i < b.len; i++) {
		char saved = b.data[i];

		b.data[i] ^= 0x01;
		memset(&r, 0, sizeof(r));
		assert_int_not_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), 0);
		sc_manifest_release(&r);
		b.data[i] = saved;
	}
	/* truncation */
	for (size_t n = 0; n < b.len; n += 7) {
		memset(&r, 0, sizeof(r));
		assert_int_not_equal(sc_manifest_parse(b.data, n, &r, err, sizeof(err)), 0);
		sc_manifest_release(&r);
	}
	sc_buf_release(&b);
}

/* Re-sign a manifest after editing it, as an attacker could. */
static int parse_resigned(struct sc_manifest *m, struct sc_buf *b, char *err)
{
	struct sc_manifest r;
	int rc;

	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_write_json(m, b), 0);
	rc = sc_manifest_parse(b->data, b->len, &r, err, 256);
	sc_manifest_release(&r);
	return rc;
}

static void test_hostile_fields(void **state)
{
	struct sc_manifest_node nodes[2];
	struct sc_manifest_shard shards[2];
	struct sc_manifest m;
	struct sc_buf b;
	char err[256];
	static const char *bad_names[] = {
		"../x.zst", "a/../../x.zst", "/etc/passwd", "a//b.zst", "a/./b.zst",
		".hidden", "a/b/", "", "a\\b.zst", "a b.zst",
	};

	(void)state;
	sc_buf_init(&b, 1 << 20);
	for (size_t i = 0; i < SC_ARRAY_LEN(bad_names); i++) {
		fill(&m, nodes, shards);
		shards[0].name = (char *)(uintptr_t)bad_names[i];
		assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	}
	fill(&m, nodes, shards);
	shards[1].replica[1] = 5; /* no such node */
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	fill(&m, nodes, shards);
	shards[1].replica[1] = shards[1].replica[0]; /* same node twice */
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	fill(&m, nodes, shards);
	nodes[0].path = "../escape";
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	fill(&m, nodes, shards);
	nodes[0].weight = 0;
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	fill(&m, nodes, shards);
	m.version = 2;
	assert_int_equal(parse_resigned(&m, &b, err), SC_EVERSION);
	sc_buf_release(&b);
}

static void test_name_ok(void **state)
{
	(void)state;
	assert_true(sc_manifest_name_ok("abc/g000001/000000.zst"));
	assert_true(sc_manifest_name_ok("x.zst"));
	assert_false(sc_manifest_name_ok("x/.."));
	assert_false(sc_manifest_name_ok("x/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_hostile_fields),
		cmocka_unit_test(test_name_ok),
	};

	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
