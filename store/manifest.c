/*
 * manifest.c - manifest JSON writer and hostile-input reader.
 *
 * The document ends with a fixed-length trailer
 *     ,\n  "manifest_sha256": "<64 hex>"\n}\n
 * whose digest covers every byte before the trailer's comma, so a reader
 * can verify the file before trusting any field. Stats counters are
 * described once, in stat_fields[], and both writer and reader use it.
 *
 * The reader checks every rule of docs/MANIFEST.md section 8 and names the
 * offending field by its JSON path ("shards[3].replicas[1]: ..."); strings
 * from the file are quoted with control characters escaped.
 */
#include "manifest.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "file.h"
#include "json.h"
#include "near.h"
#include "normalize.h"
#include "s3.h"
#include "s3node.h"
#include "s3root.h"
#include "utf8.h"

#define TRAILER_HEAD ",\n  \"manifest_sha256\": \""
#define TRAILER_TAIL "\"\n}\n"
#define TRAILER_LEN (sizeof(TRAILER_HEAD) - 1 + 64 + sizeof(TRAILER_TAIL) - 1)

struct stat_field {
	const char *name; /* JSON member name */
	size_t off;       /* offset of the uint64_t in struct sc_stats */
	int near;         /* 1: written with dedup "near" only; missing reads as 0 */
};

#define SF(f) { #f, offsetof(struct sc_stats, f), 0 }
#define SFN(f) { #f, offsetof(struct sc_stats, f), 1 }
static const struct stat_field stat_fields[] = {
	SF(input_files), SF(input_errors), SF(bytes_in_disk), SF(bytes_in),
	SF(lines_blank), SF(records_in), SF(records_rejected),
	SF(records_normalized), SF(duplicates), SF(records_kept),
	SF(bytes_text_in), SF(bytes_text_kept), SF(bytes_kept),
	SF(bytes_stored), SF(dedup_index_bytes), SF(shards), SF(frames),
	SFN(near_duplicates), SFN(near_clusters), SFN(near_largest_cluster),
	SFN(lsh_index_bytes), SFN(near_capped),
};
#undef SF
#undef SFN

static int is_near(const struct sc_manifest_config *c)
{
	return c->dedup && !strcmp(c->dedup, "near");
}

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
	rc |= emitf(out, "    \"normalize\": \"%s\",\n    \"normalize_version\": %u,\n    ",
		    norm, c->normalize_version);
	rc |= emit_str(out, "dedup", c->dedup, ",\n");
	rc |= emitf(out, "    \"fingerprint_version\": %u,\n", c->fingerprint_version);
	if (is_near(c))
		rc |= emitf(out, "    \"near_version\": %u,\n    \"near_ngram\": %u,\n"
			    "    \"near_bands\": %u,\n    \"near_rows\": %u,\n"
			    "    \"near_threshold\": %.6f,\n    \"near_margin\": %.6f,\n",
			    c->near_version, c->near_ngram, c->near_bands, c->near_rows,
			    c->near_threshold, c->near_margin);
	rc |= emitf(out, "    \"max_record_size\": %" PRIu64 ",\n    \"frame_size\": %" PRIu64
		    ",\n    \"shard_size\": %" PRIu64 ",\n", c->max_record_size,
		    c->frame_size, c->shard_size);
	rc |= emitf(out, "    \"zstd_level\": %d,\n    \"replicas\": %u\n  },\n",
		    c->zstd_level, c->replicas);
	rc |= emitf(out, "  \"stats\": {\n");
	for (size_t i = 0; i < SC_ARRAY_LEN(stat_fields); i++)
		if (!stat_fields[i].near || is_near(c))
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

/*
 * One display unit of s (see sc_manifest_printable): its text in e[8],
 * returns the text's length and sets *in to the bytes of s it covers. A
 * byte that does not start a valid UTF-8 sequence is shown as \xNN too
 * (manifest strings are valid UTF-8; other callers' text may not be).
 */
static size_t printable_unit(const unsigned char *p, char e[8], size_t *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t l = *p >= 0x80 ? sc_utf8_seq_len(p, strnlen((const char *)p, 4)) : 1;

	*in = 1;
	if (*p < 0x20 || *p == 0x7f || l == 0) {
		e[0] = '\\';
		e[1] = 'x';
		e[2] = hex[*p >> 4];
		e[3] = hex[*p & 15];
		return 4;
	}
	if (*p == '\\') {
		e[0] = e[1] = '\\';
		return 2;
	}
	if (*p == 0xc2 && p[1] <= 0x9f) { /* C1 control, U+0080..U+009F */
		memcpy(e, "\\u00", 4);
		e[4] = hex[p[1] >> 4];
		e[5] = hex[p[1] & 15];
		*in = 2;
		return 6;
	}
	memcpy(e, p, l);
	*in = l;
	return l;
}

void sc_manifest_printable(const char *s, char *buf, size_t n)
{
	const unsigned char *p;
	size_t total = 0, o = 0, in, el;
	char e[8];

	if (!buf || !n)
		return;
	for (p = (const unsigned char *)s; *p; p += in)
		total += printable_unit(p, e, &in);
	for (p = (const unsigned char *)s; *p; p += in) {
		el = printable_unit(p, e, &in);
		if (total >= n && o + el + 3 >= n) {
			if (o + 3 < n) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, e, el);
		o += el;
	}
	buf[o] = '\0';
}

/* A manifest string quoted for a message: show(s, q) fills q and returns it. */
#define SHOW_MAX 96
static const char *show(const char *s, char q[SHOW_MAX])
{
	sc_manifest_printable(s, q, SHOW_MAX);
	return q;
}

/*
 * Field paths in messages are `at` and `key` joined by a dot when both are
 * non-empty: ("shards[3]", "name") is "shards[3].name", ("", "created")
 * is "created", ("shards[3].replicas[1]", "") is itself.
 */
#define PF "%s%s%s"
#define PA(at, key) (at), ((at)[0] && (key)[0] ? "." : ""), (key)

static int num_u64(const struct sc_json *v, const char *at, const char *key,
		   uint64_t min, uint64_t max, uint64_t *out, char *err,
		   size_t errlen)
{
	if (!v)
		return sc_fail(err, errlen, SC_ECORRUPT, PF ": missing", PA(at, key));
	if (sc_json_get_u64(v, out)) {
		if (v->type == SC_JSON_NUMBER && v->str_len &&
		    strspn(v->str, "0123456789") == v->str_len)
			return sc_fail(err, errlen, SC_ECORRUPT,
				    PF ": number does not fit in 64 bits", PA(at, key));
		return sc_fail(err, errlen, SC_ECORRUPT, PF ": not a non-negative integer",
			    PA(at, key));
	}
	if (*out < min || *out > max)
		return sc_fail(err, errlen, SC_ECORRUPT,
			    PF ": %" PRIu64 " is outside %" PRIu64 "..=%" PRIu64,
			    PA(at, key), *out, min, max);
	return 0;
}

static int get_u64(const struct sc_json *o, const char *at, const char *key,
		   uint64_t min, uint64_t max, uint64_t *out, char *err,
		   size_t errlen)
{
	return num_u64(sc_json_get(o, key), at, key, min, max, out, err, errlen);
}

static int get_u32(const struct sc_json *o, const char *at, const char *key,
		   uint32_t min, uint32_t max, uint32_t *out, char *err,
		   size_t errlen)
{
	uint64_t u;
	int rc = get_u64(o, at, key, min, max, &u, err, errlen);

	if (!rc)
		*out = (uint32_t)u;
	return rc;
}

/* A string member of minlen..=maxlen bytes without NUL, copied to *out. */
static int get_str(const struct sc_json *o, const char *at, const char *key,
		   size_t minlen, size_t maxlen, char **out, char *err,
		   size_t errlen)
{
	const struct sc_json *v = sc_json_get(o, key);

	if (!v)
		return sc_fail(err, errlen, SC_ECORRUPT, PF ": missing", PA(at, key));
	if (v->type != SC_JSON_STRING)
		return sc_fail(err, errlen, SC_ECORRUPT, PF ": not a string", PA(at, key));
	if (strlen(v->str) != v->str_len)
		return sc_fail(err, errlen, SC_ECORRUPT, PF ": contains a NUL character",
			    PA(at, key));
	if (v->str_len < minlen || v->str_len > maxlen)
		return sc_fail(err, errlen, SC_ECORRUPT,
			    PF ": %zu bytes long, must be %zu..=%zu", PA(at, key),
			    v->str_len, minlen, maxlen);
	*out = strdup(v->str);
	return *out ? 0 : -ENOMEM;
}

/* A string member that must be one of vals[] (NULL-terminated). */
static int get_enum(const struct sc_json *o, const char *at, const char *key,
		    const char *const *vals, char **out, char *err, size_t errlen)
{
	char q[SHOW_MAX], want[64] = "";
	int rc = get_str(o, at, key, 1, 16, out, err, errlen);

	if (rc)
		return rc;
	for (size_t i = 0; vals[i]; i++) {
		if (!strcmp(*out, vals[i]))
			return 0;
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s\"%s\"",
			 i ? (vals[i + 1] ? ", " : " or ") : "", vals[i]);
	}
	rc = sc_fail(err, errlen, SC_ECORRUPT, PF ": unknown value '%s' (expected %s)",
		  PA(at, key), show(*out, q), want);
	free(*out);
	*out = NULL;
	return rc;
}

int sc_manifest_has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f ||
		    (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return 1;
	return 0;
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

/*
 * An absolute node path as realpath(3) gives it: "/" or "/" followed by
 * '/'-separated segments, none empty, "." or "..", and no trailing '/'.
 */
static int abs_path_ok(const char *p)
{
	if (p[0] != '/')
		return 0;
	if (!p[1])
		return 1;
	for (p++;; p++) {
		size_t l = strcspn(p, "/");

		if (l == 0 || (l == 1 && p[0] == '.') ||
		    (l == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += l;
		if (!*p)
			return 1;
	}
}

int sc_manifest_node_path_ok(const char *path)
{
	/* an S3 node (docs/MANIFEST.md 3.4): only its canonical form */
	if (sc_s3_is_location(path)) {
		char canon[SC_S3_BUCKET_MAX + SC_S3_KEY_MAX + 8];

		return strlen(path) < SC_PATH_MAX &&
		       !sc_s3node_canonical(path, canon, sizeof(canon), NULL, 0) &&
		       !strcmp(canon, path);
	}
	if (path[0] != '/')
		return sc_manifest_name_ok(path);
	return strlen(path) < SC_PATH_MAX && abs_path_ok(path);
}

/* "YYYY-MM-DDTHH:MM:SSZ" naming a real UTC date and time (leap second ok). */
static int created_ok(const char *s)
{
	static const char form[] = "dddd-dd-ddTdd:dd:ddZ";
	static const unsigned char mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, se;

	if (strlen(s) != sizeof(form) - 1)
		return 0;
	for (size_t i = 0; form[i]; i++)
		if (form[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != form[i])
			return 0;
#define D2(i) ((unsigned)(s[i] - '0') * 10 + (unsigned)(s[(i) + 1] - '0'))
	y = D2(0) * 100 + D2(2);
	mo = D2(5);
	d = D2(8);
	h = D2(11);
	mi = D2(14);
	se = D2(17);
#undef D2
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    se > 60)
		return 0;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	return 1;
}

static const char *const input_formats[] = { "jsonl", "text", NULL };
static const char *const dedup_modes[] = { "exact", "near", "none", NULL };

/* The near-dup parameters, present exactly when dedup is "near". */
static int parse_near_config(const struct sc_json *c, struct sc_manifest_config *cfg,
			     char *err, size_t errlen)
{
	static const char *const names[] = { "near_version", "near_ngram", "near_bands",
					     "near_rows", "near_threshold", "near_margin" };
	const char *w = "config";
	struct sc_near_params p;
	const struct sc_json *v;
	int rc;

	if (!is_near(cfg)) {
		for (size_t i = 0; i < SC_ARRAY_LEN(names); i++)
			if (sc_json_get(c, names[i]))
				return sc_fail(err, errlen, SC_ECORRUPT, "config.%s: present, but "
					    "dedup is not \"near\"", names[i]);
		return 0;
	}
	if ((rc = get_u32(c, w, "near_version", 0, 1000, &cfg->near_version, err, errlen)) ||
	    (rc = get_u32(c, w, "near_ngram", 1, SC_NEAR_NGRAM_MAX, &cfg->near_ngram, err, errlen)) ||
	    (rc = get_u32(c, w, "near_bands", 1, SC_NEAR_BANDS_MAX, &cfg->near_bands, err, errlen)) ||
	    (rc = get_u32(c, w, "near_rows", 1, SC_NEAR_ROWS_MAX, &cfg->near_rows, err, errlen)))
		return rc;
	p.ngram = cfg->near_ngram;
	p.bands = cfg->near_bands;
	p.rows = cfg->near_rows;
	if (sc_near_params_check(&p))
		return sc_fail(err, errlen, SC_ECORRUPT, "config.near_bands: %" PRIu32 " x near_rows %"
			    PRIu32 " is above %d minhashes", p.bands, p.rows, SC_NEAR_HASHES_MAX);
	v = sc_json_get(c, "near_threshold");
	if (sc_json_get_double(v, &cfg->near_threshold) || !(cfg->near_threshold >= 0.0) ||
	    !(cfg->near_threshold <= 1.0))
		return sc_fail(err, errlen, SC_ECORRUPT, "config.near_threshold: %s",
			    v ? "not a number in [0, 1]" : "missing");
	/* absent in sets written before near version 3: no margin */
	cfg->near_margin = 0.0;
	v = sc_json_get(c, "near_margin");
	if (v && (sc_json_get_double(v, &cfg->near_margin) || !(cfg->near_margin >= 0.0) ||
		  !(cfg->near_margin <= SC_NEAR_MARGIN_MAX)))
		return sc_fail(err, errlen, SC_ECORRUPT, "config.near_margin: not a number in [0, %g]",
			    SC_NEAR_MARGIN_MAX);
	return 0;
}

static int parse_config(const struct sc_json *c, struct sc_manifest_config *cfg,
			char *err, size_t errlen)
{
	const char *w = "config";
	const struct sc_json *v;
	char canon[128], q[SHOW_MAX], *norm = NULL;
	uint64_t u;
	int rc;

	if (!c)
		return sc_fail(err, errlen, SC_ECORRUPT, "config: missing");
	if (c->type != SC_JSON_OBJECT)
		return sc_fail(err, errlen, SC_ECORRUPT, "config: not an object");
	if ((rc = get_str(c, w, "text_field", 1, SC_FIELD_NAME_MAX, &cfg->text_field, err, errlen)) ||
	    (rc = get_enum(c, w, "input_format", input_formats, &cfg->input_format, err, errlen)) ||
	    (rc = get_enum(c, w, "dedup", dedup_modes, &cfg->dedup, err, errlen)) ||
	    (rc = get_str(c, w, "normalize", 1, 127, &norm, err, errlen)))
		return rc;
	rc = sc_normalize_parse_spec(norm, &cfg->normalize);
	if (rc) {
		rc = sc_fail(err, errlen, SC_ECORRUPT,
			  "config.normalize: '%s' is not a normalization spec", show(norm, q));
	} else {
		sc_normalize_format_spec(cfg->normalize, canon, sizeof(canon));
		if (strcmp(norm, canon))
			rc = sc_fail(err, errlen, SC_ECORRUPT, "config.normalize: '%s' is not "
				  "in canonical form ('%s')", show(norm, q), canon);
	}
	free(norm);
	if (rc)
		return rc;
	v = sc_json_get(c, "record_per_file");
	if (!v || (v->type != SC_JSON_TRUE && v->type != SC_JSON_FALSE))
		return sc_fail(err, errlen, SC_ECORRUPT, "config.record_per_file: %s",
			    v ? "not true or false" : "missing");
	cfg->record_per_file = v->type == SC_JSON_TRUE;
	if (cfg->record_per_file && strcmp(cfg->input_format, "text"))
		return sc_fail(err, errlen, SC_ECORRUPT, "config.record_per_file: true, but "
			    "input_format is not \"text\"");
	if ((rc = get_u32(c, w, "normalize_version", 0, 1000, &cfg->normalize_version, err, errlen)) ||
	    (rc = get_u32(c, w, "fingerprint_version", 0, 1000, &cfg->fingerprint_version, err, errlen)) ||
	    (rc = parse_near_config(c, cfg, err, errlen)) ||
	    (rc = get_u64(c, w, "max_record_size", 1, SC_RECORD_SIZE_MAX, &cfg->max_record_size, err, errlen)) ||
	    (rc = get_u64(c, w, "frame_size", SC_FRAME_SIZE_MIN, SC_FRAME_SIZE_MAX, &cfg->frame_size, err, errlen)) ||
	    (rc = get_u64(c, w, "shard_size", SC_SHARD_SIZE_MIN, SC_SHARD_SIZE_MAX, &cfg->shard_size, err, errlen)))
		return rc;
	if (cfg->shard_size < cfg->frame_size)
		return sc_fail(err, errlen, SC_ECORRUPT, "config.shard_size: %" PRIu64
			    " is below frame_size %" PRIu64, cfg->shard_size, cfg->frame_size);
	if ((rc = get_u64(c, w, "zstd_level", 0, 22, &u, err, errlen)))
		return rc;
	cfg->zstd_level = (int)u;
	/* at most the number of nodes: checked once the nodes are read */
	return get_u32(c, w, "replicas", 1, SC_REPLICAS_MAX, &cfg->replicas, err, errlen);
}

/* *complete is set to 1 when `rejected` holds no reason this reader does
 * not know, so its members must add up to records_rejected exactly. */
static int parse_stats(const struct sc_json *s, struct sc_stats *st,
		       int *complete, char *err, size_t errlen)
{
	const struct sc_json *rej, *v;
	int rc;

	if (!s)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats: missing");
	if (s->type != SC_JSON_OBJECT)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats: not an object");
	for (size_t i = 0; i < SC_ARRAY_LEN(stat_fields); i++) {
		if (stat_fields[i].near && !sc_json_get(s, stat_fields[i].name))
			continue; /* written with dedup "near" only */
		if ((rc = get_u64(s, "stats", stat_fields[i].name, 0, UINT64_MAX,
				  stat_ptr(st, i), err, errlen)))
			return rc;
	}
	v = sc_json_get(s, "elapsed_s");
	if (sc_json_get_double(v, &st->elapsed_s) || !isfinite(st->elapsed_s) ||
	    st->elapsed_s < 0)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.elapsed_s: %s",
			    v ? "not a non-negative number" : "missing");
	rej = sc_json_get(s, "rejected");
	if (!rej || rej->type != SC_JSON_OBJECT)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.rejected: %s",
			    rej ? "not an object" : "missing");
	for (int r = 1; r < SC_REJECT__COUNT; r++) {
		const char *name = sc_reject_name((enum sc_reject)r);

		v = sc_json_get(rej, name);
		/* a reason newer than the writer reads as zero */
		if (v && (rc = num_u64(v, "stats.rejected", name, 0, UINT64_MAX,
				       &st->rejected[r], err, errlen)))
			return rc;
	}
	*complete = 1;
	for (size_t k = 0; k < rej->count; k++) {
		int known = 0;

		for (int r = 1; r < SC_REJECT__COUNT && !known; r++)
			known = !strcmp(rej->keys[k], sc_reject_name((enum sc_reject)r));
		if (!known)
			*complete = 0;
	}
	return 0;
}

static int parse_nodes(const struct sc_json *arr, struct sc_manifest *m,
		       char *err, size_t errlen)
{
	char at[32], q[SHOW_MAX];
	int rc;

	if (!arr)
		return sc_fail(err, errlen, SC_ECORRUPT, "nodes: missing");
	if (arr->type != SC_JSON_ARRAY)
		return sc_fail(err, errlen, SC_ECORRUPT, "nodes: not an array");
	if (arr->count == 0 || arr->count > SC_NODES_MAX)
		return sc_fail(err, errlen, SC_ECORRUPT, "nodes: %zu entries, must be 1..=%d",
			    arr->count, SC_NODES_MAX);
	m->nodes = calloc(arr->count, sizeof(*m->nodes));
	if (!m->nodes)
		return -ENOMEM;
	m->nnodes = (uint32_t)arr->count;
	for (uint32_t i = 0; i < m->nnodes; i++) {
		const struct sc_json *o = arr->items[i];
		struct sc_manifest_node *nd = &m->nodes[i];

		snprintf(at, sizeof(at), "nodes[%" PRIu32 "]", i);
		if (o->type != SC_JSON_OBJECT)
			return sc_fail(err, errlen, SC_ECORRUPT, "%s: not an object", at);
		if ((rc = get_str(o, at, "path", 1, SC_PATH_MAX - 1, &nd->path, err, errlen)) ||
		    (rc = get_u32(o, at, "weight", 1, SC_NODE_WEIGHT_MAX, &nd->weight, err, errlen)))
			return rc;
		if (nd->path[0] != '/' && !sc_manifest_node_path_ok(nd->path))
			return sc_fail(err, errlen, SC_ECORRUPT, "%s.path: unsafe relative path '%s'",
				    at, show(nd->path, q));
		if (nd->path[0] == '/' && !sc_manifest_node_path_ok(nd->path))
			return sc_fail(err, errlen, SC_ECORRUPT, "%s.path: '%s' is not a canonical "
				    "absolute path (empty, '.' or '..' segment, or trailing '/')",
				    at, show(nd->path, q));
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(m->nodes[k].path, nd->path))
				return sc_fail(err, errlen, SC_ECORRUPT,
					    "%s.path: '%s' is also nodes[%" PRIu32 "].path", at,
					    show(nd->path, q), k);
	}
	return 0;
}

static int parse_shard(const struct sc_json *o, uint64_t idx,
		       const struct sc_manifest *m, struct sc_manifest_shard *s,
		       char *err, size_t errlen)
{
	char at[64], rat[96], want[96], q[SHOW_MAX];
	const struct sc_json *v, *reps;
	int rc;

	snprintf(at, sizeof(at), "shards[%" PRIu64 "]", idx);
	if (o->type != SC_JSON_OBJECT)
		return sc_fail(err, errlen, SC_ECORRUPT, "%s: not an object", at);
	if ((rc = get_str(o, at, "name", 1, 1023, &s->name, err, errlen)))
		return rc;
	if (!sc_manifest_name_ok(s->name))
		return sc_fail(err, errlen, SC_ECORRUPT, "%s.name: unsafe name '%s'", at,
			    show(s->name, q));
	/* the writer's layout, NODE/SET_ID/gGENERATION/NNNNNN.zst: the name is
	 * inside this set's generation directory, and unique */
	snprintf(want, sizeof(want), "%s/g%06" PRIu64 "/%06" PRIu64 ".zst", m->set_id,
		 m->generation, idx);
	if (strcmp(s->name, want))
		return sc_fail(err, errlen, SC_ECORRUPT, "%s.name: '%s' is not the expected '%s'",
			    at, show(s->name, q), want);
	if ((rc = get_u64(o, at, "records", 0, UINT64_MAX, &s->records, err, errlen)) ||
	    (rc = get_u64(o, at, "raw_bytes", 0, UINT64_MAX, &s->raw_bytes, err, errlen)) ||
	    (rc = get_u64(o, at, "stored_bytes", 0, UINT64_MAX, &s->stored_bytes, err, errlen)) ||
	    (rc = get_u32(o, at, "frames", 1, SC_SHARD_FRAMES_MAX, &s->frames, err, errlen)))
		return rc;
	/* what any shard file with that many frames has (docs/FORMAT.md):
	 * each frame holds a record, each record a byte, each frame a byte */
	if (s->records < s->frames)
		return sc_fail(err, errlen, SC_ECORRUPT, "%s.records: %" PRIu64
			    " is fewer than its %" PRIu32 " frames", at, s->records, s->frames);
	if (s->raw_bytes < s->records)
		return sc_fail(err, errlen, SC_ECORRUPT, "%s.raw_bytes: %" PRIu64
			    " is fewer than its %" PRIu64 " records", at, s->raw_bytes, s->records);
	if (s->stored_bytes < 57 + 17 * (uint64_t)s->frames)
		return sc_fail(err, errlen, SC_ECORRUPT, "%s.stored_bytes: %" PRIu64
			    " is below the %" PRIu64 " bytes of the smallest shard with %"
			    PRIu32 " frames", at, s->stored_bytes, 57 + 17 * (uint64_t)s->frames,
			    s->frames);
	v = sc_json_get(o, "sha256");
	if (!v || v->type != SC_JSON_STRING || sc_unhex(v->str, v->str_len, s->sha256, 32))
		return sc_fail(err, errlen, SC_ECORRUPT, "%s.sha256: %s", at,
			    v ? "not 64 lowercase hex digits" : "missing");
	reps = sc_json_get(o, "replicas");
	if (!reps || reps->type != SC_JSON_ARRAY)
		return sc_fail(err, errlen, SC_ECORRUPT, "%s.replicas: %s", at,
			    reps ? "not an array" : "missing");
	if (reps->count != m->config.replicas)
		return sc_fail(err, errlen, SC_ECORRUPT, "%s.replicas: %zu entries, but "
			    "config.replicas is %" PRIu32, at, reps->count, m->config.replicas);
	s->nreplicas = (uint32_t)reps->count;
	for (uint32_t r = 0; r < s->nreplicas; r++) {
		uint64_t u;

		snprintf(rat, sizeof(rat), "%s.replicas[%" PRIu32 "]", at, r);
		if ((rc = num_u64(reps->items[r], rat, "", 0, UINT64_MAX, &u, err, errlen)))
			return rc;
		if (u >= m->nnodes)
			return sc_fail(err, errlen, SC_ECORRUPT, "%s: node %" PRIu64 " does not exist "
				    "(the set has %" PRIu32 " nodes)", rat, u, m->nnodes);
		s->replica[r] = (uint32_t)u;
		for (uint32_t k = 0; k < r; k++)
			if (s->replica[k] == s->replica[r])
				return sc_fail(err, errlen, SC_ECORRUPT, "%s: node %" PRIu32
					    " also holds %s.replicas[%" PRIu32 "]", rat,
					    s->replica[r], at, k);
	}
	return 0;
}

/* a += b, or 0 when that does not fit in 64 bits. */
static int add_ok(uint64_t *a, uint64_t b)
{
	return !__builtin_add_overflow(*a, b, a);
}

/*
 * The stats the writer derives from the shards (store/set.c) and the
 * record accounting of the ingest (store/ingest.c) must agree.
 */
static int check_totals(const struct sc_manifest *m, int rej_complete,
			char *err, size_t errlen)
{
	const struct sc_stats *st = &m->stats;
	uint64_t records = 0, raw = 0, stored = 0, frames = 0, sum;
	int ok;

	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct sc_manifest_shard *s = &m->shards[i];

		if (!add_ok(&records, s->records))
			return sc_fail(err, errlen, SC_ECORRUPT, "shards[%" PRIu64 "].records: "
				    "the sum over the shards does not fit in 64 bits", i);
		if (!add_ok(&raw, s->raw_bytes))
			return sc_fail(err, errlen, SC_ECORRUPT, "shards[%" PRIu64 "].raw_bytes: "
				    "the sum over the shards does not fit in 64 bits", i);
		if (!add_ok(&stored, s->stored_bytes))
			return sc_fail(err, errlen, SC_ECORRUPT, "shards[%" PRIu64 "].stored_bytes: "
				    "the sum over the shards does not fit in 64 bits", i);
		frames += s->frames; /* at most 2^24 terms of at most 2^22 */
	}
	if (st->shards != m->nshards)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.shards: %" PRIu64 ", but the "
			    "shards array has %" PRIu64 " entries", st->shards, m->nshards);
	if (st->frames != frames)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.frames: %" PRIu64 ", but the "
			    "shards' frames add up to %" PRIu64, st->frames, frames);
	if (st->records_kept != records)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.records_kept: %" PRIu64 ", but "
			    "the shards' records add up to %" PRIu64, st->records_kept, records);
	if (st->bytes_kept != raw)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.bytes_kept: %" PRIu64 ", but "
			    "the shards' raw_bytes add up to %" PRIu64, st->bytes_kept, raw);
	if (st->bytes_stored != stored)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.bytes_stored: %" PRIu64 ", but "
			    "the shards' stored_bytes add up to %" PRIu64, st->bytes_stored,
			    stored);
	sum = st->records_rejected;
	ok = add_ok(&sum, st->duplicates) && add_ok(&sum, st->near_duplicates) &&
	     add_ok(&sum, st->records_kept);
	if (!ok)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.records_in: %" PRIu64 ", but "
			    "records_rejected + duplicates + near_duplicates + records_kept is "
			    "above 2^64 - 1", st->records_in);
	if (sum != st->records_in)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.records_in: %" PRIu64 ", but "
			    "records_rejected + duplicates + near_duplicates + records_kept is %"
			    PRIu64, st->records_in, sum);
	sum = 0;
	for (int r = 1; r < SC_REJECT__COUNT; r++)
		if (!add_ok(&sum, st->rejected[r]))
			return sc_fail(err, errlen, SC_ECORRUPT, "stats.rejected: the reasons add "
				    "up to more than 2^64 - 1");
	/* reasons from a newer writer are not counted in sum */
	if (rej_complete ? sum != st->records_rejected : sum > st->records_rejected)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.records_rejected: %" PRIu64
			    ", but stats.rejected adds up to %" PRIu64 "%s",
			    st->records_rejected, sum, rej_complete ? "" : " or more");
	if (!strcmp(m->config.dedup, "none") && st->duplicates)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.duplicates: %" PRIu64
			    " with config.dedup \"none\"", st->duplicates);
	if (!strcmp(m->config.dedup, "none") && st->dedup_index_bytes)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.dedup_index_bytes: %" PRIu64
			    " with config.dedup \"none\"", st->dedup_index_bytes);
	if (!is_near(&m->config) && (st->near_duplicates || st->near_clusters ||
				     st->near_largest_cluster || st->lsh_index_bytes ||
				     st->near_capped))
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.near_*: not 0 with config.dedup "
			    "other than \"near\"");
	if (st->near_clusters > st->near_duplicates)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.near_clusters: %" PRIu64 ", but "
			    "near_duplicates is %" PRIu64, st->near_clusters, st->near_duplicates);
	if (st->near_clusters > st->records_kept)
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.near_clusters: %" PRIu64 ", but "
			    "records_kept is %" PRIu64, st->near_clusters, st->records_kept);
	if ((st->near_clusters == 0) != (st->near_largest_cluster == 0) ||
	    (st->near_clusters && (st->near_largest_cluster < 2 ||
				   st->near_largest_cluster - 1 > st->near_duplicates)))
		return sc_fail(err, errlen, SC_ECORRUPT, "stats.near_largest_cluster: %" PRIu64
			    " does not fit near_clusters %" PRIu64 " and near_duplicates %" PRIu64,
			    st->near_largest_cluster, st->near_clusters, st->near_duplicates);
	return 0;
}

#define TRAILER_HEX (sizeof(TRAILER_HEAD) - 1)

static int check_trailer(const char *json, size_t n, char *err, size_t errlen)
{
	unsigned char md[32], want[32];
	size_t body;
	int rc;

	if (n < TRAILER_LEN)
		return sc_fail(err, errlen, SC_ECORRUPT, "manifest_sha256: file too short "
			    "(%zu bytes) to hold the trailer", n);
	body = n - TRAILER_LEN;
	if (memcmp(json + body, TRAILER_HEAD, sizeof(TRAILER_HEAD) - 1) ||
	    memcmp(json + n - (sizeof(TRAILER_TAIL) - 1), TRAILER_TAIL,
		   sizeof(TRAILER_TAIL) - 1) ||
	    sc_unhex(json + body + TRAILER_HEX, 64, want, 32))
		return sc_fail(err, errlen, SC_ECORRUPT,
			    "manifest_sha256: missing or malformed trailer");
	rc = sc_sha256_oneshot(json, body, md);
	if (rc)
		return rc;
	if (memcmp(md, want, 32))
		return sc_fail(err, errlen, SC_ECORRUPT,
			    "manifest_sha256: checksum mismatch (file corrupt or edited)");
	return 0;
}

static int parse_root(const struct sc_json *root, struct sc_manifest *m,
		      char *err, size_t errlen)
{
	const struct sc_json *v, *arr;
	char q[SHOW_MAX], *s = NULL;
	int rc, rej_complete = 0;

	if (root->type != SC_JSON_OBJECT)
		return sc_fail(err, errlen, SC_ECORRUPT, "not a JSON object");
	v = sc_json_get(root, "format");
	if (!v || v->type != SC_JSON_STRING || strcmp(v->str, "shardctl-manifest") ||
	    v->str_len != strlen(v->str))
		return sc_fail(err, errlen, SC_ECORRUPT,
			    "format: not \"shardctl-manifest\" (not a shardctl manifest)");
	if ((rc = get_u32(root, "", "version", 0, UINT32_MAX, &m->version, err, errlen)))
		return rc;
	if (m->version != SC_MANIFEST_VERSION && m->version != SC_MANIFEST_VERSION_NEAR)
		return sc_fail(err, errlen, SC_EVERSION, "version: %" PRIu32 " not supported "
			    "(this shardctl reads versions %d and %d)", m->version,
			    SC_MANIFEST_VERSION, SC_MANIFEST_VERSION_NEAR);
	/* generation + 1 is the next commit's: it must not wrap to 0 */
	if ((rc = get_u32(root, "", "shard_format", 0, UINT32_MAX, &m->shard_format, err, errlen)) ||
	    (rc = get_u64(root, "", "generation", 1, UINT64_MAX - 1, &m->generation, err, errlen)) ||
	    (rc = get_str(root, "", "set_id", 32, 32, &s, err, errlen)))
		return rc;
	if (strspn(s, "0123456789abcdef") != 32) {
		rc = sc_fail(err, errlen, SC_ECORRUPT, "set_id: '%s' is not 32 lowercase hex "
			  "digits", show(s, q));
		free(s);
		return rc;
	}
	memcpy(m->set_id, s, 33);
	free(s);
	s = NULL;
	if ((rc = get_str(root, "", "created", 1, sizeof(m->created) - 1, &s, err, errlen)))
		return rc;
	if (!created_ok(s)) {
		rc = sc_fail(err, errlen, SC_ECORRUPT, "created: '%s' is not a UTC time "
			  "YYYY-MM-DDTHH:MM:SSZ", show(s, q));
		free(s);
		return rc;
	}
	memcpy(m->created, s, strlen(s) + 1);
	free(s);
	if ((rc = get_str(root, "", "tool", 0, 128, &m->tool, err, errlen)))
		return rc;
	if (sc_manifest_has_control(m->tool))
		return sc_fail(err, errlen, SC_ECORRUPT, "tool: '%s' contains a control "
			    "character", show(m->tool, q));
	if ((rc = parse_config(sc_json_get(root, "config"), &m->config, err, errlen)) ||
	    (rc = parse_stats(sc_json_get(root, "stats"), &m->stats, &rej_complete, err,
			      errlen)) ||
	    (rc = parse_nodes(sc_json_get(root, "nodes"), m, err, errlen)))
		return rc;
	if ((m->version == SC_MANIFEST_VERSION_NEAR) != is_near(&m->config))
		return sc_fail(err, errlen, SC_ECORRUPT, "version: %" PRIu32 " with config.dedup "
			    "\"%s\" (version %d is for dedup \"near\" only)", m->version,
			    m->config.dedup, SC_MANIFEST_VERSION_NEAR);
	if (m->config.replicas > m->nnodes)
		return sc_fail(err, errlen, SC_ECORRUPT, "config.replicas: %" PRIu32 ", but the "
			    "set has only %" PRIu32 " nodes", m->config.replicas, m->nnodes);
	arr = sc_json_get(root, "shards");
	if (!arr || arr->type != SC_JSON_ARRAY)
		return sc_fail(err, errlen, SC_ECORRUPT, "shards: %s",
			    arr ? "not an array" : "missing");
	if (arr->count > SC_SHARDS_MAX)
		return sc_fail(err, errlen, SC_ECORRUPT, "shards: %zu entries, more than %u",
			    arr->count, SC_SHARDS_MAX);
	m->shards = calloc(arr->count ? arr->count : 1, sizeof(*m->shards));
	if (!m->shards)
		return -ENOMEM;
	m->nshards = arr->count;
	for (uint64_t i = 0; i < m->nshards; i++)
		if ((rc = parse_shard(arr->items[i], i, m, &m->shards[i], err, errlen)))
			return rc;
	return check_totals(m, rej_complete, err, errlen);
}

int sc_manifest_parse(const char *json, size_t n, struct sc_manifest *m,
		      char *err, size_t errlen)
{
	struct sc_json *root = NULL;
	const char *msg = NULL;
	size_t eoff = 0;
	int rc;

	rc = check_trailer(json, n, err, errlen);
	if (rc)
		return rc;
	rc = sc_json_parse(json, n, &root, &eoff, &msg);
	if (rc == -ENOMEM)
		return sc_fail(err, errlen, rc, "out of memory");
	if (rc)
		return sc_fail(err, errlen, SC_ECORRUPT, "invalid JSON at offset %zu: %s", eoff,
			    msg ? msg : sc_strerror(rc));
	rc = parse_root(root, m, err, errlen);
	sc_json_free(root);
	if (rc == -ENOMEM)
		sc_fail(err, errlen, rc, "out of memory");
	if (rc)
		sc_manifest_release(m); /* nothing from a rejected manifest is kept */
	return rc;
}

/*
 * The manifest of a set root on S3: the object PREFIX/manifest.json, read
 * whole (at most SC_MANIFEST_SIZE_MAX bytes) and checked like a file.
 * A node stored relative would lie under no directory: refused.
 */
static int load_s3(const char *root, struct sc_manifest *m, char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3ROOT_OBJ_MAX], msg[SC_S3_ERR_MAX + 128];
	char shown[SHOW_MAX];
	struct sc_s3_loc loc;
	struct sc_buf b;
	int rc;

	rc = sc_s3root_object(root, SC_MANIFEST_NAME, &loc, key, sizeof(key), obj,
			      sizeof(obj), msg, sizeof(msg));
	if (rc)
		return sc_fail(err, errlen, rc, "%s", msg);
	sc_buf_init(&b, SC_MANIFEST_SIZE_MAX);
	rc = sc_s3root_read(root, SC_MANIFEST_NAME, SC_MANIFEST_SIZE_MAX, &b, msg, sizeof(msg));
	if (rc == -ENOENT) {
		const char *http = strstr(msg, "HTTP 404");

		rc = SC_ENOTSET;
		if (http && strstr(http, "NoSuchBucket"))
			sc_fail(err, errlen, rc, "set '%s': no such bucket '%s' (%s)", root,
			     loc.bucket, http);
		else
			sc_fail(err, errlen, rc, "set '%s': no manifest object '%s' (%s; not a "
			     "shard set, or its first ingest never committed)", root, obj,
			     http ? http : "missing");
		goto out;
	}
	if (rc) {
		sc_fail(err, errlen, rc, "manifest '%s': cannot read: %s", obj, msg);
		goto out;
	}
	rc = sc_manifest_parse(b.data, b.len, m, msg, sizeof(msg));
	if (rc) {
		sc_fail(err, errlen, rc, "manifest '%s': %s", obj, msg);
		goto out;
	}
	for (uint32_t i = 0; i < m->nnodes; i++) {
		const char *p = m->nodes[i].path;

		if (p[0] == '/' || sc_s3_is_location(p))
			continue;
		rc = sc_fail(err, errlen, SC_ECORRUPT, "manifest '%s': nodes[%" PRIu32 "].path: "
			  "relative node '%s' in a set whose root is on S3 (no directory "
			  "holds it)", obj, i, show(p, shown));
		sc_manifest_release(m);
		break;
	}
out:
	sc_buf_release(&b);
	return rc;
}

int sc_manifest_load(const char *root, struct sc_manifest *m, char *err,
		     size_t errlen)
{
	char path[SC_PATH_MAX], msg[512];
	struct sc_buf b;
	int rc;

	if (sc_s3root_is(root))
		return load_s3(root, m, err, errlen);
	if (sc_path_join(path, sizeof(path), root, SC_MANIFEST_NAME))
		return sc_fail(err, errlen, SC_ELIMIT, "set '%s': path too long", root);
	sc_buf_init(&b, SC_MANIFEST_SIZE_MAX);
	rc = sc_read_file(path, SC_MANIFEST_SIZE_MAX, &b);
	if (rc == -ENOENT) {
		struct stat st;

		rc = SC_ENOTSET;
		if (stat(root, &st))
			sc_fail(err, errlen, rc, "set '%s': no such directory", root);
		else
			sc_fail(err, errlen, rc, "set '%s': no %s (not a shard set, or its "
			     "first ingest never committed)", root, SC_MANIFEST_NAME);
		goto out;
	}
	if (rc) {
		sc_fail(err, errlen, rc, "manifest '%s': cannot read: %s", path,
		     sc_strerror(rc));
		goto out;
	}
	rc = sc_manifest_parse(b.data, b.len, m, msg, sizeof(msg));
	if (rc)
		sc_fail(err, errlen, rc, "manifest '%s': %s", path, msg);
out:
	sc_buf_release(&b);
	return rc;
}

int sc_manifest_node_dir(const struct sc_manifest *m, const char *root,
			 uint32_t i, char *buf, size_t n)
{
	const char *p;

	if (i >= m->nnodes)
		return SC_ELIMIT;
	p = m->nodes[i].path;
	if (p[0] == '/' || sc_s3_is_location(p)) { /* an S3 node: its location */
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
