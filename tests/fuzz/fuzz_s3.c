/*
 * fuzz_s3.c - fuzz target for the text parsers of the S3 client
 * (io/s3_wire.c and the location parser of io/s3.c): what an S3 server
 * sends back (error documents, ListObjectsV2 pages, the UploadId of an
 * initiate answer) and what a user writes (s3:// locations, endpoints).
 *
 * The whole input is given to each parser. Checks: the list parser
 * returns a count or SC_EFORMAT / SC_ELIMIT / -ENOMEM, gives only
 * non-empty NUL-free keys, agrees with itself on a second run, and a
 * truncated page is never reported as complete without its token; the
 * error parser never fails and fills NUL-terminated fields without control
 * bytes; sc_s3_xml_text gives NUL-terminated text or a known error; a
 * location that parses has a valid bucket, a prefix without empty, "." or
 * ".." segments, parses again to itself when written back, and joins keys
 * within SC_S3_KEY_MAX; an endpoint that parses has a non-empty host and
 * an authority that starts with it. Any violation aborts.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_base.h"
#include "s3.h"
#include "s3_wire.h"

#define FUZZ_S3_MAX (64u << 10) /* bigger inputs add time, not coverage */

struct seen {
	int n;
};

static int on_entry(void *ctx, const struct sc_s3_entry *e)
{
	struct seen *s = ctx;

	if (!e->key || !e->key[0] || !e->etag)
		abort();
	s->n++;
	return 0;
}

static void check_field(const char *f, size_t cap)
{
	size_t n = strnlen(f, cap);

	if (n >= cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)f[i] < ' ' || f[i] == 0x7f)
			abort();
}

static void fuzz_list(const char *d, size_t n)
{
	struct sc_buf tok;
	struct seen a = { 0 }, b = { 0 };
	int trunc = -1, trunc2 = -1, r1, r2;

	sc_buf_init(&tok, SC_S3_TEXT_MAX);
	r1 = sc_s3_xml_list_parse(d, n, on_entry, &a, &trunc, &tok);
	if (r1 < 0 && r1 != SC_EFORMAT && r1 != SC_ELIMIT && r1 != -ENOMEM)
		abort();
	if (r1 >= 0) {
		if (r1 != a.n || (trunc && tok.len == 0) || tok.data[tok.len] != '\0')
			abort();
	}
	r2 = sc_s3_xml_list_parse(d, n, on_entry, &b, &trunc2, &tok);
	if (r1 != r2 || (r1 >= 0 && (a.n != b.n || trunc != trunc2)))
		abort();
	sc_buf_release(&tok);
}

static void fuzz_text(const char *d, size_t n)
{
	static const char *const tags[] = { "UploadId", "Key", "ETag", "Code", "Contents" };
	struct sc_buf out;

	sc_buf_init(&out, SC_S3_TEXT_MAX);
	for (size_t i = 0; i < SC_ARRAY_LEN(tags); i++) {
		int r = sc_s3_xml_text(d, n, tags[i], &out);

		if (r != 0 && r != 1 && r != SC_EFORMAT && r != SC_ELIMIT && r != -ENOMEM)
			abort();
		if (r >= 0 && (!out.data || out.data[out.len] != '\0'))
			abort();
	}
	sc_buf_release(&out);
}

static void fuzz_error(const char *d, size_t n)
{
	struct sc_s3_xml_error e;
	int r = sc_s3_xml_error_parse(d, n, &e);

	if (r != 0 && r != 1)
		abort();
	check_field(e.code, sizeof(e.code));
	check_field(e.message, sizeof(e.message));
	check_field(e.request_id, sizeof(e.request_id));
	if (r == 0 && (e.code[0] || e.message[0] || e.request_id[0]))
		abort();
}

static void fuzz_location(const char *s)
{
	struct sc_s3_loc l, l2;
	char again[SC_S3_BUCKET_MAX + SC_S3_KEY_MAX + 16], key[SC_S3_KEY_MAX + 1], err[256];
	const char *p;

	if (sc_s3_location_parse(s, &l, err, sizeof(err)) != 0) {
		if (!err[0])
			abort();
		return;
	}
	if (sc_s3_bucket_check(l.bucket, NULL, 0) != 0 || !sc_s3_is_location(s))
		abort();
	p = l.prefix;
	if (*p == '/' || (*p && p[strlen(p) - 1] == '/') || strstr(p, "//"))
		abort();
	for (const char *seg = p; *seg;) {
		size_t sl = strcspn(seg, "/");

		if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			abort();
		seg += sl;
		if (*seg == '/')
			seg++;
	}
	snprintf(again, sizeof(again), "s3://%s/%s", l.bucket, l.prefix);
	if (sc_s3_location_parse(again, &l2, err, sizeof(err)) != 0 ||
	    strcmp(l.bucket, l2.bucket) || strcmp(l.prefix, l2.prefix))
		abort();
	if (sc_s3_location_key(&l, "g000001/000000.zst", key, sizeof(key)) == 0 &&
	    strlen(key) > SC_S3_KEY_MAX)
		abort();
}

static void fuzz_endpoint(const char *s)
{
	struct sc_s3_endpoint ep;
	char err[256];

	if (sc_s3_endpoint_parse(s, &ep, err, sizeof(err)) != 0)
		return;
	if (!ep.host[0] || strncmp(ep.authority, ep.host, strlen(ep.host)) != 0 || ep.port > 65535)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > FUZZ_S3_MAX)
		return 0;
	fuzz_list((const char *)data, size);
	fuzz_text((const char *)data, size);
	fuzz_error((const char *)data, size);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_location(s);
	fuzz_endpoint(s);
	free(s);
	return 0;
}
