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
#include "s3node.h"
#include "s3root.h"
#include "shard.h"
#include "utf8.h"

/*
 * Remove directory `name` (relative to dirfd pfd, or a path with
 * AT_FDCWD) when it holds only files: its entries are unlinked (a symbolic
 * link is removed itself, never followed; a subdirectory stays, and so
 * does the directory then), then the directory. `name` itself is not
 * followed if it is a symbolic link.
 */
static void remove_flat_dirat(int pfd, const char *name)
{
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	unlinkat(pfd, name, AT_REMOVEDIR);
}

/* Remove a generation directory this writer made, given by path. */
static void remove_flat_dir(const char *dir)
{
	remove_flat_dirat(AT_FDCWD, dir);
}

/*
 * 1 when name is a generation directory name: "g" followed by one or more
 * decimal digits and nothing else, with a value that fits in 64 bits
 * (stored in *gen). Signs, spaces and other characters that strtoull()
 * would skip or accept are not.
 */
static int generation_name(const char *name, uint64_t *gen)
{
	uint64_t v = 0;
	const char *p = name + 1;

	if (name[0] != 'g' || !*p)
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return 0;
	}
	*gen = v;
	return 1;
}

/*
 * Remove every generation directory under NODE/SET_ID except `keep` and
 * `keep2` (0 keeps none). Only real directories (not symbolic links, which
 * are never followed) whose names pass generation_name() are touched.
 */
static void remove_generations_except(const char *setdir, uint64_t keep, uint64_t keep2)
{
	DIR *d = opendir(setdir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		uint64_t g;

		if (!generation_name(e->d_name, &g) || (keep && g == keep) ||
		    (keep2 && g == keep2))
			continue;
		if (e->d_type != DT_DIR &&
		    (e->d_type != DT_UNKNOWN ||
		     fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		     !S_ISDIR(st.st_mode)))
			continue;
		remove_flat_dirat(dirfd(d), e->d_name);
	}
	closedir(d);
}

static void remove_generations(const char *setdir, uint64_t keep)
{
	remove_generations_except(setdir, keep, 0);
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
	char path[SC_PATH_MAX], why[2 * SC_PATH_MAX + 64];
	unsigned char id[16];
	struct sc_buf b;
	int rc;

	sc_buf_init(&b, 64);
	if (sc_s3root_is(root)) {
		/* the object PREFIX/.set_id (a missing one is made below) */
		rc = sc_s3root_read(root, SET_ID_FILE, 64, &b, why, sizeof(why));
		if (rc && rc != -ENOENT) {
			sc_buf_release(&b);
			return sc_fail(err, errlen, rc, "set '%s': set id: %s", root, why);
		}
	} else if (sc_path_join(path, sizeof(path), root, SET_ID_FILE)) {
		return sc_fail(err, errlen, SC_ELIMIT, "set path too long");
	} else {
		rc = sc_read_file(path, 64, &b);
	}
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
		return sc_fail(err, errlen, -EIO, "cannot get random bytes for a set id");
	sc_hex(id, sizeof(id), id_hex);
	id_hex[32] = '\n';
	if (sc_s3root_is(root)) {
		rc = sc_s3root_write(root, SET_ID_FILE, id_hex, 33, why, sizeof(why));
		id_hex[32] = '\0';
		if (rc)
			return sc_fail(err, errlen, rc, "set '%s': set id: %s", root, why);
		return 0;
	}
	rc = sc_write_file_atomic_why(path, id_hex, 33, why, sizeof(why));
	id_hex[32] = '\0';
	if (rc)
		return sc_fail(err, errlen, rc, "set '%s': set id '%s': %s: %s", root,
			    path, why, sc_strerror(rc));
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
		    strncmp(e->d_name, "." SET_ID_FILE ".tmp.", sizeof(SET_ID_FILE) + 5) &&
		    strncmp(e->d_name, "." SC_JOURNAL_NAME ".tmp.", sizeof(SC_JOURNAL_NAME) + 5))
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
	int s3root;                  /* 1: the root is an S3 location (no lock, no journal) */
	char stage[SC_PATH_MAX];     /* where S3 nodes' shards are staged: ROOT/.s3stage, or
				      * for an S3 root a private temporary directory; "" */
	int stage_tmp;               /* 1: stage is that temporary directory (removed at the end) */
	int lock_fd;                 /* flock'd ROOT/.lock */
	struct sc_manifest old;      /* committed manifest, if any */
	int have_old;                /* 1 when old is valid */
	char set_id[33];             /* set identity on the nodes */
	uint64_t generation;         /* generation being written */
	uint32_t nnodes;             /* storage nodes */
	char **node_store;           /* [nnodes] path as stored in the manifest */
	char **node_real;            /* [nnodes] resolved absolute path */
	char **node_gen_dir;         /* [nnodes] NODE/SET_ID/gGEN */
	uint32_t *weight;            /* [nnodes] */
	uint64_t *node_bytes;        /* [nnodes] bytes placed so far */
	unsigned char *node_s3;      /* [nnodes] 1: an S3 node (node_store its location,
				      * node_real its local staging directory) */
	struct sc_s3node *s3;        /* client for the S3 nodes, or NULL */
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
	/* checkpoint journal and resume (journal.h, docs/RESUME.md) */
	struct sc_journal_file *jf;  /* appended after every durable shard, or NULL */
	struct sc_shard_index **kept_ix; /* [nkept] trailers of the shards taken over */
	uint64_t nkept;              /* shards taken over from an interrupted ingest */
	uint64_t kept_frames;        /* their frames */
	uint64_t replay_shard;       /* next frame to replay: kept shard ... */
	uint32_t replay_frame;       /* ... and frame in it */
	uint64_t replay_raw;         /* raw bytes replayed of replay_shard */
	int replay_short;            /* the last kept shard ended below shard_size:
				      * only the end of the input may follow */
};

/*
 * Manifest form of a node path (docs/MANIFEST.md section 2): relative when
 * it lies strictly inside the root and that relative name passes the
 * reader's rule for relative node paths, else absolute. The form chosen
 * must be one the reader accepts (sc_manifest_node_path_ok) and valid
 * UTF-8 without control characters; otherwise the node is refused with
 * SC_EUSAGE and a message naming it (escaped for display).
 */
static int node_store_path(const char *root_real, const char *node_given,
			   const char *node_real, char **out, char *err,
			   size_t errlen)
{
	char shown_given[256], shown_real[256];
	size_t rl = strlen(root_real);
	const char *p = node_real, *why = NULL;
	size_t n;

	*out = NULL;
	if (!strncmp(node_real, root_real, rl) && node_real[rl] == '/' &&
	    node_real[rl + 1] && sc_manifest_node_path_ok(node_real + rl + 1))
		p = node_real + rl + 1;
	n = strlen(p);
	if (sc_utf8_check(p, n) != n)
		why = "is not valid UTF-8";
	else if (sc_manifest_has_control(p))
		why = "contains a control character";
	else if (!sc_manifest_node_path_ok(p))
		why = "is not a path a manifest can hold";
	if (why) {
		sc_manifest_printable(node_given, shown_given, sizeof(shown_given));
		sc_manifest_printable(node_real, shown_real, sizeof(shown_real));
		if (!strcmp(node_given, node_real))
			return sc_fail(err, errlen, SC_EUSAGE, "node '%s': the path %s, "
				    "so a manifest cannot record it", shown_real, why);
		return sc_fail(err, errlen, SC_EUSAGE, "node '%s': its path '%s' %s, "
			    "so a manifest cannot record it", shown_given,
			    shown_real, why);
	}
	*out = strdup(p);
	return *out ? 0 : -ENOMEM;
}

/*
 * An S3 node (docs/S3.md section 8): stored as its canonical location;
 * its shards are staged in STAGE/I (ROOT/.s3stage, or for a root on S3 a
 * private directory shardctl-stage.XXXXXX under $TMPDIR, else /tmp: a
 * directory the writer owns) and uploaded once complete.
 */
static int s3_node_resolve(struct sc_set_writer *w, const char *root_real, uint32_t i,
			   const char *given, char *err, size_t errlen)
{
	char canon[SC_PATH_MAX], stage[SC_PATH_MAX];
	int rc;

	if (!w->stage[0] && w->s3root) {
		const char *t = getenv("TMPDIR");

		if ((size_t)snprintf(w->stage, sizeof(w->stage), "%s/shardctl-stage.XXXXXX",
				     t && *t ? t : "/tmp") >= sizeof(w->stage)) {
			w->stage[0] = '\0';
			return sc_fail(err, errlen, SC_ELIMIT, "staging path too long ($TMPDIR)");
		}
		if (!mkdtemp(w->stage)) {
			rc = sc_fail(err, errlen, -errno, "set '%s': cannot create a local staging "
				  "directory '%s': %s", w->root, w->stage, strerror(errno));
			w->stage[0] = '\0';
			return rc;
		}
		w->stage_tmp = 1;
	} else if (!w->stage[0] &&
		   (size_t)snprintf(w->stage, sizeof(w->stage), "%s/.s3stage", root_real) >=
			   sizeof(w->stage)) {
		w->stage[0] = '\0';
		return sc_fail(err, errlen, SC_ELIMIT, "set path too long");
	}

	rc = sc_s3node_canonical(given, canon, sizeof(canon), err, errlen);
	if (rc)
		return rc;
	if (!sc_manifest_node_path_ok(canon) || sc_manifest_has_control(canon) ||
	    sc_utf8_check(canon, strlen(canon)) != strlen(canon))
		return sc_fail(err, errlen, SC_EUSAGE, "node '%s': not a location a manifest "
			    "can hold", given);
	if (snprintf(stage, sizeof(stage), "%s/%" PRIu32, w->stage, i) >= (int)sizeof(stage))
		return sc_fail(err, errlen, SC_ELIMIT, "set path too long");
	rc = sc_mkdir_p(stage, 0755);
	if (rc)
		return sc_fail(err, errlen, rc, "node '%s': cannot create its staging directory "
			    "'%s': %s", given, stage, sc_strerror(rc));
	w->node_s3[i] = 1;
	w->node_store[i] = strdup(canon);
	w->node_real[i] = strdup(stage);
	return w->node_store[i] && w->node_real[i] ? 0 : -ENOMEM;
}

/*
 * Resolve every node before anything is written on any of them: create
 * it (realpath needs it to exist), resolve it, choose and check its
 * manifest form, refuse duplicates. On failure the node directories this
 * call created are removed again when still empty (not their parents).
 */
static int writer_nodes_resolve(struct sc_set_writer *w,
				const struct sc_set_writer_opts *o,
				char *err, size_t errlen)
{
	char root_real[PATH_MAX], node_real[PATH_MAX], shown[256];
	unsigned char *made;
	uint32_t i;
	int rc = 0;

	if (w->s3root)
		root_real[0] = '\0'; /* every node is an S3 location (below) */
	else if (!realpath(w->root, root_real))
		return sc_fail(err, errlen, -errno, "set '%s': %s", w->root, strerror(errno));
	w->node_store = calloc(o->nnodes, sizeof(char *));
	w->node_real = calloc(o->nnodes, sizeof(char *));
	w->node_gen_dir = calloc(o->nnodes, sizeof(char *));
	w->weight = calloc(o->nnodes, sizeof(uint32_t));
	w->node_bytes = calloc(o->nnodes, sizeof(uint64_t));
	made = calloc(o->nnodes, 1);
	w->node_s3 = calloc(o->nnodes, 1);
	if (!w->node_store || !w->node_real || !w->node_gen_dir || !w->weight ||
	    !w->node_bytes || !made || !w->node_s3) {
		free(made);
		return -ENOMEM;
	}
	w->nnodes = o->nnodes;
	for (i = 0; i < o->nnodes; i++) {
		struct stat st;

		sc_manifest_printable(o->node_paths[i], shown, sizeof(shown));
		if (sc_s3node_is(o->node_paths[i])) {
			rc = s3_node_resolve(w, root_real, i, o->node_paths[i], err, errlen);
			if (rc)
				break;
			goto check_twice;
		}
		if (w->s3root) {
			/* a directory of this machine, named in a manifest that
			 * every machine reads: it would mean something else there */
			rc = sc_fail(err, errlen, SC_EUSAGE, "node '%s': a local directory "
				  "cannot be a node of a set whose root is on S3 ('%s'): other "
				  "machines could not read it; give S3 nodes (--node "
				  "s3://BUCKET/PREFIX)", shown, w->root);
			break;
		}
		made[i] = lstat(o->node_paths[i], &st) != 0;
		rc = sc_mkdir_p(o->node_paths[i], 0755);
		if (rc) {
			made[i] = 0;
			sc_fail(err, errlen, rc, "node '%s': cannot create: %s", shown,
			     sc_strerror(rc));
			break;
		}
		if (!realpath(o->node_paths[i], node_real)) {
			rc = sc_fail(err, errlen, -errno, "node '%s': %s", shown,
				  strerror(errno));
			break;
		}
		rc = node_store_path(root_real, o->node_paths[i], node_real,
				     &w->node_store[i], err, errlen);
		if (rc)
			break;
		w->node_real[i] = strdup(node_real);
		if (!w->node_real[i]) {
			rc = -ENOMEM;
			break;
		}
check_twice:
		for (uint32_t k = 0; k < i && !rc; k++)
			if (!strcmp(w->node_store[k], w->node_store[i]))
				rc = sc_fail(err, errlen, SC_EUSAGE,
					  "node '%s': given twice", shown);
		if (rc)
			break;
		w->weight[i] = o->node_weights[i];
	}
	/* failed at node i: remove what was created, newest first (a later
	 * node may lie inside an earlier one) */
	for (uint32_t k = i + 1; rc && k-- > 0;)
		if (k < o->nnodes && made[k])
			rmdir(o->node_paths[k]);
	free(made);
	for (uint32_t k = 0; !rc && k < o->nnodes && !w->s3; k++)
		if (w->node_s3[k])
			rc = sc_s3node_open(0, &w->s3, err, errlen);
	return rc;
}

/*
 * On every node: drop leftovers of interrupted ingests under NODE/SET_ID
 * (all but the committed generation and `keep`, the generation a resume
 * continues, 0 for none) and create NODE/SET_ID/gGENERATION.
 */
static int writer_nodes_prepare(struct sc_set_writer *w, uint64_t keep, char *err,
				size_t errlen)
{
	char dir[SC_PATH_MAX], gen[32];
	int rc;

	snprintf(gen, sizeof(gen), "g%06" PRIu64, w->generation);
	for (uint32_t i = 0; i < w->nnodes; i++) {
		if (sc_path_join(dir, sizeof(dir), w->node_real[i], w->set_id))
			return sc_fail(err, errlen, SC_ELIMIT, "node '%s': path too long",
				    w->node_real[i]);
		remove_generations_except(dir, w->have_old ? w->old.generation : 0, keep);
		/* the same on the S3 node itself: objects of a killed ingest
		 * (best effort, as on local nodes; the upload would fail too) */
		if (w->node_s3[i] && !keep)
			sc_s3node_remove_generations(w->s3, w->node_store[i], w->set_id,
						     w->have_old ? w->old.generation : 0,
						     NULL, 0);
		if (sc_path_join(dir + strlen(dir), sizeof(dir) - strlen(dir), "", gen))
			return sc_fail(err, errlen, SC_ELIMIT, "node '%s': path too long",
				    w->node_real[i]);
		rc = sc_mkdir_p(dir, 0755);
		if (rc)
			return sc_fail(err, errlen, rc, "node '%s': cannot create '%s': %s",
				    w->node_real[i], dir, sc_strerror(rc));
		w->node_gen_dir[i] = strdup(dir);
		if (!w->node_gen_dir[i])
			return -ENOMEM;
	}
	return 0;
}

/* ---- checkpoint journal and resume (journal.h, docs/RESUME.md) ---- */

enum journal_plan {
	PLAN_FRESH,     /* write a new generation from the start */
	PLAN_CONTINUE,  /* take over the interrupted generation the journal names */
	PLAN_DONE,      /* the journal's ingest is the committed generation */
};

static void note(const struct sc_set_writer_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(const struct sc_set_writer_opts *o, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (!o->note)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->note(o->note_ctx, buf);
}

/* The set id in ROOT/.set_id, without making one: 0, or -1 when none. */
static int read_set_id(const char *root, char id_hex[33])
{
	char path[SC_PATH_MAX];
	struct sc_buf b;
	int ok;

	if (sc_path_join(path, sizeof(path), root, SET_ID_FILE))
		return -1;
	sc_buf_init(&b, 64);
	ok = !sc_read_file(path, 64, &b) && b.len == 33 && b.data[32] == '\n' &&
	     strspn(b.data, "0123456789abcdef") == 32;
	if (ok) {
		memcpy(id_hex, b.data, 32);
		id_hex[32] = '\0';
	}
	sc_buf_release(&b);
	return ok ? 0 : -1;
}

/* 1 when manifest m commits exactly the shards journal j lists. */
static int manifest_is_journal(const struct sc_manifest *m, const struct sc_journal *j)
{
	if (strcmp(m->set_id, j->head.set_id) || m->generation != j->head.generation ||
	    m->nshards != j->nshards)
		return 0;
	for (uint64_t i = 0; i < j->nshards; i++) {
		const struct sc_manifest_shard *a = &m->shards[i], *b = &j->shards[i];

		if (a->records != b->records || a->raw_bytes != b->raw_bytes ||
		    a->stored_bytes != b->stored_bytes || a->frames != b->frames ||
		    memcmp(a->sha256, b->sha256, 32))
			return 0;
	}
	return 1;
}

/*
 * Decide what ROOT/.ingest-journal means for this writer (the cases of
 * sc_set_writer_open in set.h): PLAN_*, or negative with err when a
 * resume must be refused. j is left loaded for PLAN_CONTINUE only.
 */
static int journal_plan(struct sc_set_writer *w, const struct sc_set_writer_opts *o,
			const struct sc_journal_id *id, struct sc_journal *j,
			char *err, size_t errlen)
{
	uint64_t cur_gen = w->have_old ? w->old.generation : 0;
	char msg[1024], cur_id[33] = "", what[512] = "";
	size_t l = 0;
	int rc;

	rc = sc_journal_load(w->root, j, msg, sizeof(msg));
	if (!o->resume) {
		if (!rc && j->head.base_generation == cur_gen && j->nshards)
			note(o, "discarding the interrupted ingest in '%s' (%" PRIu64
			     " complete shards; --resume would continue it)", w->root,
			     j->nshards);
		sc_journal_release(j);
		return PLAN_FRESH;
	}
	if (rc == -ENOENT) {
		note(o, "resume: no interrupted ingest in '%s': ingesting from the "
		     "beginning", w->root);
		return PLAN_FRESH;
	}
	if (rc)
		return sc_fail(err, errlen, rc, "%s; nothing touched (run without --resume "
			    "to start over)", msg);
	if (j->torn)
		note(o, "resume: the journal's last record was incomplete (a write "
		     "cut short by the crash); ignored");
	if (w->have_old)
		memcpy(cur_id, w->old.set_id, sizeof(cur_id));
	else
		read_set_id(w->root, cur_id);
	if (memcmp(id->options, j->head.id.options, 32))
		l += (size_t)snprintf(what + l, sizeof(what) - l, "%soptions", l ? ", " : "");
	if (memcmp(id->inputs, j->head.id.inputs, 32))
		l += (size_t)snprintf(what + l, sizeof(what) - l, "%sinputs (%" PRIu64
				      " files, %" PRIu64 " bytes then; %" PRIu64 " files, %"
				      PRIu64 " bytes now; names, sizes and modification "
				      "times count)", l ? ", " : "", j->head.id.input_files,
				      j->head.id.input_bytes, id->input_files,
				      id->input_bytes);
	if (memcmp(id->nodes, j->head.id.nodes, 32) && l < sizeof(what))
		snprintf(what + l, sizeof(what) - l, "%snodes or replicas", l ? ", " : "");
	if (strcmp(cur_id, j->head.set_id)) {
		note(o, "resume: the journal in '%s' belongs to another set id: "
		     "ingesting from the beginning", w->root);
	} else if (w->have_old && j->head.generation == cur_gen) {
		if (!what[0] && manifest_is_journal(&w->old, j))
			return PLAN_DONE;
		note(o, "resume: '%s' holds a set committed by another ingest (%s): "
		     "ingesting from the beginning", w->root,
		     what[0] ? what : "other shards");
	} else if (j->head.base_generation != cur_gen) {
		note(o, "resume: the interrupted ingest in '%s' cannot be continued: the "
		     "set was committed again since (generation %" PRIu64 "): ingesting "
		     "from the beginning", w->root, cur_gen);
	} else if (what[0]) {
		sc_journal_release(j);
		return sc_fail(err, errlen, SC_EUSAGE, "resume: the interrupted ingest in '%s' "
			    "had other %s; give the same options, inputs and nodes, or run "
			    "without --resume to start over (nothing touched)", w->root, what);
	} else if (j->head.nnodes != w->nnodes || j->head.replicas != w->replicas) {
		sc_journal_release(j);
		return sc_fail(err, errlen, SC_ECORRUPT, "resume: journal in '%s': %" PRIu32
			    " nodes and %" PRIu32 " replicas do not match its node digest",
			    w->root, j->head.nnodes, j->head.replicas);
	} else {
		return PLAN_CONTINUE;
	}
	sc_journal_release(j);
	return PLAN_FRESH;
}

/*
 * sc_journal_check_replica for a replica on an S3 node: the object NAME
 * on node, fetched whole (ranged GETs, several in flight, no cache) and
 * its SHA-256 compared with the journal's, then its trailer with the
 * journal's counts. A HEAD alone would not do: an object of the right
 * size may hold other bytes, and the resume must commit the very bytes
 * an uninterrupted ingest makes (docs/RESUME.md section 8: the cost).
 * 0 with the trailer in *ix (when ix is not NULL; the caller frees it),
 * or negative with the reason in err.
 */
static int kept_s3_replica_check(struct sc_set_writer *w, uint32_t node, const char *name,
				 const struct sc_manifest_shard *s,
				 struct sc_shard_index **ix, char *err, size_t errlen)
{
	struct sc_shard_index *got = NULL;
	char msg[256];
	int fd, rc;

	if (ix)
		*ix = NULL;
	rc = sc_s3node_fetch(w->s3, w->node_store[node], name, s->stored_bytes, s->sha256,
			     1, &fd, err, errlen);
	if (rc)
		return rc;
	rc = sc_shard_index_load(fd, s->stored_bytes, &got, msg, sizeof(msg));
	close(fd);
	if (rc)
		return sc_fail(err, errlen, rc, "%s", msg);
	if (got->frame_count != s->frames || got->record_count != s->records ||
	    got->raw_bytes != s->raw_bytes) {
		sc_shard_index_free(got);
		return sc_fail(err, errlen, SC_ECORRUPT, "its index does not match the journal");
	}
	if (ix)
		*ix = got;
	else
		sc_shard_index_free(got);
	return 0;
}

/*
 * PLAN_CONTINUE, before anything is removed: check every replica of every
 * journaled shard (size, SHA-256, trailer; on an S3 node fetched whole),
 * in order, and take over the shards before the first one with a bad
 * replica, as if this writer had written them. The shards from there on
 * are written (and uploaded) again.
 */
static int journal_adopt(struct sc_set_writer *w, const struct sc_set_writer_opts *o,
			 const struct sc_journal *j, char *err, size_t errlen)
{
	uint64_t n = j->nshards ? j->nshards : 1;
	char path[SC_PATH_MAX], name[128], msg[SC_S3NODE_ERR_MAX];

	w->kept_ix = calloc(n, sizeof(*w->kept_ix));
	w->shards = calloc(n, sizeof(*w->shards));
	if (!w->kept_ix || !w->shards)
		return -ENOMEM;
	w->shards_cap = n;
	for (uint64_t i = 0; i < j->nshards; i++) {
		const struct sc_manifest_shard *js = &j->shards[i];
		struct sc_manifest_shard *s = &w->shards[i];
		struct sc_shard_index *ix = NULL;
		int rc = 0;

		snprintf(name, sizeof(name), "%s/g%06" PRIu64 "/%06" PRIu64 ".zst",
			 w->set_id, w->generation, i);
		for (uint32_t r = 0; r < js->nreplicas && !rc; r++) {
			uint32_t node = js->replica[r];

			if (w->node_s3[node]) {
				snprintf(path, sizeof(path), "%s/%s", w->node_store[node], name);
				rc = kept_s3_replica_check(w, node, name, js, r ? NULL : &ix, msg,
							   sizeof(msg));
				continue;
			}
			if (sc_path_join(path, sizeof(path), w->node_real[node], name))
				return sc_fail(err, errlen, SC_ELIMIT, "node path too long");
			rc = sc_journal_check_replica(path, js, r ? NULL : &ix, msg, sizeof(msg));
		}
		if (rc == -ENOMEM) {
			sc_shard_index_free(ix);
			return rc;
		}
		if (rc) {
			sc_shard_index_free(ix);
			note(o, "resume: shard %" PRIu64 " replica '%s': %s; continuing "
			     "from shard %" PRIu64, i, path, msg, i);
			break;
		}
		*s = *js;
		s->name = strdup(name);
		if (!s->name) {
			sc_shard_index_free(ix);
			return -ENOMEM;
		}
		w->kept_ix[i] = ix;
		for (uint32_t r = 0; r < s->nreplicas; r++)
			w->node_bytes[s->replica[r]] += s->stored_bytes;
		w->stored_total += s->stored_bytes;
		w->kept_frames += s->frames;
		w->nshards = w->nkept = i + 1;
	}
	if (!j->nshards)
		note(o, "resume: the interrupted ingest in '%s' had no complete shard "
		     "yet: ingesting from the beginning", w->root);
	return 0;
}

/* 1 when name is "NNNNNN.zst" as shard_begin names shard *index. */
static int shard_file_name(const char *name, uint64_t *index)
{
	char want[32];
	uint64_t v = 0;
	const char *p = name;

	for (; *p >= '0' && *p <= '9' && p - name < 20; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	if (p == name || strcmp(p, ".zst"))
		return 0;
	snprintf(want, sizeof(want), "%06" PRIu64 ".zst", v);
	*index = v;
	return !strcmp(want, name);
}

/*
 * PLAN_CONTINUE, once the generation directories exist: remove from them
 * everything but the replicas of kept shards (temporaries, shards written
 * after the last durable journal record, replicas on the wrong node).
 */
static void kept_dirs_tidy(struct sc_set_writer *w)
{
	for (uint32_t i = 0; i < w->nnodes; i++) {
		DIR *d = opendir(w->node_gen_dir[i]);
		struct dirent *e;

		if (!d)
			continue;
		while ((e = readdir(d))) {
			uint64_t k;
			int keep = 0;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (shard_file_name(e->d_name, &k) && k < w->nkept)
				for (uint32_t r = 0; r < w->shards[k].nreplicas; r++)
					keep |= w->shards[k].replica[r] == i;
			if (!keep)
				unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
		sc_fsync_dir(w->node_gen_dir[i]);
	}
}

struct kept_on_node {
	const struct sc_set_writer *w; /* the resuming writer */
	uint32_t node;                 /* the S3 node being tidied */
};

/* sc_s3node_keep_fn: the committed generation, and the kept replicas. */
static int kept_object(void *ctx, uint64_t generation, const char *rest)
{
	const struct kept_on_node *k = ctx;
	const struct sc_set_writer *w = k->w;
	uint64_t i;

	if (w->have_old && generation == w->old.generation)
		return 1;
	if (generation != w->generation || !shard_file_name(rest, &i) || i >= w->nkept)
		return 0;
	for (uint32_t r = 0; r < w->shards[i].nreplicas; r++)
		if (w->shards[i].replica[r] == k->node)
			return 1;
	return 0;
}

/*
 * PLAN_CONTINUE: kept_dirs_tidy on the S3 nodes. writer_nodes_prepare
 * leaves their objects alone for a resume (its clean-up would delete the
 * generation continued); here the objects of other uncommitted
 * generations go, and in gGEN every object that is not a replica of a
 * kept shard (shards uploaded after the last durable journal record, or
 * after the first bad kept one). Best effort, as on local nodes: what a
 * failed listing leaves is replaced by the uploads of this generation or
 * removed by a later ingest; the failure is reported.
 */
static void kept_objects_tidy(struct sc_set_writer *w, const struct sc_set_writer_opts *o)
{
	char msg[SC_S3NODE_ERR_MAX];

	for (uint32_t i = 0; w->s3 && i < w->nnodes; i++) {
		struct kept_on_node k = { w, i };

		if (w->node_s3[i] &&
		    sc_s3node_remove_unkept(w->s3, w->node_store[i], w->set_id, kept_object, &k,
					    msg, sizeof(msg)) < 0)
			note(o, "resume: node '%s': cannot remove objects of other ingests: %s",
			     w->node_store[i], msg);
	}
}

/*
 * PLAN_FRESH: make the new generation directories durable (gGEN,
 * NODE/SET_ID, NODE), so that shards the journal will name cannot vanish
 * with their directory in a power cut, then start the journal.
 */
static int journal_start(struct sc_set_writer *w, const struct sc_journal_id *id,
			 char *err, size_t errlen)
{
	struct sc_journal_head h = { 0 };
	char d[SC_PATH_MAX], up[SC_PATH_MAX];
	int rc;

	for (uint32_t i = 0; i < w->nnodes; i++) {
		strcpy(d, w->node_gen_dir[i]);
		for (int k = 0; k < 3; k++) {
			if ((rc = sc_fsync_dir(d)))
				return sc_fail(err, errlen, rc, "node dir '%s': fsync failed: %s",
					    d, sc_strerror(rc));
			if ((rc = sc_path_dirname(d, up, sizeof(up))))
				return rc;
			strcpy(d, up);
		}
	}
	memcpy(h.set_id, w->set_id, sizeof(h.set_id));
	h.generation = w->generation;
	h.base_generation = w->generation - 1;
	h.id = *id;
	h.nnodes = w->nnodes;
	h.replicas = w->replicas;
	return sc_journal_create(w->root, &h, &w->jf, err, errlen);
}

/* PLAN_DONE: finish the clean-up the committing ingest may not have. */
static void journal_done(struct sc_set_writer *w)
{
	char dir[SC_PATH_MAX];

	for (uint32_t i = 0; i < w->nnodes; i++) {
		if (!sc_path_join(dir, sizeof(dir), w->node_real[i], w->set_id))
			remove_generations(dir, w->old.generation);
		if (w->node_s3[i] && w->s3)
			sc_s3node_remove_generations(w->s3, w->node_store[i], w->set_id,
						     w->old.generation, NULL, 0);
	}
}

int sc_set_writer_open(const struct sc_set_writer_opts *o,
		       struct sc_set_writer **out, char *err, size_t errlen)
{
	struct sc_set_writer *w;
	struct sc_journal j = { 0 };
	struct sc_journal_id id;
	char path[SC_PATH_MAX];
	int rc, plan = PLAN_FRESH;

	if (o->nnodes == 0 || o->nnodes > SC_NODES_MAX || o->replicas == 0 ||
	    o->replicas > o->nnodes || o->replicas > SC_REPLICAS_MAX)
		return sc_fail(err, errlen, SC_EUSAGE,
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
		rc = sc_fail(err, errlen, SC_ELIMIT, "set path too long");
		goto out_abort;
	}
	strcpy(w->root, o->root);
	w->s3root = sc_s3root_is(w->root);
	if (w->s3root) {
		/* docs/S3.md section 9: no directory, no lock (one writer at a
		 * time is the user's to ensure), no journal */
		struct sc_s3_loc loc;
		char msg[256];

		if ((rc = sc_s3_location_parse(w->root, &loc, msg, sizeof(msg)))) {
			sc_fail(err, errlen, rc, "set '%s': %s", w->root, msg);
			goto out_abort;
		}
		if (o->resume) {
			rc = sc_fail(err, errlen, SC_EUSAGE, "ingest --resume: not supported yet "
				  "for a set root on S3 ('%s')", w->root);
			goto out_abort;
		}
		if (o->placed_bytes) {
			rc = sc_fail(err, errlen, SC_EUSAGE, "partitioned ingest (--tasks): not "
				  "supported yet for a set root on S3 ('%s')", w->root);
			goto out_abort;
		}
		goto load;
	}
	rc = sc_mkdir_p(w->root, 0755);
	if (rc) {
		sc_fail(err, errlen, rc, "set '%s': cannot create: %s", w->root, sc_strerror(rc));
		goto out_abort;
	}
	if (sc_path_join(path, sizeof(path), w->root, ".lock")) {
		rc = sc_fail(err, errlen, SC_ELIMIT, "set path too long");
		goto out_abort;
	}
	w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->lock_fd < 0 || flock(w->lock_fd, LOCK_EX | LOCK_NB)) {
		rc = -errno;
		if (rc == -EWOULDBLOCK)
			sc_fail(err, errlen, rc, "set '%s': another ingest is writing it", w->root);
		else
			sc_fail(err, errlen, rc, "set '%s': cannot %s '%s': %s", w->root,
			     w->lock_fd < 0 ? "create lock file" : "lock", path, strerror(errno));
		goto out_abort;
	}
	remove_root_temporaries(w->root);
load:
	rc = sc_manifest_load(w->root, &w->old, err, errlen);
	if (rc == 0) {
		w->have_old = 1;
		memcpy(w->set_id, w->old.set_id, sizeof(w->set_id));
		/* the reader accepts generations up to UINT64_MAX - 1, so the
		 * next one must stay below that too */
		if (w->old.generation >= UINT64_MAX - 1) {
			rc = sc_fail(err, errlen, SC_ELIMIT, "set '%s': generation %" PRIu64
				  " is the last one a manifest can hold; no further "
				  "commit is possible (ingest into a new set root)",
				  w->root, w->old.generation);
			goto out_abort;
		}
		w->generation = w->old.generation + 1;
	} else if (rc != SC_ENOTSET) {
		size_t l = strlen(err);

		snprintf(err + l, errlen - l, "; refusing to overwrite it");
		goto out_abort;
	}
	/* every node checked before any NODE/SET_ID is created or cleaned */
	rc = writer_nodes_resolve(w, o, err, errlen);
	if (rc)
		goto out_abort;
	if (o->placed_bytes)
		memcpy(w->node_bytes, o->placed_bytes, w->nnodes * sizeof(*w->node_bytes));
	if (o->journal && !w->s3root) {
		id = *o->journal;
		rc = sc_journal_nodes_digest(w->node_store, w->weight, w->nnodes,
					     w->replicas, id.nodes);
		if (rc)
			goto out_abort;
		plan = rc = journal_plan(w, o, &id, &j, err, errlen);
		if (rc < 0)
			goto out_abort;
		if (plan == PLAN_DONE) {
			journal_done(w);
			sc_journal_release(&j);
			sc_set_writer_abort(w); /* nothing of its own to remove yet */
			*out = NULL;
			return 1;
		}
	}
	/* a journal that is not continued describes nothing that will stay */
	if (plan == PLAN_FRESH && !w->s3root && (rc = sc_journal_remove(w->root))) {
		sc_fail(err, errlen, rc, "set '%s': cannot remove the old journal '%s' "
		     "(unlink, then fsync of the set root): %s", w->root, SC_JOURNAL_NAME,
		     sc_strerror(rc));
		goto out_abort;
	}
	if (!w->have_old) {
		/* durable before the first NODE/SET_ID directory exists */
		rc = load_or_make_set_id(w->root, w->set_id, err, errlen);
		if (rc)
			goto out_abort;
		w->generation = 1;
	}
	rc = sc_shard_builder_new(&w->builder);
	if (!rc)
		rc = sc_sha256_new(&w->sha);
	if (!rc && plan == PLAN_CONTINUE)
		rc = journal_adopt(w, o, &j, err, errlen);
	if (rc)
		goto out_abort;
	rc = writer_nodes_prepare(w, plan == PLAN_CONTINUE ? w->generation : 0, err, errlen);
	if (!rc && plan == PLAN_CONTINUE) {
		kept_dirs_tidy(w);
		kept_objects_tidy(w, o);
		rc = sc_journal_continue(w->root, &j, w->nkept, &w->jf, err, errlen);
	} else if (!rc && o->journal && !w->s3root) {
		rc = journal_start(w, &id, err, errlen);
	}
	if (rc)
		goto out_abort;
	sc_journal_release(&j);
	*out = w;
	return 0;
out_abort:
	sc_journal_release(&j);
	if (plan == PLAN_CONTINUE) {
		/* leave the interrupted generation as it was found */
		w->generation = 0;
	}
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
		return sc_fail(err, errlen, SC_ELIMIT, "more than %u shards", SC_SHARDS_MAX);
	rc = sc_placement_choose(w->node_bytes, w->weight, w->nnodes, est,
				 w->replicas, w->rep_node);
	if (rc)
		return sc_fail(err, errlen, rc, "placement failed");
	snprintf(name, sizeof(name), "%06" PRIu64 ".zst", w->nshards);
	for (uint32_t r = 0; r < w->replicas; r++) {
		const char *dir = w->node_gen_dir[w->rep_node[r]];
		struct replica_file *f = &w->rep[r];

		if (sc_path_join(f->final, sizeof(f->final), dir, name) ||
		    snprintf(f->tmp, sizeof(f->tmp), "%s/.%s.tmp", dir, name) >=
			    (int)sizeof(f->tmp))
			return sc_fail(err, errlen, SC_ELIMIT, "node path too long");
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f->fd < 0)
			return sc_fail(err, errlen, -errno, "shard '%s': cannot create: %s",
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
			return sc_fail(err, errlen, rc, "shard '%s': write failed: %s",
				    w->rep[r].tmp, sc_strerror(rc));
	}
	w->shard_stored += n;
	return sc_sha256_update(w->sha, p, n);
}

/*
 * Upload a complete, fsynced staged replica to its S3 node, check the
 * stored size, then drop the staged copy: the object is the replica.
 */
static int s3_replica_upload(struct sc_set_writer *w, const char *staged, char *err,
			     size_t errlen)
{
	char name[128];
	int rc;

	snprintf(name, sizeof(name), "%s/g%06" PRIu64 "/%06" PRIu64 ".zst", w->set_id,
		 w->generation, w->nshards);
	for (uint32_t r = 0; r < w->replicas; r++) {
		if (strcmp(w->rep[r].final, staged))
			continue;
		rc = sc_s3node_put_file(w->s3, w->node_store[w->rep_node[r]], name, staged,
					w->shard_stored, err, errlen);
		if (rc)
			return rc;
		unlink(staged);
		return 0;
	}
	return sc_fail(err, errlen, SC_EUSAGE, "shard '%s': not a replica being written", staged);
}

/* Room for at least need shards in w->shards (doubling). 0 or -ENOMEM. */
static int shards_reserve(struct sc_set_writer *w, uint64_t need)
{
	while (w->shards_cap < need) {
		uint64_t ncap = w->shards_cap ? w->shards_cap * 2 : 64;
		void *p = realloc(w->shards, ncap * sizeof(*w->shards));

		if (!p)
			return -ENOMEM;
		w->shards = p;
		w->shards_cap = ncap;
	}
	return 0;
}

static int shard_end(struct sc_set_writer *w, char *err, size_t errlen)
{
	struct sc_manifest_shard *s;
	char dir[SC_PATH_MAX];
	int rc;

	w->trailer.len = 0;
	rc = sc_shard_builder_finish(w->builder, &w->trailer);
	if (rc)
		return sc_fail(err, errlen, rc, "shard trailer: %s", sc_strerror(rc));
	rc = shard_write(w, w->trailer.data, w->trailer.len, err, errlen);
	if (rc)
		return rc;
	rc = shards_reserve(w, w->nshards + 1);
	if (rc)
		return rc;
	s = &w->shards[w->nshards];
	memset(s, 0, sizeof(*s));
	rc = sc_sha256_final(w->sha, s->sha256);
	if (rc)
		return rc;
	for (uint32_t r = 0; r < w->replicas; r++) {
		struct replica_file *f = &w->rep[r];
		const char *op = "fsync";

		rc = fsync(f->fd) ? -errno : 0;
		if (close(f->fd) && !rc) {
			rc = -errno;
			op = "close";
		}
		f->fd = -1;
		if (rc)
			return sc_fail(err, errlen, rc, "shard '%s': %s failed: %s",
				    f->tmp, op, strerror(-rc));
		if (rename(f->tmp, f->final))
			return sc_fail(err, errlen, -errno, "shard '%s': rename failed: %s",
				    f->tmp, strerror(errno));
		f->tmp[0] = '\0';
		rc = sc_path_dirname(f->final, dir, sizeof(dir));
		if (!rc)
			rc = sc_fsync_dir(dir);
		if (rc)
			return sc_fail(err, errlen, rc, "node dir '%s': fsync failed: %s",
				    dir, sc_strerror(rc));
		if (w->node_s3[w->rep_node[r]] &&
		    (rc = s3_replica_upload(w, f->final, err, errlen)))
			return rc;
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
	/* durable now: a resume may take it over */
	if (w->jf)
		return sc_journal_append(w->jf, s, err, errlen);
	return 0;
}

/*
 * A frame of a kept shard, as the resumed ingest made it again: it must be
 * the frame that shard's trailer lists, and the shard must end where an
 * uninterrupted ingest would have ended it.
 */
static int replay_frame(struct sc_set_writer *w, uint32_t dsize, uint32_t checksum,
			uint32_t records, char *err, size_t errlen)
{
	const struct sc_shard_index *ix = w->kept_ix[w->replay_shard];
	uint32_t f = w->replay_frame;
	int last = f + 1 == ix->frame_count;

	w->replay_raw += dsize;
	if (ix->dsize[f] != dsize || ix->checksum[f] != checksum || ix->records[f] != records ||
	    (!last && (w->replay_raw >= w->shard_size || f + 1 >= SC_SHARD_FRAMES_MAX)))
		return sc_fail(err, errlen, SC_ECORRUPT, "resume: the inputs no longer give "
			    "shard %" PRIu64 " of the interrupted ingest (frame %" PRIu32
			    " differs): they changed since; nothing written, run without "
			    "--resume to start over", w->replay_shard, f);
	if (!last) {
		w->replay_frame++;
		return 0;
	}
	if (w->replay_raw < w->shard_size && ix->frame_count < SC_SHARD_FRAMES_MAX) {
		/* closed by the end of the input: it must be the last one */
		if (w->replay_shard + 1 < w->nkept)
			return sc_fail(err, errlen, SC_ECORRUPT, "resume: kept shard %" PRIu64
				    " is shorter than --shard-size but not the last one",
				    w->replay_shard);
		w->replay_short = 1;
	}
	sc_shard_index_free(w->kept_ix[w->replay_shard]);
	w->kept_ix[w->replay_shard] = NULL;
	w->replay_shard++;
	w->replay_frame = 0;
	w->replay_raw = 0;
	return 0;
}

int sc_set_writer_add_frame(struct sc_set_writer *w, const void *frame,
			    size_t csize, uint32_t dsize, uint32_t checksum,
			    uint32_t records, char *err, size_t errlen)
{
	int rc;

	if (w->replay_shard < w->nkept) {
		if (frame)
			return sc_fail(err, errlen, SC_EUSAGE, "a frame of a kept shard "
				    "must be replayed, not written");
		return replay_frame(w, dsize, checksum, records, err, errlen);
	}
	if (!frame)
		return sc_fail(err, errlen, SC_EUSAGE, "no frame to write");
	if (w->replay_short)
		return sc_fail(err, errlen, SC_ECORRUPT, "resume: the interrupted ingest "
			    "ended its last shard at the end of its input, but the inputs "
			    "go on: they changed since; run without --resume to start over");
	if (!w->shard_open && (rc = shard_begin(w, err, errlen)))
		return rc;
	if (csize > UINT32_MAX)
		return sc_fail(err, errlen, SC_ELIMIT, "frame too large");
	rc = sc_shard_builder_add(w->builder, (uint32_t)csize, dsize, checksum, records);
	if (rc)
		return sc_fail(err, errlen, rc, "shard index: %s", sc_strerror(rc));
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

/*
 * Replica r of s, taken over from NODE/s->name on its own local node
 * s->replica[r] as replica r of the next shard, named name (NNNNNN.zst) in
 * this generation: a hard link (or a rename). Idempotent: a retry
 * replaces what an earlier attempt made. (Replicas on S3 nodes are copied
 * server-side, many at once, by sc_set_writer_add_shards.)
 */
static int adopt_replica(struct sc_set_writer *w, const struct sc_manifest_shard *s,
			 uint32_t r, const char *name, char *err, size_t errlen)
{
	uint32_t node = s->replica[r];
	char src[SC_PATH_MAX], final[SC_PATH_MAX];
	struct stat st;

	if (sc_path_join(src, sizeof(src), w->node_real[node], s->name) ||
	    sc_path_join(final, sizeof(final), w->node_gen_dir[node], name))
		return sc_fail(err, errlen, SC_ELIMIT, "node path too long");
	if (lstat(src, &st)) {
		int e = errno;

		return sc_fail(err, errlen, e == ENOENT ? -ENOENT : -e, "shard '%s': %s", src,
			    e == ENOENT ? "missing" : strerror(e));
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != s->stored_bytes)
		return sc_fail(err, errlen, SC_ECORRUPT, "shard '%s': not a regular file of the "
			    "recorded size", src);
	unlink(final);
	/* a hard link leaves the source for a retry until the commit;
	 * where the file system has none, the file moves */
	if (link(src, final) && rename(src, final))
		return sc_fail(err, errlen, -errno, "shard '%s': cannot link or move it to "
			    "'%s': %s", src, final, strerror(errno));
	return 0;
}

/* What sc_set_writer_add_shard checks of s before taking it over as shard
 * number idx. 0 or negative with err. */
static int adopt_check(const struct sc_set_writer *w, const struct sc_manifest_shard *s,
		       uint64_t idx, char *err, size_t errlen)
{
	if (!s->name || s->nreplicas != w->replicas)
		return sc_fail(err, errlen, SC_EUSAGE, "shard '%s': %" PRIu32 " replicas, the set has %"
			    PRIu32, s->name ? s->name : "?", s->nreplicas, w->replicas);
	if (idx >= SC_SHARDS_MAX)
		return sc_fail(err, errlen, SC_ELIMIT, "more than %u shards", SC_SHARDS_MAX);
	for (uint32_t r = 0; r < s->nreplicas; r++)
		if (s->replica[r] >= w->nnodes)
			return sc_fail(err, errlen, SC_EUSAGE, "shard '%s': node %" PRIu32
				    " is not one of the set's %" PRIu32, s->name, s->replica[r],
				    w->nnodes);
	return 0;
}

/* Record s, whose replicas are in place, as the next shard (journaled). */
static int adopt_record(struct sc_set_writer *w, const struct sc_manifest_shard *s,
			const char *name, char *err, size_t errlen)
{
	struct sc_manifest_shard *d = &w->shards[w->nshards];

	*d = *s;
	if (asprintf(&d->name, "%s/g%06" PRIu64 "/%s", w->set_id, w->generation, name) < 0) {
		d->name = NULL;
		return -ENOMEM;
	}
	for (uint32_t r = 0; r < s->nreplicas; r++)
		w->node_bytes[s->replica[r]] += s->stored_bytes;
	w->stored_total += s->stored_bytes;
	w->nshards++;
	if (w->jf)
		return sc_journal_append(w->jf, d, err, errlen);
	return 0;
}

/*
 * Up to SC_SET_ADOPT_BATCH shards of v: S3 replicas copied many at once
 * (sc_s3node_copy_many, stopping at the first failure), then, shard by
 * shard in order, the local replicas linked and the S3 results taken in
 * replica order, and the shard recorded; the first failure stops there,
 * as n single calls would, and the copies made for that shard and later
 * ones are deleted (best effort: nothing records them). *done: shards
 * recorded.
 */
static int adopt_batch(struct sc_set_writer *w, const struct sc_manifest_shard *v, size_t n,
		       size_t *done, char *err, size_t errlen)
{
	struct sc_s3node_copy_req *cp = NULL;
	size_t *first = NULL, ncp = 0, ok = 0, bad = n;
	char (*key)[256] = NULL, name[32], bad_err[SC_S3NODE_ERR_MAX];
	uint64_t base = w->nshards;
	int rc = 0, bad_rc = 0;

	*done = 0;
	for (size_t i = 0; i < n && bad == n; i++) {
		bad_rc = adopt_check(w, &v[i], base + i, bad_err, sizeof(bad_err));
		if (bad_rc)
			bad = i;
	}
	if (shards_reserve(w, base + bad))
		return -ENOMEM;
	first = calloc(bad + 1, sizeof(*first));
	if (!first)
		return -ENOMEM;
	for (size_t i = 0; i < bad; i++) {
		first[i] = ncp;
		for (uint32_t r = 0; r < v[i].nreplicas; r++)
			ncp += w->node_s3[v[i].replica[r]] != 0;
	}
	first[bad] = ncp;
	if (ncp) {
		cp = calloc(ncp, sizeof(*cp));
		key = calloc(ncp, sizeof(*key));
		if (!cp || !key) {
			rc = -ENOMEM;
			goto out_free;
		}
		for (size_t i = 0, j = 0; i < bad; i++) {
			for (uint32_t r = 0; r < v[i].nreplicas; r++) {
				uint32_t node = v[i].replica[r];

				if (!w->node_s3[node])
					continue;
				if ((size_t)snprintf(key[j], sizeof(key[j]), "%s/g%06" PRIu64
						     "/%06" PRIu64 ".zst", w->set_id, w->generation,
						     base + i) >= sizeof(key[j])) {
					rc = sc_fail(err, errlen, SC_ELIMIT, "shard name too long");
					goto out_free;
				}
				cp[j] = (struct sc_s3node_copy_req){
					.src_node = w->node_store[node], .src_name = v[i].name,
					.dst_node = w->node_store[node], .dst_name = key[j],
					.size = v[i].stored_bytes,
				};
				j++;
			}
		}
		rc = sc_s3node_copy_many(w->s3, cp, ncp, 1);
		if (rc == -ENOMEM)
			goto out_free;
		rc = 0;
	}
	for (ok = 0; ok < bad; ok++) {
		size_t j = first[ok];

		snprintf(name, sizeof(name), "%06" PRIu64 ".zst", base + ok);
		for (uint32_t r = 0; r < v[ok].nreplicas && !rc; r++) {
			if (!w->node_s3[v[ok].replica[r]])
				rc = adopt_replica(w, &v[ok], r, name, err, errlen);
			else if ((rc = cp[j++].rc))
				sc_fail(err, errlen, rc, "%s", cp[j - 1].err);
		}
		if (!rc)
			rc = adopt_record(w, &v[ok], name, err, errlen);
		if (rc)
			break;
	}
	*done = w->nshards - base;
	if (!rc && bad < n)
		rc = sc_fail(err, errlen, bad_rc, "%s", bad_err);
	/* copies of shards not recorded: nothing refers to them */
	for (size_t j = first[*done]; rc && j < ncp; j++)
		if (cp[j].copied)
			sc_s3node_delete(w->s3, cp[j].dst_node, cp[j].dst_name, NULL, 0);
out_free:
	free(key);
	free(cp);
	free(first);
	return rc;
}

int sc_set_writer_add_shards(struct sc_set_writer *w, const struct sc_manifest_shard *v,
			     size_t n, char *err, size_t errlen)
{
	if (w->shard_open || w->replay_shard < w->nkept)
		return sc_fail(err, errlen, SC_EUSAGE, "a shard can only be taken over between shards");
	if (w->s3root)
		return sc_fail(err, errlen, SC_EUSAGE, "taking over shards: not supported for a "
			    "set root on S3");
	for (size_t i = 0; i < n; ) {
		size_t m = n - i < SC_SET_ADOPT_BATCH ? n - i : SC_SET_ADOPT_BATCH, done;
		int rc = adopt_batch(w, v + i, m, &done, err, errlen);

		if (rc)
			return rc;
		i += m;
	}
	return 0;
}

int sc_set_writer_add_shard(struct sc_set_writer *w, const struct sc_manifest_shard *s,
			    char *err, size_t errlen)
{
	return sc_set_writer_add_shards(w, s, 1, err, errlen);
}

void sc_set_writer_kept(const struct sc_set_writer *w, uint64_t *shards,
			uint64_t *frames, uint64_t *records)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < w->nkept; i++)
		n += w->shards[i].records;
	*shards = w->nkept;
	*frames = w->kept_frames;
	*records = n;
}

int sc_set_writer_replaying(const struct sc_set_writer *w)
{
	return w->replay_shard < w->nkept;
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

/* Best effort: objects of other generations than keep on an S3 node. */
static void s3_remove_generations(struct sc_set_writer *w, const char *node, uint64_t keep)
{
	if (!w->s3 && sc_s3node_open(0, &w->s3, NULL, 0))
		return;
	sc_s3node_remove_generations(w->s3, node, w->set_id, keep, NULL, 0);
}

/*
 * A set root on S3 has no lock (docs/S3.md section 9): before committing,
 * check that no other writer committed since this one read the manifest.
 * This narrows the window in which two writers would overwrite each
 * other's commit; it does not close it.
 */
static int s3root_unchanged(struct sc_set_writer *w, char *err, size_t errlen)
{
	struct sc_manifest now = { 0 };
	char msg[1024];
	int rc, same;

	rc = sc_manifest_load(w->root, &now, msg, sizeof(msg));
	if (rc && rc != SC_ENOTSET)
		return sc_fail(err, errlen, rc, "%s; nothing committed", msg);
	same = w->have_old ? !rc && now.generation == w->old.generation &&
				     !strcmp(now.set_id, w->old.set_id)
			   : rc == SC_ENOTSET;
	if (!same) {
		/* objects under the same set id may be the other writer's now:
		 * they are left to the next ingest's clean-up */
		int shared = !rc && !strcmp(now.set_id, w->set_id);

		if (shared)
			w->generation = 0;
		sc_fail(err, errlen, -EBUSY, "set '%s': another writer committed it "
		     "(generation %" PRIu64 " now) while this ingest ran; nothing "
		     "committed%s (one writer at a time for a set root on S3)", w->root,
		     rc ? 0 : now.generation, shared ? ", this ingest's objects are left "
		     "to the next ingest's clean-up" : "");
	}
	sc_manifest_release(&now);
	return same ? 0 : -EBUSY;
}

int sc_set_writer_commit(struct sc_set_writer *w, struct sc_manifest *m,
			 char *err, size_t errlen)
{
	char path[SC_PATH_MAX], dir[SC_PATH_MAX];
	struct sc_manifest_node *nodes = NULL;
	int rc, committed = 0;

	if (w->replay_shard < w->nkept)
		return sc_fail(err, errlen, SC_ECORRUPT, "resume: the inputs end before "
			    "the %" PRIu64 " shards the interrupted ingest wrote: they "
			    "changed since; nothing written, run without --resume to start "
			    "over", w->nkept);
	if (w->shard_open && (rc = shard_end(w, err, errlen)))
		return rc;
	/* make the directory entries leading to the shards durable:
	 * NODE/SET_ID/gGEN, NODE/SET_ID and NODE, and the set root's own
	 * entry in its parent (objects on S3 are durable once stored) */
	for (uint32_t i = 0; i < w->nnodes; i++) {
		char d[SC_PATH_MAX];

		strcpy(d, w->node_gen_dir[i]);
		for (int up = 0; up < 3; up++) {
			if ((rc = sc_fsync_dir(d)))
				return sc_fail(err, errlen, rc, "node dir '%s': fsync failed: %s",
					    d, sc_strerror(rc));
			if ((rc = sc_path_dirname(d, dir, sizeof(dir))))
				return rc;
			strcpy(d, dir);
		}
	}
	if (!w->s3root &&
	    ((rc = sc_path_dirname(w->root, dir, sizeof(dir))) || (rc = sc_fsync_dir(dir))))
		return sc_fail(err, errlen, rc, "set '%s': fsync of its parent directory '%s' "
			    "failed: %s", w->root, dir, sc_strerror(rc));
	if (w->s3root && (rc = s3root_unchanged(w, err, errlen)))
		return rc;
	nodes = calloc(w->nnodes, sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->nnodes; i++) {
		nodes[i].path = w->node_store[i];
		nodes[i].weight = w->weight[i];
	}
	/* version 2 only where needed: other sets stay readable by 0.1.0 */
	m->version = m->config.dedup && !strcmp(m->config.dedup, "near") ?
		     SC_MANIFEST_VERSION_NEAR : SC_MANIFEST_VERSION;
	m->shard_format = SC_SHARD_FORMAT_VERSION;
	memcpy(m->set_id, w->set_id, sizeof(m->set_id));
	m->generation = w->generation;
	m->nodes = nodes;
	m->nnodes = w->nnodes;
	m->shards = w->shards;
	m->nshards = w->nshards;
	m->stats.shards = w->nshards;
	m->stats.bytes_stored = w->stored_total;
	rc = sc_set_commit_manifest(w->root, m, &committed, err, errlen);
	/* the manifest borrowed these arrays; hand them back */
	m->nodes = NULL;
	m->nnodes = 0;
	m->shards = NULL;
	m->nshards = 0;
	free(nodes);
	if (rc) {
		/* committed: readers see the new manifest, its shards stay */
		if (committed)
			w->generation = 0;
		return rc;
	}
	/* committed: the previous generation is garbage now */
	if (w->have_old) {
		for (uint32_t i = 0; i < w->old.nnodes; i++) {
			if (sc_s3node_is(w->old.nodes[i].path)) {
				s3_remove_generations(w, w->old.nodes[i].path, w->generation);
				continue;
			}
			if (sc_manifest_node_dir(&w->old, w->root, i, dir, sizeof(dir)) ||
			    sc_path_join(path, sizeof(path), dir, w->set_id))
				continue;
			remove_generations(path, w->generation);
		}
	}
	w->generation = 0; /* nothing left for abort to remove */
	sc_set_writer_abort(w);
	return 0;
}

/* A private staging directory STAGE/I: its SET_ID directory, then itself
 * (empty once the generation directory is gone). */
static void stage_dirs_remove(const char *node_stage, const char *set_id)
{
	char d[SC_PATH_MAX];

	if (set_id[0] && !sc_path_join(d, sizeof(d), node_stage, set_id))
		rmdir(d);
	rmdir(node_stage);
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
	/* the journal goes with the generation it describes; after a
	 * commit (generation 0) it stays as the receipt */
	if (w->jf) {
		sc_journal_close(w->jf);
		if (w->generation)
			sc_journal_remove(w->root);
	}
	/* objects this writer uploaded for a generation never committed */
	for (uint64_t i = 0; w->generation && w->s3 && i < w->nshards; i++)
		for (uint32_t r = 0; r < w->shards[i].nreplicas; r++)
			if (w->node_s3[w->shards[i].replica[r]])
				sc_s3node_delete(w->s3, w->node_store[w->shards[i].replica[r]],
						 w->shards[i].name, NULL, 0);
	for (uint64_t i = 0; w->kept_ix && i < w->nkept; i++)
		sc_shard_index_free(w->kept_ix[i]);
	free(w->kept_ix);
	for (uint32_t i = 0; w->node_gen_dir && i < w->nnodes; i++) {
		if (w->node_gen_dir[i] && (w->generation || (w->node_s3 && w->node_s3[i])))
			remove_flat_dir(w->node_gen_dir[i]); /* staging: nothing stays */
		if (w->stage_tmp && w->node_s3 && w->node_s3[i] && w->node_real[i])
			stage_dirs_remove(w->node_real[i], w->set_id);
		free(w->node_gen_dir[i]);
		free(w->node_store[i]);
		free(w->node_real[i]);
	}
	for (uint64_t i = 0; i < w->nshards; i++)
		free(w->shards[i].name);
	free(w->shards);
	free(w->node_gen_dir);
	free(w->node_store);
	free(w->node_real);
	free(w->weight);
	free(w->node_bytes);
	free(w->node_s3);
	sc_s3node_close(w->s3);
	sc_shard_builder_free(w->builder);
	sc_sha256_free(w->sha);
	sc_buf_release(&w->trailer);
	sc_manifest_release(&w->old);
	if (w->stage_tmp)
		rmdir(w->stage);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w);
}

void sc_set_writer_suspend(struct sc_set_writer *w)
{
	if (w && w->jf)
		w->generation = 0; /* keep the generation and its journal */
	sc_set_writer_abort(w);
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
	struct sc_s3node *s3;            /* client and cache for S3 nodes, opened on first use */
};

int sc_set_open(const char *root, struct sc_set **out, char *err, size_t errlen)
{
	struct sc_set *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	if (strlen(root) >= sizeof(s->root)) {
		free(s);
		return sc_fail(err, errlen, SC_ELIMIT, "set path too long");
	}
	strcpy(s->root, root);
	/* a root on S3 too: its nodes are S3 locations, stored absolute */
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
	sc_s3node_close(s->s3);
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

int sc_set_replica_is_s3(const struct sc_set *s, uint64_t shard, uint32_t r)
{
	return shard < s->m.nshards && r < s->m.shards[shard].nreplicas &&
	       sc_s3node_is(s->m.nodes[s->m.shards[shard].replica[r]].path);
}

int sc_set_replica_fetch(struct sc_set *s, uint64_t shard, uint32_t r, int verify,
			 int *fd, char *err, size_t errlen)
{
	const struct sc_manifest_shard *sh;
	int rc;

	*fd = -1;
	if (!sc_set_replica_is_s3(s, shard, r))
		return sc_fail(err, errlen, SC_EUSAGE, "shard %" PRIu64 " replica %" PRIu32
			    ": not on an S3 node", shard, r);
	if (!s->s3 && (rc = sc_s3node_open(1, &s->s3, err, errlen)))
		return rc;
	sh = &s->m.shards[shard];
	return sc_s3node_fetch(s->s3, s->m.nodes[sh->replica[r]].path, sh->name,
			       sh->stored_bytes, sh->sha256, verify, fd, err, errlen);
}

int sc_set_replica_prefetch(struct sc_set *s, uint64_t shard, uint32_t r)
{
	const struct sc_manifest_shard *sh;

	if (!sc_set_replica_is_s3(s, shard, r))
		return 0;
	if (!s->s3 && sc_s3node_open(1, &s->s3, NULL, 0))
		return 0; /* reported by the fetch that follows */
	sh = &s->m.shards[shard];
	return sc_s3node_prefetch(s->s3, s->m.nodes[sh->replica[r]].path, sh->name,
				  sh->stored_bytes, sh->sha256);
}

int sc_set_replica_indexes(struct sc_set *s, struct sc_set_index *v, size_t n,
			   char *err, size_t errlen)
{
	struct sc_s3node_index *q;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (!sc_set_replica_is_s3(s, v[i].shard, v[i].replica))
			return sc_fail(err, errlen, SC_EUSAGE, "shard %" PRIu64 " replica %" PRIu32
				    ": not on an S3 node", v[i].shard, v[i].replica);
	if (!n)
		return 0;
	if (!s->s3 && (rc = sc_s3node_open(1, &s->s3, err, errlen)))
		return rc;
	q = calloc(n, sizeof(*q));
	if (!q)
		return sc_fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct sc_manifest_shard *sh = &s->m.shards[v[i].shard];

		q[i].node = s->m.nodes[sh->replica[v[i].replica]].path;
		q[i].name = sh->name;
		q[i].size = sh->stored_bytes;
		q[i].sha256 = sh->sha256;
	}
	rc = sc_s3node_load_indexes(s->s3, q, n);
	if (rc)
		sc_fail(err, errlen, rc, "loading shard indexes: %s", sc_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		v[i].ix = q[i].ix;
		v[i].rc = rc ? rc : q[i].rc;
		snprintf(v[i].err, sizeof(v[i].err), "%s", rc ? err : q[i].err);
	}
	free(q);
	return rc;
}

/* Open replica r of shard and check its index against the manifest. */
static int open_replica(struct sc_set *s, uint64_t shard, uint32_t r,
			char *err, size_t errlen)
{
	const struct sc_manifest_shard *sh;
	const struct sc_shard_index *ix;
	char path[SC_PATH_MAX];
	struct stat st;
	int rc;

	sc_shard_reader_close(s->rd);
	s->rd = NULL;
	if (sc_set_replica_path(s, shard, r, path, sizeof(path)))
		return sc_fail(err, errlen, SC_ELIMIT, "shard %" PRIu64 " replica %" PRIu32
			    ": no such replica, or path too long", shard, r);
	sh = &s->m.shards[shard];
	if (sc_set_replica_is_s3(s, shard, r)) {
		int fd;

		/* the failover path: a cached copy is checked whole */
		rc = sc_set_replica_fetch(s, shard, r, 1, &fd, err, errlen);
		if (!rc)
			rc = sc_shard_reader_open_fd(fd, sh->stored_bytes, path, &s->rd, err,
						     errlen);
		if (rc)
			return rc;
		goto check;
	}
	/* not a FIFO or device in a replica's place: opening one may block */
	if (!stat(path, &st) && !S_ISREG(st.st_mode))
		return sc_fail(err, errlen, SC_EFORMAT, "shard '%s': not a regular file", path);
	rc = sc_shard_reader_open(path, &s->rd, err, errlen);
	if (rc)
		return rc;
check:
	ix = sc_shard_reader_index(s->rd);
	if (ix->file_size != sh->stored_bytes || ix->frame_count != sh->frames ||
	    ix->record_count != sh->records || ix->raw_bytes != sh->raw_bytes) {
		sc_shard_reader_close(s->rd);
		s->rd = NULL;
		return sc_fail(err, errlen, SC_ECORRUPT,
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
		return sc_fail(err, errlen, SC_EUSAGE, "shard %" PRIu64 " frame %u: out of range",
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
	return sc_fail(err, errlen, rc, "shard %" PRIu64 " ('%s') frame %u: no good replica: %s",
		    shard, sh->name, frame, shown);
}

/* ---- maintenance: verify, repair, rebalance (store/maint.c) ---- */

int sc_set_lock(const char *root, int *lock_fd, char *err, size_t errlen)
{
	char path[SC_PATH_MAX];
	int fd;

	*lock_fd = -1;
	if (sc_s3root_is(root))
		return sc_fail(err, errlen, SC_EUSAGE, "set '%s': a set root on S3 has no lock "
			    "file (its writers re-read the manifest before committing)", root);
	if (sc_path_join(path, sizeof(path), root, ".lock"))
		return sc_fail(err, errlen, SC_ELIMIT, "set path too long");
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return sc_fail(err, errlen, -errno, "set '%s': cannot lock: %s", root,
			    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int rc = -errno;

		close(fd);
		if (rc == -EWOULDBLOCK)
			return sc_fail(err, errlen, rc, "set '%s': another shardctl (ingest, "
				    "repair or rebalance) is writing it", root);
		return sc_fail(err, errlen, rc, "set '%s': cannot lock: %s", root,
			    strerror(-rc));
	}
	remove_root_temporaries(root);
	*lock_fd = fd;
	return 0;
}

void sc_set_remove_generations(const char *setdir, uint64_t keep)
{
	remove_generations(setdir, keep);
}

int sc_set_node_resolve(const char *root, const char *given, int create,
			char **stored, char *err, size_t errlen)
{
	char root_real[PATH_MAX], node_real[PATH_MAX], shown[256];
	int rc;

	*stored = NULL;
	sc_manifest_printable(given, shown, sizeof(shown));
	if (sc_s3node_is(given)) {
		/* an S3 location: nothing to create, stored canonical */
		char why[512];

		rc = sc_s3node_canonical(given, node_real, sizeof(node_real), why, sizeof(why));
		if (rc)
			return sc_fail(err, errlen, rc, "node '%s': %s", shown, why);
		*stored = strdup(node_real);
		return *stored ? 0 : -ENOMEM;
	}
	if (!realpath(root, root_real))
		return sc_fail(err, errlen, -errno, "set '%s': %s", root, strerror(errno));
	if (create && (rc = sc_mkdir_p(given, 0755)))
		return sc_fail(err, errlen, rc, "node '%s': cannot create: %s", shown,
			    sc_strerror(rc));
	if (!realpath(given, node_real))
		return sc_fail(err, errlen, -errno, "node '%s': %s", shown, strerror(errno));
	return node_store_path(root_real, given, node_real, stored, err, errlen);
}

/*
 * Commit a root on S3: one PUT of the whole manifest object, which the
 * store makes visible atomically. A PUT whose answer was lost may still
 * have been stored: the object is read back and compared.
 */
static int s3_manifest_put(const char *root, const struct sc_buf *json, int *committed,
			   char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3ROOT_OBJ_MAX], msg[SC_S3_ERR_MAX + 128];
	char again[SC_S3_ERR_MAX + 128];
	struct sc_s3_loc loc;
	struct sc_buf have;
	int rc;

	rc = sc_s3root_object(root, SC_MANIFEST_NAME, &loc, key, sizeof(key), obj,
			      sizeof(obj), err, errlen);
	if (rc)
		return rc;
	rc = sc_s3root_write(root, SC_MANIFEST_NAME, json->data, json->len, msg, sizeof(msg));
	if (!rc) {
		*committed = 1;
		return 0;
	}
	sc_buf_init(&have, json->len + 1);
	*committed = !sc_s3root_read(root, SC_MANIFEST_NAME, json->len + 1, &have, again,
				     sizeof(again)) &&
		     have.len == json->len && !memcmp(have.data, json->data, json->len);
	sc_buf_release(&have);
	if (*committed)
		return 0; /* stored: on S3 that is durable too */
	return sc_fail(err, errlen, rc, "manifest '%s': commit failed: %s", obj, msg);
}

int sc_set_commit_manifest(const char *root, struct sc_manifest *m, int *committed,
			   char *err, size_t errlen)
{
	char path[SC_PATH_MAX], msg[512], why[2 * SC_PATH_MAX + 64];
	struct sc_manifest chk = { 0 };
	struct sc_buf json;
	int rc;

	*committed = 0;
	utc_now(m->created, sizeof(m->created));
	sc_buf_init(&json, SC_MANIFEST_SIZE_MAX);
	rc = sc_manifest_write_json(m, &json);
	if (rc) {
		sc_fail(err, errlen, rc, "manifest: %s", sc_strerror(rc));
		goto out;
	}
	/* only commit what our own reader accepts: a manifest it rejected
	 * would leave a set that neither stats, cat nor the next ingest
	 * could open */
	rc = sc_manifest_parse(json.data, json.len, &chk, msg, sizeof(msg));
	sc_manifest_release(&chk);
	if (rc) {
		sc_fail(err, errlen, rc, "set '%s': the new manifest would not be readable "
		     "(%s); nothing committed", root, msg);
		goto out;
	}
	if (sc_s3root_is(root)) {
		rc = s3_manifest_put(root, &json, committed, err, errlen);
		goto out;
	}
	if (sc_path_join(path, sizeof(path), root, SC_MANIFEST_NAME)) {
		rc = sc_fail(err, errlen, SC_ELIMIT, "set path too long");
		goto out;
	}
	rc = sc_write_file_atomic_why(path, json.data, json.len, why, sizeof(why));
	if (rc) {
		/* The rename may have happened with only the directory fsync
		 * failing: then the new manifest is what readers see. */
		*committed = manifest_is(path, &json);
		if (*committed)
			sc_fail(err, errlen, rc, "manifest '%s': committed, but %s: %s; the "
			     "new version may not survive a crash", path, why,
			     sc_strerror(rc));
		else
			sc_fail(err, errlen, rc, "manifest '%s': commit failed: %s: %s", path,
			     why, sc_strerror(rc));
		goto out;
	}
	*committed = 1;
out:
	sc_buf_release(&json);
	return rc;
}
