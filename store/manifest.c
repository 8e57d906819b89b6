/*
 * manifest.c - manifest JSON writer and hostile-input reader.
 *
 * The document ends with a fixed-length trailer
 *     ,\n  "manifest_sha256": "<64 hex>"\n}\n
 * whose digest covers every byte before the trailer's comma, so a reader
 * can verify the file before trusting any field. Stats counters are
 * described once, in stat_fields[], and both writer and reader use it.
 */
#include "manifest.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "file.h"
#include "json.h"
#include "normalize.h"

#define TRAILER_HEAD ",\n  \"manifest_sha256\": \""
#define TRAILER_TAIL "\"\n}\n"
#define TRAILER_LEN (sizeof(TRAILER_HEAD) - 1 + 64 + sizeof(TRAILER_TAIL) - 1)

struct stat_field {
	const char *name; /* JSON member name */
	size_t off;       /* offset of the uint64_t in struct sc_stats */
};

#define SF(f) { #f, offsetof(struct sc_stats, f) }
static const struct stat_field stat_fields[] = {
	SF(input_files), SF(input_errors), SF(bytes_in_disk), SF(bytes_in),
	SF(lines_blank), SF(records_in), SF(records_rejected),
	SF(records_normalized), SF(duplicates), SF(records_kept),
	SF(bytes_text_in), SF(bytes_text_kept), SF(bytes_kept),
	SF(bytes_stored), SF(dedup_index_bytes), SF(shards), SF(frames),
};
#undef SF

static uint64_t *stat_ptr(struct sc_stats *s, size_t i)
{
	return (uint64_t *)(void *)((char *)s + stat_fields[i].off);
}

/* ---- writer ---- */

static int emitf(struct sc_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int emitf(struct sc_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return SC_EFORMAT;
	rc = sc_buf_reserve(b, (size_t)n + 1);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static int emit_str(struct sc_buf *b, const char *key, const char *val,
		    const char *sep)
{
	int rc = emitf(b, "\"%s\": ", key);

	if (!rc)
		rc = sc_json_escape(b, val, strlen(val));
	if (!rc)
		rc = emitf(b, "%s", sep);
	return rc;
}

int sc_manifest_write_json(const struct sc_manifest *m, struct sc_buf *out)
{
	const struct sc_manifest_config *c = &m->config;
	struct sc_stats st = m->stats;
	unsigned char md[32];
	char hex[65], norm[128];
	int rc = 0;

	out->len = 0;
	sc_normalize_format_spec(c->normalize, norm, sizeof(norm));
	rc |= emitf(out, "{\n  \"format\": \"shardctl-manifest\",\n");
	rc |= emitf(out, "  \"version\": %u,\n  \"shard_format\": %u,\n",
		    m->version, m->shard_format);
	rc |= emitf(out, "  \"set_id\": \"%s\",\n  \"generation\": %" PRIu64 ",\n",
		    m->set_id, m->generation);
	rc |= emitf(out, "  \"created\": \"%s\",\n  ", m->created);
	rc |= emit_str(out, "tool", m->tool ? m->tool : "", ",\n");
	rc |= emitf(out, "  \"config\": {\n    ");
	rc |= emit_str(out, "text_field", c->text_field, ",\n    ");
	rc |= emit_str(out, "input_format", c->input_format, ",\n");
	rc |= emitf(out, "    \"record_per_file\": %s,\n",
		    c->record_per_file ? "true" : "false");
	rc |= emitf(out, "    \"normalize\": \"%s\",\n    \"normalize_version\": %u,\n",
		    norm, c->normalize_version);
	rc |= emit_str(out, "dedup", c->dedup, ",\n");
	rc |= emitf(out, "    \"fingerprint_version\": %u,\n", c->fingerprint_version);
	rc |= emitf(out, "    \"max_record_size\": %" PRIu64 ",\n    \"frame_size\": %" PRIu64
		    ",\n    \"shard_size\": %" PRIu64 ",\n", c->max_record_size,
		    c->frame_size, c->shard_size);
	rc |= emitf(out, "    \"zstd_level\": %d,\n    \"replicas\": %u\n  },\n",
		    c->zstd_level, c->replicas);
	rc |= emitf(out, "  \"stats\": {\n");
	for (size_t i = 0; i < SC_ARRAY_LEN(stat_fields); i++)
		rc |= emitf(out, "    \"%s\": %" PRIu64 ",\n", stat_fields[i].name,
			    *stat_ptr(&st, i));
	rc |= emitf(out, "    \"elapsed_s\": %.3f,\n    \"rejected\": {", st.elapsed_s);
	for (int r = 1; r < SC_REJECT__COUNT; r++)
		rc |= emitf(out, "%s\"%s\": %" PRIu64, r > 1 ? ", " : "",
			    sc_reject_name((enum sc_reject)r), st.rejected[r]);
	rc |= emitf(out, "}\n  },\n  \"nodes\": [");
	for (uint32_t i = 0; i < m->nnodes; i++) {
		rc |= emitf(out, "%s\n    {", i ? "," : "");
		rc |= emit_str(out, "path", m->nodes[i].path, ", ");
		rc |= emitf(out, "\"weight\": %u}", m->nodes[i].weight);
	}
	rc |= emitf(out, "\n  ],\n  \"shards\": [");
	for (uint64_t i = 0; i < m->nshards && !rc; i++) {
		const struct sc_manifest_shard *s = &m->shards[i];

		sc_hex(s->sha256, 32, hex);
		rc |= emitf(out, "%s\n    {", i ? "," : "");
		rc |= emit_str(out, "name", s->name, ", ");
		rc |= emitf(out, "\"records\": %" PRIu64 ", \"raw_bytes\": %" PRIu64
			    ", \"stored_bytes\": %" PRIu64 ", \"frames\": %u, "
			    "\"sha256\": \"%s\", \"replicas\": [",
			    s->records, s->raw_bytes, s->stored_bytes, s->frames, hex);
		for (uint32_t r = 0; r < s->nreplicas; r++)
			rc |= emitf(out, "%s%u", r ? ", " : "", s->replica[r]);
		rc |= emitf(out, "]}");
	}
	rc |= emitf(out, "\n  ]");
	if (rc)
		return rc < 0 ? rc : -ENOMEM;
	rc = sc_sha256_oneshot(out->data, out->len, md);
	if (rc)
		return rc;
	sc_hex(md, 32, hex);
	return emitf(out, "%s%s%s", TRAILER_HEAD, hex, TRAILER_TAIL);
}

/* ---- reader ---- */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int get_u64(const struct sc_json *o, const char *key, uint64_t max,
		   uint64_t *out, char *err, size_t errlen, const char *where)
{
	if (sc_json_get_u64(sc_json_get(o, key), out) || *out > max)
		return fail(err, errlen, SC_ECORRUPT,
			    "%s: '%s' missing or out of range", where, key);
	return 0;
}

static int get_str(const struct sc_json *o, const char *key, size_t maxlen,
		   char **out, char *err, size_t errlen, const char *where)
{
	const struct sc_json *v = sc_json_get(o, key);

	if (!v || v->type != SC_JSON_STRING || v->str_len > maxlen ||
	    strlen(v->str) != v->str_len)
		return fail(err, errlen, SC_ECORRUPT,
			    "%s: '%s' missing or not a valid string", where, key);
	*out = strdup(v->str);
	return *out ? 0 : -ENOMEM;
}

int sc_manifest_name_ok(const char *name)
{
	size_t seg = 0;
	const char *p;

	if (!name[0] || name[0] == '/' || strlen(name) >= 1024)
		return 0;
	for (p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/') {
			if (seg == 0)
				return 0;
			seg = 0;
			continue;
		}
		if (!(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return 0;
		if (seg == 0 && c == '.')
			return 0; /* no ".", "..", or hidden segments */
		seg++;
	}
	return seg > 0;
}

static int parse_config(const struct sc_json *c, struct sc_manifest_config *cfg,
			char *err, size_t errlen)
{
	const char *w = "manifest config";
	const struct sc_json *v;
	uint64_t u;
	char *norm = NULL;
	int rc;

	if (!c || c->type != SC_JSON_OBJECT)
		return fail(err, errlen, SC_ECORRUPT, "%s: missing", w);
	if ((rc = get_str(c, "text_field", SC_FIELD_NAME_MAX, &cfg->text_field, err, errlen, w)) ||
	    (rc = get_str(c, "input_format", 16, &cfg->input_format, err, errlen, w)) ||
	    (rc = get_str(c, "dedup", 16, &cfg->dedup, err, errlen, w)) ||
	    (rc = get_str(c, "normalize", 128, &norm, err, errlen, w)))
		return rc;
	rc = sc_normalize_parse_spec(norm, &cfg->normalize);
	free(norm);
	if (rc)
		return fail(err, errlen, SC_ECORRUPT, "%s: bad 'normalize'", w);
	v = sc_json_get(c, "record_per_file");
	if (!v || (v->type != SC_JSON_TRUE && v->type != SC_JSON_FALSE))
		return fail(err, errlen, SC_ECORRUPT, "%s: bad 'record_per_file'", w);
	cfg->record_per_file = v->type == SC_JSON_TRUE;
	if ((rc = get_u64(c, "normalize_version", 1000, &u, err, errlen, w)))
		return rc;
	cfg->normalize_version = (uint32_t)u;
	if ((rc = get_u64(c, "fingerprint_version", 1000, &u, err, errlen, w)))
		return rc;
	cfg->fingerprint_version = (uint32_t)u;
	if ((rc = get_u64(c, "max_record_size", SC_RECORD_SIZE_MAX, &cfg->max_record_size, err, errlen, w)) ||
	    (rc = get_u64(c, "frame_size", SC_FRAME_SIZE_MAX, &cfg->frame_size, err, errlen, w)) ||
	    (rc = get_u64(c, "shard_size", SC_SHARD_SIZE_MAX, &cfg->shard_size, err, errlen, w)))
		return rc;
	if ((rc = get_u64(c, "zstd_level", 22, &u, err, errlen, w)))
		return rc;
	cfg->zstd_level = (int)u;
	if ((rc = get_u64(c, "replicas", SC_REPLICAS_MAX, &u, err, errlen, w)))
		return rc;
	cfg->replicas = (uint32_t)u;
	return 0;
}

static int parse_stats(const struct sc_json *s, struct sc_stats *st, char *err,
		       size_t errlen)
{
	const char *w = "manifest stats";
	const struct sc_json *rej;
	int rc;

	if (!s || s->type != SC_JSON_OBJECT)
		return fail(err, errlen, SC_ECORRUPT, "%s: missing", w);
	for (size_t i = 0; i < SC_ARRAY_LEN(stat_fields); i++)
		if ((rc = get_u64(s, stat_fields[i].name, UINT64_MAX, stat_ptr(st, i),
				  err, errlen, w)))
			return rc;
	if (sc_json_get_double(sc_json_get(s, "elapsed_s"), &st->elapsed_s))
		return fail(err, errlen, SC_ECORRUPT, "%s: bad 'elapsed_s'", w);
	rej = sc_json_get(s, "rejected");
	if (!rej || rej->type != SC_JSON_OBJECT)
		return fail(err, errlen, SC_ECORRUPT, "%s: bad 'rejected'", w);
	for (int r = 1; r < SC_REJECT__COUNT; r++) {
		const char *name = sc_reject_name((enum sc_reject)r);
		const struct sc_json *v = sc_json_get(rej, name);

		/* a reason newer than the writer reads as zero */
		if (v && sc_json_get_u64(v, &st->rejected[r]))
			return fail(err, errlen, SC_ECORRUPT, "%s: bad rejected '%s'", w, name);
	}
	return 0;
}

static int parse_shard(const struct sc_json *o, uint64_t idx, uint32_t nnodes,
		       struct sc_manifest_shard *s, char *err, size_t errlen)
{
	char w[64];
	const struct sc_json *v, *reps;
	uint64_t u;
	int rc;

	snprintf(w, sizeof(w), "manifest shard %" PRIu64, idx);
	if (!o || o->type != SC_JSON_OBJECT)
		return fail(err, errlen, SC_ECORRUPT, "%s: not an object", w);
	if ((rc = get_str(o, "name", 1023, &s->name, err, errlen, w)))
		return rc;
	if (!sc_manifest_name_ok(s->name))
		return fail(err, errlen, SC_ECORRUPT, "%s: unsafe name '%s'", w, s->name);
	if ((rc = get_u64(o, "records", UINT64_MAX, &s->records, err, errlen, w)) ||
	    (rc = get_u64(o, "raw_bytes", UINT64_MAX, &s->raw_bytes, err, errlen, w)) ||
	    (rc = get_u64(o, "stored_bytes", UINT64_MAX, &s->stored_bytes, err, errlen, w)) ||
	    (rc = get_u64(o, "frames", SC_SHARD_FRAMES_MAX, &u, err, errlen, w)))
		return rc;
	s->frames = (uint32_t)u;
	v = sc_json_get(o, "sha256");
	if (!v || v->type != SC_JSON_STRING || sc_unhex(v->str, v->str_len, s->sha256, 32))
		return fail(err, errlen, SC_ECORRUPT, "%s: bad 'sha256'", w);
	reps = sc_json_get(o, "replicas");
	if (!reps || reps->type != SC_JSON_ARRAY || reps->count == 0 ||
	    reps->count > SC_REPLICAS_MAX)
		return fail(err, errlen, SC_ECORRUPT, "%s: bad 'replicas'", w);
	s->nreplicas = (uint32_t)reps->count;
	for (uint32_t r = 0; r < s->nreplicas; r++) {
		if (sc_json_get_u64(reps->items[r], &u) || u >= nnodes)
			return fail(err, errlen, SC_ECORRUPT, "%s: replica %u: bad node", w, r);
		s->replica[r] = (uint32_t)u;
		for (uint32_t k = 0; k < r; k++)
			if (s->replica[k] == s->replica[r])
				return fail(err, errlen, SC_ECORRUPT,
					    "%s: two replicas on node %u", w, s->replica[r]);
	}
	return 0;
}

int sc_manifest_parse(const char *json, size_t n, struct sc_manifest *m,
		      char *err, size_t errlen)
{
	struct sc_json *root = NULL;
	const struct sc_json *v, *arr;
	unsigned char md[32], want[32];
	const char *msg = NULL;
	size_t eoff = 0, body;
	uint64_t u;
	char *s = NULL;
	int rc;

	if (n < TRAILER_LEN)
		return fail(err, errlen, SC_ECORRUPT, "manifest: too short (%zu bytes)", n);
	body = n - TRAILER_LEN;
	if (memcmp(json + body, TRAILER_HEAD, sizeof(TRAILER_HEAD) - 1) ||
	    memcmp(json + n - (sizeof(TRAILER_TAIL) - 1), TRAILER_TAIL,
		   sizeof(TRAILER_TAIL) - 1) ||
	    sc_unhex(json + body + sizeof(TRAILER_HEAD) - 1, 64, want, 32))
		return fail(err, errlen, SC_ECORRUPT,
			    "manifest: missing or malformed manifest_sha256 trailer");
	rc = sc_sha256_oneshot(json, body, md);
	if (rc)
		return rc;
	if (memcmp(md, want, 32))
		return fail(err, errlen, SC_ECORRUPT,
			    "manifest: checksum mismatch (file corrupt or edited)");
	rc = sc_json_parse(json, n, &root, &eoff, &msg);
	if (rc)
		return fail(err, errlen, SC_ECORRUPT, "manifest: offset %zu: %s", eoff,
			    msg ? msg : sc_strerror(rc));
	rc = SC_ECORRUPT;
	v = sc_json_get(root, "format");
	if (!v || v->type != SC_JSON_STRING || strcmp(v->str, "shardctl-manifest")) {
		fail(err, errlen, rc, "manifest: not a shardctl manifest");
		goto out_free;
	}
	if ((rc = get_u64(root, "version", UINT32_MAX, &u, err, errlen, "manifest")))
		goto out_free;
	m->version = (uint32_t)u;
	if (m->version != SC_MANIFEST_VERSION) {
		rc = fail(err, errlen, SC_EVERSION, "manifest: version %u not supported",
			  m->version);
		goto out_free;
	}
	if ((rc = get_u64(root, "shard_format", UINT32_MAX, &u, err, errlen, "manifest")))
		goto out_free;
	m->shard_format = (uint32_t)u;
	if ((rc = get_u64(root, "generation", UINT64_MAX, &m->generation, err, errlen, "manifest")))
		goto out_free;
	if ((rc = get_str(root, "set_id", 32, &s, err, errlen, "manifest")))
		goto out_free;
	if (strlen(s) != 32 || strspn(s, "0123456789abcdef") != 32) {
		free(s);
		rc = fail(err, errlen, SC_ECORRUPT, "manifest: bad 'set_id'");
		goto out_free;
	}
	memcpy(m->set_id, s, 33);
	free(s);
	s = NULL;
	if ((rc = get_str(root, "created", 31, &s, err, errlen, "manifest")))
		goto out_free;
	memcpy(m->created, s, strlen(s) + 1);
	free(s);
	if ((rc = get_str(root, "tool", 128, &m->tool, err, errlen, "manifest")) ||
	    (rc = parse_config(sc_json_get(root, "config"), &m->config, err, errlen)) ||
	    (rc = parse_stats(sc_json_get(root, "stats"), &m->stats, err, errlen)))
		goto out_free;
	arr = sc_json_get(root, "nodes");
	if (!arr || arr->type != SC_JSON_ARRAY || arr->count == 0 ||
	    arr->count > SC_NODES_MAX) {
		rc = fail(err, errlen, SC_ECORRUPT, "manifest: bad 'nodes'");
		goto out_free;
	}
	m->nodes = calloc(arr->count, sizeof(*m->nodes));
	if (!m->nodes) {
		rc = -ENOMEM;
		goto out_free;
	}
	m->nnodes = (uint32_t)arr->count;
	for (uint32_t i = 0; i < m->nnodes; i++) {
		const struct sc_json *o = arr->items[i];

		if ((rc = get_str(o, "path", SC_PATH_MAX - 1, &m->nodes[i].path, err, errlen,
				  "manifest node")) ||
		    (rc = get_u64(o, "weight", SC_NODE_WEIGHT_MAX, &u, err, errlen,
				  "manifest node")))
			goto out_free;
		if (u == 0 || !m->nodes[i].path[0] ||
		    (m->nodes[i].path[0] != '/' &&
		     !sc_manifest_name_ok(m->nodes[i].path))) {
			rc = fail(err, errlen, SC_ECORRUPT, "manifest: node %u: bad path or weight", i);
			goto out_free;
		}
		m->nodes[i].weight = (uint32_t)u;
	}
	arr = sc_json_get(root, "shards");
	if (!arr || arr->type != SC_JSON_ARRAY || arr->count > SC_SHARDS_MAX) {
		rc = fail(err, errlen, SC_ECORRUPT, "manifest: bad 'shards'");
		goto out_free;
	}
	m->shards = calloc(arr->count ? arr->count : 1, sizeof(*m->shards));
	if (!m->shards) {
		rc = -ENOMEM;
		goto out_free;
	}
	m->nshards = arr->count;
	for (uint64_t i = 0; i < m->nshards; i++)
		if ((rc = parse_shard(arr->items[i], i, m->nnodes, &m->shards[i], err, errlen)))
			goto out_free;
	rc = 0;
out_free:
	sc_json_free(root);
	return rc;
}

int sc_manifest_load(const char *root, struct sc_manifest *m, char *err,
		     size_t errlen)
{
	char path[SC_PATH_MAX], msg[512];
	struct sc_buf b;
	int rc;

	if (sc_path_join(path, sizeof(path), root, SC_MANIFEST_NAME))
		return fail(err, errlen, SC_ELIMIT, "set '%s': path too long", root);
	sc_buf_init(&b, SC_MANIFEST_SIZE_MAX);
	rc = sc_read_file(path, SC_MANIFEST_SIZE_MAX, &b);
	if (rc == -ENOENT) {
		struct stat st;

		rc = SC_ENOTSET;
		if (stat(root, &st))
			fail(err, errlen, rc, "set '%s': no such directory", root);
		else
			fail(err, errlen, rc, "set '%s': no %s (not a shard set, or its "
			     "first ingest never committed)", root, SC_MANIFEST_NAME);
		goto out;
	}
	if (rc) {
		fail(err, errlen, rc, "set '%s': cannot read %s: %s", root,
		     SC_MANIFEST_NAME, sc_strerror(rc));
		goto out;
	}
	rc = sc_manifest_parse(b.data, b.len, m, msg, sizeof(msg));
	if (rc)
		fail(err, errlen, rc, "set '%s': %s", root, msg);
out:
	sc_buf_release(&b);
	return rc;
}

int sc_manifest_node_dir(const struct sc_manifest *m, const char *root,
			 uint32_t i, char *buf, size_t n)
{
	const char *p = m->nodes[i].path;

	if (p[0] == '/') {
		if (strlen(p) >= n)
			return SC_ELIMIT;
		memcpy(buf, p, strlen(p) + 1);
		return 0;
	}
	return sc_path_join(buf, n, root, p);
}

void sc_manifest_release(struct sc_manifest *m)
{
	if (!m)
		return;
	free(m->tool);
	free(m->config.text_field);
	free(m->config.input_format);
	free(m->config.dedup);
	for (uint32_t i = 0; m->nodes && i < m->nnodes; i++)
		free(m->nodes[i].path);
	free(m->nodes);
	for (uint64_t i = 0; m->shards && i < m->nshards; i++)
		free(m->shards[i].name);
	free(m->shards);
	memset(m, 0, sizeof(*m));
}
