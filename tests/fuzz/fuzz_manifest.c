/*
 * fuzz_manifest.c - fuzz target for the manifest reader of store/manifest.c.
 *
 * The input is a whole manifest.json. sc_manifest_parse must reject it
 * with SC_ECORRUPT or SC_EVERSION (or -ENOMEM), a message that starts with
 * the field or problem and holds no raw control character, and a zeroed
 * manifest; or accept it with a manifest that satisfies every rule of
 * docs/MANIFEST.md section 8: bounded counts, known config values, a sane
 * `created`, replica lists of config.replicas distinct existing nodes,
 * unique canonical node paths, shard names in the writer's layout, and
 * stats that add up to the shards. An accepted manifest must survive the
 * writer: sc_manifest_write_json of it parses again, and writing that gives
 * the same bytes (unless it has reject reasons this reader does not know,
 * which the writer cannot keep). Any violation aborts.
 *
 * Random mutations almost never keep the manifest_sha256 trailer right,
 * which would hide every check behind it, so each input is also tried a
 * second time with the trailer recomputed (rewritten in place when the
 * input ends in something trailer-shaped, else appended). Byte mutations
 * also mostly break the JSON, so a few more tries replace one value of
 * the input (a number, or a string) with an edge case, chosen by a hash of
 * the input, and re-sign: those reach the semantic checks. (Member names
 * after a comma count as strings too, which only adds variety.)
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "manifest.h"

#define FUZZ_DOC_MAX (256u << 10) /* bigger inputs add time, not coverage */

#define TRAILER_HEAD ",\n  \"manifest_sha256\": \""
#define TRAILER_TAIL "\"\n}\n"
#define HEAD_LEN (sizeof(TRAILER_HEAD) - 1)
#define TAIL_LEN (sizeof(TRAILER_TAIL) - 1)
#define TRAILER_LEN (HEAD_LEN + 64 + TAIL_LEN)

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

static int printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return 0;
	return 1;
}

static int created_form(const char *s)
{
	static const char form[] = "dddd-dd-ddTdd:dd:ddZ";

	if (strlen(s) != sizeof(form) - 1)
		return 0;
	for (size_t i = 0; form[i]; i++)
		if (form[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != form[i])
			return 0;
	return 1;
}

static void check_nodes(const struct sc_manifest *m)
{
	char dir[SC_PATH_MAX + 8];

	if (m->nnodes < 1 || m->nnodes > SC_NODES_MAX || !m->nodes)
		abort();
	for (uint32_t i = 0; i < m->nnodes; i++) {
		const char *p = m->nodes[i].path;

		if (!p || !p[0] || strlen(p) >= SC_PATH_MAX)
			abort();
		if (p[0] != '/' && !sc_manifest_name_ok(p))
			abort();
		if (p[0] == '/' && p[1] && (strstr(p, "//") || strstr(p, "/./") ||
					    strstr(p, "/../") || p[strlen(p) - 1] == '/'))
			abort();
		if (m->nodes[i].weight < 1 || m->nodes[i].weight > SC_NODE_WEIGHT_MAX)
			abort();
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(m->nodes[k].path, p))
				abort();
		if (sc_manifest_node_dir(m, "/r", i, dir, sizeof(dir)))
			abort();
		if (p[0] == '/' ? strcmp(dir, p) : strncmp(dir, "/r/", 3) || strcmp(dir + 3, p))
			abort();
	}
	if (sc_manifest_node_dir(m, "/r", m->nnodes, dir, sizeof(dir)) != SC_ELIMIT)
		abort();
}

static void check_shards(const struct sc_manifest *m)
{
	const struct sc_stats *st = &m->stats;
	uint64_t records = 0, raw = 0, stored = 0, frames = 0, rej = 0;
	char want[96];

	if (m->nshards > SC_SHARDS_MAX || !m->shards || st->shards != m->nshards)
		abort();
	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct sc_manifest_shard *s = &m->shards[i];

		snprintf(want, sizeof(want), "%s/g%06" PRIu64 "/%06" PRIu64 ".zst",
			 m->set_id, m->generation, i);
		if (!s->name || strcmp(s->name, want) || !sc_manifest_name_ok(s->name))
			abort();
		if (s->frames < 1 || s->frames > SC_SHARD_FRAMES_MAX ||
		    s->records < s->frames || s->raw_bytes < s->records ||
		    s->stored_bytes < 57 + 17 * (uint64_t)s->frames)
			abort();
		if (s->nreplicas != m->config.replicas)
			abort();
		for (uint32_t r = 0; r < s->nreplicas; r++) {
			if (s->replica[r] >= m->nnodes)
				abort();
			for (uint32_t k = 0; k < r; k++)
				if (s->replica[k] == s->replica[r])
					abort();
		}
		if (__builtin_add_overflow(records, s->records, &records) ||
		    __builtin_add_overflow(raw, s->raw_bytes, &raw) ||
		    __builtin_add_overflow(stored, s->stored_bytes, &stored))
			abort();
		frames += s->frames;
	}
	if (records != st->records_kept || raw != st->bytes_kept ||
	    stored != st->bytes_stored || frames != st->frames)
		abort();
	if (st->records_rejected + st->duplicates + st->near_duplicates + st->records_kept !=
	    st->records_in ||
	    st->records_in < st->records_kept)
		abort();
	for (int r = 1; r < SC_REJECT__COUNT; r++)
		rej += st->rejected[r];
	if (rej > st->records_rejected)
		abort();
	if (!strcmp(m->config.dedup, "none") && (st->duplicates || st->dedup_index_bytes))
		abort();
	if (strcmp(m->config.dedup, "near") && (st->near_duplicates || st->near_clusters ||
						 st->near_largest_cluster || st->lsh_index_bytes))
		abort();
	if (st->near_clusters > st->near_duplicates)
		abort();
}

static void check_accepted(const struct sc_manifest *m)
{
	const struct sc_manifest_config *c = &m->config;

	if ((m->version != SC_MANIFEST_VERSION && m->version != SC_MANIFEST_VERSION_NEAR) ||
	    (m->version == SC_MANIFEST_VERSION_NEAR) != !strcmp(c->dedup, "near") ||
	    strlen(m->set_id) != 32 ||
	    strspn(m->set_id, "0123456789abcdef") != 32 || !created_form(m->created) ||
	    m->generation < 1 || m->generation == UINT64_MAX)
		abort();
	if (!m->tool || strlen(m->tool) > 128 || !printable(m->tool))
		abort();
	if (!c->text_field || !c->text_field[0] || strlen(c->text_field) > SC_FIELD_NAME_MAX)
		abort();
	if (!c->input_format || (strcmp(c->input_format, "jsonl") &&
				 strcmp(c->input_format, "text")))
		abort();
	if (!c->dedup || (strcmp(c->dedup, "exact") && strcmp(c->dedup, "near") &&
			  strcmp(c->dedup, "none")))
		abort();
	if (c->record_per_file && strcmp(c->input_format, "text"))
		abort();
	if (c->normalize & ~0x1fu)
		abort();
	if (c->replicas < 1 || c->replicas > SC_REPLICAS_MAX || c->replicas > m->nnodes)
		abort();
	if (c->max_record_size < 1 || c->max_record_size > SC_RECORD_SIZE_MAX ||
	    c->frame_size < SC_FRAME_SIZE_MIN || c->frame_size > SC_FRAME_SIZE_MAX ||
	    c->shard_size < c->frame_size || c->shard_size > SC_SHARD_SIZE_MAX)
		abort();
	if (!(m->stats.elapsed_s >= 0))
		abort();
	check_nodes(m);
	check_shards(m);
}

static void check_rejected(int rc, const struct sc_manifest *m, const char *err)
{
	if (rc != SC_ECORRUPT && rc != SC_EVERSION && rc != -ENOMEM)
		abort();
	if (!(err[0] >= 'a' && err[0] <= 'z') || !printable(err))
		abort();
	if (!all_zero(m, sizeof(*m)))
		abort();
}

/* What the writer makes of an accepted manifest reads back the same. */
static void check_rewrite(const struct sc_manifest *m)
{
	struct sc_manifest r;
	struct sc_buf a, b;
	char err[512] = "";
	uint64_t rej = 0;

	/* Reject reasons this reader does not know (a newer writer's) count in
	 * records_rejected but are not kept, so writing the manifest again
	 * would not add up: only a manifest without them can be rewritten. */
	for (int i = 1; i < SC_REJECT__COUNT; i++)
		rej += m->stats.rejected[i];
	if (rej != m->stats.records_rejected)
		return;
	sc_buf_init(&a, SC_MANIFEST_SIZE_MAX);
	sc_buf_init(&b, SC_MANIFEST_SIZE_MAX);
	memset(&r, 0, sizeof(r));
	if (sc_manifest_write_json(m, &a))
		abort();
	if (sc_manifest_parse(a.data, a.len, &r, err, sizeof(err)))
		abort();
	check_accepted(&r);
	if (sc_manifest_write_json(&r, &b) || a.len != b.len || memcmp(a.data, b.data, a.len))
		abort();
	sc_manifest_release(&r);
	sc_buf_release(&a);
	sc_buf_release(&b);
}

/* Returns 1 when the input got past the trailer and the JSON syntax. */
static int one_input(const char *data, size_t size)
{
	struct sc_manifest m;
	char err[512] = "";
	int rc;

	memset(&m, 0, sizeof(m));
	rc = sc_manifest_parse(data, size, &m, err, sizeof(err));
	if (rc) {
		check_rejected(rc, &m, err);
	} else {
		check_accepted(&m);
		check_rewrite(&m);
	}
	sc_manifest_release(&m);
	return !rc || (strncmp(err, "invalid JSON", 12) && strncmp(err, "manifest_sha256", 15));
}

/* A copy with a correct trailer; *n is its size. */
static char *resigned(const uint8_t *data, size_t size, size_t *n)
{
	unsigned char md[32];
	char hex[65], *copy;
	size_t body;

	if (size >= TRAILER_LEN &&
	    !memcmp(data + size - TRAILER_LEN, TRAILER_HEAD, HEAD_LEN) &&
	    !memcmp(data + size - TAIL_LEN, TRAILER_TAIL, TAIL_LEN))
		body = size - TRAILER_LEN; /* rewrite the digits in place */
	else
		body = size;               /* append a trailer */
	copy = malloc(body + TRAILER_LEN);
	if (!copy)
		abort();
	memcpy(copy, data, body);
	if (sc_sha256_oneshot(copy, body, md))
		abort();
	sc_hex(md, 32, hex);
	memcpy(copy + body, TRAILER_HEAD, HEAD_LEN);
	memcpy(copy + body + HEAD_LEN, hex, 64);
	memcpy(copy + body + HEAD_LEN + 64, TRAILER_TAIL, TAIL_LEN);
	*n = body + TRAILER_LEN;
	return copy;
}

/* ---- value swaps ---- */

static const char *const num_edge[] = {
	"0", "1", "2", "3", "7", "8", "9", "255", "256", "257", "4095", "4096",
	"1000000", "1000001", "4194304", "4194305", "16777216", "4294967295",
	"4294967296", "18446744073709551614", "18446744073709551615",
	"18446744073709551616", "99999999999999999999", "-1", "-0", "1.5", "1e3",
	"1e999", "\"1\"", "null", "true", "[]", "{}",
};

static const char *const str_edge[] = {
	"\"\"", "\"..\"", "\"/\"", "\".\"", "\"a/../b\"", "\"/a//b\"", "\"/a/\"",
	"\"jsonl\"", "\"text\"", "\"exact\"", "\"none\"", "\"all\"", "\"default\"",
	"\"nfc,newlines\"", "\"x\\u0000y\"", "\"\\u001b[2J\"", "\"\\u009b\"",
	"\"\\u007f\"", "\"2026-02-29T00:00:00Z\"", "\"2028-02-29T23:59:60Z\"",
	"\"0123456789abcdef0123456789abcdef\"", "\"data\"", "\"/mnt/a\"", "1", "null",
	"[0]", "{}",
};

static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Start and length of value token number k (numbers, or strings that are
 * member values or array items); 0 when there are fewer than k + 1. */
static int find_value(const uint8_t *p, size_t n, int strings, size_t k,
		      size_t *at, size_t *len)
{
	size_t seen = 0, i = 0;
	int in_str = 0;
	uint8_t prev = 0; /* last non-space byte outside strings */

	while (i < n) {
		uint8_t c = p[i];

		if (in_str) {
			i += c == '\\' ? 2 : 1;
			if (c == '"')
				in_str = 0, prev = '"';
			continue;
		}
		if (prev == ':' || prev == '[' || prev == ',') {
			size_t j = i;

			if (!strings && (c == '-' || (c >= '0' && c <= '9'))) {
				while (j < n && strchr("-+.eE0123456789", p[j]))
					j++;
			} else if (strings && c == '"') {
				for (j = i + 1; j < n && p[j] != '"'; j += p[j] == '\\' ? 2 : 1)
					;
				if (j >= n)
					return 0;
				j++;
			}
			if (j > i && seen++ == k) {
				*at = i;
				*len = j - i;
				return 1;
			}
			if (j > i) {
				prev = p[j - 1];
				i = j;
				continue;
			}
		}
		if (c == '"')
			in_str = 1;
		else if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
			prev = c;
		i++;
	}
	return 0;
}

/* Try the input with value token (seed-chosen) replaced, re-signed. */
static void swap_value(const uint8_t *data, size_t size, uint64_t seed)
{
	int strings = (int)(seed & 1);
	const char *const *tab = strings ? str_edge : num_edge;
	size_t ntab = strings ? sizeof(str_edge) / sizeof(*str_edge)
			      : sizeof(num_edge) / sizeof(*num_edge);
	size_t count = 0, at, len, vl, n;
	const char *v;
	uint8_t *edit;
	char *copy;

	while (find_value(data, size, strings, count, &at, &len))
		count++;
	if (!count)
		return;
	seed >>= 1;
	find_value(data, size, strings, (size_t)(seed % count), &at, &len);
	v = tab[(seed / count) % ntab];
	vl = strlen(v);
	edit = malloc(size - len + vl + 1);
	if (!edit)
		abort();
	memcpy(edit, data, at);
	memcpy(edit + at, v, vl);
	memcpy(edit + at + vl, data + at + len, size - at - len);
	copy = resigned(edit, size - len + vl, &n);
	one_input(copy, n);
	free(copy);
	free(edit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy;
	size_t n;
	uint64_t tries;

	if (size > FUZZ_DOC_MAX)
		return 0;
	one_input((const char *)data, size);
	copy = resigned(data, size, &n);
	tries = one_input(copy, n) ? 16 : 1; /* swaps in broken JSON do little */
	free(copy);
	for (uint64_t k = 0, h = hash(data, size); k < tries; k++)
		swap_value(data, size, h * (2 * k + 1) + k);
	return 0;
}
