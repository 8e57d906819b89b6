/*
 * s3.h - a client for S3-compatible object stores (AWS S3, Ceph's RADOS
 * Gateway, MinIO, ...): the storage-node backend of shard sets whose nodes
 * are `s3://BUCKET/PREFIX` locations.
 *
 * One handle (struct sc_s3) holds the configuration, a libcurl multi
 * handle with its pool of kept-alive connections, and a queue of
 * operations. Operations are submitted (GET of a byte range into caller
 * memory, PUT from memory or from a file range with multipart upload
 * above a threshold, HEAD, DELETE, server-side COPY) and run many at a
 * time, up to
 * inflight_max HTTP requests; sc_s3_reap() returns the finished ones,
 * matched by the caller's tag, like io/aio.h does for local reads. The
 * synchronous calls (sc_s3_get, sc_s3_put, ..., sc_s3_list) are the same
 * operations waited for one at a time; they leave other submitted
 * operations running and their completions queued for sc_s3_reap().
 *
 * Every request is signed with AWS Signature V4 (x-amz-content-sha256 is
 * always sent and signed: the SHA-256 of a memory body, UNSIGNED-PAYLOAD
 * for a body streamed from a file). Transient failures (5xx, 429/SlowDown,
 * timeouts, resets, refused connections) are retried with bounded,
 * jittered exponential backoff; 403, 404 and other client errors are not.
 * Each attempt has a connect timeout, a low-speed limit and a total
 * timeout, so no operation waits forever. A failed operation gives a
 * negative errno (see docs/S3.md for the table: -ENOENT for 404, -EACCES
 * for 403, -ETIMEDOUT, -ECONNREFUSED, -ESTALE when an If-Match ETag no
 * longer matches, -EIO for 5xx after retries, ...) and a message naming
 * the object, the request, the HTTP status and S3 error code:
 *
 *   object 's3://bkt/set/00012.zst': GET bytes 0-1048575: HTTP 404 NoSuchKey
 *
 * Not thread-safe: one thread at a time uses a handle (use one handle per
 * thread; handles share nothing). The memory given to a GET and the body
 * given to a PUT must stay valid and unchanged until that operation is
 * reaped (or the handle is closed).
 *
 * libcurl's and OpenSSL's conventions stay inside io/s3.c and io/s3_wire.c.
 */
#ifndef SC_S3_H
#define SC_S3_H

#include <stddef.h>
#include <stdint.h>

/*
 * Limits, all in one place. _DEFAULT values are what a handle starts with
 * (struct sc_s3_config); _MIN/_MAX bound what a configuration may say.
 */
#define SC_S3_INFLIGHT_DEFAULT        16     /* HTTP requests in flight per handle */
#define SC_S3_INFLIGHT_MAX            256
#define SC_S3_OPS_MAX                 4096   /* operations submitted and not yet reaped */
#define SC_S3_RETRIES_DEFAULT         5      /* attempts after the first, per request */
#define SC_S3_RETRIES_MAX             20
#define SC_S3_RETRY_WINDOW_MS_DEFAULT 60000  /* no retry starts later than this after the first attempt */
#define SC_S3_BACKOFF_BASE_MS_DEFAULT 100    /* first retry waits 50..100 ms, then doubling */
#define SC_S3_BACKOFF_MAX_MS_DEFAULT  5000   /* cap of one backoff step */
#define SC_S3_BACKOFF_MAX_MS_MAX      600000
#define SC_S3_CONNECT_TIMEOUT_MS_DEFAULT 5000
#define SC_S3_LOW_SPEED_BYTES_DEFAULT 1024   /* an attempt slower than this (bytes/s) ... */
#define SC_S3_LOW_SPEED_TIME_S_DEFAULT 15    /* ... for this many seconds fails (timeout) */
#define SC_S3_REQUEST_TIMEOUT_MS_DEFAULT 600000 /* one attempt from start to end */
#define SC_S3_TIMEOUT_MS_MAX          86400000
#define SC_S3_PART_SIZE_DEFAULT       (16ull << 20) /* multipart part size */
#define SC_S3_PART_SIZE_MIN           (5ull << 20)  /* S3's minimum (all parts but the last) */
#define SC_S3_PART_SIZE_MAX           (5ull << 30)  /* S3's maximum */
#define SC_S3_PARTS_MAX               10000         /* S3's maximum part count */
#define SC_S3_MULTIPART_THRESHOLD_DEFAULT (32ull << 20) /* PUT bodies of this size or more go multipart */
#define SC_S3_PUT_SIZE_MAX            (5ull << 30)  /* S3's maximum single PUT */
#define SC_S3_COPY_SIZE_MAX           (5ull << 30)  /* S3's maximum single CopyObject (more: UploadPartCopy) */
#define SC_S3_OBJECT_SIZE_MAX         (5ull << 40)  /* S3's maximum object */
#define SC_S3_GET_MAX                 (1u << 30)    /* bytes of one ranged GET */
#define SC_S3_BUCKET_MAX              63
#define SC_S3_KEY_MAX                 1024          /* bytes of an object key */
#define SC_S3_ETAG_MAX                128           /* bytes of an ETag, quotes and NUL included */
#define SC_S3_ERR_MAX                 640           /* bytes of an operation's message */
#define SC_S3_XML_MAX                 (8u << 20)    /* bytes of an XML answer kept (listings) */
#define SC_S3_ERROR_BODY_MAX          (64u << 10)   /* bytes of an error answer kept */
#define SC_S3_LIST_PAGES_MAX          (1u << 22)    /* pages of one listing (1000 keys each) */
#define SC_S3_ENDPOINT_MAX            512
#define SC_S3_REGION_MAX              64
#define SC_S3_KEY_ID_MAX              256           /* access key id, secret */
#define SC_S3_TOKEN_MAX               4096          /* session token */
#define SC_S3_RECV_BUFFER             (512u << 10)  /* libcurl receive buffer per request */
#define SC_S3_SEND_BUFFER             (2u << 20)    /* libcurl upload buffer per request */
#define SC_S3_CLOSE_ABORT_MS          5000          /* time close() gives to aborting open uploads */
#define SC_S3_TEXT_MAX                (64u << 10)   /* bytes of a URL, canonical request, header */

/* ---- locations ---- */

/* An "s3://BUCKET[/PREFIX]" location. */
struct sc_s3_loc {
	char bucket[SC_S3_BUCKET_MAX + 1];  /* validated bucket name */
	char prefix[SC_S3_KEY_MAX + 1];     /* key prefix without leading or trailing '/'; may be "" */
};

/* 1 when s starts with "s3://" (a location, not a local path). */
int sc_s3_is_location(const char *s);
/*
 * Parse "s3://BUCKET[/PREFIX[/]]". Repeated and trailing slashes of the
 * prefix are dropped; "." and ".." segments are refused (they would not
 * name what a local path would). 0, or SC_EUSAGE with a message in err.
 */
int sc_s3_location_parse(const char *s, struct sc_s3_loc *loc, char *err, size_t errlen);
/*
 * The key of name under loc ("PREFIX/name", or "name" with no prefix) into
 * buf. 0 or SC_ELIMIT when longer than SC_S3_KEY_MAX.
 */
int sc_s3_location_key(const struct sc_s3_loc *loc, const char *name, char *buf, size_t n);
/*
 * The bucket and key of name under location s (loc, key[keylen]) and,
 * where obj is not NULL, its display form "s3://BUCKET/KEY" (obj[objlen]).
 * 0; as sc_s3_location_parse() where s is not a valid location; SC_ELIMIT
 * when the key or the display form does not fit, err saying
 * "WHAT 'S': key of 'NAME' too long" (what: "set", "node", ...).
 */
int sc_s3_location_object(const char *s, const char *what, const char *name,
			  struct sc_s3_loc *loc, char *key, size_t keylen, char *obj,
			  size_t objlen, char *err, size_t errlen);

/* ---- configuration ---- */

enum sc_s3_addressing {
	SC_S3_ADDR_AUTO = 0,    /* virtual-host for AWS endpoints and DNS-safe buckets, else path */
	SC_S3_ADDR_PATH = 1,    /* http://endpoint/bucket/key */
	SC_S3_ADDR_VIRTUAL = 2, /* http://bucket.endpoint/key */
};

struct sc_s3_config {
	char endpoint[SC_S3_ENDPOINT_MAX];   /* "http[s]://host[:port]"; "" = AWS for region */
	char region[SC_S3_REGION_MAX];       /* signing region, default "us-east-1" */
	char access_key[SC_S3_KEY_ID_MAX];   /* "" with secret_key "": unsigned (anonymous) requests */
	char secret_key[SC_S3_KEY_ID_MAX];
	char session_token[SC_S3_TOKEN_MAX]; /* temporary credentials, "" when none */
	char ca_file[1024];                  /* CA bundle for https, "" = system default */
	enum sc_s3_addressing addressing;
	uint32_t inflight_max;               /* HTTP requests in flight, 1..SC_S3_INFLIGHT_MAX */
	uint32_t retries_max;                /* retries of one request, 0..SC_S3_RETRIES_MAX */
	uint32_t retry_window_ms;            /* no retry starts after this (0: no limit) */
	uint32_t backoff_base_ms;            /* first backoff step, >= 1 */
	uint32_t backoff_max_ms;             /* cap of a step, >= backoff_base_ms */
	uint32_t connect_timeout_ms;         /* TCP+TLS connect, >= 1 */
	uint32_t low_speed_bytes;            /* bytes/s below which ... (0: no check) */
	uint32_t low_speed_time_s;           /* ... an attempt fails after this many s */
	uint32_t request_timeout_ms;         /* one attempt in all, >= 1 */
	uint64_t part_size;                  /* multipart part size */
	uint64_t multipart_threshold;        /* PUT bodies >= this use multipart, >= part_size */
};

/* Defaults from the limits above; no credentials, no endpoint (AWS). */
void sc_s3_config_init(struct sc_s3_config *c);
/*
 * sc_s3_config_init, then the AWS conventions from the environment:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_REGION (else AWS_DEFAULT_REGION, else us-east-1),
 * AWS_ENDPOINT_URL_S3 (else AWS_ENDPOINT_URL) and AWS_CA_BUNDLE.
 * 0, or SC_EUSAGE with a message (only one of the key pair set, a value
 * too long, a malformed endpoint).
 */
int sc_s3_config_from_env(struct sc_s3_config *c, char *err, size_t errlen);
/*
 * Set the endpoint explicitly (the --s3-endpoint flag), overriding the
 * environment. "" restores AWS's own. 0 or SC_EUSAGE with a message.
 */
int sc_s3_config_set_endpoint(struct sc_s3_config *c, const char *url, char *err,
			      size_t errlen);

/* ---- handle ---- */

struct sc_s3;

/*
 * Check c and set up a handle (no connection is made yet). 0, or
 * SC_EUSAGE for an out-of-range setting (message in err), -ENOMEM, or
 * SC_ECODEC when libcurl cannot be initialised.
 */
int sc_s3_open(const struct sc_s3_config *c, struct sc_s3 **out, char *err, size_t errlen);
/*
 * Cancel what is still running, abort multipart uploads already started
 * (best effort, at most SC_S3_CLOSE_ABORT_MS), close connections, free.
 * Accepts NULL.
 */
void sc_s3_close(struct sc_s3 *s);
/* The endpoint requests go to, e.g. "http://127.0.0.1:7480". */
const char *sc_s3_endpoint(const struct sc_s3 *s);

/* ---- operations ---- */

enum sc_s3_op {
	SC_S3_OP_GET = 1,
	SC_S3_OP_PUT = 2,
	SC_S3_OP_HEAD = 3,
	SC_S3_OP_DELETE = 4,
	SC_S3_OP_LIST = 5,
	SC_S3_OP_COPY = 6,
};

/* What S3 says about an object. */
struct sc_s3_obj {
	uint64_t size;               /* bytes of the whole object */
	char etag[SC_S3_ETAG_MAX];   /* as sent, quotes included; "" when none came */
};

/* A ranged read. Strings are copied at submit; buf is written until reaped. */
struct sc_s3_get_req {
	const char *bucket;
	const char *key;
	uint64_t off;                /* first byte */
	uint32_t len;                /* bytes wanted, 1..SC_S3_GET_MAX */
	void *buf;                   /* len bytes */
	const char *if_match;        /* ETag the object must still have (412 -> -ESTALE), or NULL */
	uint64_t tag;                /* returned in sc_s3_done */
};

/* A PUT body: memory when data != NULL, else len bytes of fd from off (pread). */
struct sc_s3_body {
	const void *data;
	int fd;
	uint64_t off;
	uint64_t len;                /* 0..SC_S3_OBJECT_SIZE_MAX */
};

/* A finished operation. */
struct sc_s3_done {
	uint64_t tag;                /* as submitted */
	enum sc_s3_op op;
	int64_t result;              /* GET: bytes read (short only at the object's end);
				      * PUT: bytes stored; HEAD, DELETE, COPY: 0; or < 0 */
	int http_status;             /* last HTTP status seen, 0 when none came */
	uint32_t attempts;           /* requests sent, retries included (uploads: all parts) */
	struct sc_s3_obj obj;        /* GET: whole size, ETag; PUT: ETag, size; HEAD: both;
				      * COPY: the copy's ETag (size 0: HEAD it) */
	char err[SC_S3_ERR_MAX];     /* message when result < 0, else "" */
};

/*
 * Submit an operation. 0 when queued; -EAGAIN when SC_S3_OPS_MAX
 * operations are outstanding (reap first); SC_EUSAGE (bad bucket name,
 * empty or overlong key, len 0 or over SC_S3_GET_MAX, NULL buf, PUT body
 * over SC_S3_OBJECT_SIZE_MAX); -ENOMEM. Failures of the operation itself
 * come back through sc_s3_reap(). A PUT of multipart_threshold bytes or
 * more runs as a multipart upload (parts in parallel, aborted if a part
 * fails for good); HEAD and DELETE report a missing object as -ENOENT
 * (DELETE of a missing key succeeds on most stores).
 */
int sc_s3_submit_get(struct sc_s3 *s, const struct sc_s3_get_req *r);
int sc_s3_submit_put(struct sc_s3 *s, const char *bucket, const char *key,
		     const struct sc_s3_body *body, uint64_t tag);
int sc_s3_submit_head(struct sc_s3 *s, const char *bucket, const char *key, uint64_t tag);
int sc_s3_submit_delete(struct sc_s3 *s, const char *bucket, const char *key, uint64_t tag);
/*
 * Server-side copy of src_bucket/src_key to bucket/key (CopyObject: a PUT
 * with x-amz-copy-source, signed; no bytes go through the client). The
 * store may answer 200 and still report a failure in the body (an <Error>
 * document): that is a failure here too. A missing source is -ENOENT.
 * One CopyObject copies at most SC_S3_COPY_SIZE_MAX bytes (the store
 * refuses more: UploadPartCopy, which this client does not do); callers
 * that know the size check it first.
 */
int sc_s3_submit_copy(struct sc_s3 *s, const char *src_bucket, const char *src_key,
		      const char *bucket, const char *key, uint64_t tag);

/*
 * Run the queue and collect up to max finished operations into out, in
 * completion order. timeout_ms < 0 waits until at least one is finished
 * (or none is outstanding), 0 only makes progress, > 0 waits at most that
 * long. Returns the number collected (0 when none finished or none is
 * outstanding), or -EINVAL for max 0.
 */
int sc_s3_reap(struct sc_s3 *s, struct sc_s3_done *out, unsigned max, int timeout_ms);
/* Operations submitted and not yet reaped. */
uint32_t sc_s3_pending(const struct sc_s3 *s);

/*
 * Synchronous forms: submit, run until this operation is done, return
 * its result (GET: bytes read; others 0) or negative with the message in
 * err. info (may be NULL) receives sc_s3_done.obj.
 */
int64_t sc_s3_get(struct sc_s3 *s, const char *bucket, const char *key, uint64_t off,
		  uint32_t len, void *buf, const char *if_match, struct sc_s3_obj *info,
		  char *err, size_t errlen);
int sc_s3_put(struct sc_s3 *s, const char *bucket, const char *key,
	      const struct sc_s3_body *body, struct sc_s3_obj *info, char *err, size_t errlen);
int sc_s3_head(struct sc_s3 *s, const char *bucket, const char *key, struct sc_s3_obj *info,
	       char *err, size_t errlen);
int sc_s3_delete(struct sc_s3 *s, const char *bucket, const char *key, char *err,
		 size_t errlen);
int sc_s3_copy(struct sc_s3 *s, const char *src_bucket, const char *src_key,
	       const char *bucket, const char *key, struct sc_s3_obj *info, char *err,
	       size_t errlen);

/* One listed object (strings valid during the callback only). */
struct sc_s3_entry {
	const char *key;             /* full key */
	uint64_t size;               /* bytes */
	const char *etag;            /* quotes included; "" when none */
};

/* Return 0 to go on; anything else stops the listing and is returned. */
typedef int (*sc_s3_entry_fn)(void *ctx, const struct sc_s3_entry *e);

/*
 * List the objects whose key starts with prefix ("" for all), in key
 * order, page by page (ListObjectsV2 with continuation tokens). Returns
 * the number of objects, the callback's non-zero value, or negative with
 * the message in err.
 */
int64_t sc_s3_list(struct sc_s3 *s, const char *bucket, const char *prefix,
		   sc_s3_entry_fn fn, void *ctx, char *err, size_t errlen);

/* Counters since open. */
struct sc_s3_stats {
	uint64_t requests;           /* HTTP requests sent (attempts) */
	uint64_t retries;            /* of which repeats after a transient failure */
	uint64_t connects;           /* new connections opened (the rest reused one) */
	uint64_t bytes_down;         /* body bytes received into caller buffers */
	uint64_t bytes_up;           /* body bytes sent */
	uint64_t ops_ok;             /* operations finished successfully */
	uint64_t ops_failed;         /* operations finished with an error */
};

void sc_s3_get_stats(const struct sc_s3 *s, struct sc_s3_stats *st);

#endif
