/*
 * test_setutil.h - small real shard sets for the unit tests of the set
 * code (test_set.c, test_setfs.c, test_journal.c, test_verify.c,
 * test_repair.c): the caller's part of a manifest, a set written through
 * the real set writer with real zstd frames, and helpers to find, damage
 * and compare its replica files.
 *
 * Header-only (static functions): each test binary includes it once.
 */
#ifndef SC_TEST_SETUTIL_H
#define SC_TEST_SETUTIL_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "manifest.h"
#include "normalize.h"
#include "set.h"
#include "shard.h"
#include "test_util.h"

/* out = a/b, which must fit */
static inline void tsu_join(char out[PATH_MAX], const char *a, const char *b)
{
	assert_int_equal(sc_path_join(out, PATH_MAX, a, b), 0);
}

/*
 * The caller's part of a test manifest (tool and config), as ingest fills
 * it; frame and shard sizes, level and dedup mode vary by test.
 */
static inline void tsu_config(struct sc_manifest *m, uint32_t replicas, uint64_t frame_size,
			      uint64_t shard_size, int level, char *dedup)
{
	m->tool = "shardctl test";
	m->config.text_field = "text";
	m->config.input_format = "jsonl";
	m->config.normalize = SC_NORM_DEFAULT;
	m->config.normalize_version = 1;
	m->config.dedup = dedup;
	m->config.fingerprint_version = 1;
	m->config.max_record_size = 8u << 20;
	m->config.frame_size = frame_size;
	m->config.shard_size = shard_size;
	m->config.zstd_level = level;
	m->config.replicas = replicas;
}

/*
 * Write a set at root on nnodes nodes (root/n0, root/n1, ...) with
 * `replicas` copies of nshards shards of two frames of `recs` records
 * each. With bad_index, the record index of shard 0's first frame claims
 * one record fewer than the frame holds (the file is otherwise valid: its
 * SHA-256 is what the manifest records). Commits and returns the
 * generation.
 */
static inline uint64_t tsu_make_set_ex(const char *root, uint32_t nnodes, uint32_t replicas,
				uint32_t nshards, uint32_t recs, int bad_index)
{
	char paths[8][PATH_MAX], *nodes[8], err[1024];
	uint32_t weights[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	struct sc_set_writer_opts o = { 0 };
	struct sc_frame_encoder *enc = NULL;
	struct sc_set_writer *w = NULL;
	struct sc_buf raw, frame;
	struct sc_manifest m;
	uint64_t total_recs = 0, total_raw = 0, frames = 0;
	int rc;

	assert_true(nnodes <= 8);
	for (uint32_t i = 0; i < nnodes; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%u", i);
		tsu_join(paths[i], root, name);
		nodes[i] = paths[i];
	}
	o.root = root;
	o.node_paths = nodes;
	o.node_weights = weights;
	o.nnodes = nnodes;
	o.replicas = replicas;
	o.shard_size = 1; /* set below, once a frame's size is known */
	sc_buf_init(&raw, 1 << 20);
	sc_buf_init(&frame, 1 << 20);
	assert_int_equal(sc_frame_encoder_new(3, &enc), 0);
	for (uint32_t s = 0; s < nshards; s++) {
		for (uint32_t f = 0; f < 2; f++) {
			uint32_t checksum, claimed = recs;

			raw.len = 0;
			for (uint32_t r = 0; r < recs; r++) {
				char line[128];
				int n = snprintf(line, sizeof(line),
						 "{\"text\":\"shard %u frame %u record %u %s\"}\n",
						 s, f, r, "lorem ipsum dolor sit amet");

				assert_int_equal(sc_buf_append(&raw, line, (size_t)n), 0);
			}
			assert_int_equal(sc_frame_encode(enc, raw.data, raw.len, &frame,
							 &checksum), 0);
			if (!w) {
				/* two frames per shard: close at 2 * raw, minus one */
				o.shard_size = 2 * raw.len - 1;
				rc = sc_set_writer_open(&o, &w, err, sizeof(err));
				if (rc)
					fail_msg("writer open: %s", err);
			}
			if (bad_index && s == 0 && f == 0)
				claimed = recs - 1;
			rc = sc_set_writer_add_frame(w, frame.data, frame.len, (uint32_t)raw.len,
						     checksum, claimed, err, sizeof(err));
			if (rc)
				fail_msg("add frame: %s", err);
			total_recs += claimed;
			total_raw += raw.len;
			frames++;
		}
	}
	memset(&m, 0, sizeof(m));
	tsu_config(&m, replicas, 2u << 20, 256u << 20, 3, "exact");
	m.stats.records_in = m.stats.records_kept = total_recs;
	m.stats.bytes_kept = total_raw;
	m.stats.frames = frames;
	rc = sc_set_writer_commit(w, &m, err, sizeof(err));
	if (rc)
		fail_msg("commit: %s", err);
	sc_frame_encoder_free(enc);
	sc_buf_release(&raw);
	sc_buf_release(&frame);
	assert_int_equal(sc_manifest_load(root, &m, err, sizeof(err)), 0);
	{
		uint64_t g = m.generation;

		sc_manifest_release(&m);
		return g;
	}
}

static inline uint64_t tsu_make_set(const char *root, uint32_t nnodes, uint32_t replicas,
			     uint32_t nshards)
{
	return tsu_make_set_ex(root, nnodes, replicas, nshards, 40, 0);
}

/* The committed manifest of root (the caller releases it). */
static inline void tsu_load(const char *root, struct sc_manifest *m)
{
	char err[1024];

	memset(m, 0, sizeof(*m));
	if (sc_manifest_load(root, m, err, sizeof(err)))
		fail_msg("load '%s': %s", root, err);
}

/* Path of replica r of shard i of the committed set at root. */
static inline void tsu_replica_path(const char *root, uint64_t i, uint32_t r, char out[PATH_MAX])
{
	struct sc_manifest m;
	char dir[PATH_MAX];

	tsu_load(root, &m);
	assert_true(i < m.nshards && r < m.shards[i].nreplicas);
	assert_int_equal(sc_manifest_node_dir(&m, root, m.shards[i].replica[r], dir,
					      sizeof(dir)), 0);
	assert_int_equal(sc_path_join(out, PATH_MAX, dir, m.shards[i].name), 0);
	sc_manifest_release(&m);
}

/* Invert the bits of the byte at off (negative: from the end) of path. */
static inline void tsu_flip(const char *path, int64_t off)
{
	struct sc_buf b;

	sc_buf_init(&b, 64u << 20);
	assert_int_equal(sc_read_file(path, b.max, &b), 0);
	if (off < 0)
		off += (int64_t)b.len;
	assert_true(off >= 0 && (uint64_t)off < b.len);
	b.data[off] ^= (char)0xff;
	assert_int_equal(sc_write_file_atomic(path, b.data, b.len), 0);
	sc_buf_release(&b);
}

/* Every record of the set, in order, as cat gives them, into out. */
static inline void tsu_read_all(const char *root, struct sc_buf *out)
{
	struct sc_set *s = NULL;
	struct sc_buf frame;
	char err[1024];

	sc_buf_init(&frame, 64u << 20);
	out->len = 0;
	if (sc_set_open(root, &s, err, sizeof(err)))
		fail_msg("open '%s': %s", root, err);
	for (uint64_t i = 0; i < sc_set_manifest(s)->nshards; i++)
		for (uint32_t f = 0; f < sc_set_manifest(s)->shards[i].frames; f++) {
			if (sc_set_read_frame(s, i, f, &frame, err, sizeof(err)))
				fail_msg("read shard %lu frame %u: %s", (unsigned long)i, f, err);
			assert_int_equal(sc_buf_append(out, frame.data, frame.len), 0);
		}
	sc_set_close(s);
	sc_buf_release(&frame);
}

#endif
