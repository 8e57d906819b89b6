/*
 * test_verify.c - whole-set verification (store/verify.c) and the
 * no-symlink walks below node roots (store/nodedir.c): a healthy set is
 * clean and every replica byte is read once; each kind of damage to a
 * replica is reported as what it is, naming shard, replica, node and
 * frame; a symbolic link or FIFO where a shard or directory should be is
 * never followed or opened for reading; stale and extra files are notes,
 * not problems; the deep check catches a record index that disagrees
 * with its frames even when the SHA-256 matches the manifest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>

#include "nodedir.h"
#include "test_setutil.h"
#include "verify.h"

#define PROBLEMS_MAX 64

struct seen {
	struct sc_verify_problem p[PROBLEMS_MAX]; /* path/what not kept */
	char what[PROBLEMS_MAX][256];
	uint32_t n;
	uint32_t notes;
	char note[PROBLEMS_MAX][512];
};

static void on_problem(void *ctx, const struct sc_verify_problem *p)
{
	struct seen *s = ctx;

	if (s->n < PROBLEMS_MAX) {
		s->p[s->n] = *p;
		snprintf(s->what[s->n], sizeof(s->what[0]), "%s", p->what);
		s->p[s->n].what = s->what[s->n];
		s->p[s->n].path = NULL;
	}
	s->n++;
}

static void on_note(void *ctx, const char *msg)
{
	struct seen *s = ctx;

	if (s->notes < PROBLEMS_MAX)
		snprintf(s->note[s->notes], sizeof(s->note[0]), "%s", msg);
	s->notes++;
}

/* Verify root; returns the totals, problems in *seen. */
static struct sc_verify_totals run(const char *root, int deep, struct seen *seen,
				   unsigned char *good)
{
	struct sc_verify_opts o = { .deep = deep, .problem = on_problem, .note = on_note,
				    .ctx = seen };
	struct sc_verify_totals t;
	struct sc_manifest m;

	memset(seen, 0, sizeof(*seen));
	tsu_load(root, &m);
	assert_int_equal(sc_verify_set(root, &m, &o, good, &t), 0);
	sc_manifest_release(&m);
	return t;
}

static uint64_t stored_total(const char *root)
{
	struct sc_manifest m;
	uint64_t sum = 0;

	tsu_load(root, &m);
	for (uint64_t i = 0; i < m.nshards; i++)
		sum += m.shards[i].stored_bytes * m.shards[i].nreplicas;
	sc_manifest_release(&m);
	return sum;
}

static void test_healthy(void **state)
{
	char t[PATH_MAX];
	unsigned char good[4 * SC_REPLICAS_MAX];
	struct sc_verify_totals v;
	struct seen seen;

	(void)state;
	tu_tmp_dir(t, "test_verify");
	tsu_make_set(t, 3, 2, 4);
	for (int deep = 0; deep < 2; deep++) {
		memset(good, 7, sizeof(good));
		v = run(t, deep, &seen, good);
		assert_int_equal(v.problems, 0);
		assert_int_equal(seen.n, 0);
		assert_int_equal(v.notes, 0);
		assert_int_equal(v.shards, 4);
		assert_int_equal(v.replicas, 8);
		assert_int_equal(v.replicas_checked, 8);
		assert_int_equal(v.bytes_read, stored_total(t));
		for (int i = 0; i < 4; i++)
			for (int r = 0; r < 2; r++)
				assert_int_equal(good[i * SC_REPLICAS_MAX + r], 1);
	}
	tu_rm_tree(t);
}

/* The one problem seen, for a single damaged replica. */
static const struct sc_verify_problem *only(const struct seen *s, enum sc_verify_kind k)
{
	for (uint32_t i = 0; i < s->n && i < PROBLEMS_MAX; i++)
		if (s->p[i].kind == k)
			return &s->p[i];
	fail_msg("no problem of kind %s among %u", sc_verify_kind_name(k), s->n);
	return NULL;
}

static void test_damage_kinds(void **state)
{
	char t[PATH_MAX], p[PATH_MAX], other[PATH_MAX];
	const struct sc_verify_problem *pr;
	struct sc_verify_totals v;
	struct seen seen;

	(void)state;
	tu_tmp_dir(t, "test_verify");
	tsu_make_set(t, 3, 2, 4);

	/* a flipped byte in frame 1 of shard 1, replica 0: sha256 only in
	 * the plain check; the deep one also names the frame */
	tsu_replica_path(t, 1, 0, p);
	{
		struct sc_shard_reader *rd;
		char err[512];
		uint64_t off;

		assert_int_equal(sc_shard_reader_open(p, &rd, err, sizeof(err)), 0);
		off = sc_shard_reader_index(rd)->frame_offset[1] +
		      sc_shard_reader_index(rd)->csize[1] / 2;
		sc_shard_reader_close(rd);
		tsu_flip(p, (int64_t)off);
	}
	v = run(t, 0, &seen, NULL);
	assert_int_equal(v.problems, 1);
	pr = only(&seen, SC_VERIFY_SHA256);
	assert_int_equal(pr->shard, 1);
	assert_int_equal(pr->replica, 0);
	assert_int_equal(v.shards_degraded, 1);
	assert_int_equal(v.shards_lost, 0);
	v = run(t, 1, &seen, NULL);
	pr = only(&seen, SC_VERIFY_FRAME);
	assert_int_equal(pr->shard, 1);
	assert_int_equal(pr->frame, 1);
	only(&seen, SC_VERIFY_SHA256);
	tsu_flip(p, (int64_t)0); /* frame 0 too: its header magic */
	v = run(t, 1, &seen, NULL);
	assert_int_equal(v.problems, 3);
	tsu_flip(p, (int64_t)0);

	/* truncated by one byte: wrong size */
	tsu_replica_path(t, 2, 1, other);
	assert_int_equal(truncate(other, 100), 0);
	/* removed */
	tsu_replica_path(t, 3, 0, p);
	assert_int_equal(unlink(p), 0);
	v = run(t, 0, &seen, NULL);
	pr = only(&seen, SC_VERIFY_SIZE);
	assert_int_equal(pr->shard, 2);
	assert_int_equal(pr->replica, 1);
	pr = only(&seen, SC_VERIFY_MISSING);
	assert_int_equal(pr->shard, 3);
	assert_int_equal(pr->replica, 0);
	assert_int_equal(v.problems, 3);
	assert_int_equal(v.replicas_bad, 3);

	/* both replicas of shard 3 bad: lost */
	tsu_replica_path(t, 3, 1, p);
	tsu_flip(p, -1);
	v = run(t, 0, &seen, NULL);
	assert_int_equal(v.shards_lost, 1);
	assert_int_equal(v.shards_degraded, 2);
	tu_rm_tree(t);
}

/*
 * Things that are not regular files where a replica should be: a
 * symbolic link to a good copy (not followed), a directory, a FIFO (not
 * opened for reading, so verify cannot hang), and a symbolic link in
 * place of the generation directory.
 */
static void test_not_files(void **state)
{
	char t[PATH_MAX], p[PATH_MAX], good_copy[PATH_MAX], gen[PATH_MAX], real[PATH_MAX];
	struct sc_verify_totals v;
	struct seen seen;
	uint32_t kinds = 0;

	(void)state;
	tu_tmp_dir(t, "test_verify");
	tsu_make_set(t, 4, 1, 4);
	tsu_replica_path(t, 0, 0, p);
	tsu_join(good_copy, t, "outside.zst");
	assert_int_equal(rename(p, good_copy), 0);
	assert_int_equal(symlink(good_copy, p), 0);
	tsu_replica_path(t, 1, 0, p);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	tsu_replica_path(t, 2, 0, p);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkfifo(p, 0644), 0);
	v = run(t, 0, &seen, NULL);
	assert_int_equal(v.problems, 3);
	for (uint32_t i = 0; i < seen.n; i++) {
		assert_int_equal(seen.p[i].kind, SC_VERIFY_NOT_FILE);
		kinds |= 1u << seen.p[i].shard;
		if (seen.p[i].shard == 0)
			assert_non_null(strstr(seen.p[i].what, "symbolic link"));
		if (seen.p[i].shard == 2)
			assert_non_null(strstr(seen.p[i].what, "FIFO"));
	}
	assert_int_equal(kinds, 7);
	/* shard 3's generation directory replaced by a link to a copy */
	tsu_replica_path(t, 3, 0, p);
	assert_int_equal(sc_path_dirname(p, gen, sizeof(gen)), 0);
	tsu_join(real, t, "gen-copy");
	assert_int_equal(rename(gen, real), 0);
	assert_int_equal(symlink(real, gen), 0);
	v = run(t, 0, &seen, NULL);
	assert_int_equal(seen.p[seen.n - 1].shard, 3);
	assert_int_equal(seen.p[seen.n - 1].kind, SC_VERIFY_NOT_FILE);
	assert_int_equal(v.bytes_read, 0);
	tu_rm_tree(t);
}

/*
 * Node directories: one missing that holds replicas (a problem, and each
 * replica missing), one replaced by a file; stale generations, a
 * temporary and an extra file are notes only.
 */
static void test_nodes_and_notes(void **state)
{
	char t[PATH_MAX], p[PATH_MAX], dir[PATH_MAX], gen[PATH_MAX];
	struct sc_verify_totals v;
	struct sc_manifest m;
	struct seen seen;
	uint32_t node_problems = 0;

	(void)state;
	tu_tmp_dir(t, "test_verify");
	tsu_make_set(t, 3, 1, 6);
	tsu_load(t, &m);
	/* notes: a stale generation, a temporary, an extra file, a root temporary */
	tsu_replica_path(t, 0, 0, p);
	assert_int_equal(sc_path_dirname(p, gen, sizeof(gen)), 0);
	assert_int_equal(sc_path_dirname(gen, dir, sizeof(dir)), 0);
	tsu_join(p, dir, "g000000");
	assert_int_equal(mkdir(p, 0755), 0);
	tsu_join(p, gen, ".000009.zst.tmp");
	assert_int_equal(sc_write_file_atomic(p, "x", 1), 0);
	tsu_join(p, gen, "000099.zst");
	assert_int_equal(sc_write_file_atomic(p, "x", 1), 0);
	tsu_join(p, t, ".manifest.json.tmp.1234");
	assert_int_equal(sc_write_file_atomic(p, "x", 1), 0);
	v = run(t, 0, &seen, NULL);
	assert_int_equal(v.problems, 0);
	assert_int_equal(v.notes, 4);
	/* node 1 gone, node 2 replaced by a file */
	tsu_join(p, t, "n1");
	tu_rm_tree(p);
	tsu_join(p, t, "n2");
	tu_rm_tree(p);
	assert_int_equal(sc_write_file_atomic(p, "x", 1), 0);
	v = run(t, 0, &seen, NULL);
	for (uint32_t i = 0; i < seen.n; i++) {
		if (seen.p[i].kind == SC_VERIFY_NODE) {
			node_problems++;
			assert_int_equal(seen.p[i].shard, UINT64_MAX);
		} else {
			assert_int_equal(seen.p[i].kind, SC_VERIFY_MISSING);
			assert_true(m.shards[seen.p[i].shard].replica[0] != 0);
		}
	}
	assert_int_equal(node_problems, 2);
	assert_int_equal(v.replicas_bad, 4);
	assert_int_equal(v.shards_lost, 4);
	sc_manifest_release(&m);
	tu_rm_tree(t);
}

/*
 * A record index that claims fewer records than a frame holds: the file
 * is what the manifest records (SHA-256 matches), so only the deep check,
 * which counts the records of every decoded frame, can see it.
 */
static void test_deep_index_mismatch(void **state)
{
	char t[PATH_MAX];
	struct sc_verify_totals v;
	struct seen seen;

	(void)state;
	tu_tmp_dir(t, "test_verify");
	tsu_make_set_ex(t, 2, 1, 2, 20, 1);
	v = run(t, 0, &seen, NULL);
	assert_int_equal(v.problems, 0);
	v = run(t, 1, &seen, NULL);
	assert_int_equal(v.problems, 1);
	assert_int_equal(seen.p[0].kind, SC_VERIFY_INDEX);
	assert_int_equal(seen.p[0].shard, 0);
	assert_int_equal(seen.p[0].frame, 0);
	assert_non_null(strstr(seen.p[0].what, "holds 20 records, the record index says 19"));
	tu_rm_tree(t);
}

/* nodedir: names must pass the rule; no component is followed if a link. */
static void test_nodedir(void **state)
{
	char t[PATH_MAX], p[PATH_MAX];
	struct stat st;
	int dfd, fd;

	(void)state;
	tu_tmp_dir(t, "test_verify");
	dfd = open(t, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(sc_nodedir_openat(dfd, "../x", O_RDONLY, 0, 0), SC_EUSAGE);
	assert_int_equal(sc_nodedir_openat(dfd, "/etc/passwd", O_RDONLY, 0, 0), SC_EUSAGE);
	assert_int_equal(sc_nodedir_openat(dfd, "a//b", O_RDONLY, 0, 0), SC_EUSAGE);
	/* mkdirs creates the directories on the way, not the last component */
	fd = sc_nodedir_openat(dfd, "a/b/c.zst", O_WRONLY | O_CREAT, 0644, 1);
	assert_true(fd >= 0);
	close(fd);
	fd = sc_nodedir_open_file(dfd, "a/b/c.zst", &st);
	assert_true(fd >= 0);
	close(fd);
	/* a link as an intermediate directory, and as the file */
	tsu_join(p, t, "l");
	assert_int_equal(symlink("a", p), 0);
	assert_int_equal(sc_nodedir_openat(dfd, "l/b/c.zst", O_RDONLY, 0, 0), -ELOOP);
	tsu_join(p, t, "a/b/d.zst");
	assert_int_equal(symlink("c.zst", p), 0);
	assert_int_equal(sc_nodedir_open_file(dfd, "a/b/d.zst", &st), SC_EFORMAT);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(sc_nodedir_open_file(dfd, "a/b/none.zst", &st), -ENOENT);
	assert_int_equal(sc_nodedir_open_file(dfd, "a/b", &st), SC_EFORMAT);
	assert_true(S_ISDIR(st.st_mode));
	close(dfd);
	tu_rm_tree(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy),
		cmocka_unit_test(test_damage_kinds),
		cmocka_unit_test(test_not_files),
		cmocka_unit_test(test_nodes_and_notes),
		cmocka_unit_test(test_deep_index_mismatch),
		cmocka_unit_test(test_nodedir),
	};

	return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
