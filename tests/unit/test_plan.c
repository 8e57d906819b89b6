/*
 * test_plan.c - the plan of a partitioned ingest (store/plan.c): how
 * inputs are cut into slices (whole compressed files, plain files at line
 * boundaries, every byte in exactly one slice, in input order, about
 * equal sizes), the plan file's round trip, and what a damaged plan or
 * another ingest's plan looks like.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>

#include "file.h"
#include "normalize.h"
#include "plan.h"
#include "tfile.h"
#include "test_util.h"

static char dir[256]; /* short: the tests build paths below it in small buffers */

static int setup(void **state)
{
	char d[PATH_MAX];

	(void)state;
	tu_tmp_dir(d, "test_plan");
	assert_true(strlen(d) < sizeof(dir));
	memcpy(dir, d, strlen(d) + 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rm_tree(dir);
	return 0;
}

static void spit(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(sc_write_all(fd, p, n), 0);
	close(fd);
}

/* inputs: in/a.jsonl (plain, lines of varied length), in/b.jsonl.zst,
 * in/c.jsonl (plain, small) */
static size_t make_inputs(char *a_text, size_t cap)
{
	char path[512];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/in", dir);
	mkdir(path, 0755);
	rng_state = 42;
	for (int i = 0; i < 2000; i++) {
		int len = 5 + (int)(rng() % 200);

		n += (size_t)snprintf(a_text + n, cap - n, "{\"text\":\"%0*d\"}\n", len, i);
	}
	snprintf(path, sizeof(path), "%s/in/a.jsonl", dir);
	spit(path, a_text, n);
	{
		const char *z = "{\"text\":\"compressed\"}\n";
		char comp[256];
		size_t c = ZSTD_compress(comp, sizeof(comp), z, strlen(z), 3);

		assert_false(ZSTD_isError(c));
		snprintf(path, sizeof(path), "%s/in/b.jsonl.zst", dir);
		spit(path, comp, c);
	}
	snprintf(path, sizeof(path), "%s/in/c.jsonl", dir);
	spit(path, "{\"text\":\"c\"}\n", 13);
	return n;
}

static void opts_init(struct sc_ingest_opts *o, char **inputs, char **nodes, uint32_t *w)
{
	memset(o, 0, sizeof(*o));
	o->out = dir;
	o->inputs = inputs;
	o->ninputs = 1;
	o->node_paths = nodes;
	o->node_weights = w;
	o->nnodes = 2;
	o->replicas = 1;
	o->text_field = "text";
	o->normalize = SC_NORM_DEFAULT;
	o->dedup = SC_DEDUP_EXACT;
	sc_near_params_default(&o->near);
	o->near_threshold = 0.8;
	o->near_margin = 1.0;
	o->max_record_size = 1 << 20;
	o->frame_size = 1 << 16;
	o->shard_size = 1 << 20;
	o->zstd_level = 3;
	o->show_rejects = 10;
}

static void test_slices(void **state)
{
	static char text[1 << 20];
	char in[512], pdir[512], n0[512], n1[512], err[1024];
	char *inputs[] = { in }, *nodes[] = { n0, n1 };
	uint32_t w[] = { 1, 2 };
	struct sc_ingest_opts o;
	size_t alen;

	(void)state;
	alen = make_inputs(text, sizeof(text));
	snprintf(in, sizeof(in), "%s/in", dir);
	snprintf(n0, sizeof(n0), "%s/n0", dir);
	snprintf(n1, sizeof(n1), "%s/n1", dir);
	snprintf(pdir, sizeof(pdir), "%s/plan", dir);
	opts_init(&o, inputs, nodes, w);
	for (uint32_t tasks = 1; tasks <= 9; tasks += 2) {
		struct sc_plan *p, *q;
		uint64_t covered = 0, per[9] = { 0 }, total = 0;
		char what[256];

		assert_int_equal(sc_plan_build(&o, pdir, tasks, &p, err, sizeof(err)), 0);
		assert_int_equal(p->nfiles, 3);
		/* in ingest's order (names sorted in a directory), named as ingest names them */
		assert_non_null(strstr(p->files[0].name, "/in/a.jsonl"));
		assert_non_null(strstr(p->files[1].name, "/in/b.jsonl.zst"));
		assert_true(p->files[0].plain && !p->files[1].plain && p->files[2].plain);
		assert_int_equal(p->files[0].size, alen);
		for (uint32_t f = 0; f < p->nfiles; f++)
			total += p->files[f].size;
		/* a.jsonl: ranges tiling the file, cut right after a newline */
		for (uint32_t s = 0; s < tasks; s++)
			for (uint32_t k = p->slice_first[s]; k < p->slice_first[s + 1]; k++) {
				const struct sc_plan_seg *g = &p->segs[k];
				uint64_t len = g->length == UINT64_MAX ? p->files[g->file].size : g->length;

				per[s] += len;
				if (g->file != 0)
					assert_true(g->length == UINT64_MAX && !g->offset);
				else {
					assert_int_equal(g->offset, covered);
					if (g->offset)
						assert_int_equal(text[g->offset - 1], '\n');
					covered += len;
				}
			}
		assert_int_equal(covered, alen);
		/* every slice is within one line (<= 230 bytes) + a small file of its share */
		for (uint32_t s = 0; s < tasks; s++)
			assert_true(per[s] + 300 >= total / tasks && per[s] <= total / tasks + 300);
		/* the plan file round trip */
		assert_int_equal(sc_plan_save(p, err, sizeof(err)), 0);
		assert_int_equal(sc_plan_load(pdir, &q, err, sizeof(err)), 0);
		assert_memory_equal(p->id, q->id, 16);
		assert_int_equal(q->tasks, tasks);
		assert_int_equal(q->nsegs, p->nsegs);
		for (uint32_t k = 0; k < p->nsegs; k++) {
			assert_int_equal(q->segs[k].file, p->segs[k].file);
			assert_int_equal(q->segs[k].offset, p->segs[k].offset);
			assert_int_equal(q->segs[k].length, p->segs[k].length);
		}
		assert_memory_equal(q->slice_first, p->slice_first, (tasks + 1) * sizeof(uint32_t));
		assert_string_equal(q->files[1].path, p->files[1].path);
		assert_string_equal(q->out, p->out);
		assert_int_equal(q->o.nnodes, 2);
		assert_int_equal(q->node_weights[1], 2);
		assert_true(q->o.near_threshold == 0.8);
		assert_true(sc_plan_same(p, q, what, sizeof(what)));
		assert_int_equal(sc_plan_phase_tasks(q, SC_PHASE_NEAR), 0);
		assert_int_equal(sc_plan_phase_tasks(q, SC_PHASE_DEDUP), tasks);
		sc_plan_free(q);
		sc_plan_clean(p, 0);
		sc_plan_free(p);
	}
}

static void test_same_and_damage(void **state)
{
	static char text[1 << 20];
	char in[512], pdir[512], n0[512], n1[512], err[1024], what[512], path[600];
	char *inputs[] = { in }, *nodes[] = { n0, n1 };
	uint32_t w[] = { 1, 2 };
	struct sc_ingest_opts o;
	struct sc_plan *p, *q;
	struct sc_buf b;
	enum sc_phase ph;

	(void)state;
	make_inputs(text, sizeof(text));
	snprintf(in, sizeof(in), "%s/in", dir);
	snprintf(n0, sizeof(n0), "%s/n0", dir);
	snprintf(n1, sizeof(n1), "%s/n1", dir);
	snprintf(pdir, sizeof(pdir), "%s/plan2", dir);
	opts_init(&o, inputs, nodes, w);
	assert_int_equal(sc_plan_build(&o, pdir, 3, &p, err, sizeof(err)), 0);
	o.zstd_level = 5;
	assert_int_equal(sc_plan_build(&o, pdir, 3, &q, err, sizeof(err)), 0);
	assert_false(sc_plan_same(p, q, what, sizeof(what)));
	assert_string_equal(what, "options");
	sc_plan_free(q);
	o.zstd_level = 3;
	assert_int_equal(sc_plan_build(&o, pdir, 4, &q, err, sizeof(err)), 0);
	assert_false(sc_plan_same(p, q, what, sizeof(what)));
	/* the tasks are in the options digest too (they move shard boundaries) */
	assert_non_null(strstr(what, "--tasks (3 then, 4 now)"));
	sc_plan_free(q);
	w[1] = 3;
	assert_int_equal(sc_plan_build(&o, pdir, 3, &q, err, sizeof(err)), 0);
	assert_false(sc_plan_same(p, q, what, sizeof(what)));
	assert_string_equal(what, "nodes or replicas");
	sc_plan_free(q);
	w[1] = 2;
	/* an input that changed */
	snprintf(path, sizeof(path), "%s/in/c.jsonl", dir);
	spit(path, "{\"text\":\"cc\"}\n", 14);
	assert_int_equal(sc_plan_build(&o, pdir, 3, &q, err, sizeof(err)), 0);
	assert_false(sc_plan_same(p, q, what, sizeof(what)));
	assert_non_null(strstr(what, "inputs ("));
	sc_plan_free(q);
	/* stdin and bad task counts are usage errors */
	in[0] = '-';
	in[1] = '\0';
	assert_int_equal(sc_plan_build(&o, pdir, 3, &q, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "standard input"));
	snprintf(in, sizeof(in), "%s/in", dir);
	assert_int_equal(sc_plan_build(&o, pdir, 0, &q, err, sizeof(err)), SC_EUSAGE);
	/* damage: every byte of the saved plan, one at a time, is refused */
	assert_int_equal(sc_plan_save(p, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/plan", pdir);
	sc_buf_init(&b, 1 << 20);
	assert_int_equal(sc_read_file(path, 1 << 20, &b), 0);
	for (size_t i = 0; i < b.len; i += 1 + b.len / 97) {
		b.data[i] ^= 0x10;
		spit(path, b.data, b.len);
		assert_int_not_equal(sc_plan_load(pdir, &q, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "plan"));
		b.data[i] ^= 0x10;
	}
	spit(path, b.data, b.len);
	assert_int_equal(sc_plan_load(pdir, &q, err, sizeof(err)), 0);
	sc_plan_free(q);
	sc_buf_release(&b);
	/* no plan */
	sc_plan_clean(p, 0);
	assert_int_equal(sc_plan_load(pdir, &q, err, sizeof(err)), -ENOENT);
	sc_plan_free(p);
	/* phase names */
	assert_int_equal(sc_phase_parse("scan", &ph), 0);
	assert_int_equal(ph, SC_PHASE_SCAN);
	assert_int_equal(sc_phase_parse("3", &ph), 0);
	assert_int_equal(ph, SC_PHASE_PACK);
	assert_int_equal(sc_phase_parse("near", &ph), 0);
	assert_int_equal(ph, SC_PHASE_NEAR);
	assert_int_equal(sc_phase_parse("5", &ph), SC_EUSAGE);
	assert_int_equal(sc_phase_parse("", &ph), SC_EUSAGE);
}

/* Write text as the plan file of p's directory, checksummed as a saved
 * plan is, so that only the text can be wrong. */
static void save_plan_text(const struct sc_plan *p, const char *text)
{
	struct sc_tfile_writer *w;
	char path[SC_PATH_MAX], err[512];

	assert_int_equal(sc_plan_path(p, path, sizeof(path), "plan"), 0);
	assert_int_equal(sc_tfile_create(path, SC_TF_PLAN, p->id, 0, 1, 1 << 16, &w, err,
					 sizeof(err)), 0);
	assert_int_equal(sc_tfile_write(w, text, strlen(text)), 0);
	assert_int_equal(sc_tfile_commit(w, err, sizeof(err)), 0);
}

/*
 * Plan text that the checksums cannot catch (a plan written by another
 * tool, or by a bug): a key given twice is refused (its first value was
 * leaked), and so is a '%' escape cut short at the end of a value (it was
 * decoded from the bytes after the value's end).
 */
static void test_crafted_text(void **state)
{
	static char text[1 << 20];
	char in[512], pdir[512], n0[512], n1[512], err[1024], path[600];
	char *inputs[] = { in }, *nodes[] = { n0, n1 };
	static const char *const twice[] = { "out", "text_field", "rejects", "near_report",
					     "tasks" };
	uint32_t w[] = { 1, 2 };
	struct sc_ingest_opts o;
	struct sc_plan *p, *q;
	struct sc_buf b, t;

	(void)state;
	make_inputs(text, sizeof(text));
	snprintf(in, sizeof(in), "%s/in", dir);
	snprintf(n0, sizeof(n0), "%s/n0", dir);
	snprintf(n1, sizeof(n1), "%s/n1", dir);
	snprintf(pdir, sizeof(pdir), "%s/plan3", dir);
	opts_init(&o, inputs, nodes, w);
	assert_int_equal(sc_plan_build(&o, pdir, 2, &p, err, sizeof(err)), 0);
	assert_int_equal(sc_plan_save(p, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/plan", pdir);
	sc_buf_init(&b, 1 << 20);
	sc_buf_init(&t, 1 << 20);
	assert_int_equal(sc_tfile_load(path, SC_TF_PLAN, p->id, 0, 1 << 20, &b, err,
				       sizeof(err)), 0);
	/* the text as saved loads */
	save_plan_text(p, b.data);
	assert_int_equal(sc_plan_load(pdir, &q, err, sizeof(err)), 0);
	sc_plan_free(q);
	for (size_t k = 0; k < SC_ARRAY_LEN(twice); k++) {
		char key[64], *at, *eol;

		/* the key's line once more, just before "end" */
		snprintf(key, sizeof(key), "\n%s ", twice[k]);
		at = strstr(b.data, key);
		assert_non_null(at);
		eol = strchr(at + 1, '\n');
		t.len = 0;
		assert_int_equal(sc_buf_append(&t, b.data, b.len - 4), 0); /* less "end\n" */
		assert_int_equal(sc_buf_append(&t, at + 1, (size_t)(eol - at)), 0);
		assert_int_equal(sc_buf_append(&t, "end\n", 5), 0); /* with the NUL */
		save_plan_text(p, t.data);
		assert_int_equal(sc_plan_load(pdir, &q, err, sizeof(err)), SC_ECORRUPT);
		assert_non_null(strstr(err, "not a valid plan"));
	}
	/* a value ending in '%' or '%x' */
	for (int cut = 1; cut <= 2; cut++) {
		char *at = strstr(b.data, "\ntext_field ");

		assert_non_null(at);
		t.len = 0;
		assert_int_equal(sc_buf_append(&t, b.data, (size_t)(at - b.data)), 0);
		assert_int_equal(sc_buf_append(&t, cut == 1 ? "\ntext_field a%" :
					       "\ntext_field a%4", cut == 1 ? 14 : 15), 0);
		at = strchr(at + 1, '\n');
		assert_int_equal(sc_buf_append(&t, at, strlen(at) + 1), 0);
		save_plan_text(p, t.data);
		assert_int_equal(sc_plan_load(pdir, &q, err, sizeof(err)), SC_ECORRUPT);
	}
	sc_buf_release(&b);
	sc_buf_release(&t);
	sc_plan_clean(p, 0);
	sc_plan_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slices),
		cmocka_unit_test(test_same_and_damage),
		cmocka_unit_test(test_crafted_text),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
