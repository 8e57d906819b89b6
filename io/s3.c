/*
 * s3.c - the S3 client of s3.h: operations (GET range, PUT, multipart
 * upload, HEAD, DELETE, LIST page, server-side COPY) made of HTTP
 * requests ("transfers")
 * that run on one libcurl multi handle, signed by s3_wire.c.
 *
 *   submit   an operation gets its first transfer(s) and waits in the
 *            run queue (FIFO, each transfer with a "not before" time);
 *   step     due transfers are started while fewer than inflight_max are
 *            active, libcurl moves bytes (connections are kept alive in
 *            the multi handle's pool and reused), finished transfers are
 *            judged: success, a transient failure (retried after a
 *            jittered backoff, re-signed since the date is signed), or a
 *            final failure;
 *   finish   the operation's state machine goes on (a multipart upload:
 *            initiate -> parts, at most inflight_max at a time -> complete;
 *            abort after a part fails for good) or the operation is done
 *            and waits in the done list for sc_s3_reap (synchronous calls
 *            run steps until their own operation is done).
 *
 * Nothing blocks without a bound: each transfer has connect, low-speed and
 * total timeouts, retries are counted and windowed, and every wait is a
 * curl_multi_poll with a timeout.
 *
 * libcurl's conventions (CURLcode, easy/multi handles, callbacks) stay in
 * this file; errors leave it as negative errno values with a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "s3.h"
#include "s3_wire.h"

/* Bytes of the message libcurl writes into CURLOPT_ERRORBUFFER. */
#define S3_CURL_ERR CURL_ERROR_SIZE
/* Longest single wait inside a step, so deadlines are checked often enough. */
#define S3_POLL_MS_MAX 1000
/* Retry-After values honoured, seconds (still capped by backoff_max_ms). */
#define S3_RETRY_AFTER_MAX_S 600

enum xfer_kind {
	XK_GET,
	XK_PUT,
	XK_HEAD,
	XK_DELETE,
	XK_LIST,
	XK_MP_INIT,
	XK_MP_PART,
	XK_MP_COMPLETE,
	XK_MP_ABORT,
	XK_MP_VERIFY,   /* HEAD after completion: size check, ETag */
	XK_COPY,        /* PUT with x-amz-copy-source (CopyObject) */
};

struct s3_op;

/* One HTTP request, repeated in place on transient failures. */
struct s3_xfer {
	struct s3_op *op;           /* owner */
	struct s3_xfer *next;       /* run queue link */
	enum xfer_kind kind;
	const char *method;         /* "GET", "PUT", "HEAD", "DELETE", "POST" */
	struct sc_buf query;        /* canonical query string, NUL-terminated */
	/* request body */
	const char *body_mem;       /* memory body, or NULL for body_fd / none */
	int body_fd;                /* file body when body_mem is NULL and has_body */
	int has_body;               /* PUT/POST with a body (possibly empty) */
	uint64_t body_off;          /* first byte in body_mem/body_fd */
	uint64_t body_len;          /* bytes to send */
	uint64_t body_pos;          /* bytes handed to libcurl in this attempt */
	struct sc_buf body_own;     /* owned body (CompleteMultipartUpload XML) */
	char payload_hash[SC_S3_SHA256_HEX]; /* signed x-amz-content-sha256 */
	/* GET destination */
	char *dst;                  /* caller memory, dst_len bytes */
	uint64_t dst_len;
	uint64_t dst_got;           /* bytes written in this attempt */
	int enough;                 /* a whole-object answer was cut at dst_len on purpose */
	/* answer */
	struct sc_buf resp;         /* XML answer or error body (capped) */
	int status;                 /* HTTP status of the last response line */
	char etag[SC_S3_ETAG_MAX];  /* ETag header */
	int have_range;             /* Content-Range parsed */
	uint64_t cr_first, cr_last, cr_total; /* Content-Range (cr_total UINT64_MAX: '*') */
	int have_length;            /* Content-Length parsed */
	uint64_t content_length;
	uint32_t retry_after_s;     /* Retry-After, 0 when none */
	char request_id[SC_S3_REQID_MAX]; /* x-amz-request-id */
	int cb_err;                 /* failure decided inside a callback (< 0), else 0 */
	char cb_msg[160];           /* its reason */
	/* attempts */
	uint32_t attempt;           /* attempts started */
	uint64_t first_ms;          /* monotonic start of the first attempt */
	uint64_t due_ms;            /* not started before this */
	uint32_t part_no;           /* multipart part number, 1-based */
	/* libcurl */
	CURL *easy;                 /* while active */
	struct curl_slist *hdrs;    /* while active */
	uint32_t slot;              /* index in sc_s3.active while active */
	char curl_err[S3_CURL_ERR];
};

struct s3_op {
	enum sc_s3_op type;
	uint64_t tag;
	int sync;                   /* waited for by a synchronous call: never in the done list */
	int done;                   /* finished; res holds the outcome */
	char *bucket;               /* owned */
	char *key;                  /* owned ("" for bucket operations) */
	struct s3_op *next;         /* done list link */
	struct s3_op *all_prev;     /* list of every live operation of the handle */
	struct s3_op *all_next;
	struct sc_s3_done res;      /* outcome */
	uint64_t t0_ms;             /* submit time, for messages */
	uint32_t live;              /* transfers queued or active */
	/* GET */
	void *buf;
	uint64_t off;
	uint32_t len;
	char *if_match;             /* owned, or NULL */
	/* PUT */
	struct sc_s3_body body;
	/* COPY */
	char *copy_source;          /* owned: x-amz-copy-source, "/bucket/key" URI-encoded */
	char *copy_from;            /* owned: "s3://bucket/key" of the source, for messages */
	/* LIST page, DELETE ?uploadId (close-time aborts) */
	char *query_name[4];        /* owned parameter names, NULL-terminated list */
	char *query_value[4];
	struct sc_buf page;         /* LIST: the answer, moved out of the transfer */
	/* multipart upload */
	int multipart;
	char *upload_id;            /* owned, NULL until initiated */
	uint32_t nparts;
	uint32_t next_part;         /* next part number to queue, 1-based */
	uint32_t parts_ok;
	uint64_t part_size;
	char (*etags)[SC_S3_ETAG_MAX]; /* nparts ETags, owned */
	int failing;                /* a part or the completion failed for good: abort */
	int completed;              /* the store accepted the completion: nothing to abort */
};

struct sc_s3 {
	struct sc_s3_config cfg;    /* as opened */
	struct sc_s3_endpoint ep;   /* parsed endpoint */
	char endpoint_url[SC_S3_ENDPOINT_MAX + 64]; /* for messages */
	int signed_requests;        /* credentials present */
	CURLM *multi;
	CURL **easy_pool;           /* idle easy handles, inflight_max slots */
	uint32_t easy_idle;
	struct s3_xfer **active;    /* inflight_max slots */
	uint32_t nactive;
	struct s3_xfer *run_head, *run_tail; /* transfers waiting to start */
	struct s3_op *done_head, *done_tail; /* finished async operations */
	struct s3_op *all_ops;      /* every operation not yet freed (for close) */
	uint32_t ops;               /* operations submitted and not reaped / returned */
	uint32_t async_live;        /* async operations not yet done */
	uint64_t rng;               /* xorshift64 state for jitter */
	int debug;                  /* SHARDCTL_S3_DEBUG: one line per request on stderr */
	struct sc_s3_stats st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rng_next(struct sc_s3 *s)
{
	uint64_t x = s->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	s->rng = x;
	return x;
}

/* ---- locations ---- */

int sc_s3_is_location(const char *s)
{
	return s && strncmp(s, "s3://", 5) == 0;
}

int sc_s3_location_parse(const char *s, struct sc_s3_loc *loc, char *err, size_t errlen)
{
	const char *b, *slash, *p;
	size_t blen, out = 0;
	int rc;

	memset(loc, 0, sizeof(*loc));
	if (!sc_s3_is_location(s)) {
		sc_msg(err, errlen, "location '%.200s': must start with s3://", s ? s : "");
		return SC_EUSAGE;
	}
	b = s + 5;
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	if (blen == 0 || blen > SC_S3_BUCKET_MAX) {
		sc_msg(err, errlen, "location '%.200s': %s bucket name", s, blen ? "overlong" : "missing");
		return SC_EUSAGE;
	}
	memcpy(loc->bucket, b, blen);
	loc->bucket[blen] = '\0';
	{
		char why[160];

		if ((rc = sc_s3_bucket_check(loc->bucket, why, sizeof(why)))) {
			sc_msg(err, errlen, "location '%.200s': %s", s, why);
			return rc;
		}
	}
	p = slash ? slash + 1 : b + blen;
	while (*p) {
		const char *seg = p;
		size_t sl;

		while (*p && *p != '/')
			p++;
		sl = (size_t)(p - seg);
		if (*p == '/')
			p++;
		if (sl == 0)
			continue; /* repeated or trailing slash */
		if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.')) {
			sc_msg(err, errlen, "location '%.200s': '.' and '..' are not allowed in the prefix", s);
			return SC_EUSAGE;
		}
		for (size_t i = 0; i < sl; i++) {
			unsigned char c = (unsigned char)seg[i];

			if (c < 0x20 || c == 0x7f) {
				sc_msg(err, errlen, "location '%.200s': control byte in the prefix", s);
				return SC_EUSAGE;
			}
		}
		if (out + (out ? 1 : 0) + sl > SC_S3_KEY_MAX - 64) {
			sc_msg(err, errlen, "location '%.200s': prefix longer than %d bytes", s, SC_S3_KEY_MAX - 64);
			return SC_EUSAGE;
		}
		if (out)
			loc->prefix[out++] = '/';
		memcpy(loc->prefix + out, seg, sl);
		out += sl;
	}
	loc->prefix[out] = '\0';
	return 0;
}

int sc_s3_location_key(const struct sc_s3_loc *loc, const char *name, char *buf, size_t n)
{
	int w;

	if (loc->prefix[0])
		w = snprintf(buf, n, "%s/%s", loc->prefix, name);
	else
		w = snprintf(buf, n, "%s", name);
	if (w < 0 || (size_t)w >= n || w > SC_S3_KEY_MAX)
		return SC_ELIMIT;
	return 0;
}

int sc_s3_location_object(const char *s, const char *what, const char *name,
			  struct sc_s3_loc *loc, char *key, size_t keylen, char *obj,
			  size_t objlen, char *err, size_t errlen)
{
	int rc = sc_s3_location_parse(s, loc, err, errlen);

	if (rc)
		return rc;
	if (sc_s3_location_key(loc, name, key, keylen))
		return sc_fail(err, errlen, SC_ELIMIT, "%s '%s': key of '%s' too long", what, s,
			       name);
	if (obj && (size_t)snprintf(obj, objlen, "s3://%s/%s", loc->bucket, key) >= objlen)
		return sc_fail(err, errlen, SC_ELIMIT, "%s '%s': name of '%s' too long", what, s,
			       name);
	return 0;
}

/* ---- configuration ---- */

void sc_s3_config_init(struct sc_s3_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->region, sizeof(c->region), "us-east-1");
	c->addressing = SC_S3_ADDR_AUTO;
	c->inflight_max = SC_S3_INFLIGHT_DEFAULT;
	c->retries_max = SC_S3_RETRIES_DEFAULT;
	c->retry_window_ms = SC_S3_RETRY_WINDOW_MS_DEFAULT;
	c->backoff_base_ms = SC_S3_BACKOFF_BASE_MS_DEFAULT;
	c->backoff_max_ms = SC_S3_BACKOFF_MAX_MS_DEFAULT;
	c->connect_timeout_ms = SC_S3_CONNECT_TIMEOUT_MS_DEFAULT;
	c->low_speed_bytes = SC_S3_LOW_SPEED_BYTES_DEFAULT;
	c->low_speed_time_s = SC_S3_LOW_SPEED_TIME_S_DEFAULT;
	c->request_timeout_ms = SC_S3_REQUEST_TIMEOUT_MS_DEFAULT;
	c->part_size = SC_S3_PART_SIZE_DEFAULT;
	c->multipart_threshold = SC_S3_MULTIPART_THRESHOLD_DEFAULT;
}

static int env_copy(const char *name, char *dst, size_t cap, char *err, size_t errlen)
{
	const char *v = getenv(name);
	size_t n;

	if (!v || !*v)
		return 0;
	n = strlen(v);
	if (n >= cap) {
		sc_msg(err, errlen, "%s: longer than %zu bytes", name, cap - 1);
		return SC_EUSAGE;
	}
	memcpy(dst, v, n + 1);
	return 1;
}

int sc_s3_config_set_endpoint(struct sc_s3_config *c, const char *url, char *err,
			      size_t errlen)
{
	struct sc_s3_endpoint ep;
	int rc;

	if (!url || !*url) {
		c->endpoint[0] = '\0';
		return 0;
	}
	if (strlen(url) >= sizeof(c->endpoint)) {
		sc_msg(err, errlen, "s3 endpoint: longer than %zu bytes", sizeof(c->endpoint) - 1);
		return SC_EUSAGE;
	}
	if ((rc = sc_s3_endpoint_parse(url, &ep, err, errlen)))
		return rc;
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", url);
	return 0;
}

/*
 * AWS_MAX_ATTEMPTS, as the AWS SDKs and CLI read it: attempts of one
 * request in all, the first included (so retries_max is one less).
 */
static int max_attempts_from_env(struct sc_s3_config *c, char *err, size_t errlen)
{
	const char *v = getenv("AWS_MAX_ATTEMPTS");
	unsigned long n;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || v[0] == '-' || n < 1 || n > SC_S3_RETRIES_MAX + 1) {
		sc_msg(err, errlen, "AWS_MAX_ATTEMPTS: '%s': expected 1 to %d", v,
			SC_S3_RETRIES_MAX + 1);
		return SC_EUSAGE;
	}
	c->retries_max = (uint32_t)(n - 1);
	return 0;
}

int sc_s3_config_from_env(struct sc_s3_config *c, char *err, size_t errlen)
{
	char ep[SC_S3_ENDPOINT_MAX];
	int rc, have_ak, have_sk;

	sc_s3_config_init(c);
	if ((have_ak = env_copy("AWS_ACCESS_KEY_ID", c->access_key, sizeof(c->access_key), err, errlen)) < 0 ||
	    (have_sk = env_copy("AWS_SECRET_ACCESS_KEY", c->secret_key, sizeof(c->secret_key), err, errlen)) < 0 ||
	    (rc = env_copy("AWS_SESSION_TOKEN", c->session_token, sizeof(c->session_token), err, errlen)) < 0 ||
	    (rc = env_copy("AWS_CA_BUNDLE", c->ca_file, sizeof(c->ca_file), err, errlen)) < 0)
		return SC_EUSAGE;
	if (have_ak != have_sk) {
		sc_msg(err, errlen, "%s is set but %s is not: set both, or neither for anonymous access",
			have_ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			have_ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return SC_EUSAGE;
	}
	if ((rc = env_copy("AWS_REGION", c->region, sizeof(c->region), err, errlen)) < 0)
		return rc;
	if (rc == 0 && (rc = env_copy("AWS_DEFAULT_REGION", c->region, sizeof(c->region), err, errlen)) < 0)
		return rc;
	ep[0] = '\0';
	if ((rc = env_copy("AWS_ENDPOINT_URL_S3", ep, sizeof(ep), err, errlen)) < 0)
		return rc;
	if (rc == 0 && (rc = env_copy("AWS_ENDPOINT_URL", ep, sizeof(ep), err, errlen)) < 0)
		return rc;
	if (ep[0] && (rc = sc_s3_config_set_endpoint(c, ep, err, errlen)))
		return rc;
	return max_attempts_from_env(c, err, errlen);
}

static int config_check(const struct sc_s3_config *c, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (c->inflight_max < 1 || c->inflight_max > SC_S3_INFLIGHT_MAX)
		bad = "inflight_max";
	else if (c->retries_max > SC_S3_RETRIES_MAX)
		bad = "retries_max";
	else if (c->backoff_base_ms < 1 || c->backoff_max_ms < c->backoff_base_ms ||
		 c->backoff_max_ms > SC_S3_BACKOFF_MAX_MS_MAX)
		bad = "backoff_base_ms/backoff_max_ms";
	else if (c->connect_timeout_ms < 1 || c->connect_timeout_ms > SC_S3_TIMEOUT_MS_MAX)
		bad = "connect_timeout_ms";
	else if (c->request_timeout_ms < 1 || c->request_timeout_ms > SC_S3_TIMEOUT_MS_MAX)
		bad = "request_timeout_ms";
	else if (c->retry_window_ms > SC_S3_TIMEOUT_MS_MAX)
		bad = "retry_window_ms";
	else if (c->low_speed_time_s > SC_S3_TIMEOUT_MS_MAX / 1000 ||
		 (c->low_speed_bytes && c->low_speed_time_s == 0))
		bad = "low_speed_time_s";
	else if (c->part_size < SC_S3_PART_SIZE_MIN || c->part_size > SC_S3_PART_SIZE_MAX)
		bad = "part_size";
	else if (c->multipart_threshold < c->part_size ||
		 c->multipart_threshold > SC_S3_PUT_SIZE_MAX)
		bad = "multipart_threshold";
	else if (!c->region[0] || memchr(c->region, '/', strlen(c->region)))
		bad = "region";
	else if (!c->access_key[0] != !c->secret_key[0])
		bad = "access_key/secret_key (set both or neither)";
	if (bad) {
		sc_msg(err, errlen, "s3 configuration: %s out of range", bad);
		return SC_EUSAGE;
	}
	return 0;
}

/* ---- handle ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int sc_s3_open(const struct sc_s3_config *c, struct sc_s3 **out, char *err, size_t errlen)
{
	struct sc_s3 *s;
	const char *dbg;
	char url[SC_S3_ENDPOINT_MAX + 64];
	int rc;

	*out = NULL;
	if ((rc = config_check(c, err, errlen)))
		return rc;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		sc_msg(err, errlen, "s3: libcurl initialisation failed: %s", curl_easy_strerror(curl_init_rc));
		return SC_ECODEC;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *c;
	if (c->endpoint[0])
		snprintf(url, sizeof(url), "%s", c->endpoint);
	else
		snprintf(url, sizeof(url), "https://s3.%s.amazonaws.com", c->region);
	if ((rc = sc_s3_endpoint_parse(url, &s->ep, err, errlen)))
		goto out_free;
	snprintf(s->endpoint_url, sizeof(s->endpoint_url), "%s://%s%s", s->ep.https ? "https" : "http",
		 s->ep.authority, s->ep.base);
	s->signed_requests = c->access_key[0] != '\0';
	s->easy_pool = calloc(c->inflight_max, sizeof(*s->easy_pool));
	s->active = calloc(c->inflight_max, sizeof(*s->active));
	if (!s->easy_pool || !s->active) {
		rc = -ENOMEM;
		goto out_free;
	}
	s->multi = curl_multi_init();
	if (!s->multi) {
		sc_msg(err, errlen, "s3: curl_multi_init failed");
		rc = SC_ECODEC;
		goto out_free;
	}
	/* one pool of kept-alive connections, as many as requests in flight */
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)c->inflight_max);
	curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->inflight_max);
	curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	s->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ now_ms() ^ (uint64_t)(uintptr_t)s;
	if (!s->rng)
		s->rng = 1;
	dbg = getenv("SHARDCTL_S3_DEBUG");
	s->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
	*out = s;
	return 0;
out_free:
	free(s->easy_pool);
	free(s->active);
	free(s);
	return rc;
}

const char *sc_s3_endpoint(const struct sc_s3 *s)
{
	return s->endpoint_url;
}

void sc_s3_get_stats(const struct sc_s3 *s, struct sc_s3_stats *st)
{
	*st = s->st;
}

uint32_t sc_s3_pending(const struct sc_s3 *s)
{
	return s->ops;
}

/* ---- operations and transfers: allocation ---- */

static void op_free(struct s3_op *op)
{
	if (!op)
		return;
	free(op->bucket);
	free(op->key);
	free(op->if_match);
	free(op->copy_source);
	free(op->copy_from);
	for (int i = 0; i < 4; i++) {
		free(op->query_name[i]);
		free(op->query_value[i]);
	}
	sc_buf_release(&op->page);
	free(op->upload_id);
	free(op->etags);
	free(op);
}

static struct s3_op *op_new(struct sc_s3 *s, enum sc_s3_op type, const char *bucket,
			    const char *key, uint64_t tag)
{
	struct s3_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->type = type;
	op->tag = tag;
	op->bucket = strdup(bucket);
	op->key = strdup(key ? key : "");
	sc_buf_init(&op->page, SC_S3_XML_MAX);
	op->res.tag = tag;
	op->res.op = type;
	op->t0_ms = now_ms();
	op->body.fd = -1;
	if (!op->bucket || !op->key) {
		op_free(op);
		return NULL;
	}
	op->all_next = s->all_ops;
	if (s->all_ops)
		s->all_ops->all_prev = op;
	s->all_ops = op;
	return op;
}

/* Unlink op from the handle and free it. */
static void op_release(struct sc_s3 *s, struct s3_op *op)
{
	if (op->all_prev)
		op->all_prev->all_next = op->all_next;
	else
		s->all_ops = op->all_next;
	if (op->all_next)
		op->all_next->all_prev = op->all_prev;
	op_free(op);
}

static void xfer_free(struct s3_xfer *x)
{
	if (!x)
		return;
	sc_buf_release(&x->query);
	sc_buf_release(&x->body_own);
	sc_buf_release(&x->resp);
	free(x);
}

static struct s3_xfer *xfer_new(struct s3_op *op, enum xfer_kind kind)
{
	struct s3_xfer *x = calloc(1, sizeof(*x));
	static const char *const methods[] = {
		[XK_GET] = "GET", [XK_PUT] = "PUT", [XK_HEAD] = "HEAD", [XK_DELETE] = "DELETE",
		[XK_LIST] = "GET", [XK_MP_INIT] = "POST", [XK_MP_PART] = "PUT",
		[XK_MP_COMPLETE] = "POST", [XK_MP_ABORT] = "DELETE", [XK_MP_VERIFY] = "HEAD",
		[XK_COPY] = "PUT",
	};

	if (!x)
		return NULL;
	x->op = op;
	x->kind = kind;
	x->method = methods[kind];
	x->body_fd = -1;
	sc_buf_init(&x->query, SC_S3_TEXT_MAX);
	sc_buf_init(&x->body_own, SC_S3_TEXT_MAX + (uint64_t)SC_S3_PARTS_MAX * 160);
	sc_buf_init(&x->resp, kind == XK_LIST || kind == XK_MP_INIT || kind == XK_MP_COMPLETE ?
				      SC_S3_XML_MAX : SC_S3_ERROR_BODY_MAX);
	memcpy(x->payload_hash, SC_S3_EMPTY_SHA256, sizeof(SC_S3_EMPTY_SHA256));
	return x;
}

static void run_push(struct sc_s3 *s, struct s3_xfer *x)
{
	x->next = NULL;
	if (s->run_tail)
		s->run_tail->next = x;
	else
		s->run_head = x;
	s->run_tail = x;
}

/* Queue x for its operation: counted live until finished. */
static void xfer_queue(struct sc_s3 *s, struct s3_xfer *x)
{
	x->op->live++;
	x->due_ms = 0;
	run_push(s, x);
}

/* Set x's body to a slice of the op's body and hash it when it is memory. */
static int xfer_body_slice(struct s3_xfer *x, const struct sc_s3_body *b, uint64_t off,
			   uint64_t len)
{
	x->has_body = 1;
	x->body_off = b->off + off;
	x->body_len = len;
	if (b->data) {
		x->body_mem = (const char *)b->data;
		return sc_s3_sha256_hex(x->body_mem + x->body_off, (size_t)len, x->payload_hash);
	}
	x->body_fd = b->fd;
	memcpy(x->payload_hash, SC_S3_UNSIGNED_PAYLOAD, sizeof(SC_S3_UNSIGNED_PAYLOAD));
	return 0;
}

/* ---- messages ---- */

static void describe_request(const struct s3_op *op, const struct s3_xfer *x, char *d, size_t n)
{
	switch (x->kind) {
	case XK_GET:
		sc_msg(d, n, "GET bytes %" PRIu64 "-%" PRIu64, op->off, op->off + op->len - 1);
		break;
	case XK_PUT:
		sc_msg(d, n, "PUT (%" PRIu64 " bytes)", x->body_len);
		break;
	case XK_HEAD:
		sc_msg(d, n, "HEAD");
		break;
	case XK_DELETE:
		sc_msg(d, n, "DELETE");
		break;
	case XK_LIST:
		sc_msg(d, n, "LIST");
		break;
	case XK_MP_INIT:
		sc_msg(d, n, "multipart upload (%" PRIu64 " bytes): initiate", op->body.len);
		break;
	case XK_MP_PART:
		sc_msg(d, n, "multipart upload: part %u of %u (%" PRIu64 " bytes)", x->part_no,
			op->nparts, x->body_len);
		break;
	case XK_MP_COMPLETE:
		sc_msg(d, n, "multipart upload: complete (%u parts)", op->nparts);
		break;
	case XK_MP_ABORT:
		sc_msg(d, n, "multipart upload: abort");
		break;
	case XK_MP_VERIFY:
		sc_msg(d, n, "multipart upload: HEAD after completion");
		break;
	case XK_COPY:
		sc_msg(d, n, "COPY from '%.400s'", op->copy_from ? op->copy_from : "");
		break;
	}
}

/* "object 's3://b/k'" or "bucket 's3://b'" or "listing 's3://b/prefix'". */
static void describe_subject(const struct s3_op *op, char *d, size_t n)
{
	if (op->type == SC_S3_OP_LIST)
		sc_msg(d, n, "listing 's3://%s/%.300s'", op->bucket, op->key);
	else
		sc_msg(d, n, "object 's3://%s/%.400s'", op->bucket, op->key);
}

/* Trim a server message for ours: no control bytes, no trailing period. */
static void clean_text(char *t)
{
	size_t n;

	for (char *p = t; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = ' ';
	n = strlen(t);
	while (n > 0 && (t[n - 1] == '.' || t[n - 1] == ' '))
		t[--n] = '\0';
}

static const char *status_words(int status)
{
	switch (status) {
	case 400: return "bad request";
	case 401: return "unauthorized";
	case 403: return "forbidden (check the credentials and the bucket's permissions)";
	case 404: return "not found";
	case 405: return "method not allowed";
	case 409: return "conflict";
	case 412: return "precondition failed (the object changed)";
	case 416: return "range not satisfiable";
	case 429: return "too many requests";
	case 500: return "internal server error";
	case 502: return "bad gateway";
	case 503: return "service unavailable";
	case 504: return "gateway timeout";
	default: return "";
	}
}

/* ---- libcurl callbacks ---- */

static int hdr_name_is(const char *p, size_t n, const char *name, const char **val, size_t *vlen)
{
	size_t nl = strlen(name);

	if (n <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
		return 0;
	p += nl + 1;
	n -= nl + 1;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*val = p;
	*vlen = n;
	return 1;
}

static int parse_u64_n(const char *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(p[i] - '0');
	}
	*v = x;
	return 0;
}

/* "bytes FIRST-LAST/TOTAL" or "bytes * /TOTAL" (without the space). */
static int parse_content_range(const char *p, size_t n, struct s3_xfer *x)
{
	const char *dash, *slash, *e = p + n;

	if (n < 6 || strncasecmp(p, "bytes ", 6) != 0)
		return -1;
	p += 6;
	slash = memchr(p, '/', (size_t)(e - p));
	if (!slash)
		return -1;
	if (slash - p == 1 && *p == '*') {
		x->cr_first = 1;
		x->cr_last = 0;
	} else {
		dash = memchr(p, '-', (size_t)(slash - p));
		if (!dash || parse_u64_n(p, (size_t)(dash - p), &x->cr_first) ||
		    parse_u64_n(dash + 1, (size_t)(slash - dash - 1), &x->cr_last) ||
		    x->cr_last < x->cr_first)
			return -1;
	}
	if (e - slash == 2 && slash[1] == '*')
		x->cr_total = UINT64_MAX;
	else if (parse_u64_n(slash + 1, (size_t)(e - slash - 1), &x->cr_total))
		return -1;
	return 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3_xfer *x = ud;
	size_t n = size * nmemb;
	const char *v;
	size_t vl;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n);
		uint64_t st = 0;

		/* a new response (after 100 Continue, say): forget the last one's headers */
		x->status = 0;
		x->etag[0] = '\0';
		x->have_range = x->have_length = 0;
		x->retry_after_s = 0;
		x->request_id[0] = '\0';
		if (sp && (size_t)(p + n - sp) > 4 && parse_u64_n(sp + 1, 3, &st) == 0)
			x->status = (int)st;
		return n;
	}
	if (hdr_name_is(p, n, "ETag", &v, &vl)) {
		if (vl < sizeof(x->etag)) {
			memcpy(x->etag, v, vl);
			x->etag[vl] = '\0';
		}
	} else if (hdr_name_is(p, n, "Content-Range", &v, &vl)) {
		x->have_range = parse_content_range(v, vl, x) == 0;
	} else if (hdr_name_is(p, n, "Content-Length", &v, &vl)) {
		x->have_length = parse_u64_n(v, vl, &x->content_length) == 0;
	} else if (hdr_name_is(p, n, "Retry-After", &v, &vl)) {
		uint64_t ra;

		if (parse_u64_n(v, vl, &ra) == 0)
			x->retry_after_s = ra > S3_RETRY_AFTER_MAX_S ? S3_RETRY_AFTER_MAX_S : (uint32_t)ra;
	} else if (hdr_name_is(p, n, "x-amz-request-id", &v, &vl)) {
		if (vl < sizeof(x->request_id)) {
			memcpy(x->request_id, v, vl);
			x->request_id[vl] = '\0';
		}
	}
	return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3_xfer *x = ud;
	size_t n = size * nmemb;

	if (x->kind == XK_GET && x->status >= 200 && x->status <= 299) {
		uint64_t room = x->dst_len - x->dst_got;

		if (x->status == 200 && x->op->off != 0) {
			x->cb_err = -EPROTO;
			sc_msg(x->cb_msg, sizeof(x->cb_msg),
				"the server ignored the Range header (HTTP 200)");
			return 0;
		}

		if (n > room) {
			if (x->status == 200 && x->op->off == 0) {
				/* whole object sent for a range from 0: keep what was asked for */
				memcpy(x->dst + x->dst_got, p, (size_t)room);
				x->dst_got += room;
				x->enough = 1;
				return 0; /* stop the transfer */
			}
			x->cb_err = -EPROTO;
			sc_msg(x->cb_msg, sizeof(x->cb_msg),
				"server sent more than the %" PRIu64 " bytes asked for", x->dst_len);
			return 0;
		}
		memcpy(x->dst + x->dst_got, p, n);
		x->dst_got += n;
		return n;
	}
	if (n > x->resp.max - x->resp.len) {
		if (x->status >= 200 && x->status <= 299) {
			x->cb_err = SC_ELIMIT;
			sc_msg(x->cb_msg, sizeof(x->cb_msg), "answer larger than %zu bytes", x->resp.max);
			return 0;
		}
		return n; /* error bodies: the start is enough */
	}
	if (sc_buf_append(&x->resp, p, n)) {
		x->cb_err = -ENOMEM;
		sc_msg(x->cb_msg, sizeof(x->cb_msg), "out of memory");
		return 0;
	}
	return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3_xfer *x = ud;
	size_t n = size * nmemb;
	uint64_t left = x->body_len - x->body_pos;

	if (n > left)
		n = (size_t)left;
	if (n == 0)
		return 0;
	if (x->body_mem) {
		memcpy(p, x->body_mem + x->body_off + x->body_pos, n);
	} else if (x->body_own.data) {
		memcpy(p, x->body_own.data + x->body_pos, n);
	} else {
		ssize_t r;

		do {
			r = pread(x->body_fd, p, n, (off_t)(x->body_off + x->body_pos));
		} while (r < 0 && errno == EINTR);
		if (r <= 0) {
			x->cb_err = r < 0 ? -errno : SC_ETRUNC;
			sc_msg(x->cb_msg, sizeof(x->cb_msg), "reading the body at offset %" PRIu64 ": %s",
				x->body_off + x->body_pos,
				r < 0 ? strerror(errno) : "file ends early");
			return CURL_READFUNC_ABORT;
		}
		n = (size_t)r;
	}
	x->body_pos += n;
	return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct s3_xfer *x = ud;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->body_pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

/* ---- starting a transfer ---- */

static int use_virtual_host(const struct sc_s3 *s, const char *bucket)
{
	switch (s->cfg.addressing) {
	case SC_S3_ADDR_PATH:
		return 0;
	case SC_S3_ADDR_VIRTUAL:
		return 1;
	default:
		return sc_s3_endpoint_is_aws(&s->ep) && sc_s3_bucket_dns_ok(bucket);
	}
}

static int slist_add(struct curl_slist **l, const char *name, const char *value)
{
	char line[SC_S3_TEXT_MAX];
	struct curl_slist *n;
	int w = snprintf(line, sizeof(line), "%s: %s", name, value);

	if (w < 0 || (size_t)w >= sizeof(line))
		return SC_ELIMIT;
	n = curl_slist_append(*l, line);
	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

/* Reset x's per-attempt state, sign, configure an easy handle, add it. */
static int xfer_start(struct sc_s3 *s, struct s3_xfer *x, char *why, size_t whylen)
{
	struct s3_op *op = x->op;
	struct sc_s3_target t;
	struct sc_s3_sign_out so;
	struct sc_s3_header h[8];
	size_t nh = 0;
	char amz_date[SC_S3_AMZ_DATE_LEN], range[64];
	CURL *e;
	int rc;

	x->status = 0;
	x->etag[0] = '\0';
	x->have_range = x->have_length = 0;
	x->retry_after_s = 0;
	x->request_id[0] = '\0';
	x->cb_err = 0;
	x->cb_msg[0] = '\0';
	x->curl_err[0] = '\0';
	x->dst_got = 0;
	x->enough = 0;
	x->body_pos = 0;
	x->resp.len = 0;
	x->hdrs = NULL;

	sc_s3_target_init(&t);
	sc_s3_sign_init(&so);
	rc = sc_s3_target_build(&s->ep, use_virtual_host(s, op->bucket), op->bucket,
				x->kind == XK_LIST ? "" : op->key, x->query.data ? x->query.data : "", &t);
	if (rc) {
		sc_msg(why, whylen, "cannot build the request URL (%s)", sc_strerror(rc));
		goto out;
	}
	if ((rc = sc_s3_amz_date(time(NULL), amz_date))) {
		sc_msg(why, whylen, "the system clock is out of range");
		goto out;
	}
	h[nh++] = (struct sc_s3_header){ "host", t.host.data };
	h[nh++] = (struct sc_s3_header){ "x-amz-content-sha256", x->payload_hash };
	h[nh++] = (struct sc_s3_header){ "x-amz-date", amz_date };
	if (s->cfg.session_token[0])
		h[nh++] = (struct sc_s3_header){ "x-amz-security-token", s->cfg.session_token };
	if (x->kind == XK_GET) {
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, op->off,
			 op->off + op->len - 1);
		h[nh++] = (struct sc_s3_header){ "range", range };
		if (op->if_match)
			h[nh++] = (struct sc_s3_header){ "if-match", op->if_match };
	}
	/* signed like every other header: a store must not copy another source */
	if (x->kind == XK_COPY)
		h[nh++] = (struct sc_s3_header){ "x-amz-copy-source", op->copy_source };
	for (size_t i = 0; i < nh && !rc; i++)
		rc = slist_add(&x->hdrs, i == 0 ? "Host" : h[i].name, h[i].value);
	if (!rc && s->signed_requests) {
		struct sc_s3_sign_in in = {
			.method = x->method, .path = t.path.data,
			.query = x->query.data ? x->query.data : "",
			.headers = h, .nheaders = nh, .payload_hash = x->payload_hash,
			.amz_date = amz_date, .region = s->cfg.region, .service = "s3",
			.access_key = s->cfg.access_key, .secret_key = s->cfg.secret_key,
		};

		rc = sc_s3_sign_v4(&in, &so);
		if (!rc)
			rc = slist_add(&x->hdrs, "Authorization", so.authorization.data);
	}
	/* no "Expect: 100-continue" round trip; no form content type on POST */
	if (!rc)
		rc = slist_add(&x->hdrs, "Expect", "");
	if (!rc && x->kind == XK_MP_COMPLETE)
		rc = slist_add(&x->hdrs, "Content-Type", "application/xml");
	else if (!rc && x->kind == XK_MP_INIT)
		rc = slist_add(&x->hdrs, "Content-Type", "application/octet-stream");
	if (rc) {
		sc_msg(why, whylen, "cannot build the request headers (%s)", sc_strerror(rc));
		goto out;
	}

	e = s->easy_idle ? s->easy_pool[--s->easy_idle] : curl_easy_init();
	if (!e) {
		rc = -ENOMEM;
		sc_msg(why, whylen, "curl_easy_init failed");
		goto out;
	}
	curl_easy_reset(e);
	x->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, t.url.data);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->cfg.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->cfg.request_timeout_ms);
	if (s->cfg.low_speed_bytes) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)s->cfg.low_speed_bytes);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)s->cfg.low_speed_time_s);
	}
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)SC_S3_RECV_BUFFER);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	if (s->cfg.ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, s->cfg.ca_file);
	if (x->has_body) {
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)SC_S3_SEND_BUFFER);
	}
	switch (x->kind) {
	case XK_HEAD:
	case XK_MP_VERIFY:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		break;
	case XK_DELETE:
	case XK_MP_ABORT:
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case XK_PUT:
	case XK_MP_PART:
	case XK_COPY: /* an empty body, sent with Content-Length: 0 */
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
		break;
	case XK_MP_INIT:
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		break;
	case XK_MP_COMPLETE:
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		break;
	case XK_GET:
	case XK_LIST:
		break;
	}
	if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
		rc = -ENOMEM;
		sc_msg(why, whylen, "curl_multi_add_handle failed");
		s->easy_pool[s->easy_idle++] = e;
		x->easy = NULL;
		goto out;
	}
	x->slot = s->nactive;
	s->active[s->nactive++] = x;
	x->attempt++;
	if (x->attempt == 1)
		x->first_ms = now_ms();
	else
		s->st.retries++;
	s->st.requests++;
	op->res.attempts++;
	if (s->debug)
		fprintf(stderr, "s3: %.3f %s %s (attempt %u)\n", (double)(now_ms() % 1000000) / 1000.0,
			x->method, t.url.data, x->attempt);
out:
	if (rc) {
		curl_slist_free_all(x->hdrs);
		x->hdrs = NULL;
	}
	sc_s3_target_release(&t);
	sc_s3_sign_release(&so);
	return rc;
}

/* Take x out of the multi handle (active set) and recycle its easy handle. */
static void xfer_detach(struct sc_s3 *s, struct s3_xfer *x)
{
	uint32_t i = x->slot;

	curl_multi_remove_handle(s->multi, x->easy);
	s->easy_pool[s->easy_idle++] = x->easy;
	x->easy = NULL;
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	s->active[i] = s->active[--s->nactive];
	s->active[i]->slot = i;
}

/* ---- finishing ---- */

static void op_complete(struct sc_s3 *s, struct s3_op *op)
{
	op->done = 1;
	if (op->res.result < 0)
		s->st.ops_failed++;
	else
		s->st.ops_ok++;
	if (op->sync)
		return;
	s->async_live--;
	op->next = NULL;
	if (s->done_tail)
		s->done_tail->next = op;
	else
		s->done_head = op;
	s->done_tail = op;
}

/* Record a final failure of x (first failure of the op wins the message). */
static void op_fail(struct sc_s3 *s, struct s3_op *op, struct s3_xfer *x, int err,
		    const char *reason)
{
	char subj[512], req[160], tail[96] = "";
	uint64_t el = now_ms() - (x && x->first_ms ? x->first_ms : op->t0_ms);

	if (op->res.result < 0)
		return;
	op->res.result = err;
	if (x) {
		op->res.http_status = x->status;
		describe_request(op, x, req, sizeof(req));
		if (x->attempt > 1)
			snprintf(tail, sizeof(tail), " (after %u attempts in %.1f s)", x->attempt,
				 (double)el / 1000.0);
	} else {
		snprintf(req, sizeof(req), "%s", "request");
	}
	describe_subject(op, subj, sizeof(subj));
	sc_msg(op->res.err, sizeof(op->res.err), "%s: %s: %s%s", subj, req, reason, tail);
	(void)s;
}

static void xfer_reason(struct sc_s3 *s, struct s3_xfer *x, CURLcode cc, int *err,
			int *retry, char *reason, size_t rlen)
{
	struct sc_s3_xml_error xe;

	*retry = 0;
	if (x->cb_err) {
		*err = x->cb_err;
		sc_msg(reason, rlen, "%s", x->cb_msg);
		return;
	}
	if (cc != CURLE_OK) {
		const char *what; /* a format with one %s: the endpoint */

		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT:
			*err = -ETIMEDOUT;
			what = "timed out talking to %s";
			break;
		case CURLE_COULDNT_CONNECT:
			*err = -ECONNREFUSED;
			what = "cannot connect to %s";
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
			*err = -EHOSTUNREACH;
			what = "cannot resolve the host of %s";
			break;
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_SSL_CONNECT_ERROR:
			*err = -ECONNRESET;
			what = "connection to %s lost";
			break;
		case CURLE_PARTIAL_FILE:
			*err = -EPIPE;
			what = "answer from %s cut short";
			break;
		case CURLE_OUT_OF_MEMORY:
			*err = -ENOMEM;
			what = "out of memory talking to %s";
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
			*err = -EPROTO;
			what = "TLS certificate problem with %s";
			break;
		case CURLE_URL_MALFORMAT:
		case CURLE_UNSUPPORTED_PROTOCOL:
			*err = SC_EUSAGE;
			what = "bad endpoint URL %s";
			break;
		default:
			*err = -EIO;
			what = "transfer with %s failed";
			break;
		}
		*retry = sc_s3_retryable(0, NULL, *err);
		{
			char head[SC_S3_ENDPOINT_MAX + 96];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			snprintf(head, sizeof(head), what, s->endpoint_url);
#pragma GCC diagnostic pop
			sc_msg(reason, rlen, "%s (%s)", head,
				x->curl_err[0] ? x->curl_err : curl_easy_strerror(cc));
		}
		clean_text(reason);
		return;
	}
	sc_s3_xml_error_parse(x->resp.data, x->resp.len, &xe);
	*err = sc_s3_http_errno(x->status, xe.code);
	*retry = sc_s3_retryable(x->status, xe.code, *err);
	clean_text(xe.message);
	if (xe.code[0] && xe.message[0] && strcmp(xe.code, xe.message) != 0)
		sc_msg(reason, rlen, "HTTP %d %s: %s", x->status, xe.code, xe.message);
	else if (xe.code[0])
		sc_msg(reason, rlen, "HTTP %d %s", x->status, xe.code);
	else
		sc_msg(reason, rlen, "HTTP %d %s", x->status, status_words(x->status));
	clean_text(reason);
}

static void part_queue_more(struct sc_s3 *s, struct s3_op *op);
static void xfer_finish_ok(struct sc_s3 *s, struct s3_xfer *x);

/*
 * 1 when a 2xx answer's body holds an <Error> element anywhere (not only
 * as its root: a copy that fails after the store sent its status line
 * may report so deeper in the document), with its code and message in
 * *xe.
 */
static int body_has_error(const struct s3_xfer *x, struct sc_s3_xml_error *xe)
{
	const char *pos = x->resp.data, *inner;
	size_t ilen;
	struct sc_buf t;

	memset(xe, 0, sizeof(*xe));
	if (!x->resp.data || x->resp.len == 0 ||
	    sc_s3_xml_next(&pos, x->resp.data + x->resp.len, "Error", &inner, &ilen) == 0)
		return 0;
	sc_buf_init(&t, SC_S3_TEXT_MAX);
	if (sc_s3_xml_text(x->resp.data, x->resp.len, "Code", &t) == 1)
		snprintf(xe->code, sizeof(xe->code), "%s", t.data);
	if (sc_s3_xml_text(x->resp.data, x->resp.len, "Message", &t) == 1)
		snprintf(xe->message, sizeof(xe->message), "%s", t.data);
	sc_buf_release(&t);
	return 1;
}

/* Cancel every other transfer of op (queued or active); they count as finished. */
static void op_cancel_xfers(struct sc_s3 *s, struct s3_op *op, struct s3_xfer *keep)
{
	struct s3_xfer **pp = &s->run_head, *x;

	s->run_tail = NULL;
	while ((x = *pp)) {
		if (x->op == op && x != keep) {
			*pp = x->next;
			op->live--;
			xfer_free(x);
			continue;
		}
		s->run_tail = x;
		pp = &x->next;
	}
	for (uint32_t i = 0; i < s->nactive;) {
		x = s->active[i];
		if (x->op == op && x != keep) {
			xfer_detach(s, x);
			op->live--;
			xfer_free(x);
			continue; /* slot i now holds another transfer */
		}
		i++;
	}
}

static void mp_start_abort(struct sc_s3 *s, struct s3_op *op)
{
	struct s3_xfer *x;
	struct sc_s3_param p = { "uploadId", op->upload_id };

	op_cancel_xfers(s, op, NULL);
	x = xfer_new(op, XK_MP_ABORT);
	if (!x || sc_s3_query_build(&p, 1, &x->query)) {
		xfer_free(x);
		if (op->res.result >= 0)
			op_fail(s, op, NULL, -ENOMEM, "out of memory");
		return; /* the upload stays open: parts expire by the bucket's lifecycle rules */
	}
	xfer_queue(s, x);
}

/* A transfer of op failed for good (after retries) with err. */
static void xfer_finish_fail(struct sc_s3 *s, struct s3_xfer *x, int err, const char *reason)
{
	struct s3_op *op = x->op;

	if (x->kind == XK_MP_ABORT) {
		/* keep the original failure, add that the abort did not work */
		size_t n = strlen(op->res.err);

		snprintf(op->res.err + n, sizeof(op->res.err) - n,
			 "; aborting upload '%.40s' failed too: %s", op->upload_id ? op->upload_id : "",
			 reason);
		return;
	}
	op_fail(s, op, x, err, reason);
	if (op->multipart && op->upload_id && !op->failing && !op->completed) {
		op->failing = 1;
		mp_start_abort(s, op);
	}
}

static void xfer_finish(struct sc_s3 *s, struct s3_xfer *x, CURLcode cc)
{
	struct s3_op *op = x->op;
	char reason[SC_S3_ERR_MAX];
	int err = 0, retry = 0, ok;
	curl_off_t up = 0;
	long nconn = 0;

	if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK && nconn > 0)
		s->st.connects += (uint64_t)nconn;
	if (curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0)
		s->st.bytes_up += (uint64_t)up;
	xfer_detach(s, x);

	if (x->enough && cc == CURLE_WRITE_ERROR)
		cc = CURLE_OK; /* stopped on purpose: the caller's buffer is full */
	ok = cc == CURLE_OK && !x->cb_err && x->status >= 200 && x->status <= 299;
	if (x->kind == XK_GET && cc == CURLE_OK && !x->cb_err && x->status == 416)
		ok = 1; /* range starts at or past the end: 0 bytes, like pread at EOF */
	if (x->kind == XK_MP_ABORT && cc == CURLE_OK && x->status == 404)
		ok = 1; /* already gone */
	if (ok && (x->kind == XK_MP_COMPLETE || x->kind == XK_COPY)) {
		/* S3 may answer 200 and put the failure in the body */
		struct sc_s3_xml_error xe;

		if (sc_s3_xml_error_parse(x->resp.data, x->resp.len, &xe) ||
		    (x->kind == XK_COPY && body_has_error(x, &xe))) {
			ok = 0;
			err = sc_s3_http_errno(500, xe.code);
			retry = sc_s3_retryable(500, xe.code, err);
			clean_text(xe.message);
			sc_msg(reason, sizeof(reason), "HTTP %d with error %s%s%s", x->status,
				xe.code[0] ? xe.code : "(no code)", xe.message[0] ? ": " : "",
				xe.message);
		}
	} else if (!ok) {
		xfer_reason(s, x, cc, &err, &retry, reason, sizeof(reason));
	}
	if (s->debug)
		fprintf(stderr, "s3: %.3f %s %s/%s -> %s %d%s%s\n", (double)(now_ms() % 1000000) / 1000.0,
			x->method, op->bucket, op->key,
			ok ? "ok" : "failed", x->status, ok ? "" : ": ", ok ? "" : reason);
	if (!ok) {
		uint64_t t = now_ms();
		int may_retry = retry && x->attempt <= s->cfg.retries_max && !op->failing;

		if (may_retry && s->cfg.retry_window_ms &&
		    t - x->first_ms >= (uint64_t)s->cfg.retry_window_ms)
			may_retry = 0;
		if (may_retry) {
			uint64_t d = sc_s3_backoff_ms(x->attempt, s->cfg.backoff_base_ms,
						      s->cfg.backoff_max_ms, rng_next(s));

			if (x->retry_after_s && (uint64_t)x->retry_after_s * 1000 > d)
				d = (uint64_t)x->retry_after_s * 1000 < s->cfg.backoff_max_ms ?
					    (uint64_t)x->retry_after_s * 1000 : s->cfg.backoff_max_ms;
			x->due_ms = t + d;
			run_push(s, x);
			return;
		}
		xfer_finish_fail(s, x, err, reason);
	} else {
		xfer_finish_ok(s, x);
	}
	op->live--;
	xfer_free(x);
	if (op->live == 0 && !op->done)
		op_complete(s, op);
}

static void xfer_finish_ok(struct sc_s3 *s, struct s3_xfer *x)
{
	struct s3_op *op = x->op;
	struct sc_s3_done *r = &op->res;

	switch (x->kind) {
	case XK_GET:
		if (x->status == 416) {
			r->result = 0;
			if (x->have_range && x->cr_total != UINT64_MAX)
				r->obj.size = x->cr_total;
		} else if (x->status == 206) {
			uint64_t want;

			if (!x->have_range || x->cr_first != op->off || x->cr_total == UINT64_MAX) {
				op_fail(s, op, x, -EPROTO, "answer 206 without a matching Content-Range");
				break;
			}
			want = x->cr_last - x->cr_first + 1;
			if (want > op->len || x->dst_got != want) {
				op_fail(s, op, x, -EPROTO, "answer length disagrees with its Content-Range");
				break;
			}
			r->result = (int64_t)x->dst_got;
			r->obj.size = x->cr_total;
		} else {
			if (op->off != 0) {
				op_fail(s, op, x, -EPROTO, "the server ignored the Range header (HTTP 200)");
				break;
			}
			r->result = (int64_t)x->dst_got;
			r->obj.size = x->have_length ? x->content_length : x->dst_got;
		}
		s->st.bytes_down += x->dst_got;
		snprintf(r->obj.etag, sizeof(r->obj.etag), "%s", x->etag);
		r->http_status = x->status;
		break;
	case XK_HEAD:
		r->result = 0;
		r->http_status = x->status;
		r->obj.size = x->have_length ? x->content_length : 0;
		snprintf(r->obj.etag, sizeof(r->obj.etag), "%s", x->etag);
		break;
	case XK_DELETE:
		r->result = 0;
		r->http_status = x->status;
		break;
	case XK_PUT:
		r->result = (int64_t)x->body_len;
		r->http_status = x->status;
		r->obj.size = x->body_len;
		snprintf(r->obj.etag, sizeof(r->obj.etag), "%s", x->etag);
		break;
	case XK_LIST:
		r->result = 0;
		r->http_status = x->status;
		/* hand the page to the op: swap buffers */
		{
			struct sc_buf t = op->page;

			op->page = x->resp;
			x->resp = t;
		}
		break;
	case XK_MP_INIT: {
		struct sc_buf id;
		int rc;

		sc_buf_init(&id, SC_S3_TEXT_MAX);
		rc = sc_s3_xml_text(x->resp.data, x->resp.len, "UploadId", &id);
		if (rc != 1 || id.len == 0) {
			sc_buf_release(&id);
			op_fail(s, op, x, rc < 0 && rc != SC_EFORMAT ? rc : -EPROTO,
				"initiate answer without an UploadId");
			break;
		}
		op->upload_id = id.data; /* NUL-terminated by sc_s3_xml_text */
		r->http_status = x->status;
		part_queue_more(s, op);
		break;
	}
	case XK_MP_PART:
		if (!x->etag[0]) {
			op_fail(s, op, x, -EPROTO, "part answer without an ETag");
			if (!op->failing) {
				op->failing = 1;
				mp_start_abort(s, op);
			}
			break;
		}
		memcpy(op->etags[x->part_no - 1], x->etag, sizeof(x->etag));
		op->parts_ok++;
		if (!op->failing)
			part_queue_more(s, op);
		break;
	case XK_MP_COMPLETE: {
		struct s3_xfer *v = xfer_new(op, XK_MP_VERIFY);

		op->completed = 1;
		r->http_status = x->status;
		if (!v) {
			op_fail(s, op, x, -ENOMEM, "out of memory");
			break;
		}
		/* some stores (radosgw) answer an empty <ETag>: the HEAD gives it */
		xfer_queue(s, v);
		break;
	}
	case XK_MP_VERIFY:
		r->http_status = x->status;
		if (!x->have_length || x->content_length != op->body.len) {
			char why[160];

			snprintf(why, sizeof(why), "the stored object has %" PRIu64 " bytes, %" PRIu64 " were sent",
				 x->have_length ? x->content_length : 0, op->body.len);
			op_fail(s, op, x, SC_ECORRUPT, why);
			break;
		}
		snprintf(r->obj.etag, sizeof(r->obj.etag), "%s", x->etag);
		r->result = (int64_t)op->body.len;
		r->obj.size = op->body.len;
		break;
	case XK_MP_ABORT:
		break;
	case XK_COPY: {
		/* <CopyObjectResult><ETag>; some stores only send the header */
		struct sc_buf tag;

		r->result = 0;
		r->http_status = x->status;
		sc_buf_init(&tag, SC_S3_ETAG_MAX);
		if (sc_s3_xml_text(x->resp.data, x->resp.len, "ETag", &tag) == 1 && tag.len)
			snprintf(r->obj.etag, sizeof(r->obj.etag), "%s", tag.data);
		else
			snprintf(r->obj.etag, sizeof(r->obj.etag), "%s", x->etag);
		sc_buf_release(&tag);
		break;
	}
	}
}

/* Queue parts while fewer than inflight_max of this upload are live; then complete. */
static void part_queue_more(struct sc_s3 *s, struct s3_op *op)
{
	while (op->next_part <= op->nparts && op->live < s->cfg.inflight_max + 1) {
		uint32_t no = op->next_part;
		uint64_t off = (uint64_t)(no - 1) * op->part_size;
		uint64_t len = op->body.len - off < op->part_size ? op->body.len - off : op->part_size;
		struct sc_s3_param p[2] = { { "partNumber", NULL }, { "uploadId", op->upload_id } };
		struct s3_xfer *x = xfer_new(op, XK_MP_PART);
		char num[16];
		int rc;

		snprintf(num, sizeof(num), "%u", no);
		p[0].value = num;
		rc = x ? sc_s3_query_build(p, 2, &x->query) : -ENOMEM;
		if (!rc)
			rc = xfer_body_slice(x, &op->body, off, len);
		if (rc) {
			xfer_free(x);
			op_fail(s, op, NULL, rc, "cannot prepare a part");
			op->failing = 1;
			mp_start_abort(s, op);
			return;
		}
		x->part_no = no;
		op->next_part++;
		xfer_queue(s, x);
	}
	if (op->parts_ok == op->nparts && op->next_part > op->nparts) {
		struct sc_s3_param p = { "uploadId", op->upload_id };
		struct s3_xfer *x = xfer_new(op, XK_MP_COMPLETE);
		int rc = x ? sc_s3_query_build(&p, 1, &x->query) : -ENOMEM;

		if (!rc)
			rc = sc_s3_xml_complete_body((const char (*)[SC_S3_ETAG_MAX])op->etags,
						     op->nparts, &x->body_own);
		if (!rc) {
			x->has_body = 1;
			x->body_len = x->body_own.len;
			rc = sc_s3_sha256_hex(x->body_own.data, x->body_own.len, x->payload_hash);
		}
		if (rc) {
			xfer_free(x);
			op_fail(s, op, NULL, rc, "cannot prepare the completion");
			op->failing = 1;
			mp_start_abort(s, op);
			return;
		}
		xfer_queue(s, x);
	}
}

/* ---- the engine ---- */

/* Start queued transfers that are due while there is room. */
static void start_due(struct sc_s3 *s)
{
	struct s3_xfer **pp = &s->run_head, *x;
	uint64_t t = now_ms();

	s->run_tail = NULL;
	while ((x = *pp) && s->nactive < s->cfg.inflight_max) {
		char why[256];

		if (x->due_ms > t) {
			s->run_tail = x;
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		x->next = NULL;
		if (xfer_start(s, x, why, sizeof(why))) {
			struct s3_op *op = x->op;

			xfer_finish_fail(s, x, -ENOMEM, why);
			op->live--;
			xfer_free(x);
			if (op->live == 0 && !op->done)
				op_complete(s, op);
			/* the list may have changed (abort queued): rescan from the head */
			pp = &s->run_head;
			s->run_tail = NULL;
			continue;
		}
	}
	/* keep run_tail right when the loop stopped for lack of room */
	if (*pp) {
		for (x = *pp; x->next; x = x->next)
			;
		s->run_tail = x;
	}
}

/* Earliest due time among queued transfers, UINT64_MAX when none. */
static uint64_t next_due(const struct sc_s3 *s)
{
	uint64_t d = UINT64_MAX;

	for (const struct s3_xfer *x = s->run_head; x; x = x->next)
		if (x->due_ms < d)
			d = x->due_ms;
	return d;
}

static int collect(struct sc_s3 *s)
{
	CURLMsg *m;
	int left, n = 0;

	while ((m = curl_multi_info_read(s->multi, &left))) {
		struct s3_xfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x)
			continue;
		xfer_finish(s, x, m->data.result);
		n++;
	}
	return n;
}

/* Make progress; wait at most timeout_ms for something to happen. */
static void step(struct sc_s3 *s, int timeout_ms)
{
	int running = 0;
	uint64_t due, t;
	int wait = timeout_ms;

	start_due(s);
	curl_multi_perform(s->multi, &running);
	if (collect(s)) {
		start_due(s);
		return;
	}
	if (timeout_ms <= 0)
		return;
	due = next_due(s);
	t = now_ms();
	if (due != UINT64_MAX && s->nactive < s->cfg.inflight_max) {
		uint64_t d = due > t ? due - t : 0;

		if (d < (uint64_t)wait)
			wait = (int)d;
	}
	if (wait > S3_POLL_MS_MAX)
		wait = S3_POLL_MS_MAX;
	if (wait > 0)
		curl_multi_poll(s->multi, NULL, 0, wait, NULL);
	curl_multi_perform(s->multi, &running);
	collect(s);
	start_due(s);
}

/* ---- submitting ---- */

static int check_object(const char *bucket, const char *key, int key_may_be_empty)
{
	size_t kl;

	if (!bucket || !key || sc_s3_bucket_check(bucket, NULL, 0))
		return SC_EUSAGE;
	kl = strlen(key);
	if ((!key_may_be_empty && kl == 0) || kl > SC_S3_KEY_MAX)
		return SC_EUSAGE;
	return 0;
}

static void op_enqueue_start(struct sc_s3 *s, struct s3_op *op)
{
	s->ops++;
	if (!op->sync)
		s->async_live++;
}

static int submit_single(struct sc_s3 *s, struct s3_op *op, enum xfer_kind kind,
			 struct s3_op **out)
{
	struct s3_xfer *x = xfer_new(op, kind);
	int rc = 0;

	if (!x) {
		op_release(s, op);
		return -ENOMEM;
	}
	if (op->query_name[0]) {
		struct sc_s3_param p[4];
		size_t n = 0;

		for (; n < 4 && op->query_name[n]; n++) {
			p[n].name = op->query_name[n];
			p[n].value = op->query_value[n];
		}
		rc = sc_s3_query_build(p, n, &x->query);
	}
	if (!rc && kind == XK_GET) {
		x->dst = op->buf;
		x->dst_len = op->len;
	}
	if (!rc && kind == XK_PUT)
		rc = xfer_body_slice(x, &op->body, 0, op->body.len);
	if (!rc && kind == XK_COPY)
		x->has_body = 1; /* body_len 0: the hash of "" is signed */
	if (rc) {
		xfer_free(x);
		op_release(s, op);
		return rc;
	}
	op_enqueue_start(s, op);
	xfer_queue(s, x);
	if (out)
		*out = op;
	return 0;
}

/*
 * A new operation of the handle for a submission whose arguments are
 * checked: 0 with *op, -EAGAIN where SC_S3_OPS_MAX are outstanding, or
 * -ENOMEM.
 */
static int op_begin(struct sc_s3 *s, enum sc_s3_op type, const char *bucket, const char *key,
		    uint64_t tag, int sync, struct s3_op **op)
{
	if (s->ops >= SC_S3_OPS_MAX)
		return -EAGAIN;
	*op = op_new(s, type, bucket, key, tag);
	if (!*op)
		return -ENOMEM;
	(*op)->sync = sync;
	return 0;
}

static int do_submit_get(struct sc_s3 *s, const struct sc_s3_get_req *r, int sync,
			 struct s3_op **out)
{
	struct s3_op *op;
	int rc;

	if ((rc = check_object(r->bucket, r->key, 0)))
		return rc;
	if (r->len == 0 || r->len > SC_S3_GET_MAX || !r->buf || r->off > UINT64_MAX - r->len ||
	    (r->if_match && strlen(r->if_match) >= SC_S3_ETAG_MAX))
		return SC_EUSAGE;
	if ((rc = op_begin(s, SC_S3_OP_GET, r->bucket, r->key, r->tag, sync, &op)))
		return rc;
	op->buf = r->buf;
	op->off = r->off;
	op->len = r->len;
	if (r->if_match && !(op->if_match = strdup(r->if_match))) {
		op_release(s, op);
		return -ENOMEM;
	}
	return submit_single(s, op, XK_GET, out);
}

int sc_s3_submit_get(struct sc_s3 *s, const struct sc_s3_get_req *r)
{
	return do_submit_get(s, r, 0, NULL);
}

static int do_submit_put(struct sc_s3 *s, const char *bucket, const char *key,
			 const struct sc_s3_body *b, uint64_t tag, int sync, struct s3_op **out)
{
	struct s3_op *op;
	int rc;

	if ((rc = check_object(bucket, key, 0)))
		return rc;
	if (!b || b->len > SC_S3_OBJECT_SIZE_MAX || (!b->data && b->fd < 0 && b->len) ||
	    b->off > UINT64_MAX - b->len)
		return SC_EUSAGE;
	if ((rc = op_begin(s, SC_S3_OP_PUT, bucket, key, tag, sync, &op)))
		return rc;
	op->body = *b;
	if (b->len < s->cfg.multipart_threshold)
		return submit_single(s, op, XK_PUT, out);

	/* multipart: part size grown if needed to stay within SC_S3_PARTS_MAX parts */
	op->multipart = 1;
	op->part_size = s->cfg.part_size;
	if ((b->len + op->part_size - 1) / op->part_size > SC_S3_PARTS_MAX) {
		uint64_t ps = (b->len + SC_S3_PARTS_MAX - 1) / SC_S3_PARTS_MAX;

		op->part_size = (ps + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
	}
	op->nparts = (uint32_t)((b->len + op->part_size - 1) / op->part_size);
	op->next_part = 1;
	op->etags = calloc(op->nparts, sizeof(*op->etags));
	if (!op->etags) {
		op_release(s, op);
		return -ENOMEM;
	}
	op->query_name[0] = strdup("uploads");
	op->query_value[0] = strdup("");
	if (!op->query_name[0] || !op->query_value[0]) {
		op_release(s, op);
		return -ENOMEM;
	}
	return submit_single(s, op, XK_MP_INIT, out);
}

int sc_s3_submit_put(struct sc_s3 *s, const char *bucket, const char *key,
		     const struct sc_s3_body *body, uint64_t tag)
{
	return do_submit_put(s, bucket, key, body, tag, 0, NULL);
}

static int do_submit_simple(struct sc_s3 *s, enum sc_s3_op type, const char *bucket,
			    const char *key, uint64_t tag, int sync, struct s3_op **out)
{
	struct s3_op *op;
	int rc;

	if ((rc = check_object(bucket, key, 0)))
		return rc;
	if ((rc = op_begin(s, type, bucket, key, tag, sync, &op)))
		return rc;
	return submit_single(s, op, type == SC_S3_OP_HEAD ? XK_HEAD : XK_DELETE, out);
}

int sc_s3_submit_head(struct sc_s3 *s, const char *bucket, const char *key, uint64_t tag)
{
	return do_submit_simple(s, SC_S3_OP_HEAD, bucket, key, tag, 0, NULL);
}

int sc_s3_submit_delete(struct sc_s3 *s, const char *bucket, const char *key, uint64_t tag)
{
	return do_submit_simple(s, SC_S3_OP_DELETE, bucket, key, tag, 0, NULL);
}

static int do_submit_copy(struct sc_s3 *s, const char *src_bucket, const char *src_key,
			  const char *bucket, const char *key, uint64_t tag, int sync,
			  struct s3_op **out)
{
	struct sc_buf src;
	struct s3_op *op;
	int rc;

	if ((rc = check_object(src_bucket, src_key, 0)) || (rc = check_object(bucket, key, 0)))
		return rc;
	if ((rc = op_begin(s, SC_S3_OP_COPY, bucket, key, tag, sync, &op)))
		return rc;
	/* "/bucket/key", the key encoded as in a request path */
	sc_buf_init(&src, SC_S3_TEXT_MAX);
	rc = sc_buf_putc(&src, '/');
	if (!rc)
		rc = sc_s3_uri_encode(src_bucket, strlen(src_bucket), 0, &src);
	if (!rc)
		rc = sc_buf_putc(&src, '/');
	if (!rc)
		rc = sc_s3_uri_encode(src_key, strlen(src_key), 1, &src);
	if (!rc) {
		op->copy_source = src.data; /* NUL-terminated by sc_s3_uri_encode */
		src.data = NULL;
		if (asprintf(&op->copy_from, "s3://%s/%s", src_bucket, src_key) < 0) {
			op->copy_from = NULL;
			rc = -ENOMEM;
		}
	}
	sc_buf_release(&src);
	if (rc) {
		op_release(s, op);
		return rc;
	}
	op->body.len = 0; /* an empty body: no bytes go through the client */
	return submit_single(s, op, XK_COPY, out);
}

int sc_s3_submit_copy(struct sc_s3 *s, const char *src_bucket, const char *src_key,
		      const char *bucket, const char *key, uint64_t tag)
{
	return do_submit_copy(s, src_bucket, src_key, bucket, key, tag, 0, NULL);
}

/* ---- waiting ---- */

int sc_s3_reap(struct sc_s3 *s, struct sc_s3_done *out, unsigned max, int timeout_ms)
{
	uint64_t deadline = timeout_ms > 0 ? now_ms() + (uint64_t)timeout_ms : 0;
	unsigned n = 0;

	if (max == 0)
		return -EINVAL;
	for (;;) {
		while (n < max && s->done_head) {
			struct s3_op *op = s->done_head;

			s->done_head = op->next;
			if (!s->done_head)
				s->done_tail = NULL;
			out[n++] = op->res;
			s->ops--;
			op_release(s, op);
		}
		if (n > 0 || s->async_live == 0)
			return (int)n;
		if (timeout_ms == 0) {
			step(s, 0);
			if (!s->done_head)
				return 0;
			continue;
		}
		if (timeout_ms > 0) {
			uint64_t t = now_ms();

			if (t >= deadline) {
				step(s, 0);
				if (!s->done_head)
					return 0;
				continue;
			}
			step(s, (int)(deadline - t < S3_POLL_MS_MAX ? deadline - t : S3_POLL_MS_MAX));
		} else {
			step(s, S3_POLL_MS_MAX);
		}
	}
}

/* Run until op is done, then hand back its outcome and free it. */
static void run_sync(struct sc_s3 *s, struct s3_op *op, struct sc_s3_done *res)
{
	while (!op->done)
		step(s, S3_POLL_MS_MAX);
	*res = op->res;
	s->ops--;
}

/*
 * The end of a synchronous call whose submission returned rc with op:
 * where rc failed, a message naming the object, `what` was done
 * ("GET", ...) and why (`usage` for SC_EUSAGE), and rc; otherwise run op
 * until it is done, free it, copy what it learnt of the object to info
 * (may be NULL) and its message to err on failure, and return its result
 * (negative on failure).
 */
static int64_t finish_sync(struct sc_s3 *s, int rc, struct s3_op *op, const char *bucket,
			   const char *key, const char *what, const char *usage,
			   struct sc_s3_obj *info, char *err, size_t errlen)
{
	struct sc_s3_done res;

	if (rc) {
		sc_msg(err, errlen, "object 's3://%s/%.400s': %s: %s", bucket ? bucket : "",
			key ? key : "", what, rc == SC_EUSAGE ? usage : sc_strerror(rc));
		return rc;
	}
	run_sync(s, op, &res);
	op_release(s, op);
	if (info)
		*info = res.obj;
	if (res.result < 0)
		sc_msg(err, errlen, "%s", res.err);
	return res.result;
}

int64_t sc_s3_get(struct sc_s3 *s, const char *bucket, const char *key, uint64_t off,
		  uint32_t len, void *buf, const char *if_match, struct sc_s3_obj *info,
		  char *err, size_t errlen)
{
	struct sc_s3_get_req r = { bucket, key, off, len, buf, if_match, 0 };
	struct s3_op *op = NULL;
	int rc = do_submit_get(s, &r, 1, &op);

	return finish_sync(s, rc, op, bucket, key, "GET", "invalid bucket, key or range", info,
			   err, errlen);
}

int sc_s3_put(struct sc_s3 *s, const char *bucket, const char *key,
	      const struct sc_s3_body *body, struct sc_s3_obj *info, char *err, size_t errlen)
{
	struct s3_op *op = NULL;
	int rc = do_submit_put(s, bucket, key, body, 0, 1, &op);
	int64_t res = finish_sync(s, rc, op, bucket, key, "PUT", "invalid bucket, key or body",
				  info, err, errlen);

	return res < 0 ? (int)res : 0;
}

static int simple_sync(struct sc_s3 *s, enum sc_s3_op type, const char *bucket,
		       const char *key, struct sc_s3_obj *info, char *err, size_t errlen)
{
	struct s3_op *op = NULL;
	int rc = do_submit_simple(s, type, bucket, key, 0, 1, &op);
	int64_t res = finish_sync(s, rc, op, bucket, key, type == SC_S3_OP_HEAD ? "HEAD" : "DELETE",
				  "invalid bucket or key", info, err, errlen);

	return res < 0 ? (int)res : 0;
}

int sc_s3_head(struct sc_s3 *s, const char *bucket, const char *key, struct sc_s3_obj *info,
	       char *err, size_t errlen)
{
	return simple_sync(s, SC_S3_OP_HEAD, bucket, key, info, err, errlen);
}

int sc_s3_delete(struct sc_s3 *s, const char *bucket, const char *key, char *err,
		 size_t errlen)
{
	return simple_sync(s, SC_S3_OP_DELETE, bucket, key, NULL, err, errlen);
}

int sc_s3_copy(struct sc_s3 *s, const char *src_bucket, const char *src_key,
	       const char *bucket, const char *key, struct sc_s3_obj *info, char *err,
	       size_t errlen)
{
	char what[1024];
	struct s3_op *op = NULL;
	int rc = do_submit_copy(s, src_bucket, src_key, bucket, key, 0, 1, &op);
	int64_t res;

	snprintf(what, sizeof(what), "COPY from 's3://%s/%.400s'", src_bucket ? src_bucket : "",
		 src_key ? src_key : "");
	res = finish_sync(s, rc, op, bucket, key, what, "invalid bucket or key", info, err, errlen);
	return res < 0 ? (int)res : 0;
}

struct list_ctx {
	sc_s3_entry_fn fn;
	void *ctx;
	const char *prefix;
	size_t prefix_len;
	int bad;      /* an entry outside the prefix came back */
	int stop;     /* the caller's callback asked to stop with this value */
};

static int list_cb(void *ud, const struct sc_s3_entry *e)
{
	struct list_ctx *lc = ud;

	if (strncmp(e->key, lc->prefix, lc->prefix_len) != 0) {
		lc->bad = 1;
		return SC_EFORMAT;
	}
	if (lc->fn && (lc->stop = lc->fn(lc->ctx, e)) != 0)
		return SC_EFORMAT; /* any non-zero value stops the parse; lc->stop says why */
	return 0;
}

int64_t sc_s3_list(struct sc_s3 *s, const char *bucket, const char *prefix,
		   sc_s3_entry_fn fn, void *ctx, char *err, size_t errlen)
{
	struct sc_buf token;
	struct list_ctx lc = { fn, ctx, prefix ? prefix : "", 0, 0, 0 };
	int64_t total = 0;
	int rc = 0;

	lc.prefix_len = strlen(lc.prefix);
	if (check_object(bucket, lc.prefix, 1)) {
		sc_msg(err, errlen, "listing 's3://%s/%.300s': invalid bucket or prefix",
			bucket ? bucket : "", lc.prefix);
		return SC_EUSAGE;
	}
	sc_buf_init(&token, SC_S3_TEXT_MAX);
	if ((rc = sc_buf_reserve(&token, 1)))
		goto out;
	token.data[0] = '\0';
	for (uint32_t page = 0; page < SC_S3_LIST_PAGES_MAX; page++) {
		struct sc_s3_done res;
		struct s3_op *op;
		int truncated = 0, n;
		int q = 0;

		if (s->ops >= SC_S3_OPS_MAX) {
			rc = -EAGAIN;
			sc_msg(err, errlen, "listing 's3://%s/%.300s': too many operations outstanding",
				bucket, lc.prefix);
			goto out;
		}
		op = op_new(s, SC_S3_OP_LIST, bucket, lc.prefix, 0);
		if (!op) {
			rc = -ENOMEM;
			goto out;
		}
		op->sync = 1;
		op->query_name[q] = strdup("list-type");
		op->query_value[q++] = strdup("2");
		op->query_name[q] = strdup("prefix");
		op->query_value[q++] = strdup(lc.prefix);
		op->query_name[q] = strdup("max-keys");
		op->query_value[q++] = strdup("1000");
		if (token.data[0]) {
			op->query_name[q] = strdup("continuation-token");
			op->query_value[q++] = strdup(token.data);
		}
		for (int i = 0; i < q; i++) {
			if (!op->query_name[i] || !op->query_value[i]) {
				op_release(s, op);
				rc = -ENOMEM;
				goto out;
			}
		}
		if ((rc = submit_single(s, op, XK_LIST, &op)))
			goto out;
		run_sync(s, op, &res);
		if (res.result < 0) {
			sc_msg(err, errlen, "%s", res.err);
			rc = (int)res.result;
			op_release(s, op);
			goto out;
		}
		n = sc_s3_xml_list_parse(op->page.data, op->page.len, list_cb, &lc, &truncated,
					 &token);
		op_release(s, op);
		if (lc.stop) {
			rc = lc.stop;
			goto out;
		}
		if (n < 0 || lc.bad) {
			if (lc.bad || n == SC_EFORMAT) {
				sc_msg(err, errlen, "listing 's3://%s/%.300s': page %u: malformed answer",
					bucket, lc.prefix, page + 1);
				rc = SC_EFORMAT;
			} else {
				rc = n; /* the callback's value, or an error */
				if (rc < 0 && err && !err[0])
					sc_msg(err, errlen, "listing 's3://%s/%.300s': %s", bucket,
						lc.prefix, sc_strerror(rc));
			}
			goto out;
		}
		total += n;
		if (!truncated) {
			sc_buf_release(&token);
			return total;
		}
	}
	rc = SC_ELIMIT;
	sc_msg(err, errlen, "listing 's3://%s/%.300s': more than %u pages", bucket, lc.prefix,
		SC_S3_LIST_PAGES_MAX);
out:
	sc_buf_release(&token);
	return rc;
}

/* ---- closing ---- */

/* Drop every transfer and every operation of the handle. */
static void drop_all(struct sc_s3 *s)
{
	struct s3_xfer *x;

	while (s->nactive) {
		x = s->active[0];
		xfer_detach(s, x);
		xfer_free(x);
	}
	while ((x = s->run_head)) {
		s->run_head = x->next;
		xfer_free(x);
	}
	s->run_tail = NULL;
	while (s->all_ops)
		op_release(s, s->all_ops);
	s->done_head = s->done_tail = NULL;
	s->ops = s->async_live = 0;
}

void sc_s3_close(struct sc_s3 *s)
{
	struct abort_item {
		char *bucket, *key, *upload_id;
	} *ab = NULL;
	size_t nab = 0, cap = 0;

	if (!s)
		return;
	/* uploads initiated and not finished: remember them, abort below */
	for (struct s3_op *op = s->all_ops; op; op = op->all_next) {
		if (!op->multipart || !op->upload_id || op->done || op->completed)
			continue;
		if (nab == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct abort_item *t = realloc(ab, nc * sizeof(*ab));

			if (!t)
				break;
			ab = t;
			cap = nc;
		}
		ab[nab].bucket = strdup(op->bucket);
		ab[nab].key = strdup(op->key);
		ab[nab].upload_id = strdup(op->upload_id);
		nab++;
	}
	drop_all(s);

	/* abort them, each with one try and the whole within SC_S3_CLOSE_ABORT_MS */
	if (nab) {
		uint64_t deadline = now_ms() + SC_S3_CLOSE_ABORT_MS;

		s->cfg.retries_max = 0;
		s->cfg.request_timeout_ms = SC_S3_CLOSE_ABORT_MS;
		for (size_t i = 0; i < nab; i++) {
			struct s3_op *op;

			if (!ab[i].bucket || !ab[i].key || !ab[i].upload_id)
				continue;
			op = op_new(s, SC_S3_OP_DELETE, ab[i].bucket, ab[i].key, 0);
			if (!op)
				continue;
			op->query_name[0] = strdup("uploadId");
			op->query_value[0] = strdup(ab[i].upload_id);
			if (!op->query_name[0] || !op->query_value[0]) {
				op_release(s, op);
				continue;
			}
			submit_single(s, op, XK_DELETE, NULL); /* async: lands in the done list */
		}
		while (s->async_live && now_ms() < deadline)
			step(s, 100);
		drop_all(s);
	}
	for (size_t i = 0; i < nab; i++) {
		free(ab[i].bucket);
		free(ab[i].key);
		free(ab[i].upload_id);
	}
	free(ab);
	for (uint32_t i = 0; i < s->easy_idle; i++)
		curl_easy_cleanup(s->easy_pool[i]);
	curl_multi_cleanup(s->multi);
	free(s->easy_pool);
	free(s->active);
	explicit_bzero(s->cfg.secret_key, sizeof(s->cfg.secret_key));
	explicit_bzero(s->cfg.session_token, sizeof(s->cfg.session_token));
	free(s);
}
