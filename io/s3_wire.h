/*
 * s3_wire.h - the text of the S3 protocol, without any I/O: endpoint and
 * request-target construction (path-style and virtual-host addressing),
 * URI encoding and canonical query strings, AWS Signature Version 4,
 * the small XML documents S3 answers with (errors, listings, multipart
 * upload ids, completion), and the retry policy (which failures are
 * transient, how long to back off, which errno a failure maps to).
 *
 * This is the internal half of the S3 module: io/s3.c (the HTTP client,
 * public header io/s3.h) and the unit tests use it; nothing else should.
 * Everything here is pure and deterministic (time and randomness come in
 * as arguments), so it is tested against AWS's published signature
 * examples without a network. Depends on OpenSSL (SHA-256, HMAC) only.
 *
 * Errors: 0 (or a count) on success; -ENOMEM, SC_ELIMIT (a text exceeds
 * its cap), SC_EFORMAT (malformed input, e.g. XML) or SC_EUSAGE (an
 * argument that can never be valid) otherwise.
 */
#ifndef SC_S3_WIRE_H
#define SC_S3_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sc_base.h"
#include "s3.h"

#define SC_S3_SHA256_HEX   65   /* 64 hex digits and a NUL */
#define SC_S3_AMZ_DATE_LEN 17   /* "20130524T000000Z" and a NUL */
#define SC_S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SC_S3_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SC_S3_HOST_MAX     256  /* bytes of an endpoint's host[:port] */
#define SC_S3_CODE_MAX     64   /* bytes of an S3 error code ("NoSuchKey") */
#define SC_S3_MESSAGE_MAX  256  /* bytes of an S3 error message kept */
#define SC_S3_REQID_MAX    128  /* bytes of a request id kept */

/* ---- hashing ---- */

/* Lowercase hex SHA-256 of n bytes into hex (65 bytes). 0 or SC_ECODEC. */
int sc_s3_sha256_hex(const void *p, size_t n, char hex[SC_S3_SHA256_HEX]);
/* "YYYYMMDDTHHMMSSZ" (UTC) of t into out. 0, or SC_EUSAGE for a time gmtime rejects. */
int sc_s3_amz_date(time_t t, char out[SC_S3_AMZ_DATE_LEN]);

/* ---- endpoints and request targets ---- */

struct sc_s3_endpoint {
	int https;                    /* 1: https, 0: http */
	char host[SC_S3_HOST_MAX];    /* host as written, "[::1]" kept bracketed */
	char authority[SC_S3_HOST_MAX + 16]; /* host[:port] as sent in Host: (port only when given) */
	uint32_t port;                /* explicit port, 0 when none was given */
	char base[256];               /* path prefix without trailing '/', usually "" */
};

/*
 * Parse "http[s]://host[:port][/base]" (no user info, query or fragment).
 * 0, or SC_EUSAGE with a message in err naming the problem.
 */
int sc_s3_endpoint_parse(const char *url, struct sc_s3_endpoint *ep, char *err,
			 size_t errlen);
/* 1 when the endpoint is AWS's own (host ends in "amazonaws.com"). */
int sc_s3_endpoint_is_aws(const struct sc_s3_endpoint *ep);
/*
 * 1 when bucket can be a DNS label for virtual-host addressing over the
 * given scheme: 3..63 of [a-z0-9-], starting and ending alphanumeric (no
 * dots: they break TLS wildcard certificates).
 */
int sc_s3_bucket_dns_ok(const char *bucket);
/*
 * 0 when bucket is a name shardctl accepts: 3..63 bytes of [a-z0-9.-_],
 * starting and ending with a letter or digit; else SC_EUSAGE with a reason.
 */
int sc_s3_bucket_check(const char *bucket, char *err, size_t errlen);

/* What one request is sent to. Release with sc_s3_target_release(). */
struct sc_s3_target {
	struct sc_buf url;   /* full URL, NUL-terminated (query included) */
	struct sc_buf host;  /* value of the Host header, NUL-terminated */
	struct sc_buf path;  /* canonical URI (encoded path), NUL-terminated */
};

void sc_s3_target_init(struct sc_s3_target *t);
void sc_s3_target_release(struct sc_s3_target *t);
/*
 * Build the target of a request on bucket/key (key may be "" for bucket
 * operations) with an already canonical query (may be ""): path-style
 * "scheme://authority/base/bucket/key?query" when virtual_host is 0, else
 * "scheme://bucket.authority/base/key?query". The key is URI-encoded with
 * '/' kept, so the path sent and the canonical URI signed are one string.
 */
int sc_s3_target_build(const struct sc_s3_endpoint *ep, int virtual_host,
		       const char *bucket, const char *key, const char *query,
		       struct sc_s3_target *t);

/* ---- encoding ---- */

/*
 * Append the URI encoding of n bytes of s (RFC 3986 unreserved bytes as
 * they are, every other byte as %XX uppercase; '/' kept when keep_slash)
 * to out. NUL-terminates out without counting the NUL in len.
 */
int sc_s3_uri_encode(const char *s, size_t n, int keep_slash, struct sc_buf *out);

struct sc_s3_param {
	const char *name;   /* unencoded */
	const char *value;  /* unencoded; NULL or "" both give "name=" */
};

/*
 * The canonical query string of n parameters: each name and value
 * URI-encoded, sorted by encoded name then value, joined as
 * "a=1&b=&c=x%2Fy", into out (reset first, NUL-terminated). The same
 * string is used in the URL and in the canonical request.
 */
int sc_s3_query_build(const struct sc_s3_param *p, size_t n, struct sc_buf *out);

/* ---- AWS Signature Version 4 ---- */

struct sc_s3_header {
	const char *name;   /* any case; signed as lowercase */
	const char *value;  /* trimmed and inner runs of spaces folded when signed */
};

struct sc_s3_sign_in {
	const char *method;           /* "GET", "PUT", ... */
	const char *path;             /* canonical URI (encoded path) */
	const char *query;            /* canonical query string, "" for none */
	const struct sc_s3_header *headers; /* the headers to sign: must include host,
					     * x-amz-date and x-amz-content-sha256 */
	size_t nheaders;
	const char *payload_hash;     /* hex SHA-256 of the body or UNSIGNED-PAYLOAD */
	const char *amz_date;         /* the x-amz-date value, "YYYYMMDDTHHMMSSZ" */
	const char *region;           /* "us-east-1" */
	const char *service;          /* "s3" */
	const char *access_key;
	const char *secret_key;
};

/* The signature and the texts it was made from. Release with sc_s3_sign_release(). */
struct sc_s3_sign_out {
	struct sc_buf canonical_request; /* NUL-terminated */
	struct sc_buf string_to_sign;    /* NUL-terminated */
	struct sc_buf authorization;     /* the Authorization header value, NUL-terminated */
	char signature[SC_S3_SHA256_HEX];
};

void sc_s3_sign_init(struct sc_s3_sign_out *o);
void sc_s3_sign_release(struct sc_s3_sign_out *o);
/*
 * Sign a request (AWS SigV4, HMAC-SHA256): canonical request, string to
 * sign, signing key from the secret, date, region and service, signature
 * and the Authorization header. Headers are signed sorted by lowercase
 * name; repeated names are joined with ','. SC_EUSAGE for a missing
 * argument, a malformed amz_date or a header name with bytes outside
 * [!-~] or ':'; SC_ECODEC if OpenSSL fails.
 */
int sc_s3_sign_v4(const struct sc_s3_sign_in *in, struct sc_s3_sign_out *out);

/* ---- XML answers ---- */

/*
 * Find the first element <tag>...</tag> (or <tag/>, or with attributes) at
 * any depth of xml[0..len), and decode its text (the five XML entities and
 * numeric character references; a nested element makes it SC_EFORMAT)
 * into out (reset first, NUL-terminated). 1 found, 0 not found, <0 error.
 * Text is capped at SC_S3_TEXT_MAX bytes (SC_ELIMIT).
 */
int sc_s3_xml_text(const char *xml, size_t len, const char *tag, struct sc_buf *out);
/*
 * Iterate the elements named tag: *pos starts at xml and is moved past
 * each element found; *inner and *inner_len give its content (undecoded).
 * 1 found, 0 no more, SC_EFORMAT for an unclosed element.
 */
int sc_s3_xml_next(const char **pos, const char *end, const char *tag,
		   const char **inner, size_t *inner_len);

/* An S3 error document (<Error><Code>...</Code><Message>...</Message>...). */
struct sc_s3_xml_error {
	char code[SC_S3_CODE_MAX];        /* "NoSuchKey"; "" when absent */
	char message[SC_S3_MESSAGE_MAX];  /* as sent, control bytes replaced; may be "" */
	char request_id[SC_S3_REQID_MAX]; /* "" when absent */
};

/*
 * Parse an error document. 1 when xml is one (root element <Error>), 0
 * when it is something else or empty (e is then zeroed), never fails:
 * fields that do not fit are truncated.
 */
int sc_s3_xml_error_parse(const char *xml, size_t len, struct sc_s3_xml_error *e);

/*
 * Parse one ListObjectsV2 page: call fn for each <Contents> in order (a
 * non-zero return stops and is returned), set *truncated from
 * <IsTruncated> and put <NextContinuationToken> into token (reset first,
 * "" when absent). Returns the number of entries or negative
 * (SC_EFORMAT for a page without <ListBucketResult> or an entry without
 * a key or with a bad size).
 */
int sc_s3_xml_list_parse(const char *xml, size_t len, sc_s3_entry_fn fn, void *ctx,
			 int *truncated, struct sc_buf *token);

/*
 * The CompleteMultipartUpload body for parts 1..n with the given ETags
 * (as returned by UploadPart, quotes included), into out (reset first).
 */
int sc_s3_xml_complete_body(const char (*etags)[SC_S3_ETAG_MAX], uint32_t n, struct sc_buf *out);

/* ---- retry policy ---- */

/*
 * 1 when a failed attempt is worth repeating: a transport failure
 * (err = -ETIMEDOUT, -ECONNRESET, -ECONNREFUSED, -EPIPE, -ECONNABORTED,
 * -EHOSTUNREACH, -ENETUNREACH, -EAGAIN or -EIO with status 0), HTTP 500,
 * 502, 503, 504 or 429, and the S3 codes SlowDown, InternalError,
 * ServiceUnavailable, RequestTimeout, RequestTimeoutException,
 * OperationAborted and Throttling(Exception) whatever their status.
 * 0 otherwise: in particular 403 and 404, 400 with other codes, 412, 416.
 */
int sc_s3_retryable(int status, const char *code, int err);
/*
 * Delay before retry number `retry` (1 for the first retry): exponential
 * from base_ms, capped at max_ms, with "equal jitter" (half fixed, half
 * uniform from rnd) so that clients that failed together do not retry
 * together yet always wait at least half the step.
 */
uint32_t sc_s3_backoff_ms(uint32_t retry, uint32_t base_ms, uint32_t max_ms, uint64_t rnd);
/*
 * The negative errno for a final HTTP failure: 404 -ENOENT, 403/401
 * -EACCES, 412 -ESTALE (the object changed), 416 -ERANGE, 409 -EBUSY,
 * 400 -EINVAL (BadDigest/InvalidDigest: SC_ECORRUPT, EntityTooLarge:
 * SC_ELIMIT), 405/501 -EOPNOTSUPP, 507 and QuotaExceeded -ENOSPC,
 * 408/429/5xx -EIO (or -EAGAIN for SlowDown/429), else -EPROTO.
 */
int sc_s3_http_errno(int status, const char *code);

#endif
