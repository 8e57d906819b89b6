/*
 * s3_wire.c - the S3 protocol as text (see s3_wire.h): endpoints and
 * request targets, URI encoding, canonical queries, Signature V4, the XML
 * S3 answers with, and the retry policy. No I/O, no clock, no randomness:
 * io/s3.c feeds those in, and the unit tests feed AWS's published examples.
 *
 * OpenSSL's conventions (EVP, HMAC, 1-on-success) stay in this file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "s3_wire.h"

/* Most headers a request signs (host, range, x-amz-*: about 6 in practice). */
#define WIRE_SIGN_HEADERS_MAX 32
/* Most query parameters of one request (S3 uses at most 5). */
#define WIRE_QUERY_PARAMS_MAX 32

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[p[i] >> 4];
		out[2 * i + 1] = hexdig[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Append a NUL without counting it, so b->data is a C string. */
static int buf_terminate(struct sc_buf *b)
{
	int rc = sc_buf_reserve(b, 1);

	if (rc)
		return rc;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_puts(struct sc_buf *b, const char *s)
{
	return sc_buf_append(b, s, strlen(s));
}

/* ---- hashing ---- */

int sc_s3_sha256_hex(const void *p, size_t n, char hex[SC_S3_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return SC_ECODEC;
	to_hex(md, 32, hex);
	return 0;
}

static int hmac256(const void *key, size_t keylen, const void *msg, size_t n,
		   unsigned char out[32])
{
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) || len != 32)
		return SC_ECODEC;
	return 0;
}

int sc_s3_amz_date(time_t t, char out[SC_S3_AMZ_DATE_LEN])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1970 || tm.tm_year + 1900 > 9999)
		return SC_EUSAGE;
	if (strftime(out, SC_S3_AMZ_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm) != 16)
		return SC_EUSAGE;
	return 0;
}

/* ---- endpoints ---- */

int sc_s3_endpoint_parse(const char *url, struct sc_s3_endpoint *ep, char *err,
			 size_t errlen)
{
	const char *p, *host, *host_end, *path;
	size_t hlen;

	memset(ep, 0, sizeof(*ep));
	if (!url || !*url) {
		sc_msg(err, errlen, "s3 endpoint: empty");
		return SC_EUSAGE;
	}
	if (strncmp(url, "https://", 8) == 0) {
		ep->https = 1;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		sc_msg(err, errlen, "s3 endpoint '%.200s': must start with http:// or https://", url);
		return SC_EUSAGE;
	}
	{
		size_t alen = strcspn(p, "/?#");

		if (memchr(p, '@', alen)) {
			sc_msg(err, errlen, "s3 endpoint '%.200s': credentials in the URL are not supported (use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)", url);
			return SC_EUSAGE;
		}
	}
	host = p;
	if (*p == '[') { /* IPv6 literal */
		p = strchr(p, ']');
		if (!p) {
			sc_msg(err, errlen, "s3 endpoint '%.200s': unclosed '[' in host", url);
			return SC_EUSAGE;
		}
		p++;
	} else {
		while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#')
			p++;
	}
	host_end = p;
	hlen = (size_t)(host_end - host);
	if (hlen == 0 || hlen >= sizeof(ep->host)) {
		sc_msg(err, errlen, "s3 endpoint '%.200s': %s host", url, hlen ? "overlong" : "missing");
		return SC_EUSAGE;
	}
	for (const char *c = host; c < host_end; c++) {
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
			sc_msg(err, errlen, "s3 endpoint '%.200s': bad byte in host", url);
			return SC_EUSAGE;
		}
	}
	memcpy(ep->host, host, hlen);
	ep->host[hlen] = '\0';
	if (*p == ':') {
		char *e;
		unsigned long v;

		p++;
		if (!isdigit((unsigned char)*p)) {
			sc_msg(err, errlen, "s3 endpoint '%.200s': bad port", url);
			return SC_EUSAGE;
		}
		v = strtoul(p, &e, 10);
		if (v == 0 || v > 65535 || (*e && *e != '/')) {
			sc_msg(err, errlen, "s3 endpoint '%.200s': bad port", url);
			return SC_EUSAGE;
		}
		ep->port = (uint32_t)v;
		p = e;
	}
	if (*p == '?' || *p == '#') {
		sc_msg(err, errlen, "s3 endpoint '%.200s': a query or fragment is not allowed", url);
		return SC_EUSAGE;
	}
	path = p; /* "" or "/..." */
	if (strpbrk(path, "?#")) {
		sc_msg(err, errlen, "s3 endpoint '%.200s': a query or fragment is not allowed", url);
		return SC_EUSAGE;
	}
	{
		size_t plen = strlen(path);

		while (plen > 0 && path[plen - 1] == '/')
			plen--;
		if (plen >= sizeof(ep->base)) {
			sc_msg(err, errlen, "s3 endpoint '%.200s': path too long", url);
			return SC_EUSAGE;
		}
		for (size_t i = 0; i < plen; i++) {
			unsigned char c = (unsigned char)path[i];

			if (c <= ' ' || c >= 0x7f || c == '%') {
				sc_msg(err, errlen, "s3 endpoint '%.200s': the path may hold plain printable bytes only", url);
				return SC_EUSAGE;
			}
		}
		memcpy(ep->base, path, plen);
		ep->base[plen] = '\0';
	}
	if (ep->port)
		snprintf(ep->authority, sizeof(ep->authority), "%s:%u", ep->host, ep->port & 0xffffu);
	else
		memcpy(ep->authority, ep->host, hlen + 1);
	return 0;
}

int sc_s3_endpoint_is_aws(const struct sc_s3_endpoint *ep)
{
	size_t n = strlen(ep->host);
	static const char sfx[] = "amazonaws.com";

	return n >= sizeof(sfx) - 1 && strcasecmp(ep->host + n - (sizeof(sfx) - 1), sfx) == 0 &&
	       (n == sizeof(sfx) - 1 || ep->host[n - sizeof(sfx)] == '.');
}

static int is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int sc_s3_bucket_dns_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63 || !is_lower_alnum(b[0]) || !is_lower_alnum(b[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(b[i]) && b[i] != '-')
			return 0;
	return 1;
}

int sc_s3_bucket_check(const char *b, char *err, size_t errlen)
{
	size_t n = strlen(b);

	if (n < 3 || n > SC_S3_BUCKET_MAX) {
		sc_msg(err, errlen, "bucket '%.80s': must be 3 to %d bytes long", b, SC_S3_BUCKET_MAX);
		return SC_EUSAGE;
	}
	if (!is_lower_alnum(b[0]) || !is_lower_alnum(b[n - 1])) {
		sc_msg(err, errlen, "bucket '%s': must start and end with a lowercase letter or digit", b);
		return SC_EUSAGE;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_lower_alnum(b[i]) && b[i] != '-' && b[i] != '.' && b[i] != '_') {
			sc_msg(err, errlen, "bucket '%s': byte %zu: only a-z, 0-9, '.', '-' and '_' are allowed", b, i);
			return SC_EUSAGE;
		}
	}
	return 0;
}

/* ---- encoding ---- */

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

int sc_s3_uri_encode(const char *s, size_t n, int keep_slash, struct sc_buf *out)
{
	static const char up[] = "0123456789ABCDEF";
	int rc;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			rc = sc_buf_putc(out, (char)c);
		} else {
			char esc[3] = { '%', up[c >> 4], up[c & 15] };

			rc = sc_buf_append(out, esc, 3);
		}
		if (rc)
			return rc;
	}
	return buf_terminate(out);
}

void sc_s3_target_init(struct sc_s3_target *t)
{
	sc_buf_init(&t->url, SC_S3_TEXT_MAX);
	sc_buf_init(&t->host, SC_S3_HOST_MAX + 128);
	sc_buf_init(&t->path, SC_S3_TEXT_MAX);
}

void sc_s3_target_release(struct sc_s3_target *t)
{
	sc_buf_release(&t->url);
	sc_buf_release(&t->host);
	sc_buf_release(&t->path);
}

int sc_s3_target_build(const struct sc_s3_endpoint *ep, int virtual_host,
		       const char *bucket, const char *key, const char *query,
		       struct sc_s3_target *t)
{
	int rc;

	t->url.len = t->host.len = t->path.len = 0;
	if (!bucket || !*bucket || !key || !query)
		return SC_EUSAGE;
	if (virtual_host) {
		if ((rc = buf_puts(&t->host, bucket)) || (rc = sc_buf_putc(&t->host, '.')))
			return rc;
	}
	if ((rc = buf_puts(&t->host, ep->authority)) || (rc = buf_terminate(&t->host)))
		return rc;
	if ((rc = buf_puts(&t->path, ep->base)) || (rc = sc_buf_putc(&t->path, '/')))
		return rc;
	if (!virtual_host) {
		if ((rc = sc_s3_uri_encode(bucket, strlen(bucket), 0, &t->path)))
			return rc;
		if (*key && (rc = sc_buf_putc(&t->path, '/')))
			return rc;
	}
	if ((rc = sc_s3_uri_encode(key, strlen(key), 1, &t->path)))
		return rc;
	if ((rc = buf_puts(&t->url, ep->https ? "https://" : "http://")) ||
	    (rc = sc_buf_append(&t->url, t->host.data, t->host.len)) ||
	    (rc = sc_buf_append(&t->url, t->path.data, t->path.len)))
		return rc;
	if (*query && ((rc = sc_buf_putc(&t->url, '?')) || (rc = buf_puts(&t->url, query))))
		return rc;
	return buf_terminate(&t->url);
}

struct enc_param {
	char *name;    /* encoded, heap */
	char *value;   /* encoded, heap */
};

static int enc_param_cmp(const void *a, const void *b)
{
	const struct enc_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
	struct sc_buf b;
	char *r;

	sc_buf_init(&b, SC_S3_TEXT_MAX);
	if (sc_s3_uri_encode(s ? s : "", s ? strlen(s) : 0, 0, &b)) {
		sc_buf_release(&b);
		return NULL;
	}
	r = b.data; /* terminated by sc_s3_uri_encode */
	return r;
}

int sc_s3_query_build(const struct sc_s3_param *p, size_t n, struct sc_buf *out)
{
	struct enc_param ep[WIRE_QUERY_PARAMS_MAX];
	size_t made = 0;
	int rc = 0;

	out->len = 0;
	if (n > WIRE_QUERY_PARAMS_MAX)
		return SC_ELIMIT;
	for (; made < n; made++) {
		if (!p[made].name || !*p[made].name) {
			rc = SC_EUSAGE;
			goto out_free;
		}
		ep[made].name = encode_dup(p[made].name);
		ep[made].value = encode_dup(p[made].value);
		if (!ep[made].name || !ep[made].value) {
			free(ep[made].name);
			free(ep[made].value);
			rc = -ENOMEM;
			goto out_free;
		}
	}
	qsort(ep, n, sizeof(ep[0]), enc_param_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = sc_buf_putc(out, '&');
		if (!rc)
			rc = buf_puts(out, ep[i].name);
		if (!rc)
			rc = sc_buf_putc(out, '=');
		if (!rc)
			rc = buf_puts(out, ep[i].value);
	}
	if (!rc)
		rc = buf_terminate(out);
out_free:
	for (size_t i = 0; i < made; i++) {
		free(ep[i].name);
		free(ep[i].value);
	}
	return rc;
}

/* ---- Signature V4 ---- */

struct canon_header {
	char name[128];      /* lowercase */
	const char *value;   /* raw */
};

static int canon_header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Append value trimmed, with inner runs of spaces/tabs folded to one space. */
static int append_folded(struct sc_buf *b, const char *v)
{
	const char *e;
	int space = 0, rc;

	while (*v == ' ' || *v == '\t')
		v++;
	e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (; v < e; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space && (rc = sc_buf_putc(b, ' ')))
			return rc;
		space = 0;
		if ((rc = sc_buf_putc(b, *v)))
			return rc;
	}
	return 0;
}

void sc_s3_sign_init(struct sc_s3_sign_out *o)
{
	sc_buf_init(&o->canonical_request, SC_S3_TEXT_MAX);
	sc_buf_init(&o->string_to_sign, SC_S3_TEXT_MAX);
	sc_buf_init(&o->authorization, SC_S3_TEXT_MAX);
	o->signature[0] = '\0';
}

void sc_s3_sign_release(struct sc_s3_sign_out *o)
{
	sc_buf_release(&o->canonical_request);
	sc_buf_release(&o->string_to_sign);
	sc_buf_release(&o->authorization);
}

static int amz_date_ok(const char *d)
{
	if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return 0;
	return 1;
}

int sc_s3_sign_v4(const struct sc_s3_sign_in *in, struct sc_s3_sign_out *out)
{
	struct canon_header h[WIRE_SIGN_HEADERS_MAX];
	struct sc_buf signed_names;
	struct sc_buf *cr = &out->canonical_request, *sts = &out->string_to_sign;
	char date8[9], cr_hash[SC_S3_SHA256_HEX];
	unsigned char k[32], sig[32];
	char kinit[512];
	int rc = 0, n;

	cr->len = sts->len = out->authorization.len = 0;
	out->signature[0] = '\0';
	if (!in->method || !in->path || !in->query || !in->payload_hash || !in->region ||
	    !in->service || !in->access_key || !in->secret_key || !amz_date_ok(in->amz_date) ||
	    in->nheaders > WIRE_SIGN_HEADERS_MAX || (in->nheaders && !in->headers))
		return SC_EUSAGE;
	for (size_t i = 0; i < in->nheaders; i++) {
		const char *nm = in->headers[i].name;
		size_t nl = nm ? strlen(nm) : 0;

		if (nl == 0 || nl >= sizeof(h[i].name) || !in->headers[i].value)
			return SC_EUSAGE;
		for (size_t j = 0; j < nl; j++) {
			unsigned char c = (unsigned char)nm[j];

			if (c <= ' ' || c >= 0x7f || c == ':')
				return SC_EUSAGE;
			h[i].name[j] = (char)tolower(c);
		}
		h[i].name[nl] = '\0';
		h[i].value = in->headers[i].value;
	}
	/* a stable sort keeps repeated names in the caller's order */
	for (size_t i = 1; i < in->nheaders; i++) {
		struct canon_header t = h[i];
		size_t j = i;

		while (j > 0 && canon_header_cmp(&h[j - 1], &t) > 0) {
			h[j] = h[j - 1];
			j--;
		}
		h[j] = t;
	}

	sc_buf_init(&signed_names, SC_S3_TEXT_MAX);
	/* canonical request */
	if ((rc = buf_puts(cr, in->method)) || (rc = sc_buf_putc(cr, '\n')) ||
	    (rc = buf_puts(cr, in->path)) || (rc = sc_buf_putc(cr, '\n')) ||
	    (rc = buf_puts(cr, in->query)) || (rc = sc_buf_putc(cr, '\n')))
		goto out;
	for (size_t i = 0; i < in->nheaders; i++) {
		int repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;

		if (repeat) {
			/* "name:v1,v2": replace the newline just written by ',' */
			cr->len--;
			if ((rc = sc_buf_putc(cr, ',')))
				goto out;
		} else {
			if ((signed_names.len && (rc = sc_buf_putc(&signed_names, ';'))) ||
			    (rc = buf_puts(&signed_names, h[i].name)))
				goto out;
			if ((rc = buf_puts(cr, h[i].name)) || (rc = sc_buf_putc(cr, ':')))
				goto out;
		}
		if ((rc = append_folded(cr, h[i].value)) || (rc = sc_buf_putc(cr, '\n')))
			goto out;
	}
	if ((rc = sc_buf_putc(cr, '\n')) ||
	    (rc = sc_buf_append(cr, signed_names.data, signed_names.len)) ||
	    (rc = sc_buf_putc(cr, '\n')) || (rc = buf_puts(cr, in->payload_hash)) ||
	    (rc = buf_terminate(cr)))
		goto out;

	/* string to sign */
	if ((rc = sc_s3_sha256_hex(cr->data, cr->len, cr_hash)))
		goto out;
	memcpy(date8, in->amz_date, 8);
	date8[8] = '\0';
	if ((rc = buf_puts(sts, "AWS4-HMAC-SHA256\n")) || (rc = buf_puts(sts, in->amz_date)) ||
	    (rc = sc_buf_putc(sts, '\n')) || (rc = buf_puts(sts, date8)) ||
	    (rc = sc_buf_putc(sts, '/')) || (rc = buf_puts(sts, in->region)) ||
	    (rc = sc_buf_putc(sts, '/')) || (rc = buf_puts(sts, in->service)) ||
	    (rc = buf_puts(sts, "/aws4_request\n")) || (rc = buf_puts(sts, cr_hash)) ||
	    (rc = buf_terminate(sts)))
		goto out;

	/* signing key and signature */
	n = snprintf(kinit, sizeof(kinit), "AWS4%s", in->secret_key);
	if (n < 0 || (size_t)n >= sizeof(kinit)) {
		rc = SC_EUSAGE;
		goto out;
	}
	if ((rc = hmac256(kinit, (size_t)n, date8, 8, k)) ||
	    (rc = hmac256(k, 32, in->region, strlen(in->region), k)) ||
	    (rc = hmac256(k, 32, in->service, strlen(in->service), k)) ||
	    (rc = hmac256(k, 32, "aws4_request", 12, k)) ||
	    (rc = hmac256(k, 32, sts->data, sts->len, sig)))
		goto out;
	to_hex(sig, 32, out->signature);

	/* Authorization header value */
	{
		struct sc_buf *a = &out->authorization;

		if ((rc = buf_puts(a, "AWS4-HMAC-SHA256 Credential=")) ||
		    (rc = buf_puts(a, in->access_key)) || (rc = sc_buf_putc(a, '/')) ||
		    (rc = buf_puts(a, date8)) || (rc = sc_buf_putc(a, '/')) ||
		    (rc = buf_puts(a, in->region)) || (rc = sc_buf_putc(a, '/')) ||
		    (rc = buf_puts(a, in->service)) || (rc = buf_puts(a, "/aws4_request,SignedHeaders=")) ||
		    (rc = sc_buf_append(a, signed_names.data, signed_names.len)) ||
		    (rc = buf_puts(a, ",Signature=")) || (rc = buf_puts(a, out->signature)) ||
		    (rc = buf_terminate(a)))
			goto out;
	}
out:
	OPENSSL_cleanse(kinit, sizeof(kinit));
	OPENSSL_cleanse(k, sizeof(k));
	sc_buf_release(&signed_names);
	return rc;
}

/* ---- XML ---- */

/*
 * Find the next start tag <tag ...> or <tag/> in [p, end). On success
 * *open_end points after the start tag's '>', and *empty says <tag/>.
 */
static const char *find_start(const char *p, const char *end, const char *tag,
			      const char **open_end, int *empty)
{
	size_t tl = strlen(tag);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *q, *gt;

		if (!lt)
			return NULL;
		q = lt + 1;
		if ((size_t)(end - q) > tl && memcmp(q, tag, tl) == 0 &&
		    (q[tl] == '>' || q[tl] == '/' || q[tl] == ' ' || q[tl] == '\t' ||
		     q[tl] == '\r' || q[tl] == '\n')) {
			gt = memchr(q + tl, '>', (size_t)(end - (q + tl)));
			if (!gt)
				return NULL;
			*empty = gt[-1] == '/';
			*open_end = gt + 1;
			return lt;
		}
		p = q;
	}
	return NULL;
}

/* Find "</tag>" (optionally "</tag >") in [p, end). */
static const char *find_end(const char *p, const char *end, const char *tag,
			    const char **close_end)
{
	size_t tl = strlen(tag);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *q;

		if (!lt)
			return NULL;
		q = lt + 1;
		if ((size_t)(end - q) > tl + 1 && q[0] == '/' && memcmp(q + 1, tag, tl) == 0) {
			const char *r = q + 1 + tl;

			while (r < end && (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n'))
				r++;
			if (r < end && *r == '>') {
				*close_end = r + 1;
				return lt;
			}
		}
		p = q;
	}
	return NULL;
}

int sc_s3_xml_next(const char **pos, const char *end, const char *tag,
		   const char **inner, size_t *inner_len)
{
	const char *open_end, *close_end, *s, *e;
	int empty = 0;

	if (!*pos || *pos >= end)
		return 0;
	s = find_start(*pos, end, tag, &open_end, &empty);
	if (!s) {
		*pos = end;
		return 0;
	}
	if (empty) {
		*inner = open_end;
		*inner_len = 0;
		*pos = open_end;
		return 1;
	}
	e = find_end(open_end, end, tag, &close_end);
	if (!e)
		return SC_EFORMAT;
	*inner = open_end;
	*inner_len = (size_t)(e - open_end);
	*pos = close_end;
	return 1;
}

static int put_utf8(struct sc_buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return SC_EFORMAT;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return sc_buf_append(b, u, n);
}

/* Decode XML text (entities, character references) into out (appended). */
static int xml_decode(const char *s, size_t n, struct sc_buf *out)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' }, { "quot;", '"' }, { "apos;", '\'' } };
	size_t i = 0;
	int rc;

	while (i < n) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t run = amp ? (size_t)(amp - (s + i)) : n - i;
		size_t j, rest;

		if (memchr(s + i, '<', run))
			return SC_EFORMAT; /* markup inside a text element */
		if ((rc = sc_buf_append(out, s + i, run)))
			return rc;
		i += run;
		if (i >= n)
			break;
		i++; /* '&' */
		rest = n - i;
		for (j = 0; j < SC_ARRAY_LEN(ents); j++) {
			size_t el = strlen(ents[j].ent);

			if (rest >= el && memcmp(s + i, ents[j].ent, el) == 0) {
				if ((rc = sc_buf_putc(out, ents[j].c)))
					return rc;
				i += el;
				break;
			}
		}
		if (j < SC_ARRAY_LEN(ents))
			continue;
		if (rest >= 3 && s[i] == '#') {
			unsigned long cp = 0;
			int hex = s[i + 1] == 'x';
			size_t k = i + 1 + (size_t)hex, digits = 0;

			for (; k < n && s[k] != ';' && digits < 8; k++, digits++) {
				int c = (unsigned char)s[k], d;

				if (c >= '0' && c <= '9')
					d = c - '0';
				else if (hex && c >= 'a' && c <= 'f')
					d = c - 'a' + 10;
				else if (hex && c >= 'A' && c <= 'F')
					d = c - 'A' + 10;
				else
					return SC_EFORMAT;
				cp = cp * (hex ? 16u : 10u) + (unsigned long)d;
			}
			if (digits == 0 || k >= n || s[k] != ';')
				return SC_EFORMAT;
			if ((rc = put_utf8(out, cp)))
				return rc;
			i = k + 1;
			continue;
		}
		return SC_EFORMAT;
	}
	return 0;
}

int sc_s3_xml_text(const char *xml, size_t len, const char *tag, struct sc_buf *out)
{
	const char *pos = xml, *inner;
	size_t ilen;
	int rc;

	out->len = 0;
	rc = sc_s3_xml_next(&pos, xml + len, tag, &inner, &ilen);
	if (rc <= 0) {
		int t = buf_terminate(out);

		return rc ? rc : t;
	}
	if (ilen > SC_S3_TEXT_MAX)
		return SC_ELIMIT;
	if ((rc = xml_decode(inner, ilen, out)) || (rc = buf_terminate(out)))
		return rc;
	return 1;
}

/* Copy decoded text of <tag> inside [p, p+n) into a fixed field, truncating. */
static void xml_field(const char *p, size_t n, const char *tag, char *dst, size_t cap)
{
	struct sc_buf b;

	dst[0] = '\0';
	sc_buf_init(&b, SC_S3_TEXT_MAX);
	if (sc_s3_xml_text(p, n, tag, &b) == 1) {
		size_t k = b.len < cap - 1 ? b.len : cap - 1;

		for (size_t i = 0; i < k; i++) {
			unsigned char c = (unsigned char)b.data[i];

			dst[i] = (c < ' ' || c == 0x7f) ? '?' : (char)c;
		}
		dst[k] = '\0';
	}
	sc_buf_release(&b);
}

/* The first element's name, skipping the XML declaration, comments and space. */
static int root_is(const char *xml, size_t len, const char *tag)
{
	const char *p = xml, *end = xml + len;
	size_t tl = strlen(tag);

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p >= end || *p != '<')
			return 0;
		if (p + 1 < end && (p[1] == '?' || p[1] == '!')) {
			const char *gt = memchr(p, '>', (size_t)(end - p));

			if (!gt)
				return 0;
			p = gt + 1;
			continue;
		}
		p++;
		return (size_t)(end - p) > tl && memcmp(p, tag, tl) == 0 &&
		       (p[tl] == '>' || p[tl] == ' ' || p[tl] == '/' || p[tl] == '\t' ||
			p[tl] == '\r' || p[tl] == '\n');
	}
	return 0;
}

int sc_s3_xml_error_parse(const char *xml, size_t len, struct sc_s3_xml_error *e)
{
	const char *pos = xml, *inner;
	size_t ilen;

	memset(e, 0, sizeof(*e));
	if (!xml || len == 0 || !root_is(xml, len, "Error"))
		return 0;
	if (sc_s3_xml_next(&pos, xml + len, "Error", &inner, &ilen) != 1) {
		inner = xml;
		ilen = len;
	}
	xml_field(inner, ilen, "Code", e->code, sizeof(e->code));
	xml_field(inner, ilen, "Message", e->message, sizeof(e->message));
	xml_field(inner, ilen, "RequestId", e->request_id, sizeof(e->request_id));
	return 1;
}

static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return SC_EFORMAT;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return SC_EFORMAT;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

int sc_s3_xml_list_parse(const char *xml, size_t len, sc_s3_entry_fn fn, void *ctx,
			 int *truncated, struct sc_buf *token)
{
	const char *pos = xml, *end = xml + len, *inner;
	struct sc_buf key, etag, num;
	size_t ilen;
	int count = 0, rc;

	*truncated = 0;
	token->len = 0;
	if ((rc = buf_terminate(token)))
		return rc;
	if (!root_is(xml, len, "ListBucketResult"))
		return SC_EFORMAT;
	sc_buf_init(&key, SC_S3_TEXT_MAX);
	sc_buf_init(&etag, SC_S3_TEXT_MAX);
	sc_buf_init(&num, 64);
	while ((rc = sc_s3_xml_next(&pos, end, "Contents", &inner, &ilen)) == 1) {
		struct sc_s3_entry ent;
		uint64_t size = 0;

		if ((rc = sc_s3_xml_text(inner, ilen, "Key", &key)) != 1 || key.len == 0 ||
		    memchr(key.data, '\0', key.len)) {
			rc = rc < 0 ? rc : SC_EFORMAT;
			goto out;
		}
		rc = sc_s3_xml_text(inner, ilen, "Size", &num);
		if (rc < 0)
			goto out;
		if (rc == 1 && (rc = parse_u64(num.data, &size)))
			goto out;
		if ((rc = sc_s3_xml_text(inner, ilen, "ETag", &etag)) < 0)
			goto out;
		ent.key = key.data;
		ent.size = size;
		ent.etag = etag.data;
		if (count == INT32_MAX) {
			rc = SC_ELIMIT;
			goto out;
		}
		count++;
		if (fn && (rc = fn(ctx, &ent)) != 0)
			goto out;
	}
	if (rc < 0)
		goto out;
	/* top-level fields: search only outside <Contents> is not needed, keys are escaped */
	if ((rc = sc_s3_xml_text(xml, len, "IsTruncated", &num)) < 0)
		goto out;
	*truncated = rc == 1 && strcmp(num.data, "true") == 0;
	if ((rc = sc_s3_xml_text(xml, len, "NextContinuationToken", token)) < 0)
		goto out;
	if (*truncated && token->len == 0) {
		rc = SC_EFORMAT; /* a truncated V2 page must say where to go on */
		goto out;
	}
	rc = count;
out:
	sc_buf_release(&key);
	sc_buf_release(&etag);
	sc_buf_release(&num);
	return rc;
}

int sc_s3_xml_complete_body(const char (*etags)[SC_S3_ETAG_MAX], uint32_t n,
			    struct sc_buf *out)
{
	char num[32];
	int rc;

	out->len = 0;
	if ((rc = buf_puts(out, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">")))
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		const char *t = etags[i];

		snprintf(num, sizeof(num), "%u", i + 1);
		if ((rc = buf_puts(out, "<Part><PartNumber>")) || (rc = buf_puts(out, num)) ||
		    (rc = buf_puts(out, "</PartNumber><ETag>")))
			return rc;
		for (; *t; t++) { /* ETags are quoted hex; escape anything else anyway */
			if (*t == '&')
				rc = buf_puts(out, "&amp;");
			else if (*t == '<')
				rc = buf_puts(out, "&lt;");
			else if (*t == '>')
				rc = buf_puts(out, "&gt;");
			else
				rc = sc_buf_putc(out, *t);
			if (rc)
				return rc;
		}
		if ((rc = buf_puts(out, "</ETag></Part>")))
			return rc;
	}
	if ((rc = buf_puts(out, "</CompleteMultipartUpload>")))
		return rc;
	return buf_terminate(out);
}

/* ---- retry policy ---- */

static int code_is(const char *code, const char *s)
{
	return code && strcmp(code, s) == 0;
}

int sc_s3_retryable(int status, const char *code, int err)
{
	if (code_is(code, "SlowDown") || code_is(code, "InternalError") ||
	    code_is(code, "ServiceUnavailable") || code_is(code, "RequestTimeout") ||
	    code_is(code, "RequestTimeoutException") || code_is(code, "OperationAborted") ||
	    code_is(code, "Throttling") || code_is(code, "ThrottlingException"))
		return 1;
	if (status == 0) {
		switch (err) {
		case -ETIMEDOUT:
		case -ECONNRESET:
		case -ECONNREFUSED:
		case -ECONNABORTED:
		case -EPIPE:
		case -EHOSTUNREACH:
		case -ENETUNREACH:
		case -EAGAIN:
		case -EIO:
			return 1;
		default:
			return 0;
		}
	}
	switch (status) {
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
		return 1;
	default:
		return 0;
	}
}

uint32_t sc_s3_backoff_ms(uint32_t retry, uint32_t base_ms, uint32_t max_ms, uint64_t rnd)
{
	uint64_t step = base_ms ? base_ms : 1;

	if (retry == 0)
		return 0;
	for (uint32_t i = 1; i < retry && step < max_ms; i++)
		step *= 2;
	if (step > max_ms)
		step = max_ms;
	return (uint32_t)(step / 2 + rnd % (step - step / 2 + 1));
}

int sc_s3_http_errno(int status, const char *code)
{
	if (code_is(code, "BadDigest") || code_is(code, "InvalidDigest") ||
	    code_is(code, "XAmzContentSHA256Mismatch"))
		return SC_ECORRUPT;
	if (code_is(code, "EntityTooLarge") || code_is(code, "EntityTooSmall") ||
	    code_is(code, "TooManyParts"))
		return SC_ELIMIT;
	if (code_is(code, "QuotaExceeded") || code_is(code, "InsufficientCapacity"))
		return -ENOSPC;
	if (code_is(code, "SlowDown"))
		return -EAGAIN;
	if (code_is(code, "NoSuchKey") || code_is(code, "NoSuchBucket") ||
	    code_is(code, "NoSuchUpload"))
		return -ENOENT;
	switch (status) {
	case 404:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	case 412:
		return -ESTALE;
	case 416:
		return -ERANGE;
	case 409:
		return -EBUSY;
	case 400:
		return -EINVAL;
	case 405:
	case 501:
		return -EOPNOTSUPP;
	case 507:
		return -ENOSPC;
	case 429:
		return -EAGAIN;
	case 408:
		return -EIO;
	default:
		break;
	}
	if (status >= 500 && status <= 599)
		return -EIO;
	return -EPROTO;
}
