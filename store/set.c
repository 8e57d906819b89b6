/*
 * set.c - shard set writer and reader (see set.h for the layout and the
 * commit protocol).
 *
 * The writer keeps one shard open at a time, written to every replica's
 * temporary file as frames arrive, with a running SHA-256 and a shard index
 * builder. Closing a shard appends the trailer, fsyncs each replica,
 * renames it to its final name and fsyncs the directory. Nothing is
 * visible to readers until the manifest naming those files is renamed into
 * place by sc_set_writer_commit().
 */
#include "set.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "file.h"
#include "placement.h"
#include "shard.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Remove a directory holding only files (a generation directory). */
static void remove_flat_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[SC_PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!sc_path_join(path, sizeof(path), dir, e->d_name))
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/*
 * Remove every generation directory under NODE/SET_ID except `keep`
 * (0 keeps none). Only names of the form gNNNNNN are touched.
 */
static void remove_generations(const char *setdir, uint64_t keep)
{
	DIR *d = opendir(setdir);
	struct dirent *e;
	char path[SC_PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		unsigned long long g;

		if (e->d_name[0] != 'g' || !e->d_name[1])
			continue;
		g = strtoull(e->d_name + 1, &end, 10);
		if (*end || g == keep)
			continue;
		if (!sc_path_join(path, sizeof(path), setdir, e->d_name))
			remove_flat_dir(path);
	}
	closedir(d);
}

/* ---- writer ---- */

#define SET_ID_FILE ".set_id"

/*
 * Identity of a set that has no manifest yet. It is made durable in
 * ROOT/.set_id before any node directory is created, so an ingest that is
 * killed before its first commit leaves NODE/SET_ID/gNNNNNN directories
 * that the next ingest into the same root recognises and removes.
 */
static int load_or_make_set_id(const char *root, char id_hex[33], char *err,
			       size_t errlen)
{
	char path[SC_PATH_MAX];
	unsigned char id[16];
	struct sc_buf b;
	int rc;

	if (sc_path_join(path, sizeof(path), root, SET_ID_FILE))
		return fail(err, errlen, SC_ELIMIT, "set path too long");
	sc_buf_init(&b, 64);
	rc = sc_read_file(path, 64, &b);
	if (rc == 0 && b.len == 33 && b.data[32] == '\n' &&
	    strspn(b.data, "0123456789abcdef") == 32) {
		memcpy(id_hex, b.data, 32);
		id_hex[32] = '\0';
		sc_buf_release(&b);
		return 0;
	}
	sc_buf_release(&b);
	/* absent or unreadable: a fresh identity (leftovers of an older
	 * identity, if any, are not ours to recognise) */
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
		return fail(err, errlen, -EIO, "cannot get random bytes for a set id");
	sc_hex(id, sizeof(id), id_hex);
	id_hex[32] = '\n';
	rc = sc_write_file_atomic(path, id_hex, 33);
	id_hex[32] = '\0';
	if (rc)
		return fail(err, errlen, rc, "set '%s': cannot write '%s': %s", root,
			    path, sc_strerror(rc));
	return 0;
}

/*
 * Remove temporaries a killed writer left in the set root (we hold the
 * lock, so nobody else is writing them).
 */
static void remove_root_temporaries(const char *root)
{
	static const char prefix[] = "." SC_MANIFEST_NAME ".tmp.";
	DIR *d = opendir(root);
	struct dirent *e;
	char path[SC_PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) &&
		    strncmp(e->d_name, "." SET_ID_FILE ".tmp.", sizeof(SET_ID_FILE) + 5))
			continue;
		if (!sc_path_join(path, sizeof(path), root, e->d_name))
			unlink(path);
	}
	closedir(d);
}

struct replica_file {
	int fd;                      /* open temporary file, -1 when none */
	char tmp[SC_PATH_MAX];       /* its temporary path */
	char final[SC_PATH_MAX];     /* its name once complete */
};

struct sc_set_writer {
	char root[SC_PATH_MAX];      /* set root */
	int lock_fd;                 /* flock'd ROOT/.lock */
	struct sc_manifest old;      /* committed manifest, if any */
	int have_old;                /* 1 when old is valid */
	char set_id[33];             /* set identity on the nodes */
	uint64_t generation;         /* generation being written */
	uint32_t nnodes;             /* storage nodes */
	char **node_store;           /* [nnodes] path as stored in the manifest */
	char **node_gen_dir;         /* [nnodes] NODE/SET_ID/gGEN */
	uint32_t *weight;            /* [nnodes] */
	uint64_t *node_bytes;        /* [nnodes] bytes placed so far */
	uint32_t replicas;           /* copies per shard */
	uint64_t shard_size;         /* raw bytes that close a shard */
	/* the open shard */
	int shard_open;              /* 1 while a shard is being written */
	struct replica_file rep[SC_REPLICAS_MAX];
	uint32_t rep_node[SC_REPLICAS_MAX];
	struct sc_shard_builder *builder;
	struct sc_sha256 *sha;
	uint64_t shard_raw;          /* raw bytes in the open shard */
	uint64_t shard_stored;       /* bytes written to the open shard */
	uint64_t shard_records;      /* records in the open shard */
	struct sc_buf trailer;       /* scratch for the shard trailer */
	/* finished shards */
	struct sc_manifest_shard *shards;
	uint64_t nshards, shards_cap;
	uint64_t stored_total;       /* one replica */
};

/* Manifest form of a node path: relative when inside root, else absolute. */
static int node_store_path(const char *root_real, const char *node_real,
			   char **out)
{
	size_t rl = strlen(root_real);

	if (!strncmp(node_real, root_real, rl) && node_real[rl] == '/' &&
	    node_real[rl + 1]) {
		*out = strdup(node_real + rl + 1);
	} else {
		*out = strdup(node_real);
	}
	return *out ? 0 : -ENOMEM;
}

static int writer_nodes_init(struct sc_set_writer *w,
			     const struct sc_set_writer_opts *o, char *err,
			     size_t errlen)
{
	char root_real[PATH_MAX], node_real[PATH_MAX], dir[SC_PATH_MAX];
	char gen[32];
	int rc;

	if (!realpath(w->root, root_real))
		return fail(err, errlen, -errno, "set '%s': %s", w->root, strerror(errno));
	w->node_store = calloc(o->nnodes, sizeof(char *));
	w->node_gen_dir = calloc(o->nnodes, sizeof(char *));
	w->weight = calloc(o->nnodes, sizeof(uint32_t));
	w->node_bytes = calloc(o->nnodes, sizeof(uint64_t));
	if (!w->node_store || !w->node_gen_dir || !w->weight || !w->node_bytes)
		return -ENOMEM;
	w->nnodes = o->nnodes;
	snprintf(gen, sizeof(gen), "g%06" PRIu64, w->generation);
	for (uint32_t i = 0; i < o->nnodes; i++) {
		rc = sc_mkdir_p(o->node_paths[i], 0755);
		if (rc)
			return fail(err, errlen, rc, "node '%s': cannot create: %s",
				    o->node_paths[i], sc_strerror(rc));
		if (!realpath(o->node_paths[i], node_real))
			return fail(err, errlen, -errno, "node '%s': %s",
				    o->node_paths[i], strerror(errno));
		rc = node_store_path(root_real, node_real, &w->node_store[i]);
		if (rc)
			return rc;
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(w->node_store[k], w->node_store[i]))
				return fail(err, errlen, SC_EUSAGE,
					    "node '%s': given twice", o->node_paths[i]);
		w->weight[i] = o->node_weights[i];
		/* NODE/SET_ID: drop leftovers of interrupted ingests */
		if (sc_path_join(dir, sizeof(dir), node_real, w->set_id))
			return fail(err, errlen, SC_ELIMIT, "node '%s': path too long",
				    node_real);
		remove_generations(dir, w->have_old ? w->old.generation : 0);
		if (sc_path_join(dir + strlen(dir), sizeof(dir) - strlen(dir), "", gen))
			return SC_ELIMIT;
		rc = sc_mkdir_p(dir, 0755);
		if (rc)
			return fail(err, errlen, rc, "node '%s': cannot create '%s': %s",
				    o->node_paths[i], dir, sc_strerror(rc));
		w->node_gen_dir[i] = strdup(dir);
		if (!w->node_gen_dir[i])
			return -ENOMEM;
	}
	return 0;
}

int sc_set_writer_open(const struct sc_set_writer_opts *o,
		       struct sc_set_writer **out, char *err, size_t errlen)
{
	struct sc_set_writer *w;
	char path[SC_PATH_MAX];
	int rc;

	if (o->nnodes == 0 || o->nnodes > SC_NODES_MAX || o->replicas == 0 ||
	    o->replicas > o->nnodes || o->replicas > SC_REPLICAS_MAX)
		return fail(err, errlen, SC_EUSAGE,
			    "--replicas %u needs at least as many distinct nodes (have %u)",
			    o->replicas, o->nnodes);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->lock_fd = -1;
	for (int r = 0; r < SC_REPLICAS_MAX; r++)
		w->rep[r].fd = -1;
	sc_buf_init(&w->trailer, (size_t)SC_SHARD_FRAMES_MAX * 24 + 4096);
	w->replicas = o->replicas;
	w->shard_size = o->shard_size;
	if (strlen(o->root) >= sizeof(w->root)) {
		rc = fail(err, errlen, SC_ELIMIT, "set path too long");
		goto out_abort;
	}
	strcpy(w->root, o->root);
	rc = sc_mkdir_p(w->root, 0755);
	if (rc) {
		fail(err, errlen, rc, "set '%s': cannot create: %s", w->root, sc_strerror(rc));
		goto out_abort;
	}
	if (sc_path_join(path, sizeof(path), w->root, ".lock")) {
		rc = fail(err, errlen, SC_ELIMIT, "set path too long");
		goto out_abort;
	}
	w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->lock_fd < 0 || flock(w->lock_fd, LOCK_EX | LOCK_NB)) {
		rc = -errno;
		if (rc == -EWOULDBLOCK)
			fail(err, errlen, rc, "set '%s': another ingest is writing it", w->root);
		else
			fail(err, errlen, rc, "set '%s': cannot lock: %s", w->root, strerror(errno));
		goto out_abort;
	}
	remove_root_temporaries(w->root);
	rc = sc_manifest_load(w->root, &w->old, err, errlen);
	if (rc == 0) {
		w->have_old = 1;
		memcpy(w->set_id, w->old.set_id, sizeof(w->set_id));
		w->generation = w->old.generation + 1;
	} else if (rc == SC_ENOTSET) {
		rc = load_or_make_set_id(w->root, w->set_id, err, errlen);
		if (rc)
			goto out_abort;
		w->generation = 1;
	} else {
		size_t l = strlen(err);

		snprintf(err + l, errlen - l, "; refusing to overwrite it");
		goto out_abort;
	}
	rc = sc_shard_builder_new(&w->builder);
	if (!rc)
		rc = sc_sha256_new(&w->sha);
	if (!rc)
		rc = writer_nodes_init(w, o, err, errlen);
	if (rc)
		goto out_abort;
	*out = w;
	return 0;
out_abort:
	sc_set_writer_abort(w);
	return rc;
}

static int shard_begin(struct sc_set_writer *w, char *err, size_t errlen)
{
	/* the size of the shard about to be written: the last one's, or for
	 * the first a guess at typical text compression; a nonzero estimate
	 * lets the weights decide where the first shard goes */
	uint64_t est = w->nshards ? w->shards[w->nshards - 1].stored_bytes
				  : w->shard_size / 4 + 1;
	char name[32];
	int rc;

	if (w->nshards >= SC_SHARDS_MAX)
		return fail(err, errlen, SC_ELIMIT, "more than %u shards", SC_SHARDS_MAX);
	rc = sc_placement_choose(w->node_bytes, w->weight, w->nnodes, est,
				 w->replicas, w->rep_node);
	if (rc)
		return fail(err, errlen, rc, "placement failed");
	snprintf(name, sizeof(name), "%06" PRIu64 ".zst", w->nshards);
	for (uint32_t r = 0; r < w->replicas; r++) {
		const char *dir = w->node_gen_dir[w->rep_node[r]];
		struct replica_file *f = &w->rep[r];

		if (sc_path_join(f->final, sizeof(f->final), dir, name) ||
		    snprintf(f->tmp, sizeof(f->tmp), "%s/.%s.tmp", dir, name) >=
			    (int)sizeof(f->tmp))
			return fail(err, errlen, SC_ELIMIT, "node path too long");
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f->fd < 0)
			return fail(err, errlen, -errno, "shard '%s': cannot create: %s",
				    f->tmp, strerror(errno));
	}
	sc_shard_builder_free(w->builder);
	w->builder = NULL;
	rc = sc_shard_builder_new(&w->builder);
	if (!rc)
		rc = sc_sha256_reset(w->sha);
	if (rc)
		return rc;
	w->shard_open = 1;
	w->shard_raw = w->shard_stored = w->shard_records = 0;
	return 0;
}

static int shard_write(struct sc_set_writer *w, const void *p, size_t n,
		       char *err, size_t errlen)
{
	int rc;

	for (uint32_t r = 0; r < w->replicas; r++) {
		rc = sc_write_all(w->rep[r].fd, p, n);
		if (rc)
			return fail(err, errlen, rc, "shard '%s': write failed: %s",
				    w->rep[r].tmp, sc_strerror(rc));
	}
	w->shard_stored += n;
	return sc_sha256_update(w->sha, p, n);
}

static int shard_end(struct sc_set_writer *w, char *err, size_t errlen)
{
	struct sc_manifest_shard *s;
	char dir[SC_PATH_MAX];
	int rc;

	w->trailer.len = 0;
	rc = sc_shard_builder_finish(w->builder, &w->trailer);
	if (rc)
		return fail(err, errlen, rc, "shard trailer: %s", sc_strerror(rc));
	rc = shard_write(w, w->trailer.data, w->trailer.len, err, errlen);
	if (rc)
		return rc;
	if (w->nshards == w->shards_cap) {
		uint64_t ncap = w->shards_cap ? w->shards_cap * 2 : 64;
		void *p = realloc(w->shards, ncap * sizeof(*w->shards));

		if (!p)
			return -ENOMEM;
		w->shards = p;
		w->shards_cap = ncap;
	}
	s = &w->shards[w->nshards];
	memset(s, 0, sizeof(*s));
	rc = sc_sha256_final(w->sha, s->sha256);
	if (rc)
		return rc;
	for (uint32_t r = 0; r < w->replicas; r++) {
		struct replica_file *f = &w->rep[r];

		if (fsync(f->fd) || close(f->fd)) {
			rc = -errno;
			f->fd = -1;
			return fail(err, errlen, rc, "shard '%s': fsync failed: %s",
				    f->tmp, strerror(-rc));
		}
		f->fd = -1;
		if (rename(f->tmp, f->final))
			return fail(err, errlen, -errno, "shard '%s': rename failed: %s",
				    f->tmp, strerror(errno));
		f->tmp[0] = '\0';
		rc = sc_path_dirname(f->final, dir, sizeof(dir));
		if (!rc)
			rc = sc_fsync_dir(dir);
		if (rc)
			return fail(err, errlen, rc, "node dir '%s': fsync failed: %s",
				    dir, sc_strerror(rc));
		w->node_bytes[w->rep_node[r]] += w->shard_stored;
		s->replica[r] = w->rep_node[r];
	}
	if (asprintf(&s->name, "%s/g%06" PRIu64 "/%06" PRIu64 ".zst", w->set_id,
		     w->generation, w->nshards) < 0) {
		s->name = NULL;
		return -ENOMEM;
	}
	s->nreplicas = w->replicas;
	s->records = w->shard_records;
	s->raw_bytes = w->shard_raw;
	s->stored_bytes = w->shard_stored;
	s->frames = sc_shard_builder_frames(w->builder);
	w->stored_total += w->shard_stored;
	w->nshards++;
	w->shard_open = 0;
	return 0;
}

int sc_set_writer_add_frame(struct sc_set_writer *w, const void *frame,
			    size_t csize, uint32_t dsize, uint32_t checksum,
			    uint32_t records, char *err, size_t errlen)
{
	int rc;

	if (!w->shard_open && (rc = shard_begin(w, err, errlen)))
		return rc;
	if (csize > UINT32_MAX)
		return fail(err, errlen, SC_ELIMIT, "frame too large");
	rc = sc_shard_builder_add(w->builder, (uint32_t)csize, dsize, checksum, records);
	if (rc)
		return fail(err, errlen, rc, "shard index: %s", sc_strerror(rc));
	rc = shard_write(w, frame, csize, err, errlen);
	if (rc)
		return rc;
	w->shard_raw += dsize;
	w->shard_records += records;
	if (w->shard_raw >= w->shard_size ||
	    sc_shard_builder_frames(w->builder) >= SC_SHARD_FRAMES_MAX)
		return shard_end(w, err, errlen);
	return 0;
}

uint64_t sc_set_writer_stored_bytes(const struct sc_set_writer *w)
{
	return w->stored_total + (w->shard_open ? w->shard_stored : 0);
}

static void utc_now(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* 1 when the file at path holds exactly the bytes of want. */
static int manifest_is(const char *path, const struct sc_buf *want)
{
	struct sc_buf have;
	int same;

	sc_buf_init(&have, want->len + 1);
	same = !sc_read_file(path, want->len + 1, &have) && have.len == want->len &&
	       !memcmp(have.data, want->data, want->len);
	sc_buf_release(&have);
	return same;
}

int sc_set_writer_commit(struct sc_set_writer *w, struct sc_manifest *m,
			 char *err, size_t errlen)
{
	char path[SC_PATH_MAX], dir[SC_PATH_MAX];
	struct sc_manifest_node *nodes = NULL;
	struct sc_buf json;
	int rc;

	if (w->shard_open && (rc = shard_end(w, err, errlen)))
		return rc;
	/* make the directory entries leading to the shards durable:
	 * NODE/SET_ID/gGEN, NODE/SET_ID and NODE, and the set root's own
	 * entry in its parent */
	for (uint32_t i = 0; i < w->nnodes; i++) {
		char d[SC_PATH_MAX];

		strcpy(d, w->node_gen_dir[i]);
		for (int up = 0; up < 3; up++) {
			if ((rc = sc_fsync_dir(d)))
				return fail(err, errlen, rc, "node dir '%s': fsync failed: %s",
					    d, sc_strerror(rc));
			if ((rc = sc_path_dirname(d, dir, sizeof(dir))))
				return rc;
			strcpy(d, dir);
		}
	}
	if ((rc = sc_path_dirname(w->root, dir, sizeof(dir))) || (rc = sc_fsync_dir(dir)))
		return fail(err, errlen, rc, "set '%s': fsync of parent failed: %s", w->root,
			    sc_strerror(rc));
	nodes = calloc(w->nnodes, sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->nnodes; i++) {
		nodes[i].path = w->node_store[i];
		nodes[i].weight = w->weight[i];
	}
	m->version = SC_MANIFEST_VERSION;
	m->shard_format = SC_SHARD_FORMAT_VERSION;
	memcpy(m->set_id, w->set_id, sizeof(m->set_id));
	m->generation = w->generation;
	utc_now(m->created, sizeof(m->created));
	m->nodes = nodes;
	m->nnodes = w->nnodes;
	m->shards = w->shards;
	m->nshards = w->nshards;
	m->stats.shards = w->nshards;
	m->stats.bytes_stored = w->stored_total;
	sc_buf_init(&json, SC_MANIFEST_SIZE_MAX);
	rc = sc_manifest_write_json(m, &json);
	/* the manifest borrowed these arrays; hand them back */
	m->nodes = NULL;
	m->nnodes = 0;
	m->shards = NULL;
	m->nshards = 0;
	free(nodes);
	if (rc) {
		fail(err, errlen, rc, "manifest: %s", sc_strerror(rc));
		goto out;
	}
	if (sc_path_join(path, sizeof(path), w->root, SC_MANIFEST_NAME)) {
		rc = fail(err, errlen, SC_ELIMIT, "set path too long");
		goto out;
	}
	rc = sc_write_file_atomic(path, json.data, json.len);
	if (rc) {
		fail(err, errlen, rc, "manifest '%s': commit failed: %s", path,
		     sc_strerror(rc));
		/* The rename may have happened with only the directory fsync
		 * failing: then the new manifest is what readers see, and its
		 * shards must stay. */
		if (manifest_is(path, &json))
			w->generation = 0;
		goto out;
	}
	/* committed: the previous generation is garbage now */
	if (w->have_old) {
		for (uint32_t i = 0; i < w->old.nnodes; i++) {
			if (sc_manifest_node_dir(&w->old, w->root, i, dir, sizeof(dir)) ||
			    sc_path_join(path, sizeof(path), dir, w->set_id))
				continue;
			remove_generations(path, w->generation);
		}
	}
	w->generation = 0; /* nothing left for abort to remove */
	sc_set_writer_abort(w);
out:
	sc_buf_release(&json);
	return rc;
}

void sc_set_writer_abort(struct sc_set_writer *w)
{
	if (!w)
		return;
	for (int r = 0; r < SC_REPLICAS_MAX; r++) {
		if (w->rep[r].fd >= 0)
			close(w->rep[r].fd);
		if (w->shard_open && w->rep[r].tmp[0])
			unlink(w->rep[r].tmp);
	}
	for (uint32_t i = 0; w->node_gen_dir && i < w->nnodes; i++) {
		if (w->node_gen_dir[i] && w->generation)
			remove_flat_dir(w->node_gen_dir[i]);
		free(w->node_gen_dir[i]);
		free(w->node_store[i]);
	}
	for (uint64_t i = 0; i < w->nshards; i++)
		free(w->shards[i].name);
	free(w->shards);
	free(w->node_gen_dir);
	free(w->node_store);
	free(w->weight);
	free(w->node_bytes);
	sc_shard_builder_free(w->builder);
	sc_sha256_free(w->sha);
	sc_buf_release(&w->trailer);
	sc_manifest_release(&w->old);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w);
}

/* ---- reader ---- */

struct sc_set {
	char root[SC_PATH_MAX];          /* set root */
	struct sc_manifest m;            /* verified manifest */
	struct sc_shard_reader *rd;      /* open replica, or NULL */
	uint64_t rd_shard;               /* shard of rd */
	uint32_t rd_replica;             /* replica index of rd */
	sc_set_warn_fn warn;             /* replica failover reports */
	void *warn_ctx;
};

int sc_set_open(const char *root, struct sc_set **out, char *err, size_t errlen)
{
	struct sc_set *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	if (strlen(root) >= sizeof(s->root)) {
		free(s);
		return fail(err, errlen, SC_ELIMIT, "set path too long");
	}
	strcpy(s->root, root);
	rc = sc_manifest_load(root, &s->m, err, errlen);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void sc_set_close(struct sc_set *s)
{
	if (!s)
		return;
	sc_shard_reader_close(s->rd);
	sc_manifest_release(&s->m);
	free(s);
}

const struct sc_manifest *sc_set_manifest(const struct sc_set *s)
{
	return &s->m;
}

const char *sc_set_root(const struct sc_set *s)
{
	return s->root;
}

void sc_set_on_warning(struct sc_set *s, sc_set_warn_fn fn, void *ctx)
{
	s->warn = fn;
	s->warn_ctx = ctx;
}

int sc_set_replica_path(const struct sc_set *s, uint64_t shard, uint32_t r,
			char *buf, size_t n)
{
	char dir[SC_PATH_MAX];
	const struct sc_manifest_shard *sh;

	if (shard >= s->m.nshards)
		return SC_ELIMIT;
	sh = &s->m.shards[shard];
	if (r >= sh->nreplicas ||
	    sc_manifest_node_dir(&s->m, s->root, sh->replica[r], dir, sizeof(dir)))
		return SC_ELIMIT;
	return sc_path_join(buf, n, dir, sh->name);
}

/* Open replica r of shard and check its index against the manifest. */
static int open_replica(struct sc_set *s, uint64_t shard, uint32_t r,
			char *err, size_t errlen)
{
	const struct sc_manifest_shard *sh;
	const struct sc_shard_index *ix;
	char path[SC_PATH_MAX];
	int rc;

	sc_shard_reader_close(s->rd);
	s->rd = NULL;
	if (sc_set_replica_path(s, shard, r, path, sizeof(path)))
		return fail(err, errlen, SC_ELIMIT, "shard %" PRIu64 " replica %" PRIu32
			    ": no such replica, or path too long", shard, r);
	sh = &s->m.shards[shard];
	rc = sc_shard_reader_open(path, &s->rd, err, errlen);
	if (rc)
		return rc;
	ix = sc_shard_reader_index(s->rd);
	if (ix->file_size != sh->stored_bytes || ix->frame_count != sh->frames ||
	    ix->record_count != sh->records || ix->raw_bytes != sh->raw_bytes) {
		sc_shard_reader_close(s->rd);
		s->rd = NULL;
		return fail(err, errlen, SC_ECORRUPT,
			    "shard '%s': size or counts differ from the manifest", path);
	}
	s->rd_shard = shard;
	s->rd_replica = r;
	return 0;
}

int sc_set_read_frame(struct sc_set *s, uint64_t shard, uint32_t frame,
		      struct sc_buf *out, char *err, size_t errlen)
{
	const struct sc_manifest_shard *sh;
	/* msg can hold a node path from the manifest: shown with its
	 * control characters escaped */
	char msg[1024] = "", shown[1200] = "";
	uint32_t first = 0;
	int rc = SC_ECORRUPT;

	if (shard >= s->m.nshards || frame >= s->m.shards[shard].frames)
		return fail(err, errlen, SC_EUSAGE, "shard %" PRIu64 " frame %u: out of range",
			    shard, frame);
	sh = &s->m.shards[shard];
	if (s->rd && s->rd_shard == shard)
		first = s->rd_replica;
	for (uint32_t k = 0; k < sh->nreplicas; k++) {
		uint32_t r = (first + k) % sh->nreplicas;

		if (!s->rd || s->rd_shard != shard || s->rd_replica != r) {
			rc = open_replica(s, shard, r, msg, sizeof(msg));
			if (rc)
				goto next;
		}
		rc = sc_shard_reader_frame(s->rd, frame, out, msg, sizeof(msg));
		if (!rc)
			return 0;
		sc_shard_reader_close(s->rd);
		s->rd = NULL;
next:
		sc_manifest_printable(msg, shown, sizeof(shown));
		if (s->warn && k + 1 < sh->nreplicas) {
			char w[sizeof(shown) + 32];

			snprintf(w, sizeof(w), "%s; trying another replica", shown);
			s->warn(s->warn_ctx, w);
		}
	}
	return fail(err, errlen, rc, "shard %" PRIu64 " ('%s') frame %u: no good replica: %s",
		    shard, sh->name, frame, shown);
}
