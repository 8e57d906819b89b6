/*
 * s3_smoke.c - the S3 client (io/s3.h) against a real S3 gateway: Ceph's
 * radosgw started by tools/ceph-up.sh (tests/ceph/run.sh sources its
 * s3.env: AWS_* variables and SC_S3_BUCKET).
 *
 *   s3_smoke basic          PUT/GET/HEAD/LIST/DELETE with every byte checked:
 *                           small and empty objects, keys that need encoding,
 *                           a multipart upload from a file, many ranged GETs
 *                           in flight over kept-alive connections, async
 *                           PUT/GET/DELETE batches, listings with
 *                           continuation, ranges at and past the end,
 *                           If-Match, and the errors: missing object (404),
 *                           missing bucket, wrong secret and unknown key
 *                           (403), each named in a clear message
 *   s3_smoke hung SECONDS   the gateway is frozen (SIGSTOP): a GET must fail
 *                           with a timeout naming the object within SECONDS
 *   s3_smoke down SECONDS   the gateway is gone: a GET must fail with a
 *                           refused connection naming the object and the
 *                           endpoint within SECONDS
 *
 * Prints one line per check and "s3_smoke: N passed, M failed" last; exits
 * 0 only when nothing failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_base.h"
#include "s3.h"

static int passed, failed;
static const char *bucket;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 56);
	}
}

static struct sc_s3 *open_client(const char *secret_override, const char *key_override,
				 void (*tune)(struct sc_s3_config *))
{
	struct sc_s3_config c;
	struct sc_s3 *s = NULL;
	char err[512];

	if (sc_s3_config_from_env(&c, err, sizeof(err))) {
		fprintf(stderr, "s3_smoke: %s\n", err);
		exit(1);
	}
	if (secret_override)
		snprintf(c.secret_key, sizeof(c.secret_key), "%s", secret_override);
	if (key_override)
		snprintf(c.access_key, sizeof(c.access_key), "%s", key_override);
	if (tune)
		tune(&c);
	if (sc_s3_open(&c, &s, err, sizeof(err))) {
		fprintf(stderr, "s3_smoke: %s\n", err);
		exit(1);
	}
	return s;
}

static void tune_multipart(struct sc_s3_config *c)
{
	c->part_size = 8u << 20;
	c->multipart_threshold = 16u << 20;
	c->inflight_max = 16;
}

static int contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

struct listed {
	int n;
	uint64_t bytes;
	int order_ok;
	char last[SC_S3_KEY_MAX + 1];
};

static int on_entry(void *ctx, const struct sc_s3_entry *e)
{
	struct listed *l = ctx;

	if (l->n && strcmp(l->last, e->key) >= 0)
		l->order_ok = 0;
	snprintf(l->last, sizeof(l->last), "%s", e->key);
	l->n++;
	l->bytes += e->size;
	return 0;
}

static void basic_small(struct sc_s3 *s)
{
	static const char *const keys[] = {
		"smoke/plain.bin",
		"smoke/sp ace+plus$dollar~tilde(paren)&amp=eq;semi,comma/\xc3\xa9t\xc3\xa9",
		"smoke/deep/a/b/c/d/e/f/g.zst",
	};
	unsigned char data[70000], got[80000];
	struct sc_s3_obj info, head;
	char err[SC_S3_ERR_MAX];
	int64_t n;

	for (size_t i = 0; i < SC_ARRAY_LEN(keys); i++) {
		struct sc_s3_body b = { data, -1, 0, sizeof(data) };
		int rc;

		fill(data, sizeof(data), 1 + i);
		rc = sc_s3_put(s, bucket, keys[i], &b, &info, err, sizeof(err));
		check(rc == 0 && info.etag[0], "PUT '%s' (%zu bytes)%s%s", keys[i], sizeof(data),
		      rc ? ": " : "", rc ? err : "");
		rc = sc_s3_head(s, bucket, keys[i], &head, err, sizeof(err));
		check(rc == 0 && head.size == sizeof(data) && strcmp(head.etag, info.etag) == 0,
		      "HEAD '%s': size %" PRIu64 ", ETag %s", keys[i], head.size, head.etag);
		memset(got, 0, sizeof(got));
		n = sc_s3_get(s, bucket, keys[i], 0, sizeof(got), got, NULL, NULL, err, sizeof(err));
		check(n == (int64_t)sizeof(data) && memcmp(got, data, sizeof(data)) == 0,
		      "GET '%s' whole: %" PRId64 " bytes equal", keys[i], n);
	}
	/* ranges: inside, the tail (short), past the end, with If-Match */
	n = sc_s3_get(s, bucket, keys[0], 12345, 1000, got, NULL, &head, err, sizeof(err));
	fill(data, sizeof(data), 1);
	check(n == 1000 && memcmp(got, data + 12345, 1000) == 0 && head.size == sizeof(data),
	      "GET bytes 12345-13344: equal, object size %" PRIu64, head.size);
	n = sc_s3_get(s, bucket, keys[0], sizeof(data) - 100, 1000, got, NULL, NULL, err, sizeof(err));
	check(n == 100 && memcmp(got, data + sizeof(data) - 100, 100) == 0,
	      "GET a range over the end: the last 100 bytes");
	n = sc_s3_get(s, bucket, keys[0], sizeof(data), 10, got, NULL, NULL, err, sizeof(err));
	check(n == 0, "GET a range past the end: 0 bytes (%" PRId64 "%s%s)", n, n < 0 ? ": " : "",
	      n < 0 ? err : "");
	{
		struct sc_s3_obj h0;

		sc_s3_head(s, bucket, keys[0], &h0, err, sizeof(err));
		n = sc_s3_get(s, bucket, keys[0], 0, 10, got, h0.etag, NULL, err, sizeof(err));
		check(n == 10, "GET with If-Match of the current ETag");
		n = sc_s3_get(s, bucket, keys[0], 0, 10, got, "\"0123456789abcdef0123456789abcdef\"", NULL,
			      err, sizeof(err));
		check(n == -ESTALE && contains(err, "HTTP 412"),
		      "GET with a stale If-Match: -ESTALE: %s", err);
	}
	/* empty object */
	{
		struct sc_s3_body b = { "", -1, 0, 0 };
		int rc = sc_s3_put(s, bucket, "smoke/empty", &b, NULL, err, sizeof(err));

		check(rc == 0 && sc_s3_head(s, bucket, "smoke/empty", &head, err, sizeof(err)) == 0 &&
			      head.size == 0,
		      "PUT and HEAD an empty object");
	}
	for (size_t i = 0; i < SC_ARRAY_LEN(keys); i++)
		sc_s3_delete(s, bucket, keys[i], err, sizeof(err));
	sc_s3_delete(s, bucket, "smoke/empty", err, sizeof(err));
	check(sc_s3_head(s, bucket, keys[1], &head, err, sizeof(err)) == -ENOENT,
	      "DELETE, then HEAD: -ENOENT: %s", err);
}

static void basic_multipart(void)
{
	const size_t len = (40u << 20) + 4321; /* 6 parts of 8 MiB */
	unsigned char *data = malloc(len), *got = malloc(len);
	char path[] = "/tmp/s3_smoke.XXXXXX", err[SC_S3_ERR_MAX];
	struct sc_s3 *s = open_client(NULL, NULL, tune_multipart);
	struct sc_s3_obj info, head;
	struct sc_s3_stats st;
	int fd = mkstemp(path);
	double t0;
	int rc;

	if (!data || !got || fd < 0) {
		check(0, "multipart: set-up (memory or temporary file)");
		goto out;
	}
	unlink(path);
	fill(data, len, 99);
	if (write(fd, data, len) != (ssize_t)len) {
		check(0, "multipart: writing the temporary file");
		goto out;
	}
	t0 = now_s();
	{
		struct sc_s3_body b = { NULL, fd, 0, len };

		rc = sc_s3_put(s, bucket, "smoke/multipart.bin", &b, &info, err, sizeof(err));
	}
	check(rc == 0 && contains(info.etag, "-6"), "multipart PUT of %zu bytes from a file "
	      "(6 parts) in %.2f s, ETag %s%s%s", len, now_s() - t0, info.etag, rc ? ": " : "",
	      rc ? err : "");
	rc = sc_s3_head(s, bucket, "smoke/multipart.bin", &head, err, sizeof(err));
	check(rc == 0 && head.size == len, "HEAD after multipart: %" PRIu64 " bytes", head.size);

	/* 64 ranged GETs of 1 MiB at scattered offsets, 16 in flight, each into its own buffer */
	{
		enum { NGET = 64, CHUNK = 1 << 20 };
		unsigned char *gbuf = malloc((size_t)NGET * CHUNK);
		struct sc_s3_done d[16];
		uint64_t offs[NGET];
		int done = 0, bad = 0;

		if (!gbuf) {
			check(0, "64 ranged GETs: out of memory");
			goto out;
		}
		t0 = now_s();
		for (int i = 0; i < NGET; i++) {
			struct sc_s3_get_req r;

			offs[i] = ((uint64_t)((i * 37) % 39) << 20) + (uint64_t)i * 13;
			r = (struct sc_s3_get_req){ bucket, "smoke/multipart.bin", offs[i], CHUNK,
						    gbuf + (size_t)i * CHUNK, NULL, (uint64_t)i };
			if (sc_s3_submit_get(s, &r))
				bad++;
		}
		while (done < NGET - bad) {
			int n = sc_s3_reap(s, d, 16, -1);

			if (n <= 0)
				break;
			for (int i = 0; i < n; i++) {
				int t = (int)d[i].tag;

				if (d[i].result != CHUNK ||
				    memcmp(gbuf + (size_t)t * CHUNK, data + offs[t], CHUNK) != 0) {
					bad++;
					fprintf(stderr, "get %d: %" PRId64 " %s\n", t, d[i].result, d[i].err);
				}
			}
			done += n;
		}
		free(gbuf);
		sc_s3_get_stats(s, &st);
		check(bad == 0 && done == NGET,
		      "64 ranged GETs of 1 MiB, 16 in flight: all equal (%.0f MB/s)",
		      (double)NGET * CHUNK / 1e6 / (now_s() - t0));
		check(st.connects <= 16 + 2,
		      "connections kept alive and reused (%" PRIu64 " opened for %" PRIu64 " requests)",
		      st.connects, st.requests);
	}
	/* multipart from memory, with async submission */
	{
		struct sc_s3_body b = { data, -1, 0, len };
		struct sc_s3_done d;

		int k;

		memset(&d, 0, sizeof(d));
		rc = sc_s3_submit_put(s, bucket, "smoke/multipart-mem.bin", &b, 5);
		k = rc == 0 ? sc_s3_reap(s, &d, 1, -1) : 0;
		check(k == 1 && d.tag == 5 && d.result == (int64_t)len && contains(d.obj.etag, "-6"),
		      "async multipart PUT from memory: %" PRId64 " bytes, ETag %s%s%s", d.result,
		      d.obj.etag, d.result < 0 ? ": " : "", d.result < 0 ? d.err : "");
		memset(got, 0, len);
		check(sc_s3_get(s, bucket, "smoke/multipart-mem.bin", 0, (uint32_t)len, got, NULL, NULL, err,
				sizeof(err)) == (int64_t)len && memcmp(got, data, len) == 0,
		      "GET it back whole: equal");
	}
	sc_s3_delete(s, bucket, "smoke/multipart.bin", err, sizeof(err));
	sc_s3_delete(s, bucket, "smoke/multipart-mem.bin", err, sizeof(err));
out:
	if (fd >= 0)
		close(fd);
	sc_s3_close(s);
	free(data);
	free(got);
}

static void basic_batch(struct sc_s3 *s)
{
	enum { NOBJ = 40, SIZE = 256 << 10 };
	static unsigned char data[NOBJ][SIZE], got[NOBJ][SIZE];
	struct sc_s3_done d[16];
	struct listed l = { 0, 0, 1, "" };
	char key[64], err[SC_S3_ERR_MAX];
	int done = 0, bad = 0;
	int64_t n;

	for (int i = 0; i < NOBJ; i++) {
		struct sc_s3_body b = { data[i], -1, 0, SIZE };

		fill(data[i], SIZE, 1000 + (uint64_t)i);
		snprintf(key, sizeof(key), "smoke/batch/%03d", i);
		if (sc_s3_submit_put(s, bucket, key, &b, (uint64_t)i))
			bad++;
	}
	while (done < NOBJ - bad) {
		int k = sc_s3_reap(s, d, 16, -1);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++)
			if (d[i].result != SIZE) {
				bad++;
				fprintf(stderr, "put: %s\n", d[i].err);
			}
		done += k;
	}
	check(bad == 0 && done == NOBJ, "%d async PUTs of 256 KiB", NOBJ);
	n = sc_s3_list(s, bucket, "smoke/batch/", on_entry, &l, err, sizeof(err));
	check(n == NOBJ && l.n == NOBJ && l.bytes == (uint64_t)NOBJ * SIZE && l.order_ok,
	      "LIST smoke/batch/: %" PRId64 " objects, %" PRIu64 " bytes, in key order%s%s", n, l.bytes,
	      n < 0 ? ": " : "", n < 0 ? err : "");
	done = bad = 0;
	for (int i = 0; i < NOBJ; i++) {
		struct sc_s3_get_req r;

		snprintf(key, sizeof(key), "smoke/batch/%03d", i);
		r = (struct sc_s3_get_req){ bucket, key, 0, SIZE, got[i], NULL, (uint64_t)i };
		if (sc_s3_submit_get(s, &r))
			bad++;
	}
	while (done < NOBJ - bad) {
		int k = sc_s3_reap(s, d, 16, -1);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++)
			if (d[i].result != SIZE || memcmp(got[d[i].tag], data[d[i].tag], SIZE))
				bad++;
		done += k;
	}
	check(bad == 0 && done == NOBJ, "%d async GETs: all equal", NOBJ);
	done = bad = 0;
	for (int i = 0; i < NOBJ; i++) {
		snprintf(key, sizeof(key), "smoke/batch/%03d", i);
		if (sc_s3_submit_delete(s, bucket, key, (uint64_t)i))
			bad++;
	}
	while (done < NOBJ - bad) {
		int k = sc_s3_reap(s, d, 16, -1);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++)
			if (d[i].result != 0)
				bad++;
		done += k;
	}
	n = sc_s3_list(s, bucket, "smoke/batch/", NULL, NULL, err, sizeof(err));
	check(bad == 0 && n == 0, "%d async DELETEs, then LIST: %" PRId64 " left", NOBJ, n);
}

static void basic_errors(struct sc_s3 *s)
{
	char err[SC_S3_ERR_MAX], want[256], buf[128];
	struct sc_s3 *bad;
	int64_t n;
	double t0;

	t0 = now_s();
	n = sc_s3_get(s, bucket, "smoke/missing", 0, 100, buf, NULL, NULL, err, sizeof(err));
	snprintf(want, sizeof(want), "object 's3://%s/smoke/missing': GET bytes 0-99: HTTP 404 NoSuchKey",
		 bucket);
	check(n == -ENOENT && contains(err, want) && !contains(err, "attempts") && now_s() - t0 < 2,
	      "missing object: -ENOENT at once, not retried: %s", err);
	n = sc_s3_head(s, bucket, "smoke/missing", NULL, err, sizeof(err));
	check(n == -ENOENT && contains(err, "HEAD: HTTP 404"), "HEAD of a missing object: %s", err);
	n = sc_s3_get(s, "no-such-bucket-here", "k", 0, 100, buf, NULL, NULL, err, sizeof(err));
	check(n == -ENOENT && contains(err, "NoSuchBucket"), "missing bucket: %s", err);
	n = sc_s3_list(s, "no-such-bucket-here", "", NULL, NULL, err, sizeof(err));
	check(n == -ENOENT && contains(err, "listing 's3://no-such-bucket-here/'"), "LIST of a missing bucket: %s", err);

	bad = open_client("wrong-secret-wrong-secret-wrong-secret00", NULL, NULL);
	t0 = now_s();
	n = sc_s3_get(bad, bucket, "smoke/anything", 0, 100, buf, NULL, NULL, err, sizeof(err));
	snprintf(want, sizeof(want), "object 's3://%s/smoke/anything': GET bytes 0-99: HTTP 403 SignatureDoesNotMatch",
		 bucket);
	check(n == -EACCES && contains(err, want) && now_s() - t0 < 2,
	      "wrong secret: -EACCES at once: %s", err);
	{
		struct sc_s3_body b = { "x", -1, 0, 1 };
		int rc = sc_s3_put(bad, bucket, "smoke/denied", &b, NULL, err, sizeof(err));

		check(rc == -EACCES && contains(err, "PUT (1 bytes): HTTP 403"), "PUT with a wrong secret: %s", err);
	}
	sc_s3_close(bad);
	bad = open_client(NULL, "AKIAUNKNOWNUNKNOWN00", NULL);
	n = sc_s3_get(bad, bucket, "smoke/anything", 0, 100, buf, NULL, NULL, err, sizeof(err));
	check(n == -EACCES && contains(err, "HTTP 403 InvalidAccessKeyId"), "unknown access key: %s", err);
	sc_s3_close(bad);
}

static int run_basic(void)
{
	struct sc_s3 *s = open_client(NULL, NULL, NULL);
	struct sc_s3_stats st;

	printf("s3_smoke: endpoint %s, bucket %s\n", sc_s3_endpoint(s), bucket);
	basic_small(s);
	basic_batch(s);
	basic_errors(s);
	sc_s3_get_stats(s, &st);
	printf("s3_smoke: %" PRIu64 " requests, %" PRIu64 " retries, %" PRIu64 " connections, %" PRIu64
	       " bytes down, %" PRIu64 " bytes up\n",
	       st.requests, st.retries, st.connects, st.bytes_down, st.bytes_up);
	sc_s3_close(s);
	basic_multipart();
	return 0;
}

static void tune_fast_fail(struct sc_s3_config *c)
{
	c->connect_timeout_ms = 2000;
	c->low_speed_bytes = 1;
	c->low_speed_time_s = 2;
	c->request_timeout_ms = 5000;
	c->retries_max = 2;
	c->backoff_base_ms = 100;
	c->backoff_max_ms = 400;
}

/* gateway frozen or gone: a clear error naming the object, within bound seconds */
static int run_unreachable(int hung, double bound)
{
	struct sc_s3 *s = open_client(NULL, NULL, tune_fast_fail);
	char err[SC_S3_ERR_MAX], want[256], buf[64];
	double t0 = now_s(), el;
	int64_t n;
	int want_err = hung ? -ETIMEDOUT : -ECONNREFUSED;

	n = sc_s3_get(s, bucket, "smoke/unreachable", 0, 64, buf, NULL, NULL, err, sizeof(err));
	el = now_s() - t0;
	snprintf(want, sizeof(want), "object 's3://%s/smoke/unreachable': GET bytes 0-63: %s %s", bucket,
		 hung ? "timed out talking to" : "cannot connect to", sc_s3_endpoint(s));
	check(n == want_err && contains(err, want) && contains(err, "after 3 attempts"),
	      "gateway %s: %s (%s)", hung ? "frozen" : "stopped", err, sc_strerror((int)n));
	check(el < bound, "gateway %s: the error came after %.1f s (bound %.0f s)", hung ? "frozen" : "stopped",
	      el, bound);
	sc_s3_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "basic";

	bucket = getenv("SC_S3_BUCKET");
	if (!bucket || !*bucket) {
		fprintf(stderr, "s3_smoke: SC_S3_BUCKET is not set (source the s3.env of tools/ceph-up.sh)\n");
		return 1;
	}
	if (strcmp(mode, "basic") == 0)
		run_basic();
	else if ((strcmp(mode, "hung") == 0 || strcmp(mode, "down") == 0) && argc > 2)
		run_unreachable(strcmp(mode, "hung") == 0, atof(argv[2]));
	else {
		fprintf(stderr, "usage: s3_smoke basic | hung SECONDS | down SECONDS\n");
		return 2;
	}
	printf("s3_smoke: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
