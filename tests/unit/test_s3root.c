/*
 * test_s3root.c - a set root on S3 (store/s3root.h, docs/S3.md section 9).
 *
 * Without a network: the key and display name of a root-level object
 * (prefix normalisation, no prefix, refused and overlong roots).
 *
 * Against tests/unit/fake_s3.py on 127.0.0.1 (bucket "bkt"; SKIP where
 * python3 cannot run it), through the AWS environment variables as the
 * CLI and the library use them: whole-object reads in one GET and in two
 * (a 3 MiB object), the size bound, the manifest committed by
 * sc_set_commit_manifest and loaded back by sc_manifest_load and
 * sc_set_open, and the errors: missing object (SC_ENOTSET naming it),
 * missing bucket, corrupt object (SC_ECORRUPT naming it), a relative
 * node, an unreadable root (wrong secret). Maintenance of such a root
 * (store/maint.h): no lock, a commit refused (-EBUSY) when another writer
 * committed after the open, a local node refused, a dry run read-only.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_s3.h"
#include "maint.h"
#include "manifest.h"
#include "normalize.h"
#include "s3root.h"
#include "sc_base.h"
#include "set.h"
#include "shard.h"

#define SET_ID "00112233445566778899aabbccddeeff"

static void test_object_keys(void **state)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3ROOT_OBJ_MAX], err[256], root[1200];
	struct sc_s3_loc loc;

	(void)state;
	assert_true(sc_s3root_is("s3://bkt/p"));
	assert_false(sc_s3root_is("/data/s3://bkt"));
	assert_false(sc_s3root_is("set"));
	assert_false(sc_s3root_is(NULL));

	assert_int_equal(sc_s3root_object("s3://bkt/corpus/set", SC_MANIFEST_NAME, &loc, key,
					  sizeof(key), obj, sizeof(obj), err, sizeof(err)), 0);
	assert_string_equal(loc.bucket, "bkt");
	assert_string_equal(key, "corpus/set/manifest.json");
	assert_string_equal(obj, "s3://bkt/corpus/set/manifest.json");
	/* repeated and trailing slashes do not change the object */
	assert_int_equal(sc_s3root_object("s3://bkt//corpus///set/", ".set_id", &loc, key,
					  sizeof(key), obj, sizeof(obj), err, sizeof(err)), 0);
	assert_string_equal(key, "corpus/set/.set_id");
	assert_string_equal(obj, "s3://bkt/corpus/set/.set_id");
	/* no prefix: the bucket's top level */
	assert_int_equal(sc_s3root_object("s3://bkt", SC_MANIFEST_NAME, &loc, key, sizeof(key),
					  NULL, 0, err, sizeof(err)), 0);
	assert_string_equal(key, "manifest.json");

	/* not a location, a bad bucket, a dot segment: usage errors */
	assert_int_equal(sc_s3root_object("/local/set", SC_MANIFEST_NAME, &loc, key,
					  sizeof(key), obj, sizeof(obj), err, sizeof(err)),
			 SC_EUSAGE);
	assert_int_equal(sc_s3root_object("s3://B", SC_MANIFEST_NAME, &loc, key, sizeof(key),
					  obj, sizeof(obj), err, sizeof(err)), SC_EUSAGE);
	assert_int_equal(sc_s3root_object("s3://bkt/a/../b", SC_MANIFEST_NAME, &loc, key,
					  sizeof(key), obj, sizeof(obj), err, sizeof(err)),
			 SC_EUSAGE);
	/* a prefix over the limit; a key that does not fit */
	memset(root, 'p', sizeof(root));
	memcpy(root, "s3://bkt/", 9);
	root[9 + 950] = '\0';
	assert_int_equal(sc_s3root_object(root, SC_MANIFEST_NAME, &loc, key, sizeof(key), obj,
					  sizeof(obj), err, sizeof(err)), 0);
	root[9 + 950] = 'p';
	root[9 + 1010] = '\0';
	assert_int_not_equal(sc_s3root_object(root, SC_MANIFEST_NAME, &loc, key, sizeof(key),
					      obj, sizeof(obj), err, sizeof(err)), 0);
	root[9 + 1010] = 'p';
	root[9 + 950] = '\0';
	assert_int_equal(sc_s3root_object(root, SC_MANIFEST_NAME, &loc, key, 16, obj,
					  sizeof(obj), err, sizeof(err)), SC_ELIMIT);
}

/* ---- against fake_s3.py ---- */

static struct fake_s3 fake = FAKE_S3_INIT;

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (fake_s3_start(&fake, "sc-s3root-test"))
		return -1;
	if (!fake.skip)
		fake_s3_env(&fake);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	fake_s3_stop(&fake);
	return 0;
}

#define NEED_FAKE() FAKE_S3_NEED(&fake)

static void test_read_write(void **state)
{
	size_t n = (3u << 20) + 12345;
	char *data, err[1024];
	struct sc_buf b;

	(void)state;
	NEED_FAKE();
	data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 2654435761u >> 13);
	/* larger than the first GET: read in two, the second bound by ETag */
	assert_int_equal(sc_s3root_write("s3://bkt/rw", "big", data, n, err, sizeof(err)), 0);
	sc_buf_init(&b, SC_MANIFEST_SIZE_MAX);
	assert_int_equal(sc_s3root_read("s3://bkt/rw/", "big", n, &b, err, sizeof(err)), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, data, n);
	/* one byte over the bound */
	assert_int_equal(sc_s3root_read("s3://bkt/rw", "big", n - 1, &b, err, sizeof(err)),
			 SC_ELIMIT);
	assert_non_null(strstr(err, "s3://bkt/rw/big"));
	assert_int_equal(b.len, 0);
	/* small and empty objects: one GET */
	assert_int_equal(sc_s3root_write("s3://bkt/rw", "small", "abc\n", 4, err, sizeof(err)), 0);
	assert_int_equal(sc_s3root_read("s3://bkt/rw", "small", 64, &b, err, sizeof(err)), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "abc\n", 4);
	assert_int_equal(sc_s3root_write("s3://bkt/rw", "empty", NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(sc_s3root_read("s3://bkt/rw", "empty", 64, &b, err, sizeof(err)), 0);
	assert_int_equal(b.len, 0);
	/* missing: -ENOENT with the store's answer */
	assert_int_equal(sc_s3root_read("s3://bkt/rw", "none", 64, &b, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "NoSuchKey"));
	sc_buf_release(&b);
	free(data);
}

/* A valid manifest of an empty set whose node is `node`. */
static void empty_manifest(struct sc_manifest *m, struct sc_manifest_node *node, char *path)
{
	memset(m, 0, sizeof(*m));
	m->version = SC_MANIFEST_VERSION;
	m->shard_format = SC_SHARD_FORMAT_VERSION;
	memcpy(m->set_id, SET_ID, 33);
	m->generation = 3;
	strcpy(m->created, "2026-01-02T03:04:05Z");
	m->tool = (char *)"shardctl test";
	m->config.text_field = (char *)"text";
	m->config.input_format = (char *)"jsonl";
	m->config.normalize = SC_NORM_DEFAULT;
	m->config.normalize_version = SC_NORM_VERSION;
	m->config.dedup = (char *)"exact";
	m->config.fingerprint_version = 1;
	m->config.max_record_size = 8u << 20;
	m->config.frame_size = 2u << 20;
	m->config.shard_size = 256u << 20;
	m->config.zstd_level = 3;
	m->config.replicas = 1;
	node->path = path;
	node->weight = 1;
	m->nodes = node;
	m->nnodes = 1;
}

static void test_manifest_commit_load(void **state)
{
	char err[1024], node_path[] = "s3://bkt/m/set/data";
	struct sc_manifest m, r = { 0 };
	struct sc_manifest_node node;
	struct sc_set *set = NULL;
	int committed = 0;

	(void)state;
	NEED_FAKE();
	empty_manifest(&m, &node, node_path);
	assert_int_equal(sc_set_commit_manifest("s3://bkt/m/set", &m, &committed, err,
						sizeof(err)), 0);
	assert_int_equal(committed, 1);
	assert_int_equal(sc_manifest_load("s3://bkt/m/set/", &r, err, sizeof(err)), 0);
	assert_int_equal(r.generation, 3);
	assert_string_equal(r.set_id, SET_ID);
	assert_string_equal(r.nodes[0].path, node_path);
	assert_string_equal(r.created, m.created);
	sc_manifest_release(&r);
	/* the reader opens it by the same string */
	assert_int_equal(sc_set_open("s3://bkt/m/set", &set, err, sizeof(err)), 0);
	assert_int_equal(sc_set_manifest(set)->generation, 3);
	assert_string_equal(sc_set_root(set), "s3://bkt/m/set");
	sc_set_close(set);
	/* a new commit replaces it whole */
	m.generation = 4;
	assert_int_equal(sc_set_commit_manifest("s3://bkt/m/set", &m, &committed, err,
						sizeof(err)), 0);
	assert_int_equal(sc_manifest_load("s3://bkt/m/set", &r, err, sizeof(err)), 0);
	assert_int_equal(r.generation, 4);
	sc_manifest_release(&r);
}

/* maint on an S3 root: the guard before its commit, and its refusals */
static void test_maint_guard(void **state)
{
	char err[1024], node_path[] = "s3://bkt/g/set/data", local[] = "/tmp/local-node";
	const char *root = "s3://bkt/g/set";
	struct sc_maint_opts o = { .root = root, .lock = 1 };
	struct sc_maint_slot slot[SC_REPLICAS_MAX] = { { 0 } };
	struct sc_manifest_node node, lnode = { .path = local, .weight = 1 };
	struct sc_maint_plan plan = { 0 };
	struct sc_maint_result res;
	struct sc_manifest m, r = { 0 };
	struct sc_maint *s = NULL;
	const int32_t old_node[1] = { 0 };
	int committed = 0;

	(void)state;
	NEED_FAKE();
	empty_manifest(&m, &node, node_path);
	assert_int_equal(sc_set_commit_manifest(root, &m, &committed, err, sizeof(err)), 0);
	plan.nnodes = 1;
	plan.nodes = &node;
	plan.old_node = old_node;
	plan.slot = slot;
	/* a dry run cannot commit */
	o.lock = 0;
	assert_int_equal(sc_maint_open(&o, &s, err, sizeof(err)), 0);
	assert_int_equal(sc_maint_execute(s, &plan, &res, err, sizeof(err)), SC_EUSAGE);
	sc_maint_close(s);
	/* no lock to take; another writer commits generation 4 meanwhile */
	o.lock = 1;
	assert_int_equal(sc_maint_open(&o, &s, err, sizeof(err)), 0);
	assert_int_equal(sc_maint_manifest(s)->generation, 3);
	m.generation = 4;
	assert_int_equal(sc_set_commit_manifest(root, &m, &committed, err, sizeof(err)), 0);
	assert_int_equal(sc_maint_execute(s, &plan, &res, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "another writer committed it (generation 4)"));
	assert_int_equal(res.generation, 0);
	sc_maint_close(s);
	assert_int_equal(sc_manifest_load(root, &r, err, sizeof(err)), 0);
	assert_int_equal(r.generation, 4);
	sc_manifest_release(&r);
	/* a local node in the plan: refused like ingest refuses one */
	assert_int_equal(sc_maint_open(&o, &s, err, sizeof(err)), 0);
	plan.nodes = &lnode;
	assert_int_equal(sc_maint_execute(s, &plan, &res, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "a local directory cannot be a node"));
	/* unchanged since the open: committed by one PUT */
	plan.nodes = &node;
	assert_int_equal(sc_maint_execute(s, &plan, &res, err, sizeof(err)), 0);
	assert_int_equal(res.generation, 5);
	sc_maint_close(s);
	assert_int_equal(sc_manifest_load(root, &r, err, sizeof(err)), 0);
	assert_int_equal(r.generation, 5);
	assert_string_equal(r.set_id, SET_ID);
	sc_manifest_release(&r);
}

static void test_manifest_errors(void **state)
{
	char err[1024], node_path[] = "data";
	struct sc_manifest m, r = { 0 };
	struct sc_manifest_node node;
	struct sc_buf json;

	(void)state;
	NEED_FAKE();
	/* missing: SC_ENOTSET naming the object */
	assert_int_equal(sc_manifest_load("s3://bkt/nothing", &r, err, sizeof(err)), SC_ENOTSET);
	assert_non_null(strstr(err, "no manifest object 's3://bkt/nothing/manifest.json'"));
	assert_non_null(strstr(err, "NoSuchKey"));
	/* no bucket */
	assert_int_equal(sc_manifest_load("s3://nob/x", &r, err, sizeof(err)), SC_ENOTSET);
	assert_non_null(strstr(err, "no such bucket 'nob'"));
	/* not a valid location */
	assert_int_equal(sc_manifest_load("s3://B/x", &r, err, sizeof(err)), SC_EUSAGE);
	/* garbage: SC_ECORRUPT naming the object */
	assert_int_equal(sc_s3root_write("s3://bkt/g", SC_MANIFEST_NAME, "{\"x\": 1}\n", 9, err,
					 sizeof(err)), 0);
	assert_int_equal(sc_manifest_load("s3://bkt/g", &r, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "manifest 's3://bkt/g/manifest.json': manifest_sha256"));
	/* a relative node cannot be under a root on S3 */
	empty_manifest(&m, &node, node_path);
	sc_buf_init(&json, SC_MANIFEST_SIZE_MAX);
	assert_int_equal(sc_manifest_write_json(&m, &json), 0);
	assert_int_equal(sc_s3root_write("s3://bkt/rel", SC_MANIFEST_NAME, json.data, json.len,
					 err, sizeof(err)), 0);
	sc_buf_release(&json);
	assert_int_equal(sc_manifest_load("s3://bkt/rel", &r, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "nodes[0].path: relative node 'data'"));
	assert_null(r.nodes);
	/* unreadable (the store refuses the signature): not "missing" */
	setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
	assert_int_equal(sc_manifest_load("s3://bkt/g", &r, err, sizeof(err)), -EACCES);
	setenv("AWS_SECRET_ACCESS_KEY", "fake/secret+key", 1);
	assert_non_null(strstr(err, "manifest 's3://bkt/g/manifest.json': cannot read: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_keys),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_manifest_commit_load),
		cmocka_unit_test(test_maint_guard),
		cmocka_unit_test(test_manifest_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
