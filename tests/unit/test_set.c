/*
 * test_set.c - the shard set writer of store/set.c: node paths are stored
 * in a form its own reader accepts (or refused before anything is
 * written), leftover clean-up touches only real gNNN generation
 * directories (never look-alikes, never through symbolic links), the
 * generation counter cannot run past what a manifest may hold, and a
 * manifest the reader would reject is never committed.
 *
 * Every test works in its own directory under $TMPDIR (or /tmp).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "manifest.h"
#include "normalize.h"
#include "set.h"
#include "test_setutil.h"

#define SET_ID "0123456789abcdef0123456789abcdef"

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* buf = a/b (buf holds PATH_MAX bytes) */
static char *cat_path(char *buf, const char *a, const char *b)
{
	assert_int_equal(sc_path_join(buf, PATH_MAX, a, b), 0);
	return buf;
}

/* buf = a/b/c */
static char *cat_path3(char *buf, const char *a, const char *b, const char *c)
{
	char ab[PATH_MAX];

	return cat_path(buf, cat_path(ab, a, b), c);
}

static void mkdir_ok(const char *path)
{
	assert_int_equal(sc_mkdir_p(path, 0755), 0);
}

static void touch(const char *dir, const char *name)
{
	char p[PATH_MAX];

	assert_int_equal(sc_write_file_atomic(cat_path(p, dir, name), "x", 1), 0);
}

/* Valid config, tool and (all-zero) stats, as ingest would fill them. */
static void fill_caller_part(struct sc_manifest *m, uint32_t replicas)
{
	memset(m, 0, sizeof(*m));
	tsu_config(m, replicas, 2u << 20, 256u << 20, 3, "exact");
}

static int open_writer(const char *root, char **nodes, uint32_t n,
		       struct sc_set_writer **w, char *err, size_t errlen)
{
	uint32_t weights[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	struct sc_set_writer_opts o = {
		.root = root, .node_paths = nodes, .node_weights = weights,
		.nnodes = n, .replicas = 1, .shard_size = 1 << 20,
	};

	assert_true(n <= 8);
	err[0] = '\0';
	return sc_set_writer_open(&o, w, err, errlen);
}

/* Open a writer on root with these nodes and commit an empty generation. */
static void ingest_empty(const char *root, char **nodes, uint32_t n)
{
	struct sc_set_writer *w = NULL;
	struct sc_manifest m;
	char err[1024];
	int rc;

	rc = open_writer(root, nodes, n, &w, err, sizeof(err));
	if (rc)
		fail_msg("open '%s': %s", root, err);
	fill_caller_part(&m, 1);
	rc = sc_set_writer_commit(w, &m, err, sizeof(err));
	if (rc) {
		sc_set_writer_abort(w);
		fail_msg("commit '%s': %s", root, err);
	}
}

/* The set at root opens (manifest accepted); returns it, for checks. */
static struct sc_set *open_set(const char *root)
{
	struct sc_set *s = NULL;
	char err[1024];

	if (sc_set_open(root, &s, err, sizeof(err)))
		fail_msg("sc_set_open '%s': %s", root, err);
	return s;
}

/*
 * A node inside the root whose relative name the reader would refuse
 * (a space, a leading dot, a hidden segment) is stored by its absolute
 * path; a plain one stays relative. The set reads back.
 */
static void test_node_inside_root_names(void **state)
{
	char t[PATH_MAX], root[PATH_MAX], want[PATH_MAX];
	char n0[PATH_MAX], n1[PATH_MAX], n2[PATH_MAX], n3[PATH_MAX];
	char *nodes[4] = { n0, n1, n2, n3 };
	const struct sc_manifest *m;
	struct sc_set *s;

	(void)state;
	tu_tmp_dir(t, "test_set");
	cat_path(root, t, "s.set");
	cat_path(n0, root, "a b");
	cat_path(n1, root, ".hidden");
	cat_path(n2, root, "ok");
	cat_path(n3, root, "x/.y");
	ingest_empty(root, nodes, 4);
	s = open_set(root);
	m = sc_set_manifest(s);
	assert_int_equal(m->nnodes, 4);
	assert_string_equal(m->nodes[0].path, n0);
	assert_string_equal(m->nodes[1].path, n1);
	assert_string_equal(m->nodes[2].path, "ok");
	assert_string_equal(m->nodes[3].path, n3);
	sc_set_close(s);
	/* and the next ingest into it reads it and runs */
	ingest_empty(root, nodes, 4);
	s = open_set(root);
	assert_int_equal(sc_set_manifest(s)->generation, 2);
	/* the generation directory went to the node, not elsewhere */
	cat_path3(want, n0, sc_set_manifest(s)->set_id, "g000002");
	assert_true(exists(want));
	sc_set_close(s);
	tu_rm_tree(t);
}

/* Expect a refused open: SC_EUSAGE, err holding `shown`, no node made. */
static void expect_refused(const char *root, char *node, const char *shown)
{
	struct sc_set_writer *w = NULL;
	char err[1024];
	int rc;

	rc = open_writer(root, &node, 1, &w, err, sizeof(err));
	if (rc == 0) {
		sc_set_writer_abort(w);
		fail_msg("node '%s' was accepted", node);
	}
	assert_int_equal(rc, SC_EUSAGE);
	if (!strstr(err, shown))
		fail_msg("message '%s' does not show '%s'", err, shown);
	assert_false(exists(node));
}

/*
 * A node path that is not valid UTF-8 or holds a control character cannot
 * be written into the JSON manifest: refused at open, naming the path
 * escaped, with nothing created for it. A set root with such bytes is fine
 * as long as its nodes are stored relative to it.
 */
static void test_node_unstorable_refused(void **state)
{
	char t[PATH_MAX], root[PATH_MAX], broot[PATH_MAX], node[PATH_MAX];
	char mani[PATH_MAX], *nodes[1] = { node };
	struct sc_buf before, after;
	struct sc_set *s;

	(void)state;
	tu_tmp_dir(t, "test_set");
	cat_path(root, t, "s.set");
	cat_path(node, t, "x/n\xff");
	expect_refused(root, node, "n\\xff");
	/* refused before the set got an identity or a manifest */
	assert_false(exists(cat_path(mani, root, ".set_id")));
	assert_false(exists(cat_path(mani, root, SC_MANIFEST_NAME)));
	cat_path(node, t, "x/n\xc3");               /* truncated sequence */
	expect_refused(root, node, "n\\xc3");
	cat_path(node, t, "x/n\nq");
	expect_refused(root, node, "n\\x0aq");
	cat_path(node, t, "x/n\x7f");
	expect_refused(root, node, "n\\x7f");
	cat_path(node, t, "x/c1\xc2\x9b");          /* U+009B, a C1 control */
	expect_refused(root, node, "c1\\u009b");
	/* inside the root, the relative name fails and so does the absolute */
	cat_path(node, root, "n\xff");
	expect_refused(root, node, "n\\xff");
	assert_false(exists(cat_path(mani, root, SC_MANIFEST_NAME)));
	/* a set root with invalid bytes: its default node is stored as "data" */
	cat_path(broot, t, "r\xff");
	cat_path(node, broot, "data");
	ingest_empty(broot, nodes, 1);
	s = open_set(broot);
	assert_string_equal(sc_set_manifest(s)->nodes[0].path, "data");
	sc_set_close(s);
	/* but a node inside it that must be stored absolute is refused, and
	 * the committed set is left as it was */
	sc_buf_init(&before, 1 << 20);
	sc_buf_init(&after, 1 << 20);
	assert_int_equal(sc_read_file(cat_path(mani, broot, SC_MANIFEST_NAME), 1 << 20,
				      &before), 0);
	cat_path(node, broot, "a b");
	expect_refused(broot, node, "r\\xff/a b");
	assert_int_equal(sc_read_file(mani, 1 << 20, &after), 0);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	sc_buf_release(&before);
	sc_buf_release(&after);
	s = open_set(broot);
	sc_set_close(s);
	tu_rm_tree(t);
}

/*
 * Clean-up at open removes a stale gNNN directory of this set, but leaves
 * every name strtoull would also have taken (signs, spaces, trailing
 * junk), a number too large for 64 bits, non-directories, and a symbolic
 * link named like a generation (whose target must stay untouched).
 */
static void test_remove_generations_lookalikes(void **state)
{
	static const char *const keep[] = {
		"g-1", "g+2", "g 3", "g\t4", "g12x", "g", "gx", "G000005", "g0x5",
		"g99999999999999999999999", "g000005 ", "g-000005",
	};
	char t[PATH_MAX], root[PATH_MAX], node[PATH_MAX], setdir[PATH_MAX];
	char outside[PATH_MAX], p[PATH_MAX], q[PATH_MAX], *nodes[1] = { node };
	struct sc_set_writer *w = NULL;
	char err[1024];

	(void)state;
	tu_tmp_dir(t, "test_set");
	cat_path(root, t, "set");
	cat_path(node, t, "node");
	cat_path(setdir, node, SET_ID);
	cat_path(outside, t, "outside");
	mkdir_ok(root);
	/* a first ingest that was killed left ROOT/.set_id and this stale
	 * generation behind */
	assert_int_equal(sc_write_file_atomic(cat_path(p, root, ".set_id"),
					      SET_ID "\n", 33), 0);
	mkdir_ok(cat_path(p, setdir, "g000005"));
	touch(p, "000000.zst");
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		mkdir_ok(cat_path(p, setdir, keep[i]));
		touch(p, "000000.zst");
	}
	mkdir_ok(outside);
	touch(outside, "precious");
	assert_int_equal(symlink(outside, cat_path(p, setdir, "g000007")), 0);
	touch(setdir, "g000008");                   /* a plain file */

	assert_int_equal(open_writer(root, nodes, 1, &w, err, sizeof(err)), 0);
	assert_false(exists(cat_path(p, setdir, "g000005")));
	assert_true(exists(cat_path(p, setdir, "g000001")));
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		cat_path3(q, setdir, keep[i], "000000.zst");
		if (!exists(q))
			fail_msg("'%s' was removed", keep[i]);
	}
	assert_true(exists(cat_path(p, setdir, "g000007")));
	assert_true(exists(cat_path(p, outside, "precious")));
	assert_true(exists(cat_path(p, setdir, "g000008")));
	sc_set_writer_abort(w);
	assert_false(exists(cat_path(p, setdir, "g000001")));

	/* with a committed generation: that one stays, the stale one goes,
	 * and so does the old one once the new one is committed */
	ingest_empty(root, nodes, 1);
	assert_true(exists(cat_path(p, setdir, "g000001")));
	mkdir_ok(cat_path(p, setdir, "g000009"));
	touch(p, "000000.zst");
	w = NULL;
	assert_int_equal(open_writer(root, nodes, 1, &w, err, sizeof(err)), 0);
	assert_true(exists(cat_path(p, setdir, "g000001")));
	assert_false(exists(cat_path(p, setdir, "g000009")));
	sc_set_writer_abort(w);
	ingest_empty(root, nodes, 1);
	assert_false(exists(cat_path(p, setdir, "g000001")));
	assert_true(exists(cat_path(p, setdir, "g000002")));
	assert_true(exists(cat_path(p, outside, "precious")));
	assert_true(exists(cat_path(p, setdir, "g000007")));
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		cat_path3(q, setdir, keep[i], "000000.zst");
		assert_true(exists(q));
	}
	tu_rm_tree(t);
}

/* Write a valid empty manifest of generation gen into root (node "data"). */
static void write_manifest(const char *root, uint64_t gen)
{
	struct sc_manifest_node nd = { .path = "data", .weight = 1 };
	struct sc_manifest m;
	struct sc_buf b;
	char p[PATH_MAX];

	fill_caller_part(&m, 1);
	m.version = SC_MANIFEST_VERSION;
	m.shard_format = 1;
	strcpy(m.set_id, SET_ID);
	m.generation = gen;
	strcpy(m.created, "2026-11-24T20:00:00Z");
	m.nodes = &nd;
	m.nnodes = 1;
	sc_buf_init(&b, 1 << 20);
	assert_int_equal(sc_manifest_write_json(&m, &b), 0);
	mkdir_ok(root);
	assert_int_equal(sc_write_file_atomic(cat_path(p, root, SC_MANIFEST_NAME),
					      b.data, b.len), 0);
	sc_buf_release(&b);
}

/*
 * The reader accepts generations up to UINT64_MAX - 1, so a set at that
 * generation cannot take another commit: refused at open, before any
 * node is touched. One below still works, once.
 */
static void test_generation_limit(void **state)
{
	char t[PATH_MAX], root[PATH_MAX], node[PATH_MAX], *nodes[1] = { node };
	struct sc_set_writer *w = NULL;
	struct sc_set *s;
	char err[1024];
	int rc;

	(void)state;
	tu_tmp_dir(t, "test_set");
	cat_path(root, t, "set");
	cat_path(node, root, "data");
	write_manifest(root, UINT64_MAX - 1);
	s = open_set(root);                          /* the reader takes it */
	sc_set_close(s);
	rc = open_writer(root, nodes, 1, &w, err, sizeof(err));
	if (rc == 0) {
		sc_set_writer_abort(w);
		fail_msg("a commit after generation 2^64 - 2 was allowed");
	}
	assert_int_equal(rc, SC_ELIMIT);
	assert_non_null(strstr(err, "18446744073709551614"));
	assert_false(exists(node));

	write_manifest(root, UINT64_MAX - 2);
	ingest_empty(root, nodes, 1);
	s = open_set(root);
	assert_true(sc_set_manifest(s)->generation == UINT64_MAX - 1);
	sc_set_close(s);
	w = NULL;
	assert_int_equal(open_writer(root, nodes, 1, &w, err, sizeof(err)), SC_ELIMIT);
	tu_rm_tree(t);
}

/*
 * A manifest the reader would reject (here a config value it does not
 * know) is not committed: the previous version stays readable.
 */
static void test_commit_self_check(void **state)
{
	char t[PATH_MAX], root[PATH_MAX], node[PATH_MAX], p[PATH_MAX];
	char *nodes[1] = { node };
	struct sc_set_writer *w = NULL;
	struct sc_manifest m;
	struct sc_set *s;
	char err[1024];

	(void)state;
	tu_tmp_dir(t, "test_set");
	cat_path(root, t, "set");
	cat_path(node, root, "data");
	ingest_empty(root, nodes, 1);
	assert_int_equal(open_writer(root, nodes, 1, &w, err, sizeof(err)), 0);
	fill_caller_part(&m, 1);
	m.config.dedup = "bogus";
	assert_int_not_equal(sc_set_writer_commit(w, &m, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "config.dedup"));
	sc_set_writer_abort(w);
	s = open_set(root);
	assert_int_equal(sc_set_manifest(s)->generation, 1);
	cat_path3(p, node, sc_set_manifest(s)->set_id, "g000002");
	assert_false(exists(p));
	sc_set_close(s);
	tu_rm_tree(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_inside_root_names),
		cmocka_unit_test(test_node_unstorable_refused),
		cmocka_unit_test(test_remove_generations_lookalikes),
		cmocka_unit_test(test_generation_limit),
		cmocka_unit_test(test_commit_self_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
