/*
 * test_s3.c - unit tests for the S3 client (io/s3.c) and its protocol text
 * (io/s3_wire.c).
 *
 * Without a network: AWS Signature V4 against the four examples AWS
 * publishes for S3 (GET object with a Range, PUT object, GET bucket
 * lifecycle, list objects: canonical request, string to sign, signature),
 * URI and query encoding, endpoints, request targets (path-style and
 * virtual-host), s3:// locations, XML errors and listings, the retry
 * policy, backoff bounds, errno mapping and configuration from the
 * environment.
 *
 * Against tests/unit/fake_s3.py, a small S3 look-alike on 127.0.0.1 that
 * checks every signature itself and misbehaves on purpose for some key
 * prefixes: round trips, ranges, many requests in flight over kept-alive
 * connections, retries of 503/resets, no retries of 403/404, timeouts of
 * stalled and hung answers, refused connections, multipart uploads (from
 * memory and from a file) with part failure and abort, 200-with-error
 * completion, If-Match, listings with continuation, the asynchronous
 * queue and closing with work pending. Where python3 cannot be run these
 * tests skip loudly.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sc_base.h"
#include "s3.h"
#include "s3_wire.h"
#include "fake_s3.h"
#include "test_util.h"

#define EX_AK "AKIAIOSFODNN7EXAMPLE"
#define EX_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EX_DATE "20130524T000000Z"
#define EX_HOST "examplebucket.s3.amazonaws.com"

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Signature V4: AWS's published S3 examples ---- */

static void sign_check(const struct sc_s3_sign_in *in, const char *want_cr,
		       const char *want_sts, const char *want_sig, const char *want_auth)
{
	struct sc_s3_sign_out o;

	sc_s3_sign_init(&o);
	assert_int_equal(sc_s3_sign_v4(in, &o), 0);
	assert_string_equal(o.canonical_request.data, want_cr);
	assert_string_equal(o.string_to_sign.data, want_sts);
	assert_string_equal(o.signature, want_sig);
	assert_string_equal(o.authorization.data, want_auth);
	sc_s3_sign_release(&o);
}

static void test_sigv4_get_object(void **state)
{
	struct sc_s3_header h[] = {
		{ "Host", EX_HOST },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256", SC_S3_EMPTY_SHA256 },
		{ "x-amz-date", EX_DATE },
	};
	struct sc_s3_sign_in in = {
		.method = "GET", .path = "/test.txt", .query = "", .headers = h,
		.nheaders = 4, .payload_hash = SC_S3_EMPTY_SHA256, .amz_date = EX_DATE,
		.region = "us-east-1", .service = "s3", .access_key = EX_AK, .secret_key = EX_SK,
	};

	(void)state;
	sign_check(&in,
		   "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
		   "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		   "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
		   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		   "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		   "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
		   "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
		   "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
		   "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_sigv4_put_object(void **state)
{
	static const char body[] = "Welcome to Amazon S3.";
	char hash[SC_S3_SHA256_HEX];
	struct sc_buf path;
	struct sc_s3_header h[5];
	struct sc_s3_sign_in in;

	(void)state;
	assert_int_equal(sc_s3_sha256_hex(body, strlen(body), hash), 0);
	assert_string_equal(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	/* the key "test$file.text" as the client encodes it */
	sc_buf_init(&path, 1024);
	assert_int_equal(sc_s3_uri_encode("/test$file.text", 15, 1, &path), 0);
	assert_string_equal(path.data, "/test%24file.text");
	/* given out of order and in mixed case: the signer sorts and lowercases */
	h[0] = (struct sc_s3_header){ "x-amz-storage-class", "REDUCED_REDUNDANCY" };
	h[1] = (struct sc_s3_header){ "Date", "Fri, 24 May 2013 00:00:00 GMT" };
	h[2] = (struct sc_s3_header){ "X-Amz-Date", EX_DATE };
	h[3] = (struct sc_s3_header){ "host", EX_HOST };
	h[4] = (struct sc_s3_header){ "x-amz-content-sha256", hash };
	in = (struct sc_s3_sign_in){
		.method = "PUT", .path = path.data, .query = "", .headers = h, .nheaders = 5,
		.payload_hash = hash, .amz_date = EX_DATE, .region = "us-east-1", .service = "s3",
		.access_key = EX_AK, .secret_key = EX_SK,
	};
	sign_check(&in,
		   "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
		   "host:examplebucket.s3.amazonaws.com\n"
		   "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
		   "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
		   "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
		   "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
		   "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		   "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
		   "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
		   "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
		   "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	sc_buf_release(&path);
}

static void test_sigv4_bucket_queries(void **state)
{
	struct sc_s3_header h[] = {
		{ "host", EX_HOST },
		{ "x-amz-content-sha256", SC_S3_EMPTY_SHA256 },
		{ "x-amz-date", EX_DATE },
	};
	struct sc_s3_param lifecycle = { "lifecycle", NULL };
	struct sc_s3_param list[] = { { "prefix", "J" }, { "max-keys", "2" } };
	struct sc_buf q;
	struct sc_s3_sign_in in = {
		.method = "GET", .path = "/", .headers = h, .nheaders = 3,
		.payload_hash = SC_S3_EMPTY_SHA256, .amz_date = EX_DATE, .region = "us-east-1",
		.service = "s3", .access_key = EX_AK, .secret_key = EX_SK,
	};

	(void)state;
	sc_buf_init(&q, 1024);
	/* GET ?lifecycle */
	assert_int_equal(sc_s3_query_build(&lifecycle, 1, &q), 0);
	assert_string_equal(q.data, "lifecycle=");
	in.query = q.data;
	sign_check(&in,
		   "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
		   "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		   "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
		   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		   "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		   "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
		   "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
		   "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
		   "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	/* GET ?max-keys=2&prefix=J, parameters given unsorted */
	assert_int_equal(sc_s3_query_build(list, 2, &q), 0);
	assert_string_equal(q.data, "max-keys=2&prefix=J");
	in.query = q.data;
	sign_check(&in,
		   "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
		   "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		   "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
		   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		   "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		   "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
		   "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
		   "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
		   "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	sc_buf_release(&q);
}

static void test_sigv4_canonical_headers(void **state)
{
	struct sc_s3_header h[] = {
		{ "X-Amz-Meta-B", "  two   words\there  " },
		{ "x-amz-meta-a", "1" },
		{ "x-amz-meta-a", "2" },
		{ "host", "h" },
		{ "x-amz-date", EX_DATE },
	};
	struct sc_s3_sign_in in = {
		.method = "GET", .path = "/", .query = "", .headers = h, .nheaders = 5,
		.payload_hash = SC_S3_UNSIGNED_PAYLOAD, .amz_date = EX_DATE, .region = "eu-west-1",
		.service = "s3", .access_key = "A", .secret_key = "S",
	};
	struct sc_s3_sign_out o;
	struct sc_s3_header bad = { "bad name", "x" };

	(void)state;
	sc_s3_sign_init(&o);
	assert_int_equal(sc_s3_sign_v4(&in, &o), 0);
	assert_string_equal(o.canonical_request.data,
			    "GET\n/\n\nhost:h\nx-amz-date:20130524T000000Z\nx-amz-meta-a:1,2\n"
			    "x-amz-meta-b:two words here\n\n"
			    "host;x-amz-date;x-amz-meta-a;x-amz-meta-b\nUNSIGNED-PAYLOAD");
	assert_non_null(strstr(o.authorization.data, "/20130524/eu-west-1/s3/aws4_request,"));
	assert_int_equal(strlen(o.signature), 64);
	/* malformed inputs are refused, not signed */
	in.amz_date = "2013-05-24";
	assert_int_equal(sc_s3_sign_v4(&in, &o), SC_EUSAGE);
	in.amz_date = EX_DATE;
	in.headers = &bad;
	in.nheaders = 1;
	assert_int_equal(sc_s3_sign_v4(&in, &o), SC_EUSAGE);
	in.headers = h;
	in.nheaders = 5;
	in.secret_key = NULL;
	assert_int_equal(sc_s3_sign_v4(&in, &o), SC_EUSAGE);
	sc_s3_sign_release(&o);
}

static void test_amz_date(void **state)
{
	char d[SC_S3_AMZ_DATE_LEN];

	(void)state;
	assert_int_equal(sc_s3_amz_date((time_t)1369353600, d), 0); /* 2013-05-24 00:00:00 UTC */
	assert_string_equal(d, EX_DATE);
	assert_int_equal(sc_s3_amz_date((time_t)0, d), 0);
	assert_string_equal(d, "19700101T000000Z");
}

/* ---- encoding ---- */

static void test_uri_encode(void **state)
{
	struct sc_buf b;
	static const char in[] = "a/b c+d$e~f_g.h-i*j%k\xe2\x82\xac\x01";

	(void)state;
	sc_buf_init(&b, 1024);
	assert_int_equal(sc_s3_uri_encode(in, strlen(in), 1, &b), 0);
	assert_string_equal(b.data, "a/b%20c%2Bd%24e~f_g.h-i%2Aj%25k%E2%82%AC%01");
	b.len = 0;
	assert_int_equal(sc_s3_uri_encode(in, strlen(in), 0, &b), 0);
	assert_string_equal(b.data, "a%2Fb%20c%2Bd%24e~f_g.h-i%2Aj%25k%E2%82%AC%01");
	b.len = 0;
	assert_int_equal(sc_s3_uri_encode("", 0, 0, &b), 0);
	assert_string_equal(b.data, "");
	/* a cap is a cap */
	sc_buf_release(&b);
	sc_buf_init(&b, 8);
	assert_int_equal(sc_s3_uri_encode("\xff\xff\xff", 3, 0, &b), SC_ELIMIT);
	sc_buf_release(&b);
}

static void test_query_build(void **state)
{
	struct sc_s3_param p[] = {
		{ "uploadId", "a b/c+d" },
		{ "partNumber", "7" },
		{ "continuation-token", "1/x=y&z" },
		{ "uploads", "" },
		{ "Zed", NULL },
	};
	struct sc_s3_param many[40];
	struct sc_s3_param noname = { "", "x" };
	struct sc_buf q;

	(void)state;
	sc_buf_init(&q, 4096);
	assert_int_equal(sc_s3_query_build(p, 5, &q), 0);
	/* sorted by encoded name, byte order: uppercase before lowercase */
	assert_string_equal(q.data, "Zed=&continuation-token=1%2Fx%3Dy%26z&partNumber=7&"
				    "uploadId=a%20b%2Fc%2Bd&uploads=");
	assert_int_equal(sc_s3_query_build(p, 0, &q), 0);
	assert_string_equal(q.data, "");
	for (int i = 0; i < 40; i++)
		many[i] = (struct sc_s3_param){ "k", "v" };
	assert_int_equal(sc_s3_query_build(many, 40, &q), SC_ELIMIT);
	assert_int_equal(sc_s3_query_build(&noname, 1, &q), SC_EUSAGE);
	sc_buf_release(&q);
}

/* ---- endpoints, targets, locations ---- */

static void test_endpoint_parse(void **state)
{
	struct sc_s3_endpoint ep;
	char err[256];

	(void)state;
	assert_int_equal(sc_s3_endpoint_parse("http://127.0.0.1:7480", &ep, err, sizeof(err)), 0);
	assert_int_equal(ep.https, 0);
	assert_string_equal(ep.host, "127.0.0.1");
	assert_int_equal(ep.port, 7480);
	assert_string_equal(ep.authority, "127.0.0.1:7480");
	assert_string_equal(ep.base, "");
	assert_false(sc_s3_endpoint_is_aws(&ep));

	assert_int_equal(sc_s3_endpoint_parse("https://s3.eu-west-1.amazonaws.com/", &ep, err, sizeof(err)), 0);
	assert_int_equal(ep.https, 1);
	assert_int_equal(ep.port, 0);
	assert_string_equal(ep.authority, "s3.eu-west-1.amazonaws.com");
	assert_true(sc_s3_endpoint_is_aws(&ep));

	assert_int_equal(sc_s3_endpoint_parse("http://[::1]:9000/minio/", &ep, err, sizeof(err)), 0);
	assert_string_equal(ep.host, "[::1]");
	assert_string_equal(ep.authority, "[::1]:9000");
	assert_string_equal(ep.base, "/minio");

	assert_int_equal(sc_s3_endpoint_parse("http://notamazonaws.com", &ep, err, sizeof(err)), 0);
	assert_false(sc_s3_endpoint_is_aws(&ep));

	assert_int_equal(sc_s3_endpoint_parse("127.0.0.1:7480", &ep, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "http:// or https://"));
	assert_int_equal(sc_s3_endpoint_parse("http://u:p@host", &ep, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "credentials"));
	assert_int_equal(sc_s3_endpoint_parse("http://host:0", &ep, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_endpoint_parse("http://host:70000", &ep, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_endpoint_parse("http://host:12x", &ep, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_endpoint_parse("http://host/?a=b", &ep, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_endpoint_parse("http://", &ep, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_endpoint_parse("http://[::1", &ep, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_endpoint_parse("", &ep, err, sizeof(err)), SC_EUSAGE);
}

static void test_target_build(void **state)
{
	struct sc_s3_endpoint ep;
	struct sc_s3_target t;

	(void)state;
	sc_s3_target_init(&t);
	assert_int_equal(sc_s3_endpoint_parse("http://127.0.0.1:7480", &ep, NULL, 0), 0);
	assert_int_equal(sc_s3_target_build(&ep, 0, "bkt", "set/a b+c.zst", "", &t), 0);
	assert_string_equal(t.url.data, "http://127.0.0.1:7480/bkt/set/a%20b%2Bc.zst");
	assert_string_equal(t.host.data, "127.0.0.1:7480");
	assert_string_equal(t.path.data, "/bkt/set/a%20b%2Bc.zst");
	/* bucket operation with a query */
	assert_int_equal(sc_s3_target_build(&ep, 0, "bkt", "", "list-type=2&prefix=a%2F", &t), 0);
	assert_string_equal(t.url.data, "http://127.0.0.1:7480/bkt?list-type=2&prefix=a%2F");
	assert_string_equal(t.path.data, "/bkt");
	/* virtual host */
	assert_int_equal(sc_s3_endpoint_parse("https://s3.us-east-1.amazonaws.com", &ep, NULL, 0), 0);
	assert_int_equal(sc_s3_target_build(&ep, 1, "examplebucket", "test.txt", "", &t), 0);
	assert_string_equal(t.url.data, "https://examplebucket.s3.us-east-1.amazonaws.com/test.txt");
	assert_string_equal(t.host.data, "examplebucket.s3.us-east-1.amazonaws.com");
	assert_string_equal(t.path.data, "/test.txt");
	assert_int_equal(sc_s3_target_build(&ep, 1, "examplebucket", "", "lifecycle=", &t), 0);
	assert_string_equal(t.url.data, "https://examplebucket.s3.us-east-1.amazonaws.com/?lifecycle=");
	assert_string_equal(t.path.data, "/");
	/* an endpoint with a base path */
	assert_int_equal(sc_s3_endpoint_parse("http://gw:80/s3/", &ep, NULL, 0), 0);
	assert_int_equal(sc_s3_target_build(&ep, 0, "b-1", "k", "", &t), 0);
	assert_string_equal(t.url.data, "http://gw:80/s3/b-1/k");
	assert_string_equal(t.host.data, "gw:80");
	assert_string_equal(t.path.data, "/s3/b-1/k");
	assert_int_equal(sc_s3_target_build(&ep, 0, "", "k", "", &t), SC_EUSAGE);
	sc_s3_target_release(&t);

	assert_true(sc_s3_bucket_dns_ok("my-bucket-1"));
	assert_false(sc_s3_bucket_dns_ok("my.bucket"));
	assert_false(sc_s3_bucket_dns_ok("-abc"));
	assert_false(sc_s3_bucket_dns_ok("ab"));
	assert_false(sc_s3_bucket_dns_ok("Abc"));
}

static void test_location_parse(void **state)
{
	struct sc_s3_loc l;
	char err[256], key[SC_S3_KEY_MAX + 1];
	char longp[SC_S3_KEY_MAX + 64];

	(void)state;
	assert_true(sc_s3_is_location("s3://b"));
	assert_false(sc_s3_is_location("/mnt/s3://b"));
	assert_false(sc_s3_is_location(NULL));

	assert_int_equal(sc_s3_location_parse("s3://shards", &l, err, sizeof(err)), 0);
	assert_string_equal(l.bucket, "shards");
	assert_string_equal(l.prefix, "");
	assert_int_equal(sc_s3_location_key(&l, "g000001/000000.zst", key, sizeof(key)), 0);
	assert_string_equal(key, "g000001/000000.zst");

	assert_int_equal(sc_s3_location_parse("s3://shards/", &l, err, sizeof(err)), 0);
	assert_string_equal(l.prefix, "");
	assert_int_equal(sc_s3_location_parse("s3://my.bucket_1//a//b c/", &l, err, sizeof(err)), 0);
	assert_string_equal(l.bucket, "my.bucket_1");
	assert_string_equal(l.prefix, "a/b c");
	assert_int_equal(sc_s3_location_key(&l, "x", key, sizeof(key)), 0);
	assert_string_equal(key, "a/b c/x");
	assert_int_equal(sc_s3_location_parse("s3://b-1/set:2", &l, err, sizeof(err)), 0);
	assert_string_equal(l.prefix, "set:2");

	assert_int_equal(sc_s3_location_parse("/local/path", &l, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "s3://"));
	assert_int_equal(sc_s3_location_parse("s3://", &l, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "missing bucket"));
	assert_int_equal(sc_s3_location_parse("s3:///x", &l, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_location_parse("s3://Bad_Bucket/x", &l, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "Bad_Bucket"));
	assert_int_equal(sc_s3_location_parse("s3://ab/x", &l, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_location_parse("s3://b-1/a/../x", &l, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "'..'"));
	assert_int_equal(sc_s3_location_parse("s3://b-1/a/./x", &l, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_location_parse("s3://b-1/a\nb", &l, err, sizeof(err)), SC_EUSAGE);
	memcpy(longp, "s3://b-1/", 9);
	memset(longp + 9, 'p', sizeof(longp) - 10);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(sc_s3_location_parse(longp, &l, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "prefix longer"));

	/* key overflow */
	assert_int_equal(sc_s3_location_parse("s3://b-1/p", &l, err, sizeof(err)), 0);
	memset(longp, 'n', SC_S3_KEY_MAX);
	longp[SC_S3_KEY_MAX] = '\0';
	assert_int_equal(sc_s3_location_key(&l, longp, key, sizeof(key)), SC_ELIMIT);
}

/* ---- XML ---- */

static void test_xml_error(void **state)
{
	struct sc_s3_xml_error e;
	static const char aws[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
		"<Message>The resource you requested does not exist</Message>"
		"<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>";
	static const char rgw[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>"
		"<BucketName>bkt</BucketName><RequestId>tx00000a-b-default</RequestId>"
		"<HostId>1-default-default</HostId></Error>";
	static const char ents[] = "<Error><Code>X</Code><Message>a &lt;b&gt; &amp; &#x263A;&#65;\x01</Message></Error>";
	static const char list[] = "<ListBucketResult><Code>NoSuchKey</Code></ListBucketResult>";

	(void)state;
	assert_int_equal(sc_s3_xml_error_parse(aws, strlen(aws), &e), 1);
	assert_string_equal(e.code, "NoSuchKey");
	assert_string_equal(e.message, "The resource you requested does not exist");
	assert_string_equal(e.request_id, "4442587FB7D0A2F9");
	assert_int_equal(sc_s3_xml_error_parse(rgw, strlen(rgw), &e), 1);
	assert_string_equal(e.code, "SignatureDoesNotMatch");
	assert_string_equal(e.message, "");
	assert_string_equal(e.request_id, "tx00000a-b-default");
	assert_int_equal(sc_s3_xml_error_parse(ents, strlen(ents), &e), 1);
	assert_string_equal(e.message, "a <b> & \xe2\x98\xba" "A?");
	assert_int_equal(sc_s3_xml_error_parse(list, strlen(list), &e), 0);
	assert_string_equal(e.code, "");
	assert_int_equal(sc_s3_xml_error_parse("", 0, &e), 0);
	assert_int_equal(sc_s3_xml_error_parse(NULL, 0, &e), 0);
	assert_int_equal(sc_s3_xml_error_parse("<html>503</html>", 16, &e), 0);
	/* truncated body: still an error document, fields as far as they go */
	assert_int_equal(sc_s3_xml_error_parse(aws, 60, &e), 1);
	assert_string_equal(e.code, "");
}

static void test_xml_text(void **state)
{
	static const char x[] = "<a><KeyCount>3</KeyCount><Key attr=\"1\">k&amp;1</Key><Empty/>"
				"<Bad>&bogus;</Bad><Nested><Key>in</Key></Nested><Open>x</a>";
	struct sc_buf b;

	(void)state;
	sc_buf_init(&b, 1024);
	assert_int_equal(sc_s3_xml_text(x, strlen(x), "Key", &b), 1);
	assert_string_equal(b.data, "k&1");
	assert_int_equal(sc_s3_xml_text(x, strlen(x), "KeyCount", &b), 1);
	assert_string_equal(b.data, "3");
	assert_int_equal(sc_s3_xml_text(x, strlen(x), "Empty", &b), 1);
	assert_string_equal(b.data, "");
	assert_int_equal(sc_s3_xml_text(x, strlen(x), "Missing", &b), 0);
	assert_int_equal(sc_s3_xml_text(x, strlen(x), "Bad", &b), SC_EFORMAT);
	assert_int_equal(sc_s3_xml_text(x, strlen(x), "Nested", &b), SC_EFORMAT);
	assert_int_equal(sc_s3_xml_text(x, strlen(x), "Open", &b), SC_EFORMAT);
	assert_int_equal(sc_s3_xml_text("<a>&#0;</a>", 11, "a", &b), SC_EFORMAT);
	assert_int_equal(sc_s3_xml_text("<a>&#xD800;</a>", 15, "a", &b), SC_EFORMAT);
	assert_int_equal(sc_s3_xml_text("<a>&#12", 7, "a", &b), SC_EFORMAT);
	sc_buf_release(&b);
}

struct list_seen {
	int n;
	char keys[8][64];
	uint64_t sizes[8];
	int stop_at;
};

static int list_collect(void *ctx, const struct sc_s3_entry *e)
{
	struct list_seen *ls = ctx;

	if (ls->n < 8) {
		snprintf(ls->keys[ls->n], sizeof(ls->keys[0]), "%s", e->key);
		ls->sizes[ls->n] = e->size;
	}
	ls->n++;
	return ls->stop_at && ls->n == ls->stop_at ? 42 : 0;
}

static void test_xml_list(void **state)
{
	static const char page[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>bkt</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
		"<IsTruncated>true</IsTruncated>"
		"<Contents><Key>p/a&amp;b</Key><LastModified>x</LastModified>"
		"<ETag>&quot;abc&quot;</ETag><Size>12</Size></Contents>"
		"<Contents><Key>p/c</Key><Size>0</Size></Contents>"
		"<NextContinuationToken>tok/1+</NextContinuationToken></ListBucketResult>";
	static const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
	static const char nokey[] = "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>";
	static const char badsize[] = "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>";
	static const char notoken[] = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
	struct list_seen ls = { 0 };
	struct sc_buf tok;
	int trunc = -1;

	(void)state;
	sc_buf_init(&tok, 4096);
	assert_int_equal(sc_s3_xml_list_parse(page, strlen(page), list_collect, &ls, &trunc, &tok), 2);
	assert_int_equal(ls.n, 2);
	assert_string_equal(ls.keys[0], "p/a&b");
	assert_int_equal(ls.sizes[0], 12);
	assert_string_equal(ls.keys[1], "p/c");
	assert_int_equal(trunc, 1);
	assert_string_equal(tok.data, "tok/1+");
	assert_int_equal(sc_s3_xml_list_parse(last, strlen(last), list_collect, &ls, &trunc, &tok), 0);
	assert_int_equal(trunc, 0);
	assert_string_equal(tok.data, "");
	memset(&ls, 0, sizeof(ls));
	ls.stop_at = 1;
	assert_int_equal(sc_s3_xml_list_parse(page, strlen(page), list_collect, &ls, &trunc, &tok), 42);
	assert_int_equal(sc_s3_xml_list_parse(nokey, strlen(nokey), NULL, NULL, &trunc, &tok), SC_EFORMAT);
	assert_int_equal(sc_s3_xml_list_parse(badsize, strlen(badsize), NULL, NULL, &trunc, &tok), SC_EFORMAT);
	assert_int_equal(sc_s3_xml_list_parse(notoken, strlen(notoken), NULL, NULL, &trunc, &tok), SC_EFORMAT);
	assert_int_equal(sc_s3_xml_list_parse("<Error/>", 8, NULL, NULL, &trunc, &tok), SC_EFORMAT);
	sc_buf_release(&tok);
}

static void test_xml_complete_body(void **state)
{
	char tags[2][SC_S3_ETAG_MAX] = { "\"a1\"", "\"b<2\"" };
	struct sc_buf b;

	(void)state;
	sc_buf_init(&b, 4096);
	assert_int_equal(sc_s3_xml_complete_body((const char (*)[SC_S3_ETAG_MAX])tags, 2, &b), 0);
	assert_string_equal(b.data,
			    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			    "<Part><PartNumber>1</PartNumber><ETag>\"a1\"</ETag></Part>"
			    "<Part><PartNumber>2</PartNumber><ETag>\"b&lt;2\"</ETag></Part>"
			    "</CompleteMultipartUpload>");
	sc_buf_release(&b);
}

/* ---- retry policy ---- */

static void test_retry_policy(void **state)
{
	(void)state;
	/* transient */
	assert_true(sc_s3_retryable(500, "InternalError", -EIO));
	assert_true(sc_s3_retryable(502, "", -EIO));
	assert_true(sc_s3_retryable(503, "SlowDown", -EAGAIN));
	assert_true(sc_s3_retryable(503, NULL, -EIO));
	assert_true(sc_s3_retryable(504, NULL, -EIO));
	assert_true(sc_s3_retryable(429, NULL, -EAGAIN));
	assert_true(sc_s3_retryable(400, "RequestTimeout", -EINVAL));
	assert_true(sc_s3_retryable(409, "OperationAborted", -EBUSY));
	assert_true(sc_s3_retryable(0, NULL, -ETIMEDOUT));
	assert_true(sc_s3_retryable(0, NULL, -ECONNRESET));
	assert_true(sc_s3_retryable(0, NULL, -ECONNREFUSED));
	assert_true(sc_s3_retryable(0, NULL, -EPIPE));
	/* final */
	assert_false(sc_s3_retryable(403, "AccessDenied", -EACCES));
	assert_false(sc_s3_retryable(403, "SignatureDoesNotMatch", -EACCES));
	assert_false(sc_s3_retryable(403, "RequestTimeTooSkewed", -EACCES));
	assert_false(sc_s3_retryable(404, "NoSuchKey", -ENOENT));
	assert_false(sc_s3_retryable(404, NULL, -ENOENT));
	assert_false(sc_s3_retryable(400, "InvalidArgument", -EINVAL));
	assert_false(sc_s3_retryable(412, NULL, -ESTALE));
	assert_false(sc_s3_retryable(416, "InvalidRange", -ERANGE));
	assert_false(sc_s3_retryable(0, NULL, -EPROTO));
	assert_false(sc_s3_retryable(0, NULL, SC_EUSAGE));
	assert_false(sc_s3_retryable(0, NULL, -ENOMEM));
	assert_false(sc_s3_retryable(501, NULL, -EOPNOTSUPP));
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(sc_s3_backoff_ms(0, 100, 5000, 7), 0);
	rng_state = 12345;
	for (int i = 0; i < 2000; i++) {
		uint32_t r = 1 + (uint32_t)(rng() % 12);
		uint64_t step = 100;
		uint32_t d;

		for (uint32_t k = 1; k < r; k++)
			step *= 2;
		if (step > 5000)
			step = 5000;
		d = sc_s3_backoff_ms(r, 100, 5000, rng());
		assert_true(d >= step / 2);
		assert_true(d <= step);
	}
	/* huge retry numbers do not overflow */
	assert_true(sc_s3_backoff_ms(1000, 100, 600000, UINT64_MAX) <= 600000);
	assert_true(sc_s3_backoff_ms(3, 0, 1, 5) <= 1);
}

static void test_http_errno(void **state)
{
	(void)state;
	assert_int_equal(sc_s3_http_errno(404, "NoSuchKey"), -ENOENT);
	assert_int_equal(sc_s3_http_errno(404, ""), -ENOENT);
	assert_int_equal(sc_s3_http_errno(403, "AccessDenied"), -EACCES);
	assert_int_equal(sc_s3_http_errno(403, "InvalidAccessKeyId"), -EACCES);
	assert_int_equal(sc_s3_http_errno(412, "PreconditionFailed"), -ESTALE);
	assert_int_equal(sc_s3_http_errno(416, "InvalidRange"), -ERANGE);
	assert_int_equal(sc_s3_http_errno(400, "BadDigest"), SC_ECORRUPT);
	assert_int_equal(sc_s3_http_errno(400, "EntityTooLarge"), SC_ELIMIT);
	assert_int_equal(sc_s3_http_errno(403, "QuotaExceeded"), -ENOSPC);
	assert_int_equal(sc_s3_http_errno(503, "SlowDown"), -EAGAIN);
	assert_int_equal(sc_s3_http_errno(503, NULL), -EIO);
	assert_int_equal(sc_s3_http_errno(500, "InternalError"), -EIO);
	assert_int_equal(sc_s3_http_errno(200, "NoSuchUpload"), -ENOENT);
	assert_int_equal(sc_s3_http_errno(418, NULL), -EPROTO);
}

/* ---- configuration ---- */

static void clear_aws_env(void)
{
	static const char *const v[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE",
		"AWS_MAX_ATTEMPTS",
	};

	for (size_t i = 0; i < SC_ARRAY_LEN(v); i++)
		unsetenv(v[i]);
}

static void test_config_env(void **state)
{
	struct sc_s3_config c;
	struct sc_s3 *s = NULL;
	char err[256];

	(void)state;
	clear_aws_env();
	assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.region, "us-east-1");
	assert_string_equal(c.endpoint, "");
	assert_string_equal(c.access_key, "");
	assert_int_equal(c.inflight_max, SC_S3_INFLIGHT_DEFAULT);
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), 0);
	assert_string_equal(sc_s3_endpoint(s), "https://s3.us-east-1.amazonaws.com");
	sc_s3_close(s);

	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	setenv("AWS_SESSION_TOKEN", "TOK", 1);
	setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7480", 1);
	assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key, "AK");
	assert_string_equal(c.secret_key, "SK");
	assert_string_equal(c.session_token, "TOK");
	assert_string_equal(c.region, "eu-central-1");
	assert_string_equal(c.endpoint, "http://127.0.0.1:7480");
	/* AWS_REGION beats AWS_DEFAULT_REGION; the S3-specific endpoint beats the general one */
	setenv("AWS_REGION", "ap-south-1", 1);
	setenv("AWS_ENDPOINT_URL_S3", "https://minio.local:9000", 1);
	assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.region, "ap-south-1");
	assert_string_equal(c.endpoint, "https://minio.local:9000");
	/* the flag beats both */
	assert_int_equal(sc_s3_config_set_endpoint(&c, "http://10.0.0.1:80", err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "http://10.0.0.1:80");
	assert_int_equal(sc_s3_config_set_endpoint(&c, "ftp://x", err, sizeof(err)), SC_EUSAGE);
	assert_string_equal(c.endpoint, "http://10.0.0.1:80");
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), 0);
	assert_string_equal(sc_s3_endpoint(s), "http://10.0.0.1:80");
	sc_s3_close(s);
	setenv("AWS_ENDPOINT_URL_S3", "nonsense", 1);
	assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "nonsense"));
	clear_aws_env();

	/* AWS_MAX_ATTEMPTS counts the first attempt, as the AWS SDKs do */
	assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.retries_max, SC_S3_RETRIES_DEFAULT);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.retries_max, 0);
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.retries_max, 2);
	static const char *const bad_attempts[] = { "0", "-1", "x", "3x", "22", "99999999999999999999" };
	for (size_t i = 0; i < SC_ARRAY_LEN(bad_attempts); i++) {
		setenv("AWS_MAX_ATTEMPTS", bad_attempts[i], 1);
		assert_int_equal(sc_s3_config_from_env(&c, err, sizeof(err)), SC_EUSAGE);
		assert_non_null(strstr(err, "AWS_MAX_ATTEMPTS"));
	}
	clear_aws_env();

	/* out-of-range settings are refused at open with the field named */
	sc_s3_config_init(&c);
	c.inflight_max = 0;
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "inflight_max"));
	assert_null(s);
	sc_s3_config_init(&c);
	c.part_size = 1 << 20;
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "part_size"));
	sc_s3_config_init(&c);
	c.multipart_threshold = c.part_size - 1;
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), SC_EUSAGE);
	sc_s3_config_init(&c);
	snprintf(c.access_key, sizeof(c.access_key), "only-one");
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), SC_EUSAGE);
	sc_s3_close(NULL);
}

/* ---- against the fake server ---- */

static struct fake_s3 fake = FAKE_S3_INIT;

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	clear_aws_env();
	return fake_s3_start(&fake, "sc-s3-test");
}

static int group_teardown(void **state)
{
	(void)state;
	fake_s3_stop(&fake);
	return 0;
}

#define NEED_FAKE() FAKE_S3_NEED(&fake)

static struct sc_s3 *fake_open(uint32_t inflight, uint32_t retries, const char *secret)
{
	struct sc_s3_config c;
	struct sc_s3 *s = NULL;
	char err[256];

	sc_s3_config_init(&c);
	snprintf(c.endpoint, sizeof(c.endpoint), "http://127.0.0.1:%d", fake.port);
	snprintf(c.access_key, sizeof(c.access_key), "%s", FAKE_S3_AK);
	snprintf(c.secret_key, sizeof(c.secret_key), "%s", secret ? secret : FAKE_S3_SK);
	c.inflight_max = inflight;
	c.retries_max = retries;
	c.backoff_base_ms = 10;
	c.backoff_max_ms = 50;
	c.part_size = SC_S3_PART_SIZE_MIN;
	c.multipart_threshold = SC_S3_PART_SIZE_MIN * 2;
	if (sc_s3_open(&c, &s, err, sizeof(err)) != 0)
		fail_msg("open: %s", err);
	return s;
}

/* counters of the fake server (GET /_stats, unsigned) */
static long fake_stat(const char *name)
{
	char cmd[512], buf[512];
	FILE *p;
	long v = -1;

	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,urllib.request;"
		 "print(json.load(urllib.request.urlopen(\"http://127.0.0.1:%d/_stats\"))[\"%s\"])'",
		 fake.port, name);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(buf, sizeof(buf), p))
		v = strtol(buf, NULL, 10);
	pclose(p);
	return v;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	rng_state = seed | 1;
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(rng() >> 56);
}

static void test_fake_roundtrip(void **state)
{
	static const char key[] = "dir/a b+c$~\xc3\xa9.bin";
	unsigned char data[10000], got[12000];
	struct sc_s3_body body = { data, -1, 0, sizeof(data) };
	struct sc_s3_obj info, head;
	struct sc_s3 *s;
	char err[SC_S3_ERR_MAX];
	int64_t n;

	(void)state;
	NEED_FAKE();
	s = fake_open(4, 2, NULL);
	fill(data, sizeof(data), 1);
	assert_int_equal(sc_s3_put(s, "bkt", key, &body, &info, err, sizeof(err)), 0);
	assert_int_equal(info.size, sizeof(data));
	assert_int_equal(strlen(info.etag), 34); /* "md5hex" */
	assert_int_equal(sc_s3_head(s, "bkt", key, &head, err, sizeof(err)), 0);
	assert_int_equal(head.size, sizeof(data));
	assert_string_equal(head.etag, info.etag);
	/* ranges: middle, tail (short), past the end (EOF), whole */
	n = sc_s3_get(s, "bkt", key, 100, 1000, got, info.etag, &head, err, sizeof(err));
	assert_int_equal(n, 1000);
	assert_memory_equal(got, data + 100, 1000);
	assert_int_equal(head.size, sizeof(data));
	n = sc_s3_get(s, "bkt", key, 9000, 5000, got, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, 1000);
	assert_memory_equal(got, data + 9000, 1000);
	n = sc_s3_get(s, "bkt", key, 10000, 10, got, NULL, &head, err, sizeof(err));
	assert_int_equal(n, 0);
	assert_int_equal(head.size, sizeof(data));
	n = sc_s3_get(s, "bkt", key, 0, sizeof(got), got, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, sizeof(data));
	assert_memory_equal(got, data, sizeof(data));
	/* an empty object */
	body.len = 0;
	assert_int_equal(sc_s3_put(s, "bkt", "empty", &body, NULL, err, sizeof(err)), 0);
	assert_int_equal(sc_s3_head(s, "bkt", "empty", &head, err, sizeof(err)), 0);
	assert_int_equal(head.size, 0);
	/* delete, then it is gone */
	assert_int_equal(sc_s3_delete(s, "bkt", key, err, sizeof(err)), 0);
	assert_int_equal(sc_s3_head(s, "bkt", key, &head, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "HEAD"));
	assert_non_null(strstr(err, "HTTP 404"));
	/* bad arguments are refused before any request */
	assert_int_equal(sc_s3_get(s, "bkt", "", 0, 1, got, NULL, NULL, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_get(s, "BK", "k", 0, 1, got, NULL, NULL, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3_get(s, "bkt", "k", 0, 0, got, NULL, NULL, err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(fake_stat("bad_signatures"), 0);
	sc_s3_close(s);
}

static void test_fake_errors(void **state)
{
	struct sc_s3 *s;
	char err[SC_S3_ERR_MAX], buf[64];
	struct sc_s3_body body = { "hello", -1, 0, 5 };
	struct sc_s3_obj info;
	struct sc_s3_done d;
	struct sc_s3_get_req r = { "bkt", "missing/x.zst", 0, 10, buf, NULL, 7 };
	int64_t n;

	(void)state;
	NEED_FAKE();
	s = fake_open(4, 2, NULL);
	/* 404: no retry, the object and the S3 code named */
	assert_int_equal(sc_s3_submit_get(s, &r), 0);
	assert_int_equal(sc_s3_reap(s, &d, 1, -1), 1);
	assert_int_equal(d.tag, 7);
	assert_int_equal(d.op, SC_S3_OP_GET);
	assert_int_equal(d.result, -ENOENT);
	assert_int_equal(d.http_status, 404);
	assert_int_equal(d.attempts, 1);
	assert_string_equal(d.err, "object 's3://bkt/missing/x.zst': GET bytes 0-9: HTTP 404 NoSuchKey: "
				   "The specified key does not exist");
	/* a missing bucket */
	n = sc_s3_get(s, "nobucket", "k", 0, 10, buf, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, -ENOENT);
	assert_non_null(strstr(err, "NoSuchBucket"));
	/* If-Match that no longer holds */
	assert_int_equal(sc_s3_put(s, "bkt", "v", &body, &info, err, sizeof(err)), 0);
	n = sc_s3_get(s, "bkt", "v", 0, 5, buf, "\"0000\"", NULL, err, sizeof(err));
	assert_int_equal(n, -ESTALE);
	assert_non_null(strstr(err, "412 PreconditionFailed"));
	n = sc_s3_get(s, "bkt", "v", 0, 5, buf, info.etag, NULL, err, sizeof(err));
	assert_int_equal(n, 5);
	/* a server that ignores Range: fine from offset 0 (cut at len), refused elsewhere */
	assert_int_equal(sc_s3_put(s, "bkt", "ignorerange/o", &body, NULL, err, sizeof(err)), 0);
	n = sc_s3_get(s, "bkt", "ignorerange/o", 0, 3, buf, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "hel", 3);
	n = sc_s3_get(s, "bkt", "ignorerange/o", 1, 3, buf, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, -EPROTO);
	assert_non_null(strstr(err, "ignored the Range"));
	/* a PUT answered without an ETag is still stored; the ETag is just "" */
	assert_int_equal(sc_s3_put(s, "bkt", "noetag/o", &body, &info, err, sizeof(err)), 0);
	assert_string_equal(info.etag, "");
	sc_s3_close(s);

	/* wrong secret: 403 SignatureDoesNotMatch, not retried */
	s = fake_open(4, 3, "wrong");
	n = sc_s3_get(s, "bkt", "v", 0, 5, buf, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, -EACCES);
	assert_non_null(strstr(err, "object 's3://bkt/v': GET bytes 0-4: HTTP 403 SignatureDoesNotMatch"));
	assert_null(strstr(err, "attempts"));
	sc_s3_close(s);
}

static void test_fake_retries(void **state)
{
	struct sc_s3 *s;
	struct sc_s3_stats st;
	struct sc_s3_body body = { "0123456789", -1, 0, 10 };
	char err[SC_S3_ERR_MAX], buf[16];
	struct sc_s3_done d;
	struct sc_s3_get_req r = { "bkt", "err503x2/o", 0, 10, buf, NULL, 1 };
	int64_t n;

	(void)state;
	NEED_FAKE();
	s = fake_open(4, 3, NULL);
	/* two 503 SlowDown answers, then success: three attempts */
	assert_int_equal(sc_s3_put(s, "bkt", "err503x2/o", &body, NULL, err, sizeof(err)), 0);
	assert_int_equal(sc_s3_submit_get(s, &r), 0);
	assert_int_equal(sc_s3_reap(s, &d, 1, -1), 1);
	assert_int_equal(d.result, 10);
	assert_int_equal(d.attempts, 1); /* the key's two failures were spent on the PUT */
	/* a reset connection is retried */
	assert_int_equal(sc_s3_put(s, "bkt", "reset1/o", &body, NULL, err, sizeof(err)), 0);
	n = sc_s3_get(s, "bkt", "reset1/o", 0, 10, buf, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, 10);
	assert_memory_equal(buf, "0123456789", 10);
	/* always 500: retries_max + 1 attempts, then -EIO with the count in the message */
	n = sc_s3_get(s, "bkt", "err500/o", 0, 10, buf, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, -EIO);
	assert_non_null(strstr(err, "object 's3://bkt/err500/o': GET bytes 0-9: HTTP 500 InternalError: "
				    "We encountered an internal error (after 4 attempts in "));
	sc_s3_get_stats(s, &st);
	/* 2 + 3, and maybe 1 for the reset (libcurl itself resends a request
	 * whose reused connection closed before any answer) */
	assert_true(st.retries >= 2 + 3);
	assert_true(st.ops_failed >= 1);
	sc_s3_close(s);
}

static void test_fake_timeouts(void **state)
{
	struct sc_s3_config c;
	struct sc_s3 *s;
	char err[SC_S3_ERR_MAX], buf[64];
	struct sc_s3_body body = { "x", -1, 0, 1 };
	double t0, el;
	int64_t n;
	int fd;
	struct sockaddr_in a = { 0 };
	socklen_t al = sizeof(a);

	(void)state;
	NEED_FAKE();
	/* a stalled body: the low-speed limit ends each attempt after 1 s */
	sc_s3_config_init(&c);
	snprintf(c.endpoint, sizeof(c.endpoint), "http://127.0.0.1:%d", fake.port);
	snprintf(c.access_key, sizeof(c.access_key), FAKE_S3_AK);
	snprintf(c.secret_key, sizeof(c.secret_key), FAKE_S3_SK);
	c.retries_max = 1;
	c.backoff_base_ms = 10;
	c.backoff_max_ms = 20;
	c.low_speed_bytes = 1000;
	c.low_speed_time_s = 1;
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), 0);
	t0 = mono_s();
	n = sc_s3_get(s, "bkt", "stall/o", 0, 64, buf, NULL, NULL, err, sizeof(err));
	el = mono_s() - t0;
	assert_int_equal(n, -ETIMEDOUT);
	assert_non_null(strstr(err, "object 's3://bkt/stall/o': GET bytes 0-63: timed out talking to http://127.0.0.1:"));
	assert_non_null(strstr(err, "after 2 attempts"));
	assert_true(el >= 1.5 && el < 6.0);
	sc_s3_close(s);

	/* no answer at all: the total timeout of an attempt */
	c.low_speed_bytes = 0;
	c.low_speed_time_s = 0;
	c.request_timeout_ms = 400;
	c.retries_max = 1;
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), 0);
	t0 = mono_s();
	assert_int_equal(sc_s3_put(s, "bkt", "hang/o", &body, NULL, err, sizeof(err)), -ETIMEDOUT);
	el = mono_s() - t0;
	assert_non_null(strstr(err, "object 's3://bkt/hang/o': PUT (1 bytes): timed out"));
	assert_true(el >= 0.7 && el < 4.0);
	sc_s3_close(s);

	/* nobody listening: refused, retried, then a clear error quickly */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	sc_s3_config_init(&c);
	snprintf(c.endpoint, sizeof(c.endpoint), "http://127.0.0.1:%u", ntohs(a.sin_port));
	snprintf(c.access_key, sizeof(c.access_key), FAKE_S3_AK);
	snprintf(c.secret_key, sizeof(c.secret_key), FAKE_S3_SK);
	c.retries_max = 3;
	c.backoff_base_ms = 10;
	c.backoff_max_ms = 40;
	assert_int_equal(sc_s3_open(&c, &s, err, sizeof(err)), 0);
	t0 = mono_s();
	n = sc_s3_head(s, "bkt", "k", NULL, err, sizeof(err));
	el = mono_s() - t0;
	assert_int_equal(n, -ECONNREFUSED);
	assert_non_null(strstr(err, "object 's3://bkt/k': HEAD: cannot connect to http://127.0.0.1:"));
	assert_non_null(strstr(err, "after 4 attempts"));
	assert_true(el < 3.0);
	sc_s3_close(s);
}

static void test_fake_many_inflight(void **state)
{
	enum { NOBJ = 8, NGET = 96, CHUNK = 3000 };
	static unsigned char data[NOBJ][16384];
	static unsigned char got[NGET][CHUNK];
	struct sc_s3_done d[16];
	struct sc_s3_stats st;
	struct sc_s3 *s;
	char key[64], err[SC_S3_ERR_MAX];
	int seen[NGET] = { 0 };
	int done = 0;
	long conns0;

	(void)state;
	NEED_FAKE();
	s = fake_open(6, 2, NULL);
	/* PUTs submitted together */
	for (int i = 0; i < NOBJ; i++) {
		struct sc_s3_body b = { data[i], -1, 0, sizeof(data[i]) };

		fill(data[i], sizeof(data[i]), 100 + (uint64_t)i);
		snprintf(key, sizeof(key), "many/%02d", i);
		assert_int_equal(sc_s3_submit_put(s, "bkt", key, &b, 1000 + (uint64_t)i), 0);
	}
	assert_int_equal(sc_s3_pending(s), NOBJ);
	while (done < NOBJ) {
		int n = sc_s3_reap(s, d, 16, -1);

		assert_true(n > 0);
		for (int i = 0; i < n; i++) {
			assert_int_equal(d[i].op, SC_S3_OP_PUT);
			assert_int_equal(d[i].result, sizeof(data[0]));
			assert_true(d[i].tag >= 1000 && d[i].tag < 1000 + NOBJ);
		}
		done += n;
	}
	assert_int_equal(sc_s3_pending(s), 0);
	assert_int_equal(sc_s3_reap(s, d, 16, -1), 0); /* nothing outstanding: no wait */
	conns0 = fake_stat("connections");
	/* many ranged GETs, more than may be in flight; matched by tag */
	for (int i = 0; i < NGET; i++) {
		struct sc_s3_get_req r;

		snprintf(key, sizeof(key), "many/%02d", i % NOBJ);
		r = (struct sc_s3_get_req){ "bkt", key, (uint64_t)(i * 97 % 13000), CHUNK, got[i], NULL,
					    (uint64_t)i };
		assert_int_equal(sc_s3_submit_get(s, &r), 0);
	}
	done = 0;
	while (done < NGET) {
		int n = sc_s3_reap(s, d, 16, 5000);

		assert_true(n > 0);
		for (int i = 0; i < n; i++) {
			int t = (int)d[i].tag;

			assert_true(t >= 0 && t < NGET && !seen[t]);
			seen[t] = 1;
			assert_int_equal(d[i].result, CHUNK);
			assert_int_equal(d[i].obj.size, sizeof(data[0]));
			assert_memory_equal(got[t], data[t % NOBJ] + t * 97 % 13000, CHUNK);
		}
		done += n;
	}
	sc_s3_get_stats(s, &st);
	/* kept alive: at most one connection per slot, not one per request */
	assert_true(st.connects <= 6 + 2);
	assert_true(fake_stat("connections") - conns0 <= 6 + 1);
	assert_true(st.requests >= NOBJ + NGET);
	assert_int_equal(st.bytes_down, (uint64_t)NGET * CHUNK);
	(void)err;
	sc_s3_close(s);
}

static void test_fake_multipart(void **state)
{
	const size_t len = SC_S3_PART_SIZE_MIN * 2 + 12345; /* 3 parts */
	unsigned char *data = malloc(len), *got = malloc(len);
	char path[512], err[SC_S3_ERR_MAX];
	struct sc_s3_body mem = { data, -1, 0, len };
	struct sc_s3_obj info;
	struct sc_s3 *s;
	long aborts0;
	int fd;
	int64_t n;

	(void)state;
	NEED_FAKE();
	assert_non_null(data);
	assert_non_null(got);
	fill(data, len, 77);
	s = fake_open(4, 2, NULL);
	/* from memory */
	assert_int_equal(sc_s3_put(s, "bkt", "mp/mem", &mem, &info, err, sizeof(err)), 0);
	assert_int_equal(info.size, len);
	assert_non_null(strstr(info.etag, "-3\""));
	n = sc_s3_get(s, "bkt", "mp/mem", 0, (uint32_t)len, got, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, len);
	assert_memory_equal(got, data, len);
	/* from a file range (streamed, UNSIGNED-PAYLOAD), starting at an offset */
	snprintf(path, sizeof(path), "%s/body", fake.dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "pad", 3), 3);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	{
		struct sc_s3_body fb = { NULL, fd, 3, len };

		assert_int_equal(sc_s3_put(s, "bkt", "mp/file", &fb, &info, err, sizeof(err)), 0);
		memset(got, 0, len);
		n = sc_s3_get(s, "bkt", "mp/file", 0, (uint32_t)len, got, NULL, NULL, err, sizeof(err));
		assert_int_equal(n, len);
		assert_memory_equal(got, data, len);
		/* a single PUT from a file too */
		fb.len = 4096;
		assert_int_equal(sc_s3_put(s, "bkt", "file/small", &fb, &info, err, sizeof(err)), 0);
		n = sc_s3_get(s, "bkt", "file/small", 0, 4096, got, NULL, NULL, err, sizeof(err));
		assert_int_equal(n, 4096);
		assert_memory_equal(got, data, 4096);
		/* a file shorter than promised: a clear error, no hang */
		fb.len = len + 100;
		assert_true(sc_s3_put(s, "bkt", "mp/short", &fb, NULL, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "file ends early"));
	}
	close(fd);
	unlink(path);

	/* part 2 fails for good: the upload is aborted, the part named */
	aborts0 = fake_stat("aborts");
	assert_int_equal(sc_s3_put(s, "bkt", "partfail/x", &mem, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "object 's3://bkt/partfail/x': multipart upload: part 2 of 3"));
	assert_non_null(strstr(err, "HTTP 500 InternalError"));
	assert_int_equal(fake_stat("aborts"), aborts0 + 1);
	/* completion answered 200 with an error body */
	assert_int_equal(sc_s3_put(s, "bkt", "completeerr/x", &mem, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "complete (3 parts): HTTP 200 with error InvalidPart"));
	assert_int_equal(fake_stat("aborts"), aborts0 + 2);
	/* a part without an ETag cannot be completed */
	assert_int_equal(sc_s3_put(s, "bkt", "noetag/mp", &mem, NULL, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "without an ETag"));
	assert_int_equal(fake_stat("aborts"), aborts0 + 3);

	/* closing with an upload in flight aborts it */
	assert_int_equal(sc_s3_submit_put(s, "bkt", "slowparts/x", &mem, 9), 0);
	{
		struct sc_s3_done d;
		double t0;

		for (int i = 0; i < 20; i++) /* let it initiate and start its parts */
			assert_int_equal(sc_s3_reap(s, &d, 1, 20), 0);
		t0 = mono_s();
		sc_s3_close(s);
		assert_true(mono_s() - t0 < SC_S3_CLOSE_ABORT_MS / 1000.0 + 1);
	}
	assert_int_equal(fake_stat("aborts"), aborts0 + 4);
	free(data);
	free(got);
}

/* Server-side copy (CopyObject): signed x-amz-copy-source, 200-with-error
 * answers, missing sources, retries, the asynchronous form. */
static void test_fake_copy(void **state)
{
	static const char src[] = "cp/src a+b$~\xc3\xa9.zst";
	static const char dst[] = "cp/g000002/dst a+b\xc3\xa9.zst";
	unsigned char data[20000], got[20000];
	struct sc_s3_body body = { data, -1, 0, sizeof(data) };
	struct sc_s3_obj put, cp, head;
	struct sc_s3_done d;
	struct sc_s3 *s;
	char err[SC_S3_ERR_MAX];
	long copies0, bad0;
	int64_t n;

	(void)state;
	NEED_FAKE();
	s = fake_open(4, 2, NULL);
	fill(data, sizeof(data), 5);
	copies0 = fake_stat("copies");
	bad0 = fake_stat("bad_signatures");
	assert_int_equal(sc_s3_put(s, "bkt", src, &body, &put, err, sizeof(err)), 0);
	assert_int_equal(sc_s3_copy(s, "bkt", src, "bkt", dst, &cp, err, sizeof(err)), 0);
	assert_string_equal(cp.etag, put.etag);
	assert_int_equal(fake_stat("copies"), copies0 + 1);
	assert_int_equal(sc_s3_head(s, "bkt", dst, &head, err, sizeof(err)), 0);
	assert_int_equal(head.size, sizeof(data));
	n = sc_s3_get(s, "bkt", dst, 0, sizeof(got), got, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, sizeof(data));
	assert_memory_equal(got, data, sizeof(data));
	/* the source is still there */
	assert_int_equal(sc_s3_head(s, "bkt", src, &head, err, sizeof(err)), 0);
	/* a missing source: -ENOENT, both objects named, no retry */
	assert_int_equal(sc_s3_copy(s, "bkt", "cp/none", "bkt", "cp/x", NULL, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "object 's3://bkt/cp/x': COPY from 's3://bkt/cp/none': "
				    "HTTP 404 NoSuchKey"));
	assert_null(strstr(err, "attempts"));
	assert_int_equal(sc_s3_head(s, "bkt", "cp/x", &head, err, sizeof(err)), -ENOENT);
	/* 200 with an <Error> document: a failure (InternalError: retried) */
	assert_int_equal(sc_s3_copy(s, "bkt", src, "bkt", "copyerr/x", NULL, err, sizeof(err)),
			 -EIO);
	assert_non_null(strstr(err, "COPY from 's3://bkt/cp/src"));
	assert_non_null(strstr(err, "HTTP 200 with error InternalError"));
	assert_non_null(strstr(err, "after 3 attempts"));
	/* ... and with the <Error> deeper in the answer */
	assert_true(sc_s3_copy(s, "bkt", src, "bkt", "copydeep/x", NULL, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "HTTP 200 with error SlowDownCopy: copy failed late"));
	/* transient failures are retried like any request */
	assert_int_equal(sc_s3_copy(s, "bkt", src, "bkt", "err503x2/cp", NULL, err, sizeof(err)), 0);
	/* the asynchronous form */
	assert_int_equal(sc_s3_submit_copy(s, "bkt", src, "bkt", "cp/async", 42), 0);
	assert_int_equal(sc_s3_reap(s, &d, 1, -1), 1);
	assert_int_equal(d.tag, 42);
	assert_int_equal(d.op, SC_S3_OP_COPY);
	assert_int_equal(d.result, 0);
	assert_int_equal(d.http_status, 200);
	assert_string_equal(d.obj.etag, put.etag);
	n = sc_s3_get(s, "bkt", "cp/async", 0, sizeof(got), got, NULL, NULL, err, sizeof(err));
	assert_int_equal(n, sizeof(data));
	assert_memory_equal(got, data, sizeof(data));
	/* bad names are refused before any request */
	assert_int_equal(sc_s3_submit_copy(s, "bkt", "", "bkt", "k", 0), SC_EUSAGE);
	assert_int_equal(sc_s3_copy(s, "BAD", "k", "bkt", "k", NULL, err, sizeof(err)), SC_EUSAGE);
	/* the fake verified every signature, x-amz-copy-source included */
	assert_int_equal(fake_stat("bad_signatures"), bad0);
	sc_s3_close(s);

	/* a wrong secret: 403, not retried */
	s = fake_open(4, 3, "wrong");
	assert_int_equal(sc_s3_copy(s, "bkt", src, "bkt", "cp/y", NULL, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "HTTP 403 SignatureDoesNotMatch"));
	sc_s3_close(s);
}

static int count_cb(void *ctx, const struct sc_s3_entry *e)
{
	return list_collect(ctx, e);
}

static void test_fake_list(void **state)
{
	struct sc_s3 *s;
	struct sc_s3_body b = { "abc", -1, 0, 3 };
	struct list_seen ls = { 0 };
	char err[SC_S3_ERR_MAX], key[64];
	int64_t n;

	(void)state;
	NEED_FAKE();
	s = fake_open(2, 1, NULL);
	for (int i = 4; i >= 0; i--) {
		snprintf(key, sizeof(key), "ls/p/%d&<%d>", i, i);
		b.len = (uint64_t)i % 4;
		assert_int_equal(sc_s3_put(s, "bkt", key, &b, NULL, err, sizeof(err)), 0);
	}
	assert_int_equal(sc_s3_put(s, "bkt", "ls/q", &b, NULL, err, sizeof(err)), 0);
	/* pages of 2 keys: three pages, in key order, decoded */
	n = sc_s3_list(s, "bkt", "ls/p/", count_cb, &ls, err, sizeof(err));
	assert_int_equal(n, 5);
	assert_int_equal(ls.n, 5);
	assert_string_equal(ls.keys[0], "ls/p/0&<0>");
	assert_string_equal(ls.keys[4], "ls/p/4&<4>");
	assert_int_equal(ls.sizes[3], 3);
	assert_int_equal(ls.sizes[4], 0);
	n = sc_s3_list(s, "bkt", "ls/", NULL, NULL, err, sizeof(err));
	assert_int_equal(n, 6);
	n = sc_s3_list(s, "bkt", "nothing/", NULL, NULL, err, sizeof(err));
	assert_int_equal(n, 0);
	memset(&ls, 0, sizeof(ls));
	ls.stop_at = 3;
	n = sc_s3_list(s, "bkt", "ls/p/", count_cb, &ls, err, sizeof(err));
	assert_int_equal(n, 42);
	n = sc_s3_list(s, "nobucket", "", NULL, NULL, err, sizeof(err));
	assert_int_equal(n, -ENOENT);
	assert_non_null(strstr(err, "listing 's3://nobucket/': LIST: HTTP 404 NoSuchBucket"));
	sc_s3_close(s);
}

static void test_queue_limits(void **state)
{
	struct sc_s3 *s;
	static char buf[16];
	struct sc_s3_done d;
	int i;

	(void)state;
	NEED_FAKE();
	s = fake_open(2, 0, NULL);
	/* submissions queue without network traffic until a reap */
	for (i = 0; i < SC_S3_OPS_MAX; i++) {
		struct sc_s3_get_req r = { "bkt", "q/none", 0, 16, buf, NULL, (uint64_t)i };

		assert_int_equal(sc_s3_submit_get(s, &r), 0);
	}
	{
		struct sc_s3_get_req r = { "bkt", "q/none", 0, 16, buf, NULL, 0 };

		assert_int_equal(sc_s3_submit_get(s, &r), -EAGAIN);
		assert_int_equal(sc_s3_submit_head(s, "bkt", "q/none", 0), -EAGAIN);
	}
	assert_int_equal(sc_s3_pending(s), SC_S3_OPS_MAX);
	/* a little progress, then close with thousands pending: no leak, no hang */
	assert_true(sc_s3_reap(s, &d, 1, 0) >= 0);
	assert_int_equal(sc_s3_reap(s, &d, 0, 0), -EINVAL);
	sc_s3_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_get_object),
		cmocka_unit_test(test_sigv4_put_object),
		cmocka_unit_test(test_sigv4_bucket_queries),
		cmocka_unit_test(test_sigv4_canonical_headers),
		cmocka_unit_test(test_amz_date),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_query_build),
		cmocka_unit_test(test_endpoint_parse),
		cmocka_unit_test(test_target_build),
		cmocka_unit_test(test_location_parse),
		cmocka_unit_test(test_xml_error),
		cmocka_unit_test(test_xml_text),
		cmocka_unit_test(test_xml_list),
		cmocka_unit_test(test_xml_complete_body),
		cmocka_unit_test(test_retry_policy),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_http_errno),
		cmocka_unit_test(test_config_env),
		cmocka_unit_test(test_fake_roundtrip),
		cmocka_unit_test(test_fake_errors),
		cmocka_unit_test(test_fake_retries),
		cmocka_unit_test(test_fake_timeouts),
		cmocka_unit_test(test_fake_many_inflight),
		cmocka_unit_test(test_fake_multipart),
		cmocka_unit_test(test_fake_list),
		cmocka_unit_test(test_fake_copy),
		cmocka_unit_test(test_queue_limits),
	};

	if (getenv("S3_TEST_FILTER"))
		cmocka_set_test_filter(getenv("S3_TEST_FILTER"));
	return cmocka_run_group_tests_name("s3", tests, group_setup, group_teardown);
}
