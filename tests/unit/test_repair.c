/*
 * test_repair.c - repair and rebalance (store/repair.c, store/rebalance.c)
 * and the copy-then-commit code they share (store/maint.c):
 *
 * - the repair plan: a bad replica is rebuilt on its own node when that
 *   node is usable and has room, else on another node that holds no
 *   replica of the shard; a shard without a good replica is left alone;
 * - repair heals every kind of damage, commits one new generation, reads
 *   give the same records, and a second run does nothing;
 * - a shard without a good copy is named and kept, the others repaired;
 * - a lost node directory: its replicas are rebuilt elsewhere;
 * - a crash at every step of repair and of rebalance (the child process
 *   is killed there) leaves a valid set with the same records and no new
 *   problem, and the next run completes;
 * - rebalance moves replicas only to an added node, off a removed one,
 *   and a dry run changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/wait.h>

#include "rebalance.h"
#include "repair.h"
#include "test_setutil.h"
#include "verify.h"

/* ---- the plan alone ---- */

/* A manifest in memory: n nodes, shards of 100 bytes on the given pairs. */
static void plan_manifest(struct sc_manifest *m, struct sc_manifest_node *nodes,
			  uint32_t n, struct sc_manifest_shard *sh, uint32_t nsh,
			  const uint32_t (*pairs)[2])
{
	memset(m, 0, sizeof(*m));
	for (uint32_t k = 0; k < n; k++) {
		nodes[k].path = "n";
		nodes[k].weight = 1;
	}
	for (uint32_t i = 0; i < nsh; i++) {
		memset(&sh[i], 0, sizeof(sh[i]));
		sh[i].stored_bytes = 100;
		sh[i].nreplicas = 2;
		sh[i].replica[0] = pairs[i][0];
		sh[i].replica[1] = pairs[i][1];
	}
	m->nodes = nodes;
	m->nnodes = n;
	m->shards = sh;
	m->nshards = nsh;
	m->config.replicas = 2;
}

static void test_plan(void **state)
{
	static const uint32_t pairs[4][2] = { { 0, 1 }, { 2, 3 }, { 1, 2 }, { 3, 0 } };
	struct sc_manifest_node nodes[4];
	struct sc_manifest_shard sh[4];
	struct sc_manifest m;
	unsigned char good[4 * SC_REPLICAS_MAX], usable[4], status[4 * SC_REPLICAS_MAX];
	struct sc_maint_slot slot[4 * SC_REPLICAS_MAX];
	uint64_t room[4];

	(void)state;
	plan_manifest(&m, nodes, 4, sh, 4, pairs);
	memset(good, 1, sizeof(good));
	memset(usable, 1, sizeof(usable));
	for (int k = 0; k < 4; k++)
		room[k] = 1000;
	/* all good: nothing to do, everything kept in place */
	assert_int_equal(sc_repair_plan(&m, good, usable, room, slot, status), 0);
	for (int i = 0; i < 4; i++)
		for (int r = 0; r < 2; r++) {
			assert_int_equal(slot[i * SC_REPLICAS_MAX + r].node, pairs[i][r]);
			assert_int_equal(slot[i * SC_REPLICAS_MAX + r].action, SC_MAINT_KEEP);
		}
	/* shard 0 replica 1 bad on a usable node: rebuilt there */
	good[0 * SC_REPLICAS_MAX + 1] = 0;
	/* shard 1: both bad: lost, carried */
	good[1 * SC_REPLICAS_MAX + 0] = good[1 * SC_REPLICAS_MAX + 1] = 0;
	/* node 2 unusable: shard 2's replica 1 there is bad and must move
	 * to a node not holding shard 2 (not 1): node 0 or 3 */
	usable[2] = 0;
	good[2 * SC_REPLICAS_MAX + 1] = 0;
	assert_int_equal(sc_repair_plan(&m, good, usable, room, slot, status), 2);
	assert_int_equal(status[0 * SC_REPLICAS_MAX + 1], SC_REPAIR_SAME_NODE);
	assert_int_equal(slot[0 * SC_REPLICAS_MAX + 1].node, 1);
	assert_int_equal(slot[0 * SC_REPLICAS_MAX + 1].action, SC_MAINT_COPY);
	assert_int_equal(status[1 * SC_REPLICAS_MAX + 0], SC_REPAIR_LOST);
	assert_int_equal(slot[1 * SC_REPLICAS_MAX + 1].action, SC_MAINT_CARRY);
	assert_int_equal(status[2 * SC_REPLICAS_MAX + 1], SC_REPAIR_MOVED);
	assert_true(slot[2 * SC_REPLICAS_MAX + 1].node == 0 ||
		    slot[2 * SC_REPLICAS_MAX + 1].node == 3);
	assert_int_equal(slot[2 * SC_REPLICAS_MAX + 0].node, 1);
	assert_int_equal(room[1], 900); /* what the plan put there is counted */
	/* no room on node 1: shard 0's replica moves to node 2 or 3 instead;
	 * node 2 is unusable, so node 3 */
	room[1] = 50;
	room[0] = room[3] = 1000;
	assert_int_equal(sc_repair_plan(&m, good, usable, room, slot, status), 2);
	assert_int_equal(status[0 * SC_REPLICAS_MAX + 1], SC_REPAIR_MOVED);
	assert_int_equal(slot[0 * SC_REPLICAS_MAX + 1].node, 3);
	/* no usable node with room at all: left as it is */
	for (int k = 0; k < 4; k++)
		room[k] = 0;
	assert_int_equal(sc_repair_plan(&m, good, usable, room, slot, status), 0);
	assert_int_equal(status[0 * SC_REPLICAS_MAX + 1], SC_REPAIR_NO_NODE);
	assert_int_equal(slot[0 * SC_REPLICAS_MAX + 1].action, SC_MAINT_CARRY);
	assert_int_equal(slot[0 * SC_REPLICAS_MAX + 1].node, 1);
}

/* ---- on real sets ---- */

struct counts {
	uint32_t left;      /* unrepairable lines */
	uint32_t steps;     /* step callbacks so far */
	uint32_t kill_at;   /* _exit at this step (0: never) */
};

static void on_left(void *ctx, const char *msg)
{
	struct counts *c = ctx;

	(void)msg;
	c->left++;
}

static void on_step(void *ctx, const char *where)
{
	struct counts *c = ctx;

	(void)where;
	if (++c->steps == c->kill_at)
		_exit(99); /* as abrupt as kill -9 for what is on disk */
}

static int repair(const char *root, int dry_run, struct counts *c,
		  struct sc_repair_result *res)
{
	struct sc_repair_opts o = { .root = root, .dry_run = dry_run, .left = on_left,
				    .step = on_step, .ctx = c };
	char err[1024] = "";
	int rc = sc_repair_run(&o, res, err, sizeof(err));

	if (rc)
		print_message("repair: %s\n", err);
	return rc;
}

static struct sc_verify_totals check(const char *root)
{
	struct sc_verify_opts o = { 0 };
	struct sc_verify_totals t;
	struct sc_manifest m;

	tsu_load(root, &m);
	assert_int_equal(sc_verify_set(root, &m, &o, NULL, &t), 0);
	sc_manifest_release(&m);
	return t;
}

static uint64_t generation(const char *root)
{
	struct sc_manifest m;
	uint64_t g;

	tsu_load(root, &m);
	g = m.generation;
	sc_manifest_release(&m);
	return g;
}

static void same_records(const char *root, const struct sc_buf *want)
{
	struct sc_buf got;

	sc_buf_init(&got, 64u << 20);
	tsu_read_all(root, &got);
	assert_int_equal(got.len, want->len);
	assert_memory_equal(got.data, want->data, want->len);
	sc_buf_release(&got);
}

/*
 * What most tests start from: a fresh 3-node, 2-replica set of nshards
 * shards in a temporary directory, and its records as read before any
 * damage (want). fixture_close() removes it all.
 */
struct fixture {
	char root[PATH_MAX];   /* the set root (and its nodes n0, n1, n2) */
	struct sc_buf want;    /* the set's records */
};

static void fixture_open(struct fixture *f, uint32_t nshards)
{
	tu_tmp_dir(f->root, "test_repair");
	tsu_make_set(f->root, 3, 2, nshards);
	sc_buf_init(&f->want, 64u << 20);
	tsu_read_all(f->root, &f->want);
}

static void fixture_close(struct fixture *f)
{
	sc_buf_release(&f->want);
	tu_rm_tree(f->root);
}

/* Damage four replicas of a 3-node, 2-replica, 6-shard set in four ways. */
static void damage(const char *root)
{
	char p[PATH_MAX];

	tsu_replica_path(root, 0, 0, p);
	tsu_flip(p, 10);
	tsu_replica_path(root, 2, 1, p);
	assert_int_equal(truncate(p, 7), 0);
	tsu_replica_path(root, 3, 0, p);
	assert_int_equal(unlink(p), 0);
	tsu_replica_path(root, 5, 1, p);
	tsu_flip(p, -1);
}

static void test_repair_heals(void **state)
{
	char p[PATH_MAX];
	struct sc_repair_result res;
	struct counts c = { 0 };
	struct sc_verify_totals v;
	struct fixture f;
	const char *t = f.root;

	(void)state;
	fixture_open(&f, 6);
	damage(t);
	/* a dry run reports and changes nothing */
	assert_int_equal(repair(t, 1, &c, &res), 0);
	assert_int_equal(res.scan.replicas_bad, 4);
	assert_int_equal(res.replicas_rebuilt, 4);
	assert_int_equal(res.exec.generation, 0);
	assert_int_equal(generation(t), 1);
	assert_int_equal(check(t).replicas_bad, 4);
	/* the real run */
	assert_int_equal(repair(t, 0, &c, &res), 0);
	assert_int_equal(res.replicas_rebuilt, 4);
	assert_int_equal(res.replicas_moved, 0);
	assert_int_equal(res.exec.replicas_copied, 4);
	assert_int_equal(res.exec.replicas_linked, 8);
	assert_int_equal(res.exec.generation, 2);
	assert_int_equal(c.left, 0);
	v = check(t);
	assert_int_equal(v.problems, 0);
	assert_int_equal(v.notes, 0); /* generation 1 is gone everywhere */
	same_records(t, &f.want);
	/* idempotent */
	assert_int_equal(repair(t, 0, &c, &res), 0);
	assert_int_equal(res.replicas_rebuilt, 0);
	assert_int_equal(res.exec.generation, 0);
	assert_int_equal(generation(t), 2);
	/* leftovers of a killed run are cleaned by the next one, even when
	 * there is nothing to repair */
	tsu_replica_path(t, 0, 0, p);
	{
		char gen[PATH_MAX], dir[PATH_MAX], stale[PATH_MAX];

		assert_int_equal(sc_path_dirname(p, gen, sizeof(gen)), 0);
		assert_int_equal(sc_path_dirname(gen, dir, sizeof(dir)), 0);
		tsu_join(stale, dir, "g000003");
		assert_int_equal(mkdir(stale, 0755), 0);
		tsu_join(stale, t, ".manifest.json.tmp.77");
		assert_int_equal(sc_write_file_atomic(stale, "x", 1), 0);
	}
	assert_int_equal(check(t).notes, 2);
	assert_int_equal(repair(t, 0, &c, &res), 0);
	assert_int_equal(check(t).notes, 0);
	fixture_close(&f);
}

static void test_repair_lost_shard(void **state)
{
	char p[PATH_MAX];
	struct sc_repair_result res;
	struct counts c = { 0 };
	struct sc_verify_totals v;
	struct fixture f;
	const char *t = f.root;

	(void)state;
	fixture_open(&f, 4);
	/* shard 1: both replicas damaged; shard 2: one missing */
	tsu_replica_path(t, 1, 0, p);
	tsu_flip(p, 20);
	tsu_replica_path(t, 1, 1, p);
	tsu_flip(p, 30);
	tsu_replica_path(t, 2, 0, p);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(repair(t, 0, &c, &res), 0);
	assert_int_equal(res.shards_lost, 1);
	assert_int_equal(res.replicas_unrepairable, 2);
	assert_int_equal(res.replicas_rebuilt, 1);
	assert_int_equal(res.exec.generation, 2);
	assert_int_equal(c.left, 1);
	v = check(t);
	assert_int_equal(v.replicas_bad, 2);   /* shard 1's, carried as they were */
	assert_int_equal(v.replicas_checked, 8);
	assert_int_equal(v.shards_lost, 1);
	/* a second run: nothing it can do, no new generation */
	c.left = 0;
	assert_int_equal(repair(t, 0, &c, &res), 0);
	assert_int_equal(res.replicas_rebuilt, 0);
	assert_int_equal(res.shards_lost, 1);
	assert_int_equal(res.exec.generation, 0);
	assert_int_equal(generation(t), 2);
	assert_int_equal(c.left, 1);
	fixture_close(&f);
}

static void test_repair_node_gone(void **state)
{
	char p[PATH_MAX];
	struct sc_repair_result res;
	struct counts c = { 0 };
	struct sc_manifest m;
	struct fixture f;
	const char *t = f.root;
	const struct sc_buf *want = &f.want;

	(void)state;
	fixture_open(&f, 6);
	tsu_join(p, t, "n1");
	tu_rm_tree(p);
	same_records(t, want); /* reads fail over */
	assert_int_equal(repair(t, 0, &c, &res), 0);
	assert_true(res.replicas_rebuilt > 0);
	assert_int_equal(res.replicas_moved, res.replicas_rebuilt);
	assert_int_equal(check(t).problems, 0);
	tsu_load(t, &m);
	for (uint64_t i = 0; i < m.nshards; i++) {
		assert_true(m.shards[i].replica[0] != 1 && m.shards[i].replica[1] != 1);
		assert_true(m.shards[i].replica[0] != m.shards[i].replica[1]);
	}
	sc_manifest_release(&m);
	same_records(t, want);
	fixture_close(&f);
}

/*
 * A node stored relative to the set root that has become a symbolic link
 * (here to a full copy of itself outside the root) is not followed: the
 * node counts as unavailable, its replicas are rebuilt on the other
 * nodes, and nothing is written, moved or removed through the link.
 */
static void test_repair_no_symlinked_node(void **state)
{
	char n1[PATH_MAX], away[PATH_MAX], sd[PATH_MAX], probe[PATH_MAX];
	struct sc_repair_result res;
	struct counts c = { 0 };
	struct sc_manifest m;
	struct fixture f;
	const char *t = f.root;
	struct stat st;

	(void)state;
	fixture_open(&f, 6);
	tsu_join(n1, t, "n1");
	tsu_join(away, t, "n1-away");
	assert_int_equal(rename(n1, away), 0);
	assert_int_equal(symlink(away, n1), 0);
	tsu_load(t, &m);
	/* the link is not followed: every replica on node 1 is missing */
	{
		struct sc_verify_totals v = check(t);
		uint64_t on1 = 0;

		for (uint64_t i = 0; i < m.nshards; i++)
			on1 += m.shards[i].replica[0] == 1 || m.shards[i].replica[1] == 1;
		assert_int_equal(v.replicas_bad, on1);
		assert_int_equal(v.replicas_checked, 2 * m.nshards - on1);
	}
	assert_int_equal(repair(t, 0, &c, &res), 0);
	assert_true(res.replicas_moved > 0);
	assert_int_equal(check(t).problems, 0);
	same_records(t, &f.want);
	/* the copy behind the link is as it was: generation 1, no g000002 */
	tsu_join(sd, away, m.set_id);
	tsu_join(probe, sd, "g000001");
	assert_int_equal(stat(probe, &st), 0);
	tsu_join(probe, sd, "g000002");
	assert_int_equal(stat(probe, &st), -1);
	sc_manifest_release(&m);
	fixture_close(&f);
}

/*
 * Kill a run at step k (k = 1, 2, ... until a run ends on its own), each
 * on a fresh copy of the same damaged set: the set must stay valid with
 * the same records and no more problems than before, and a rerun must
 * complete. fn runs the operation in the child.
 */
typedef void (*op_fn)(const char *root, struct counts *c);

static uint32_t kill_every_step(op_fn prepare, op_fn op, uint64_t bad_before)
{
	uint32_t k;

	for (k = 1; k < 1000; k++) {
		char t[PATH_MAX];
		struct counts c = { .kill_at = k };
		struct sc_verify_totals v;
		struct sc_buf want;
		uint64_t g0;
		pid_t pid;
		int st;

		tu_tmp_dir(t, "test_repair_kill");
		sc_buf_init(&want, 64u << 20);
		prepare(t, &c);
		tsu_read_all(t, &want);
		g0 = generation(t);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			op(t, &c);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		/* valid: old or new generation, same records, no new damage */
		assert_true(generation(t) == g0 || generation(t) == g0 + 1);
		v = check(t);
		assert_true(v.replicas_bad <= bad_before);
		same_records(t, &want);
		/* the rerun completes and leaves nothing behind */
		c.kill_at = 0;
		op(t, &c);
		v = check(t);
		assert_int_equal(v.problems, 0);
		assert_int_equal(v.notes, 0);
		same_records(t, &want);
		sc_buf_release(&want);
		tu_rm_tree(t);
		if (WEXITSTATUS(st) == 0) {
			/* the run ended before step k: every step was tried */
			print_message("killed at each of %u steps, all survived\n", k - 1);
			break;
		}
		assert_int_equal(WEXITSTATUS(st), 99);
	}
	return k;
}

static void prepare_damaged(const char *root, struct counts *c)
{
	(void)c;
	tsu_make_set(root, 3, 2, 6);
	damage(root);
}

static void op_repair(const char *root, struct counts *c)
{
	struct sc_repair_result res;

	assert_int_equal(repair(root, 0, c, &res), 0);
}

static void test_repair_killed_anywhere(void **state)
{
	uint32_t steps;

	(void)state;
	steps = kill_every_step(prepare_damaged, op_repair, 4);
	/* 12 replicas, before commit, committed, 3 node clean-ups */
	assert_int_equal(steps, 12 + 2 + 3 + 1);
}

static int rebalance(const char *root, char **add, uint32_t nadd, char **rm, uint32_t nrm,
		     int dry_run, struct counts *c, struct sc_rebalance_result *res)
{
	struct sc_rebalance_opts o = { .root = root, .add = add, .nadd = nadd, .remove = rm,
				       .nremove = nrm, .dry_run = dry_run, .step = on_step,
				       .ctx = c };
	char err[1024] = "";
	int rc = sc_rebalance_run(&o, res, err, sizeof(err));

	if (rc)
		print_message("rebalance: %s\n", err);
	return rc;
}

static void prepare_healthy(const char *root, struct counts *c)
{
	(void)c;
	tsu_make_set(root, 3, 2, 12);
}

static void op_add_node(const char *root, struct counts *c)
{
	char n3[PATH_MAX], *add[1] = { n3 };
	struct sc_rebalance_result res;

	tsu_join(n3, root, "n3");
	assert_int_equal(rebalance(root, add, 1, NULL, 0, 0, c, &res), 0);
	sc_rebalance_result_release(&res);
}

static void op_remove_node(const char *root, struct counts *c)
{
	char n0[PATH_MAX], *rm[1] = { n0 };
	struct sc_rebalance_result res;

	tsu_join(n0, root, "n0");
	assert_int_equal(rebalance(root, NULL, 0, rm, 1, 0, c, &res), 0);
	sc_rebalance_result_release(&res);
}

static void test_rebalance_add_remove(void **state)
{
	char n3[PATH_MAX], n0[PATH_MAX], *add[1] = { n3 }, *rm[1] = { n0 };
	struct sc_rebalance_result res;
	struct sc_manifest before, after;
	struct counts c = { 0 };
	struct sc_buf mb, ma;
	struct fixture f;
	const char *t = f.root;
	const struct sc_buf *want = &f.want;
	uint64_t moved = 0;

	(void)state;
	fixture_open(&f, 12);
	tsu_join(n3, t, "n3");
	tsu_join(n0, t, "n0");
	/* a dry run: the plan, and not one byte changed (not even n3 made) */
	sc_buf_init(&mb, 1u << 20);
	sc_buf_init(&ma, 1u << 20);
	{
		char mp[PATH_MAX];

		tsu_join(mp, t, "manifest.json");
		assert_int_equal(sc_read_file(mp, mb.max, &mb), 0);
		assert_int_equal(rebalance(t, add, 1, NULL, 0, 1, &c, &res), 0);
		assert_true(res.replicas_moved > 0);
		assert_int_equal(res.exec.generation, 0);
		sc_rebalance_result_release(&res);
		assert_int_equal(sc_read_file(mp, ma.max, &ma), 0);
		assert_int_equal(ma.len, mb.len);
		assert_memory_equal(ma.data, mb.data, mb.len);
		assert_int_equal(access(n3, F_OK), -1);
	}
	/* add a node: moves go to it only, a quarter of the bytes */
	tsu_load(t, &before);
	assert_int_equal(rebalance(t, add, 1, NULL, 0, 0, &c, &res), 0);
	assert_int_equal(res.exec.generation, 2);
	tsu_load(t, &after);
	assert_int_equal(after.nnodes, 4);
	for (uint64_t i = 0; i < after.nshards; i++)
		for (uint32_t r = 0; r < 2; r++)
			if (after.shards[i].replica[r] != before.shards[i].replica[r]) {
				assert_int_equal(after.shards[i].replica[r], 3);
				moved += after.shards[i].stored_bytes;
			}
	assert_int_equal(moved, res.bytes_moved);
	/* the ideal ignores shard boundaries: within half a shard of it */
	assert_true(moved <= res.bytes_ideal + before.shards[0].stored_bytes / 2 + 64);
	assert_true(moved + before.shards[0].stored_bytes / 2 + 64 >= res.bytes_ideal);
	assert_int_equal(res.node[3].state, 1);
	sc_rebalance_result_release(&res);
	sc_manifest_release(&before);
	sc_manifest_release(&after);
	assert_int_equal(check(t).problems, 0);
	assert_int_equal(check(t).notes, 0);
	same_records(t, want);
	/* again: nothing to do */
	assert_int_equal(rebalance(t, add, 1, NULL, 0, 0, &c, &res), 0);
	assert_int_equal(res.replicas_moved, 0);
	assert_int_equal(res.exec.generation, 0);
	sc_rebalance_result_release(&res);
	/* remove node 0: nothing left on it, its set directory gone */
	assert_int_equal(rebalance(t, NULL, 0, rm, 1, 0, &c, &res), 0);
	assert_int_equal(res.exec.generation, 3);
	assert_int_equal(res.node[0].state, 2);
	assert_int_equal(res.node[0].bytes_after, 0);
	assert_true(res.bytes_moved >= res.node[0].bytes_before);
	sc_rebalance_result_release(&res);
	tsu_load(t, &after);
	assert_int_equal(after.nnodes, 3);
	{
		char sd[PATH_MAX];

		tsu_join(sd, n0, after.set_id);
		assert_int_equal(access(sd, F_OK), -1);
	}
	sc_manifest_release(&after);
	assert_int_equal(check(t).problems, 0);
	same_records(t, want);
	/* removing it again is harmless; removing down to fewer nodes than
	 * replicas is refused */
	assert_int_equal(rebalance(t, NULL, 0, rm, 1, 0, &c, &res), 0);
	assert_int_equal(res.replicas_moved, 0);
	sc_rebalance_result_release(&res);
	{
		char a[PATH_MAX], b[PATH_MAX], *two[2] = { a, b };

		tsu_join(a, t, "n1");
		tsu_join(b, t, "n2");
		assert_int_equal(rebalance(t, NULL, 0, two, 2, 0, &c, &res), SC_EUSAGE);
		sc_rebalance_result_release(&res);
	}
	assert_int_equal(generation(t), 3);
	sc_buf_release(&mb);
	sc_buf_release(&ma);
	fixture_close(&f);
}

/*
 * A replica that must move is copied from an old replica whose SHA-256
 * is checked while copying: when the first source is corrupt, it is
 * rejected and the next replica used, so the moved copy is good.
 */
static void test_rebalance_bad_source(void **state)
{
	char n0[PATH_MAX], p[PATH_MAX], *rm[1] = { n0 };
	struct sc_rebalance_result res;
	struct counts c = { 0 };
	struct sc_manifest m;
	struct fixture f;
	const char *t = f.root;
	uint64_t shard = UINT64_MAX;
	uint32_t bad = 0;

	(void)state;
	fixture_open(&f, 6);
	tsu_join(n0, t, "n0");
	/* a shard with a replica on n0 (which leaves): damage its replica
	 * 0, the first source tried for the copy (the node it moves to
	 * holds no old replica of it) */
	tsu_load(t, &m);
	for (uint64_t i = 0; i < m.nshards && shard == UINT64_MAX; i++)
		if (m.shards[i].replica[0] == 0 || m.shards[i].replica[1] == 0)
			shard = i;
	assert_true(shard != UINT64_MAX);
	sc_manifest_release(&m);
	tsu_replica_path(t, shard, bad, p);
	tsu_flip(p, 5);
	assert_int_equal(rebalance(t, NULL, 0, rm, 1, 0, &c, &res), 0);
	assert_int_equal(res.exec.sources_rejected, 1);
	sc_rebalance_result_release(&res);
	/* the moved replica is good; the bad one, if it stayed, still is bad */
	assert_true(check(t).replicas_bad <= 1);
	same_records(t, &f.want);
	fixture_close(&f);
}

static void test_rebalance_killed_anywhere(void **state)
{
	(void)state;
	assert_true(kill_every_step(prepare_healthy, op_add_node, 0) > 20);
	assert_true(kill_every_step(prepare_healthy, op_remove_node, 0) > 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_repair_heals),
		cmocka_unit_test(test_repair_lost_shard),
		cmocka_unit_test(test_repair_node_gone),
		cmocka_unit_test(test_repair_no_symlinked_node),
		cmocka_unit_test(test_repair_killed_anywhere),
		cmocka_unit_test(test_rebalance_add_remove),
		cmocka_unit_test(test_rebalance_bad_source),
		cmocka_unit_test(test_rebalance_killed_anywhere),
	};

	return cmocka_run_group_tests_name("repair", tests, NULL, NULL);
}
