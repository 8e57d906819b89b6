/*
 * test_manifest.c - manifest JSON round trip, checksum tamper detection,
 * hostile-field validation (each rule of docs/MANIFEST.md section 8, on a
 * valid manifest from the writer that is then edited and re-signed),
 * display escaping, and the reader's range checks in store/set.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "digest.h"
#include "file.h"
#include "manifest.h"
#include "normalize.h"
#include "set.h"

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
	/* the totals the reader checks against the shards below */
	m->stats.shards = 2;
	m->stats.frames = 4;
	m->stats.bytes_kept = 2001;
	m->stats.bytes_stored = 12345678901ull;
	m->stats.dedup_index_bytes = 4096;
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
		shards[i].stored_bytes = 6172839450ull + (uint64_t)i;
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

/* fill() as a dedup "near" manifest of near version v with consistent stats. */
static void fill_near(struct sc_manifest *m, struct sc_manifest_node *nodes,
		      struct sc_manifest_shard *shards, uint32_t v)
{
	fill(m, nodes, shards);
	m->version = SC_MANIFEST_VERSION_NEAR;
	m->config.dedup = "near";
	m->config.near_version = v;
	m->config.near_ngram = 5;
	m->config.near_bands = 14;
	m->config.near_rows = 8;
	m->config.near_threshold = 0.8;
	m->stats.duplicates = 3;
	m->stats.near_duplicates = 4;
	m->stats.near_clusters = 2;
	m->stats.near_largest_cluster = 4;
}

/*
 * A dedup "near" manifest (version 2): its parameters and near stats
 * round-trip; records_in counts near duplicates; the near members are
 * refused elsewhere, and a version 1 manifest without them reads them as 0.
 */
static void test_near(void **state)
{
	struct sc_manifest_node nodes[2];
	struct sc_manifest_shard shards[2];
	struct sc_manifest m, r;
	struct sc_buf b;
	char err[256];

	(void)state;
	sc_buf_init(&b, 1 << 20);
	fill_near(&m, nodes, shards, 1);
	m.stats.lsh_index_bytes = 12345;
	assert_int_equal(sc_manifest_write_json(&m, &b), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), 0);
	assert_int_equal(r.version, 2);
	assert_string_equal(r.config.dedup, "near");
	assert_int_equal(r.config.near_ngram, 5);
	assert_int_equal(r.config.near_bands, 14);
	assert_int_equal(r.config.near_rows, 8);
	assert_float_equal(r.config.near_threshold, 0.8, 1e-9);
	assert_int_equal(r.stats.near_duplicates, 4);
	assert_int_equal(r.stats.near_clusters, 2);
	assert_int_equal(r.stats.near_largest_cluster, 4);
	assert_int_equal(r.stats.lsh_index_bytes, 12345);
	sc_manifest_release(&r);

	m.stats.near_largest_cluster = 6; /* more than near_duplicates + 1 */
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	m.stats.near_largest_cluster = 4;
	m.stats.near_clusters = 5; /* more clusters than removals */
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	m.stats.near_clusters = 2;
	m.stats.near_duplicates = 5; /* records_in no longer adds up */
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	m.stats.near_duplicates = 4;
	m.config.near_bands = 64;
	m.config.near_rows = 32; /* above SC_NEAR_HASHES_MAX */
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	m.config.near_rows = 8;
	m.config.near_threshold = 1.5;
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	m.config.near_threshold = 0.8;
	m.version = SC_MANIFEST_VERSION; /* near needs version 2 */
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);

	/* exact: no near members written, none read */
	fill(&m, nodes, shards);
	assert_int_equal(sc_manifest_write_json(&m, &b), 0);
	assert_null(strstr(b.data, "near"));
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), 0);
	assert_int_equal(r.stats.near_duplicates, 0);
	assert_int_equal(r.stats.lsh_index_bytes, 0);
	sc_manifest_release(&r);
	sc_buf_release(&b);
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
	m.version = 3;
	assert_int_equal(parse_resigned(&m, &b, err), SC_EVERSION);
	fill(&m, nodes, shards);
	m.version = SC_MANIFEST_VERSION_NEAR; /* version 2 goes with dedup "near" only */
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	sc_buf_release(&b);
}

/* ---- edit a valid manifest's text, re-sign it, check the verdict ---- */

#define TRAILER_BYTES 92 /* docs/MANIFEST.md section 4 */

/*
 * Recompute the manifest_sha256 trailer of b in place, after an edit of
 * the bytes before it, as anyone who can write the file could: the
 * semantic checks must stand on their own.
 */
static void resign(struct sc_buf *b)
{
	unsigned char md[32];
	char hex[65];
	size_t body;

	assert_true(b->len >= TRAILER_BYTES);
	body = b->len - TRAILER_BYTES;
	assert_memory_equal(b->data + body, ",\n  \"manifest_sha256\": \"", 24);
	assert_int_equal(sc_sha256_oneshot(b->data, body, md), 0);
	sc_hex(md, 32, hex);
	memcpy(b->data + body + 24, hex, 64);
}

/* Replace the first occurrence of `from` (which must exist) by `to`. */
static void subst(struct sc_buf *b, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), at;
	char *p = memmem(b->data, b->len, from, fl);

	assert_non_null(p);
	at = (size_t)(p - b->data);
	if (tl > fl)
		assert_int_equal(sc_buf_reserve(b, tl - fl), 0);
	memmove(b->data + at + tl, b->data + at + fl, b->len - at - fl);
	memcpy(b->data + at, to, tl);
	b->len = b->len - fl + tl;
}

/* The writer's output for fill(). */
static void valid(struct sc_buf *b)
{
	struct sc_manifest_node nodes[2];
	struct sc_manifest_shard shards[2];
	struct sc_manifest m;

	fill(&m, nodes, shards);
	sc_buf_init(b, 1 << 20);
	assert_int_equal(sc_manifest_write_json(&m, b), 0);
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

/* No raw control characters in a message (they would reach a terminal). */
static void assert_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		assert_true(*p >= 0x20 && *p != 0x7f);
}

/*
 * Apply the edits (from, to, from, to, ..., NULL) to a valid manifest,
 * re-sign it, and require parse to fail with rc and a message containing
 * want, leaving the manifest zeroed.
 */
static void reject(int rc, const char *want, ...)
{
	struct sc_manifest r;
	struct sc_buf b;
	char err[512] = "";
	const char *from;
	va_list ap;

	valid(&b);
	va_start(ap, want);
	while ((from = va_arg(ap, const char *)))
		subst(&b, from, va_arg(ap, const char *));
	va_end(ap);
	resign(&b);
	memset(&r, 0, sizeof(r));
	if (sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)) != rc ||
	    !strstr(err, want))
		fail_msg("want %d '%s', got '%s'", rc, want, err);
	assert_true(all_zero(&r, sizeof(r)));
	assert_printable(err);
	sc_manifest_release(&r);
	sc_buf_release(&b);
}

/* The same, but the edited manifest must load. */
static void accept(const char *first, ...)
{
	struct sc_manifest r;
	struct sc_buf b;
	char err[512] = "";
	const char *from = first;
	va_list ap;

	valid(&b);
	va_start(ap, first);
	for (; from; from = va_arg(ap, const char *))
		subst(&b, from, va_arg(ap, const char *));
	va_end(ap);
	resign(&b);
	memset(&r, 0, sizeof(r));
	if (sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)))
		fail_msg("rejected: %s", err);
	sc_manifest_release(&r);
	sc_buf_release(&b);
}

#define E(rc, want, ...) reject(rc, want, __VA_ARGS__, NULL)
#define C(want, ...) reject(SC_ECORRUPT, want, __VA_ARGS__, NULL)
#define OK(...) accept(__VA_ARGS__, NULL)

/*
 * near_margin (near version 3) and near_capped round-trip; a margin out of
 * range is refused; a near manifest written before them (no near_margin,
 * no near_capped) reads them as 0.
 */
static void test_near_margin(void **state)
{
	struct sc_manifest_node nodes[2];
	struct sc_manifest_shard shards[2];
	struct sc_manifest m, r;
	struct sc_buf b;
	char err[256];

	(void)state;
	sc_buf_init(&b, 1 << 20);
	fill_near(&m, nodes, shards, 3);
	m.config.near_margin = 1.25;
	m.stats.near_capped = 7;
	assert_int_equal(sc_manifest_write_json(&m, &b), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), 0);
	assert_float_equal(r.config.near_margin, 1.25, 1e-9);
	assert_int_equal(r.stats.near_capped, 7);
	sc_manifest_release(&r);

	/* older near manifests have neither member */
	subst(&b, "    \"near_margin\": 1.250000,\n", "");
	subst(&b, "    \"near_capped\": 7,\n", "");
	resign(&b);
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), 0);
	assert_true(r.config.near_margin == 0.0);
	assert_int_equal(r.stats.near_capped, 0);
	sc_manifest_release(&r);

	m.config.near_margin = 5.5;
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	assert_non_null(strstr(err, "near_margin"));
	m.config.near_margin = -1.0;
	assert_int_equal(parse_resigned(&m, &b, err), SC_ECORRUPT);
	/* near_capped only with dedup "near" (the writer leaves it out otherwise) */
	fill(&m, nodes, shards);
	assert_int_equal(sc_manifest_write_json(&m, &b), 0);
	subst(&b, "  \"stats\": {\n", "  \"stats\": {\n    \"near_capped\": 1,\n");
	resign(&b);
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "near_"));
	sc_manifest_release(&r);
	sc_buf_release(&b);
}

static void test_resign_helper(void **state)
{
	struct sc_manifest r;
	struct sc_buf b;
	char err[512];

	(void)state;
	valid(&b);
	subst(&b, "\"tool\": \"shardctl test\"", "\"tool\": \"shardctl tset\"");
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "manifest_sha256: checksum mismatch"));
	assert_true(all_zero(&r, sizeof(r)));
	resign(&b);
	assert_int_equal(sc_manifest_parse(b.data, b.len, &r, err, sizeof(err)), 0);
	assert_string_equal(r.tool, "shardctl tset");
	sc_manifest_release(&r);
	sc_buf_release(&b);
	OK("\"weight\": 2", "\"weight\": 3"); /* an edit the rules allow */
}

static void test_reject_config_values(void **state)
{
	(void)state;
	C("config.input_format: unknown value 'xml' (expected \"jsonl\" or \"text\")",
	  "\"input_format\": \"jsonl\"", "\"input_format\": \"xml\"");
	C("config.input_format: 0 bytes long", "\"input_format\": \"jsonl\"",
	  "\"input_format\": \"\"");
	C("config.input_format: not a string", "\"input_format\": \"jsonl\"",
	  "\"input_format\": 1");
	C("config.input_format: missing", "\"input_format\"", "\"inputformat\"");
	C("config.dedup: unknown value 'fuzzy'", "\"dedup\": \"exact\"",
	  "\"dedup\": \"fuzzy\"");
	C("config.dedup: contains a NUL", "\"dedup\": \"exact\"",
	  "\"dedup\": \"exact\\u0000\"");
	C("config.normalize: 'newlines,foo' is not a normalization spec",
	  "newlines,bom,control,nfc", "newlines,foo");
	C("config.normalize: 'default' is not in canonical form",
	  "newlines,bom,control,nfc", "default");
	C("config.normalize: 'nfc,newlines' is not in canonical form",
	  "newlines,bom,control,nfc", "nfc,newlines");
	C("config.text_field: 0 bytes long", "\"te\\\"xt\"", "\"\"");
	C("config.record_per_file: true, but input_format is not \"text\"",
	  "\"record_per_file\": false", "\"record_per_file\": true");
	OK("\"record_per_file\": false", "\"record_per_file\": true",
	   "\"input_format\": \"jsonl\"", "\"input_format\": \"text\"");
	OK("\"dedup\": \"exact\"", "\"dedup\": \"none\"", "\"duplicates\": 7",
	   "\"duplicates\": 0", "\"records_in\": 100", "\"records_in\": 93",
	   "\"dedup_index_bytes\": 4096", "\"dedup_index_bytes\": 0");
	C("config.frame_size: 1 is outside 4096..=67108864", "\"frame_size\": 1048576",
	  "\"frame_size\": 1");
	C("config.shard_size: 16777216 is below frame_size 67108864",
	  "\"frame_size\": 1048576", "\"frame_size\": 67108864",
	  "\"shard_size\": 268435456", "\"shard_size\": 16777216");
	C("config.max_record_size: 0 is outside 1..=", "\"max_record_size\": 1048576",
	  "\"max_record_size\": 0");
	C("config: not an object", "\"config\": {", "\"config\": [{", "\n  },\n  \"stats\"",
	  "\n  }],\n  \"stats\"");
}

static void test_reject_created_and_tool(void **state)
{
	(void)state;
	C("created: 'yesterday' is not a UTC time", "2026-11-24T20:00:00Z", "yesterday");
	C("created: '2026-13-24T20:00:00Z'", "2026-11-24T20:00:00Z", "2026-13-24T20:00:00Z");
	C("created: '2026-02-29T20:00:00Z'", "2026-11-24T20:00:00Z", "2026-02-29T20:00:00Z");
	C("created: '2026-11-31T20:00:00Z'", "2026-11-24T20:00:00Z", "2026-11-31T20:00:00Z");
	C("created: '2026-11-24T24:00:00Z'", "2026-11-24T20:00:00Z", "2026-11-24T24:00:00Z");
	C("created: '2026-11-24 20:00:00Z'", "2026-11-24T20:00:00Z", "2026-11-24 20:00:00Z");
	/* shown escaped in the message */
	C("created: '2026-11-24T20:00:00\\x1b[2J'", "2026-11-24T20:00:00Z",
	  "2026-11-24T20:00:00\\u001b[2J");
	C("created: 32 bytes long, must be 1..=31", "2026-11-24T20:00:00Z",
	  "2026-11-24T20:00:00Z.0123456789a");
	OK("2026-11-24T20:00:00Z", "2028-02-29T23:59:60Z");
	C("tool: 'shardctl\\x07' contains a control character", "\"shardctl test\"",
	  "\"shardctl\\u0007\"");
	C("tool: 'shardctl \\u009b' contains a control character", "\"shardctl test\"",
	  "\"shardctl \\u009b\"");
}

static void test_reject_replicas(void **state)
{
	(void)state;
	C("config.replicas: 0 is outside 1..=8", "\"replicas\": 2\n", "\"replicas\": 0\n");
	C("config.replicas: 9 is outside 1..=8", "\"replicas\": 2\n", "\"replicas\": 9\n");
	C("config.replicas: 3, but the set has only 2 nodes", "\"replicas\": 2\n",
	  "\"replicas\": 3\n");
	C("shards[0].replicas: 2 entries, but config.replicas is 1", "\"replicas\": 2\n",
	  "\"replicas\": 1\n");
	C("shards[1].replicas: 1 entries, but config.replicas is 2", "\"replicas\": [1, 0]",
	  "\"replicas\": [1]");
	C("shards[1].replicas[1]: node 1 also holds shards[1].replicas[0]",
	  "\"replicas\": [1, 0]", "\"replicas\": [1, 1]");
	C("shards[1].replicas[1]: node 2 does not exist (the set has 2 nodes)",
	  "\"replicas\": [1, 0]", "\"replicas\": [1, 2]");
	C("shards[0].replicas[0]: node 4294967296 does not exist", "\"replicas\": [0, 1]",
	  "\"replicas\": [4294967296, 1]");
	C("shards[0].replicas[1]: number does not fit in 64 bits", "\"replicas\": [0, 1]",
	  "\"replicas\": [0, 18446744073709551616]");
	C("shards[0].replicas[1]: not a non-negative integer", "\"replicas\": [0, 1]",
	  "\"replicas\": [0, -1]");
	C("shards[0].replicas[1]: not a non-negative integer", "\"replicas\": [0, 1]",
	  "\"replicas\": [0, 1.0]");
	C("shards[0].replicas: not an array", "\"replicas\": [0, 1]", "\"replicas\": 0");
}

static void test_reject_nodes(void **state)
{
	(void)state;
	C("nodes[1].path: 'data' is also nodes[0].path", "\"/mnt/nvme1\"", "\"data\"");
	C("nodes[1].path: '/mnt//nvme1' is not a canonical absolute path",
	  "\"/mnt/nvme1\"", "\"/mnt//nvme1\"");
	C("nodes[1].path: '/mnt/nvme1/' is not a canonical", "\"/mnt/nvme1\"",
	  "\"/mnt/nvme1/\"");
	C("nodes[1].path: '/mnt/../etc' is not a canonical", "\"/mnt/nvme1\"",
	  "\"/mnt/../etc\"");
	C("nodes[1].path: '/mnt/./x' is not a canonical", "\"/mnt/nvme1\"", "\"/mnt/./x\"");
	C("nodes[0].path: unsafe relative path '../data'", "\"data\"", "\"../data\"");
	C("nodes[0].path: 0 bytes long", "\"data\"", "\"\"");
	C("nodes[1].weight: 0 is outside 1..=1000000", "\"weight\": 2", "\"weight\": 0");
	C("nodes[1]: not an object", "{\"path\": \"/mnt/nvme1\", \"weight\": 2}", "7");
	C("nodes: 0 entries, must be 1..=256",
	  "\n    {\"path\": \"data\", \"weight\": 1},\n    {\"path\": \"/mnt/nvme1\", \"weight\": 2}",
	  "");
	/* an absolute path is where the user put the data: any bytes but NUL */
	OK("\"/mnt/nvme1\"", "\"/mnt/nv\\u001bme 1\"");
	OK("\"/mnt/nvme1\"", "\"/\"");
}

static void test_reject_shard_names(void **state)
{
	(void)state;
	/* a duplicate name is never the one its index expects */
	C("shards[1].name: '0123456789abcdef0123456789abcdef/g000007/000000.zst' is not "
	  "the expected '0123456789abcdef0123456789abcdef/g000007/000001.zst'",
	  "g000007/000001.zst", "g000007/000000.zst");
	C("is not the expected", "g000007/000001.zst", "g000006/000001.zst");
	C("is not the expected", "g000007/000000.zst", "g000007/0.zst");
	C("is not the expected", "0123456789abcdef0123456789abcdef/g000007/000000.zst",
	  "fedcba98765432100123456789abcdef/g000007/000000.zst");
	C("shards[0].name: unsafe name '../x.zst'",
	  "0123456789abcdef0123456789abcdef/g000007/000000.zst", "../x.zst");
	C("shards[0].name: unsafe name '/etc/passwd'",
	  "0123456789abcdef0123456789abcdef/g000007/000000.zst", "/etc/passwd");
	C("shards[0].name: unsafe name 'a//b.zst'",
	  "0123456789abcdef0123456789abcdef/g000007/000000.zst", "a//b.zst");
	C("shards[0].name: unsafe name 'a\\x0ab.zst'",
	  "0123456789abcdef0123456789abcdef/g000007/000000.zst", "a\\nb.zst");
	C("shards[1]: not an object",
	  "{\"name\": \"0123456789abcdef0123456789abcdef/g000007/000001.zst\"", "[{\"name\": \"\"",
	  "\"replicas\": [1, 0]}", "\"replicas\": [1, 0]}]");
}

static void test_reject_counts(void **state)
{
	(void)state;
	C("stats.shards: 3, but the shards array has 2 entries", "\"shards\": 2,",
	  "\"shards\": 3,");
	C("stats.frames: 5, but the shards' frames add up to 4", "\"frames\": 4,",
	  "\"frames\": 5,");
	C("stats.records_kept: 91, but the shards' records add up to 90",
	  "\"records_kept\": 90", "\"records_kept\": 91", "\"records_in\": 100",
	  "\"records_in\": 101");
	C("stats.bytes_kept: 2000, but the shards' raw_bytes add up to 2001",
	  "\"bytes_kept\": 2001", "\"bytes_kept\": 2000");
	C("stats.bytes_stored: 12345678900, but the shards' stored_bytes add up to 12345678901",
	  "\"bytes_stored\": 12345678901", "\"bytes_stored\": 12345678900");
	C("stats.records_in: 101, but records_rejected + duplicates + near_duplicates + records_kept is 100",
	  "\"records_in\": 100", "\"records_in\": 101");
	C("stats.records_rejected: 4, but stats.rejected adds up to 3",
	  "\"records_rejected\": 3", "\"records_rejected\": 4", "\"records_in\": 100",
	  "\"records_in\": 101");
	/* a reason from a newer writer: counted in records_rejected only */
	OK("\"records_rejected\": 3", "\"records_rejected\": 4", "\"records_in\": 100",
	   "\"records_in\": 101", "\"duplicate_text_field\": 0}",
	   "\"duplicate_text_field\": 0, \"future_reason\": 1}");
	C("stats.records_rejected: 2, but stats.rejected adds up to 3 or more",
	  "\"records_rejected\": 3", "\"records_rejected\": 2", "\"records_in\": 100",
	  "\"records_in\": 99", "\"duplicate_text_field\": 0}",
	  "\"duplicate_text_field\": 0, \"future_reason\": 1}");
	C("stats.duplicates: 7 with config.dedup \"none\"", "\"dedup\": \"exact\"",
	  "\"dedup\": \"none\"");
	C("stats.dedup_index_bytes: 4096 with config.dedup \"none\"", "\"dedup\": \"exact\"",
	  "\"dedup\": \"none\"", "\"duplicates\": 7", "\"duplicates\": 0",
	  "\"records_in\": 100", "\"records_in\": 93");
	C("shards[0].frames: 0 is outside 1..=4194304", "\"frames\": 2", "\"frames\": 0");
	C("shards[0].records: 1 is fewer than its 2 frames", "\"records\": 45",
	  "\"records\": 1");
	C("shards[0].raw_bytes: 44 is fewer than its 45 records", "\"raw_bytes\": 1000",
	  "\"raw_bytes\": 44");
	C("shards[0].stored_bytes: 90 is below the 91 bytes", "\"stored_bytes\": 6172839450",
	  "\"stored_bytes\": 90");
	C("shards[0].sha256: not 64 lowercase hex digits", "\"sha256\": \"00070e",
	  "\"sha256\": \"00070E");
	C("stats.elapsed_s: not a non-negative number", "\"elapsed_s\": 1.500",
	  "\"elapsed_s\": -1.5");
	C("stats.elapsed_s: not a non-negative number", "\"elapsed_s\": 1.500",
	  "\"elapsed_s\": 1e999");
	C("stats.rejected.nul_byte: not a non-negative integer", "\"nul_byte\": 1",
	  "\"nul_byte\": -1");
}

static void test_reject_overflow(void **state)
{
	(void)state;
	C("stats.input_files: number does not fit in 64 bits", "\"input_files\": 0",
	  "\"input_files\": 18446744073709551616");
	OK("\"input_files\": 0", "\"input_files\": 18446744073709551615");
	C("generation: 18446744073709551615 is outside 1..=18446744073709551614",
	  "\"generation\": 7", "\"generation\": 18446744073709551615");
	C("generation: 0 is outside", "\"generation\": 7", "\"generation\": 0");
	C("version: number does not fit in 64 bits", "\"version\": 1",
	  "\"version\": 99999999999999999999");
	E(SC_EVERSION, "version: 3 not supported", "\"version\": 1", "\"version\": 3");
	E(SC_ECORRUPT, "version: 2 with config.dedup \"exact\"", "\"version\": 1", "\"version\": 2");
	/* the shards' records overflow before the totals are compared */
	C("shards[1].records: the sum over the shards does not fit in 64 bits",
	  "\"records\": 45, \"raw_bytes\": 1000", "\"records\": 18446744073709551615, "
	  "\"raw_bytes\": 18446744073709551615");
	C("shards[1].stored_bytes: the sum over the shards does not fit in 64 bits",
	  "\"stored_bytes\": 6172839450", "\"stored_bytes\": 18446744073709551615");
	/* records_rejected + duplicates + records_kept wraps */
	C("stats.records_in: 100, but records_rejected + duplicates + near_duplicates + records_kept is "
	  "above 2^64 - 1", "\"duplicates\": 7", "\"duplicates\": 18446744073709551615");
	C("stats.rejected: the reasons add up to more than 2^64 - 1", "\"invalid_utf8\": 0",
	  "\"invalid_utf8\": 18446744073709551615");
}

static void test_reject_structure(void **state)
{
	(void)state;
	C("format: not \"shardctl-manifest\"", "\"shardctl-manifest\"", "\"shardctl\"");
	C("set_id: '0123456789ABCDEF0123456789abcdef' is not 32 lowercase hex digits",
	  "\"set_id\": \"0123456789abcdef", "\"set_id\": \"0123456789ABCDEF");
	C("invalid JSON at offset", "\"tool\": \"shardctl test\",", "\"tool\": \"shardctl test\"");
	C("stats: missing", "\"stats\": {", "\"statz\": {");
	C("shards: not an array", "\"shards\": [", "\"shards\": {\"x\": [",
	  "\n  ],\n  \"manifest_sha256", "\n  ]},\n  \"manifest_sha256");
}

/* The file is named; nothing of a rejected manifest leaks (ASan). */
static void test_load_names_file(void **state)
{
	char dir[] = "/tmp/sc_test_manifest.XXXXXX", path[256], err[1024];
	struct sc_manifest r;
	struct sc_buf b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	valid(&b);
	subst(&b, "\"replicas\": [1, 0]", "\"replicas\": [1, 1]");
	resign(&b);
	assert_int_equal(sc_write_file_atomic(path, b.data, b.len), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_manifest_load(dir, &r, err, sizeof(err)), SC_ECORRUPT);
	assert_true(strstr(err, path) == err + strlen("manifest '"));
	assert_non_null(strstr(err, "': shards[1].replicas[1]: node 1 also holds"));
	assert_true(all_zero(&r, sizeof(r)));
	unlink(path);
	rmdir(dir);
	sc_buf_release(&b);
}

/* sc_set_replica_path and sc_set_read_frame check ranges first. */
static void test_set_ranges(void **state)
{
	char dir[] = "/tmp/sc_test_manifest.XXXXXX", path[4200], want[4200], err[512];
	struct sc_set *set = NULL;
	struct sc_buf b, out;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	valid(&b);
	assert_int_equal(sc_write_file_atomic(path, b.data, b.len), 0);
	assert_int_equal(sc_set_open(dir, &set, err, sizeof(err)), 0);
	assert_int_equal(sc_set_replica_path(set, 0, 0, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/data/0123456789abcdef0123456789abcdef/g000007/000000.zst",
		 dir);
	assert_string_equal(path, want);
	assert_int_equal(sc_set_replica_path(set, 1, 0, path, sizeof(path)), 0);
	assert_string_equal(path, "/mnt/nvme1/0123456789abcdef0123456789abcdef/g000007/000001.zst");
	assert_int_equal(sc_set_replica_path(set, 0, 2, path, sizeof(path)), SC_ELIMIT);
	assert_int_equal(sc_set_replica_path(set, 2, 0, path, sizeof(path)), SC_ELIMIT);
	assert_int_equal(sc_set_replica_path(set, UINT64_MAX, 0, path, sizeof(path)), SC_ELIMIT);
	assert_int_equal(sc_set_replica_path(set, UINT64_MAX / 2, UINT32_MAX, path,
					     sizeof(path)), SC_ELIMIT);
	sc_buf_init(&out, 1 << 20);
	assert_int_equal(sc_set_read_frame(set, 2, 0, &out, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_set_read_frame(set, UINT64_MAX, 0, &out, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_set_read_frame(set, 0, 2, &out, err, sizeof(err)), SC_EUSAGE);
	sc_set_close(set);
	sc_buf_release(&out);
	sc_buf_release(&b);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	unlink(path);
	rmdir(dir);
}

static void test_printable(void **state)
{
	char buf[64];

	(void)state;
	sc_manifest_printable("plain/path", buf, sizeof(buf));
	assert_string_equal(buf, "plain/path");
	sc_manifest_printable("a\x1b[2J\n\x7f\\b", buf, sizeof(buf));
	assert_string_equal(buf, "a\\x1b[2J\\x0a\\x7f\\\\b");
	/* C1 controls escaped, other non-ASCII kept */
	sc_manifest_printable("\xc2\x9b" "31m \xc3\xa9\xe2\x82\xac", buf, sizeof(buf));
	assert_string_equal(buf, "\\u009b31m \xc3\xa9\xe2\x82\xac");
	/* bytes that are not UTF-8 */
	sc_manifest_printable("a\x9b\xff\xc3(\xe2\x82", buf, sizeof(buf));
	assert_string_equal(buf, "a\\x9b\\xff\\xc3(\\xe2\\x82");
	/* exactly fits: no ellipsis */
	sc_manifest_printable("abcdefg", buf, 8);
	assert_string_equal(buf, "abcdefg");
	sc_manifest_printable("abcdefgh", buf, 8);
	assert_string_equal(buf, "abcd...");
	/* never cuts a character or an escape */
	sc_manifest_printable("ab\xe2\x82\xac\xe2\x82\xac", buf, 9);
	assert_string_equal(buf, "ab\xe2\x82\xac\xe2\x82\xac");
	sc_manifest_printable("ab\xe2\x82\xac\xe2\x82\xac", buf, 8);
	assert_string_equal(buf, "ab...");
	sc_manifest_printable("ab\x01\x01", buf, 9);
	assert_string_equal(buf, "ab...");
	sc_manifest_printable("abcdef", buf, 3);
	assert_string_equal(buf, "");
	/* 4 * strlen + 4 is always enough */
	sc_manifest_printable("\x01\x01\x01", buf, 16);
	assert_string_equal(buf, "\\x01\\x01\\x01");
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
		cmocka_unit_test(test_near),
		cmocka_unit_test(test_near_margin),
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test(test_resign_helper),
		cmocka_unit_test(test_reject_config_values),
		cmocka_unit_test(test_reject_created_and_tool),
		cmocka_unit_test(test_reject_replicas),
		cmocka_unit_test(test_reject_nodes),
		cmocka_unit_test(test_reject_shard_names),
		cmocka_unit_test(test_reject_counts),
		cmocka_unit_test(test_reject_overflow),
		cmocka_unit_test(test_reject_structure),
		cmocka_unit_test(test_load_names_file),
		cmocka_unit_test(test_set_ranges),
		cmocka_unit_test(test_printable),
	};

	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
