/*
 * maint.c - copy-then-commit of a new generation for repair and
 * rebalance (see maint.h for the protocol and what a crash leaves).
 *
 * All file work below a node goes through directory fds opened without
 * following links: the old generation's directory (sources) and the new
 * one's (destinations), per node. Shard files keep their base name
 * (NNNNNN.zst) from one generation to the next; only the generation
 * directory in the name changes. Nodes that are S3 locations have no
 * directories: their replicas are objects named like the files, reached
 * through one S3 client (maint.h says what each step does there).
 *
 * For tests only: SHARDCTL_TEST_PAUSE_MS=N sleeps N ms after every
 * replica written, before the commit, after it and between the removals
 * that follow, so that a kill -9 from a test script lands at every stage
 * of a small set (tests/cli/t_repair.sh, t_rebalance.sh).
 */
#include "maint.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "file.h"
#include "nodedir.h"
#include "s3node.h"
#include "s3root.h"
#include "set.h"

#define MAINT_COPY_CHUNK ((size_t)1 << 20) /* bytes per read/write of a copy */
#define MAINT_PAUSE_MS_MAX 60000

struct sc_maint {
	char root[SC_PATH_MAX];    /* set root */
	int lock_fd;               /* flock'd ROOT/.lock, -1 for a dry run or an S3 root */
	int s3root;                /* 1: the root is an S3 location (no lock; maint.h) */
	int writing;               /* 1: opened for a real run (locked, or an S3 root) */
	struct sc_manifest m;      /* committed manifest (generation N) */
	unsigned pause_ms;         /* SHARDCTL_TEST_PAUSE_MS */
	void (*event)(void *ctx, const char *msg);
	void (*step)(void *ctx, const char *where);
	void *ctx;
	struct sc_s3node *s3;      /* client for S3 nodes, opened on first use, or NULL */
};

static void event(const struct sc_maint *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void event(const struct sc_maint *s, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!s->event)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->event(s->ctx, msg);
}

static void pause_here(const struct sc_maint *s, const char *where)
{
	struct timespec ts;

	if (s->step)
		s->step(s->ctx, where);
	if (!s->pause_ms)
		return;
	ts.tv_sec = s->pause_ms / 1000;
	ts.tv_nsec = (long)(s->pause_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int node_is_s3(const struct sc_manifest *m, uint32_t i)
{
	return i < m->nnodes && sc_s3node_is(m->nodes[i].path);
}

/* The S3 client (configured from the environment), opened on first use. */
static int maint_s3(struct sc_maint *s, char *err, size_t errlen)
{
	if (s->s3)
		return 0;
	return sc_s3node_open(0, &s->s3, err, errlen);
}

/*
 * The S3 form of clean_node(): delete the set's objects of every
 * generation but keep on S3 node i (LIST + DELETE). Best effort, like the
 * local clean-up; a failure is said, and the next run tries again.
 */
static void clean_s3_node(struct sc_maint *s, const struct sc_manifest *m, uint32_t i,
			  uint64_t keep)
{
	char msg[1024];
	int64_t rc = maint_s3(s, msg, sizeof(msg));

	if (!rc)
		rc = sc_s3node_remove_generations(s->s3, m->nodes[i].path, m->set_id, keep, msg,
						  sizeof(msg));
	if (rc < 0)
		event(s, "node %" PRIu32 " '%s': the set's objects%s could not all be removed: "
		      "%s (the next repair or rebalance tries again)", i, m->nodes[i].path,
		      keep ? " of other generations" : "", msg);
}

/*
 * Remove every generation but keep under NODE/SET_ID of node i of m (and
 * with drop, then NODE/SET_ID itself if that leaves it empty). The
 * directory is reached as everything below a node is (nodedir.h: no
 * symbolic link followed below the set root or the node), and handed to
 * the writer's clean-up as /proc/self/fd/N, so that it removes exactly
 * in that directory; a symbolic link in place of NODE/SET_ID is left
 * alone.
 */
static void clean_node(struct sc_maint *s, const struct sc_manifest *m, uint32_t i,
		       uint64_t keep, int drop)
{
	const char *root = s->root;
	char path[64];
	int nfd, sfd;

	if (node_is_s3(m, i)) {
		/* a node that leaves the layout keeps nothing of the set */
		clean_s3_node(s, m, i, drop ? 0 : keep);
		return;
	}
	nfd = sc_nodedir_open(m, root, i);
	if (nfd < 0)
		return;
	sfd = sc_nodedir_openat(nfd, m->set_id, O_RDONLY | O_DIRECTORY, 0, 0);
	if (sfd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", sfd);
		if (access(path, X_OK) == 0) {
			sc_set_remove_generations(path, keep);
		} else {
			/* no /proc: by name, checked to be a real directory */
			char dir[SC_PATH_MAX], sdir[SC_PATH_MAX];
			struct stat a, b;

			if (!sc_manifest_node_dir(m, root, i, dir, sizeof(dir)) &&
			    !sc_path_join(sdir, sizeof(sdir), dir, m->set_id) &&
			    !lstat(sdir, &a) && S_ISDIR(a.st_mode) && !fstat(sfd, &b) &&
			    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
				sc_set_remove_generations(sdir, keep);
		}
		close(sfd);
		if (drop)
			unlinkat(nfd, m->set_id, AT_REMOVEDIR);
	}
	close(nfd);
}

int sc_maint_open(const struct sc_maint_opts *o, struct sc_maint **out, char *err,
		  size_t errlen)
{
	struct sc_maint *s;
	const char *pause;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lock_fd = -1;
	s->event = o->event;
	s->step = o->step;
	s->ctx = o->ctx;
	pause = getenv("SHARDCTL_TEST_PAUSE_MS");
	if (pause && *pause) {
		unsigned long v = strtoul(pause, NULL, 10);

		s->pause_ms = v > MAINT_PAUSE_MS_MAX ? MAINT_PAUSE_MS_MAX : (unsigned)v;
	}
	if (strlen(o->root) >= sizeof(s->root)) {
		free(s);
		return sc_fail(err, errlen, SC_ELIMIT, "set path too long");
	}
	strcpy(s->root, o->root);
	s->s3root = sc_s3root_is(s->root);
	if (o->lock && !s->s3root) {
		/* the lock first: the manifest we then read stays the
		 * committed one until we commit ourselves */
		rc = sc_set_lock(s->root, &s->lock_fd, err, errlen);
		if (rc) {
			free(s);
			return rc;
		}
	}
	/* a root on S3 has no lock (docs/S3.md section 9): the manifest is
	 * read again just before the commit instead (root_unchanged) */
	s->writing = o->lock;
	rc = sc_manifest_load(s->root, &s->m, err, errlen);
	if (rc) {
		sc_maint_close(s);
		return rc;
	}
	/* leftovers of interrupted runs; an interrupted ingest's partial
	 * generation among them: its journal then no longer matches the
	 * committed generation, and `ingest --resume` starts over
	 * (docs/RESUME.md section 6) */
	for (uint32_t i = 0; o->lock && s->s3root && i < s->m.nnodes; i++)
		if (!node_is_s3(&s->m, i)) {
			/* a reader takes an absolute one; no writer made it */
			rc = sc_fail(err, errlen, SC_EUSAGE, "set '%s': node %" PRIu32 " '%s' is "
				  "not an S3 location, but the set's root is on S3; not changed",
				  s->root, i, s->m.nodes[i].path);
			sc_maint_close(s);
			return rc;
		}
	if (o->lock) {
		for (uint32_t i = 0; i < s->m.nnodes; i++)
			clean_node(s, &s->m, i, s->m.generation, 0);
	}
	*out = s;
	return 0;
}

const struct sc_manifest *sc_maint_manifest(const struct sc_maint *s)
{
	return &s->m;
}

const char *sc_maint_root(const struct sc_maint *s)
{
	return s->root;
}

void sc_maint_close(struct sc_maint *s)
{
	if (!s)
		return;
	sc_manifest_release(&s->m);
	sc_s3node_close(s->s3);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}

int sc_maint_node_usable(const struct sc_manifest *m, const char *root, uint32_t node,
			 uint64_t *room_bytes, const char **why)
{
	struct statvfs vfs;
	int fd;

	*room_bytes = 0;
	if (node_is_s3(m, node)) {
		char canon[SC_PATH_MAX];

		if (sc_s3node_canonical(m->nodes[node].path, canon, sizeof(canon), NULL, 0)) {
			*why = "it is not a valid S3 location";
			return 0;
		}
		/* no free space to ask an object store for: unlimited */
		*room_bytes = UINT64_MAX;
		return 1;
	}
	fd = sc_nodedir_open(m, root, node);
	if (fd < 0) {
		*why = fd == -ENOENT ? "its directory is missing" :
		       fd == -ENOTDIR ? "it is not a directory" :
		       "its directory cannot be opened";
		return 0;
	}
	if (faccessat(fd, ".", W_OK | X_OK, AT_EACCESS)) {
		*why = errno == EROFS ? "its file system is read-only" : "it is not writable";
		close(fd);
		return 0;
	}
	if (fstatvfs(fd, &vfs)) {
		*why = "its file system cannot be queried";
		close(fd);
		return 0;
	}
	close(fd);
	*room_bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	return 1;
}

/*
 * A set root on S3 has no lock (docs/S3.md section 9): just before the
 * commit, read the manifest object again and refuse (-EBUSY) if another
 * writer committed since this run read it (its generation or set id
 * differs). *shared is set when the set id is still ours: then the other
 * writer's objects may be under the keys of the generation this run
 * wrote, so the caller must not delete them. This narrows the window in
 * which two writers overwrite each other's commit; it does not close it.
 */
static int root_unchanged(const struct sc_maint *s, int *shared, char *err, size_t errlen)
{
	struct sc_manifest now = { 0 };
	char msg[1024];
	int rc, same;

	*shared = 0;
	rc = sc_manifest_load(s->root, &now, msg, sizeof(msg));
	if (rc && rc != SC_ENOTSET)
		return sc_fail(err, errlen, rc, "%s; nothing committed", msg);
	same = !rc && now.generation == s->m.generation && !strcmp(now.set_id, s->m.set_id);
	if (!same) {
		*shared = !rc && !strcmp(now.set_id, s->m.set_id);
		sc_fail(err, errlen, -EBUSY, "set '%s': another writer committed it (%s%" PRIu64
			") while this run worked on generation %" PRIu64 "; nothing committed%s "
			"(one writer at a time for a set root on S3)", s->root,
			rc ? "no manifest now, was generation " : "generation ",
			rc ? s->m.generation : now.generation, s->m.generation,
			*shared ? ", the objects this run wrote are left to the next run's "
			"clean-up" : "");
	}
	sc_manifest_release(&now);
	return same ? 0 : -EBUSY;
}

/* ---- execution ---- */

/* Per-node state of one execution. */
struct exec_node {
	int s3;            /* the plan node with this index is an S3 location */
	int old_gen_fd;    /* gN of the old node with this index, or -errno
			    * (-EREMOTE: an S3 node) */
	int new_gen_fd;    /* g(N+1) on the plan node with this index, or -1 */
	int new_set_fd;    /* NODE/SET_ID on the plan node, or -1 */
	int new_node_fd;   /* the plan node's directory, or -1 */
};

/* Open (creating it if needed) directory name below dirfd, no link followed. */
static int mkdir_open(int dirfd, const char *name)
{
	int fd;

	if (mkdirat(dirfd, name, 0755) && errno != EEXIST)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * Hard-link base from the old generation directory to the new one, after
 * checking that the old file is a regular file of the manifest's size,
 * and check the link names that very file. 0, or negative (the caller
 * copies instead).
 */
static int link_replica(int olddir, int newdir, const char *base, uint64_t size,
			int check_size)
{
	struct stat a, b;

	if (olddir < 0)
		return olddir;
	if (fstatat(olddir, base, &a, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (!S_ISREG(a.st_mode) || (check_size && (uint64_t)a.st_size != size))
		return SC_ECORRUPT;
	if (linkat(olddir, base, newdir, base, 0))
		return -errno;
	if (fstatat(newdir, base, &b, AT_SYMLINK_NOFOLLOW) || b.st_ino != a.st_ino ||
	    b.st_dev != a.st_dev) {
		unlinkat(newdir, base, 0);
		return SC_ECORRUPT;
	}
	return 0;
}

/*
 * Open old node j's gN replica of shard sh (file base) as a copy source
 * into *fd: a local file of the manifest's size below the node's gN
 * directory (no link followed), or, on an S3 node, the object fetched
 * whole without the cache with its SHA-256 checked (*checked 1; a
 * descriptor of memory). 0, or negative with why (the caller tries
 * another source).
 */
static int open_source(struct sc_maint *s, const struct exec_node *en, uint32_t j,
		       const char *base, const struct sc_manifest_shard *sh,
		       struct sc_maint_result *res, int *fd, int *checked, char *why,
		       size_t whylen)
{
	struct stat st;
	int src, rc;

	*fd = -1;
	*checked = 0;
	if (node_is_s3(&s->m, j)) {
		char msg[SC_S3NODE_ERR_MAX];

		rc = maint_s3(s, msg, sizeof(msg));
		if (!rc) {
			res->bytes_read += sh->stored_bytes;
			rc = sc_s3node_fetch(s->s3, s->m.nodes[j].path, sh->name, sh->stored_bytes,
					     sh->sha256, 1, fd, msg, sizeof(msg));
		}
		if (rc)
			return sc_fail(why, whylen, rc, "%s", msg);
		*checked = 1;
		return 0;
	}
	if (en[j].old_gen_fd < 0)
		return sc_fail(why, whylen, en[j].old_gen_fd, "its directory is unavailable: %s",
			    sc_strerror(en[j].old_gen_fd));
	src = sc_nodedir_open_file(en[j].old_gen_fd, base, &st);
	if (src < 0)
		return sc_fail(why, whylen, src, "cannot open: %s", src == SC_EFORMAT ?
			    sc_nodedir_kind(st.st_mode) : sc_strerror(src));
	if ((uint64_t)st.st_size != sh->stored_bytes) {
		close(src);
		return sc_fail(why, whylen, SC_ECORRUPT, "wrong size (%" PRIu64 " bytes, the "
			    "manifest says %" PRIu64 ")", (uint64_t)st.st_size, sh->stored_bytes);
	}
	*fd = src;
	return 0;
}

/*
 * Read sh's stored_bytes of src in chunks through buf, hash them and,
 * where dst >= 0, write them to dst; then compare with sh's SHA-256.
 * 0; a bad source (SC_ECORRUPT, -errno reading) with *fatal 0; a failure
 * to hash (-ENOMEM, ...) or to write with *fatal 1. why says which.
 */
static int hash_source(int src, int dst, const struct sc_manifest_shard *sh,
		       struct sc_buf *buf, struct sc_maint_result *res, int *fatal, char *why,
		       size_t whylen)
{
	struct sc_sha256 *h = NULL;
	unsigned char md[32];
	uint64_t off = 0;
	int rc;

	*fatal = 0;
	rc = sc_sha256_new(&h);
	if (!rc)
		rc = sc_buf_reserve(buf, MAINT_COPY_CHUNK);
	if (rc) {
		*fatal = 1;
		sc_fail(why, whylen, rc, "%s", sc_strerror(rc));
		goto out;
	}
	while (off < sh->stored_bytes) {
		uint64_t left = sh->stored_bytes - off;
		size_t n = left < MAINT_COPY_CHUNK ? (size_t)left : MAINT_COPY_CHUNK;

		rc = sc_pread_all(src, buf->data, n, off);
		if (rc) {
			sc_fail(why, whylen, rc, "read error near offset %" PRIu64 ": %s", off,
			     sc_strerror(rc));
			goto out;
		}
		res->bytes_read += n;
		rc = sc_sha256_update(h, buf->data, n);
		if (!rc && dst >= 0)
			rc = sc_write_all(dst, buf->data, n);
		if (rc) {
			*fatal = 1;
			sc_fail(why, whylen, rc, "%s%s", dst >= 0 ? "write failed: " : "",
				sc_strerror(rc));
			goto out;
		}
		off += n;
	}
	rc = sc_sha256_final(h, md);
	if (rc) {
		*fatal = 1;
		sc_fail(why, whylen, rc, "%s", sc_strerror(rc));
	} else if (memcmp(md, sh->sha256, 32)) {
		rc = sc_fail(why, whylen, SC_ECORRUPT, "sha256 mismatch");
	}
out:
	sc_sha256_free(h);
	return rc;
}

/*
 * Upload source src (checked: its SHA-256 already verified) as newname on
 * S3 node `node`, after checking a local source's SHA-256; the stored
 * size is checked by a HEAD. Failures as for copy_replica(): a bad source
 * with *dst_failed 0, an upload that fails with *dst_failed 1.
 */
static int upload_replica(struct sc_maint *s, int src, int checked, const char *node,
			  const char *newname, const struct sc_manifest_shard *sh,
			  struct sc_buf *buf, struct sc_maint_result *res, int *dst_failed,
			  char *why, size_t whylen)
{
	char msg[SC_S3NODE_ERR_MAX];
	int rc;

	*dst_failed = 0;
	if (!checked) {
		rc = hash_source(src, -1, sh, buf, res, dst_failed, why, whylen);
		if (rc)
			return rc;
	}
	rc = maint_s3(s, msg, sizeof(msg));
	if (!rc)
		rc = sc_s3node_put_fd(s->s3, node, newname, src, sh->stored_bytes, msg, sizeof(msg));
	if (rc) {
		*dst_failed = 1;
		return sc_fail(why, whylen, rc, "upload failed: %s", msg);
	}
	res->bytes_copied += sh->stored_bytes;
	return 0;
}

/*
 * Copy base from the source src (of sh's size) to newdir through
 * ".base.tmp": SHA-256 checked against sh while copying, fsync, rename.
 * Returns 0; or a source problem (SC_ECORRUPT, -errno reading) with
 * *dst_failed 0, so the caller tries another source; or a destination
 * failure with *dst_failed 1, which ends the run. why gets a message
 * either way.
 */
static int copy_replica(int src, int newdir, const char *base,
			const struct sc_manifest_shard *sh, struct sc_buf *buf,
			struct sc_maint_result *res, int *dst_failed, char *why,
			size_t whylen)
{
	char tmp[64];
	int dst = -1, rc;

	*dst_failed = 0;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", base);
	unlinkat(newdir, tmp, 0);
	dst = openat(newdir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (dst < 0) {
		*dst_failed = 1;
		rc = sc_fail(why, whylen, -errno, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	rc = hash_source(src, dst, sh, buf, res, dst_failed, why, whylen);
	if (rc)
		goto out_unlink;
	if (fsync(dst)) {
		*dst_failed = 1;
		rc = sc_fail(why, whylen, -errno, "fsync failed: %s", strerror(errno));
		goto out_unlink;
	}
	rc = close(dst) ? -errno : 0;
	dst = -1;
	if (!rc && renameat(newdir, tmp, newdir, base))
		rc = -errno;
	if (rc) {
		*dst_failed = 1;
		sc_fail(why, whylen, rc, "cannot complete '%s': %s", base, sc_strerror(rc));
		goto out_unlink;
	}
	res->bytes_copied += sh->stored_bytes;
	goto out;
out_unlink:
	unlinkat(newdir, tmp, 0);
out:
	if (dst >= 0)
		close(dst);
	return rc;
}

/* Index of old node oj in shard sh's replica list, or -1. */
static int old_replica_on(const struct sc_manifest_shard *sh, int32_t oj)
{
	for (uint32_t r = 0; oj >= 0 && r < sh->nreplicas; r++)
		if (sh->replica[r] == (uint32_t)oj)
			return (int)r;
	return -1;
}

/* Path of an old node, for messages. */
static const char *old_node_path(const struct sc_maint *s, uint32_t j)
{
	return j < s->m.nnodes ? s->m.nodes[j].path : "?";
}

/*
 * Materialize replica slot r of shard i on plan node n: link (on an S3
 * node: server-side copy), copy from a good source, or carry over.
 * newname is the shard's name in generation N+1. 0, or a failure that
 * ends the run.
 */
static int place_replica(struct sc_maint *s, const struct sc_maint_plan *p,
			 struct exec_node *en, uint64_t i, uint32_t r, const char *newname,
			 struct sc_buf *buf, struct sc_maint_result *res, char *err,
			 size_t errlen)
{
	const struct sc_manifest_shard *sh = &s->m.shards[i];
	const struct sc_maint_slot *sl = &p->slot[i * SC_REPLICAS_MAX + r];
	const char *base = strrchr(sh->name, '/') + 1; /* the name rule: SET_ID/gN/base */
	const char *dnode = p->nodes[sl->node].path;
	int32_t oj = p->old_node[sl->node];
	int same = old_replica_on(sh, oj), dst_failed, rc, tried = 0;
	int newdir = en[sl->node].new_gen_fd, dst_s3 = en[sl->node].s3;
	char why[SC_S3NODE_ERR_MAX] = "";

	if (sl->action == SC_MAINT_CARRY) {
		int carried = 0;

		if (same >= 0 && dst_s3)
			carried = !maint_s3(s, why, sizeof(why)) &&
				  !sc_s3node_copy(s->s3, s->m.nodes[oj].path, sh->name, dnode,
						  newname, UINT64_MAX, why, sizeof(why));
		else if (same >= 0 && newdir >= 0)
			carried = !link_replica(en[oj].old_gen_fd, newdir, base, 0, 0);
		if (carried) {
			res->replicas_carried++;
			event(s, "shard %" PRIu64 " replica %" PRIu32 ": no good copy; node %"
			      PRIu32 " keeps its damaged %s as it is", i, r, sl->node,
			      dst_s3 ? "object" : "file");
		} else {
			event(s, "shard %" PRIu64 " replica %" PRIu32 ": no good copy; nothing "
			      "to carry over on node %" PRIu32, i, r, sl->node);
		}
		return 0;
	}
	if (sl->action == SC_MAINT_KEEP && same >= 0 &&
	    (!p->good || p->good[i * SC_REPLICAS_MAX + (uint32_t)same])) {
		if (!dst_s3 && !link_replica(en[oj].old_gen_fd, newdir, base, sh->stored_bytes, 1)) {
			res->replicas_linked++;
			return 0;
		}
		if (dst_s3) {
			rc = maint_s3(s, why, sizeof(why));
			if (!rc)
				rc = sc_s3node_copy(s->s3, s->m.nodes[oj].path, sh->name, dnode,
						    newname, sh->stored_bytes, why, sizeof(why));
			if (!rc) {
				res->replicas_server_copied++;
				return 0;
			}
			event(s, "shard %" PRIu64 " replica %" PRIu32 ": server-side copy on node %"
			      PRIu32 " '%s' failed: %s; copying from a replica instead", i, r,
			      sl->node, dnode, why);
		}
	}
	/* copy: first the node's own old file when it is a candidate (no
	 * data crosses nodes then), then the other replicas in order */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t k = 0; k < sh->nreplicas; k++) {
			uint32_t j = sh->replica[k];
			int src, checked;

			if ((pass == 0) != ((int)k == same))
				continue;
			if (p->good && !p->good[i * SC_REPLICAS_MAX + k])
				continue;
			tried++;
			dst_failed = 0;
			rc = open_source(s, en, j, base, sh, res, &src, &checked, why, sizeof(why));
			if (!rc) {
				if (dst_s3)
					rc = upload_replica(s, src, checked, dnode, newname, sh, buf,
							    res, &dst_failed, why, sizeof(why));
				else
					rc = copy_replica(src, newdir, base, sh, buf, res,
							  &dst_failed, why, sizeof(why));
				close(src);
			}
			if (!rc) {
				res->replicas_copied++;
				event(s, "shard %" PRIu64 " replica %" PRIu32 ": copied %" PRIu64
				      " bytes from node %" PRIu32 " to node %" PRIu32 " '%s', "
				      "sha256 verified", i, r, sh->stored_bytes, j, sl->node, dnode);
				return 0;
			}
			if (dst_failed)
				return sc_fail(err, errlen, rc, "shard %" PRIu64 " replica %" PRIu32
					    ": node %" PRIu32 " '%s': %s", i, r, sl->node, dnode, why);
			res->sources_rejected++;
			event(s, "shard %" PRIu64 ": replica on node %" PRIu32 " '%s' is not a "
			      "good source: %s", i, j, old_node_path(s, j), why);
		}
	}
	return sc_fail(err, errlen, SC_ECORRUPT, "shard %" PRIu64 " ('%s'): no good replica "
		    "to copy from (%d tried%s%s); nothing committed", i, sh->name, tried,
		    tried ? ", last: " : "", tried ? why : "");
}

/* fsync a directory fd (EINVAL: the file system has nothing more to do). */
static int fsync_dirfd(int fd)
{
	while (fsync(fd)) {
		if (errno == EINTR)
			continue;
		return errno == EINVAL ? 0 : -errno;
	}
	return 0;
}

int sc_maint_execute(struct sc_maint *s, const struct sc_maint_plan *p,
		     struct sc_maint_result *res, char *err, size_t errlen)
{
	const struct sc_manifest *m = &s->m;
	uint32_t nrep = m->config.replicas;
	struct sc_manifest nm;
	struct sc_manifest_shard *shards = NULL;
	struct exec_node *en;
	unsigned char *used = NULL;
	char gen[32], tool[64], rel[80];
	uint32_t nen;
	struct sc_buf buf;
	uint64_t g;
	int rc = 0, committed = 0, shared = 0;

	memset(res, 0, sizeof(*res));
	if (!s->writing)
		return sc_fail(err, errlen, SC_EUSAGE, "set '%s': not opened for writing", s->root);
	/* the ingest writer's rule: a path of this machine would name
	 * nothing, or something else, on the machines that read the set */
	for (uint32_t n = 0; s->s3root && n < p->nnodes; n++)
		if (!sc_s3node_is(p->nodes[n].path))
			return sc_fail(err, errlen, SC_EUSAGE, "node '%s': a local directory cannot "
				    "be a node of a set whose root is on S3 ('%s'): other machines "
				    "could not read it; give S3 nodes (s3://BUCKET/PREFIX)",
				    p->nodes[n].path, s->root);
	if (m->generation >= UINT64_MAX - 1)
		return sc_fail(err, errlen, SC_ELIMIT, "set '%s': generation %" PRIu64 " is the "
			    "last one a manifest can hold; no further commit is possible",
			    s->root, m->generation);
	if (p->nnodes == 0 || p->nnodes > SC_NODES_MAX)
		return sc_fail(err, errlen, SC_EUSAGE, "bad node count %" PRIu32, p->nnodes);
	g = m->generation + 1;
	snprintf(gen, sizeof(gen), "g%06" PRIu64, g);
	/* nodes of N+1 resolved like the nodes of a manifest */
	nm = *m;
	nm.nodes = p->nodes;
	nm.nnodes = p->nnodes;
	nen = p->nnodes > m->nnodes ? p->nnodes : m->nnodes;
	en = calloc(nen, sizeof(*en));
	used = calloc(p->nnodes, 1);
	shards = calloc(m->nshards ? m->nshards : 1, sizeof(*shards));
	sc_buf_init(&buf, MAINT_COPY_CHUNK);
	if (!en || !used || !shards) {
		free(en);
		free(used);
		free(shards);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < nen; k++) {
		en[k].old_gen_fd = -EBADF;
		en[k].new_gen_fd = en[k].new_set_fd = en[k].new_node_fd = -1;
		en[k].s3 = k < p->nnodes && node_is_s3(&nm, k);
	}
	for (uint64_t i = 0; i < m->nshards; i++)
		for (uint32_t r = 0; r < nrep; r++) {
			uint32_t n = p->slot[i * SC_REPLICAS_MAX + r].node;

			if (n >= p->nnodes) {
				rc = sc_fail(err, errlen, SC_EUSAGE, "shard %" PRIu64 ": node %" PRIu32
					  " out of range", i, n);
				goto out_remove;
			}
			/* 1: needed; 2: only carries, which may find the node gone */
			if (p->slot[i * SC_REPLICAS_MAX + r].action != SC_MAINT_CARRY)
				used[n] = 1;
			else if (!used[n])
				used[n] = 2;
		}
	/* the S3 client first, when a node of the new layout needs it */
	for (uint32_t n = 0; n < p->nnodes; n++) {
		char msg[1024];

		if (!used[n] || !en[n].s3 || !(rc = maint_s3(s, msg, sizeof(msg))))
			continue;
		rc = sc_fail(err, errlen, rc, "node %" PRIu32 " '%s': %s", n, p->nodes[n].path,
			  msg);
		goto out_remove;
	}
	/* sources: gN on every old node (an S3 node's objects are fetched
	 * by name when needed) */
	snprintf(rel, sizeof(rel), "%s/g%06" PRIu64, m->set_id, m->generation);
	for (uint32_t j = 0; j < m->nnodes; j++) {
		int nfd;

		if (node_is_s3(m, j)) {
			en[j].old_gen_fd = -EREMOTE;
			continue;
		}
		nfd = sc_nodedir_open(m, s->root, j);
		if (nfd < 0) {
			en[j].old_gen_fd = nfd;
			continue;
		}
		en[j].old_gen_fd = sc_nodedir_openat(nfd, rel, O_RDONLY | O_DIRECTORY, 0, 0);
		close(nfd);
	}
	/* destinations: a fresh g(N+1) on every node that gets a replica */
	for (uint32_t n = 0; n < p->nnodes; n++) {
		if (!used[n])
			continue;
		clean_node(s, &nm, n, m->generation, 0);
		if (en[n].s3)
			continue; /* objects are named, not created in directories */
		en[n].new_node_fd = sc_nodedir_open(&nm, s->root, n);
		if (en[n].new_node_fd >= 0)
			en[n].new_set_fd = mkdir_open(en[n].new_node_fd, m->set_id);
		if (en[n].new_set_fd >= 0)
			en[n].new_gen_fd = mkdir_open(en[n].new_set_fd, gen);
		if ((en[n].new_node_fd < 0 || en[n].new_set_fd < 0 || en[n].new_gen_fd < 0) &&
		    used[n] == 2) {
			/* nothing good to carry to a node that cannot be written */
			if (en[n].new_set_fd >= 0)
				close(en[n].new_set_fd);
			if (en[n].new_node_fd >= 0)
				close(en[n].new_node_fd);
			en[n].new_gen_fd = en[n].new_set_fd = en[n].new_node_fd = -1;
			used[n] = 0;
			continue;
		}
		if (en[n].new_node_fd < 0 || en[n].new_set_fd < 0 || en[n].new_gen_fd < 0) {
			int e = en[n].new_node_fd < 0 ? en[n].new_node_fd :
				en[n].new_set_fd < 0 ? en[n].new_set_fd : en[n].new_gen_fd;

			rc = sc_fail(err, errlen, e, "node %" PRIu32 " '%s': cannot create "
				  "'%s/%s': %s", n, p->nodes[n].path, m->set_id, gen,
				  sc_strerror(e));
			goto out_remove;
		}
	}
	for (uint64_t i = 0; i < m->nshards; i++) {
		shards[i] = m->shards[i];
		if (asprintf(&shards[i].name, "%s/%s/%s", m->set_id, gen,
			     strrchr(m->shards[i].name, '/') + 1) < 0) {
			shards[i].name = NULL;
			rc = -ENOMEM;
			goto out_remove;
		}
		for (uint32_t r = 0; r < nrep; r++) {
			shards[i].replica[r] = p->slot[i * SC_REPLICAS_MAX + r].node;
			rc = place_replica(s, p, en, i, r, shards[i].name, &buf, res, err,
					   errlen);
			if (rc)
				goto out_remove;
			pause_here(s, "replica written");
		}
	}
	/* the new entries durable before the manifest names them */
	for (uint32_t n = 0; n < p->nnodes; n++) {
		if (!used[n] || en[n].s3) /* uploads are durable once HEAD-checked */
			continue;
		rc = fsync_dirfd(en[n].new_gen_fd);
		if (!rc)
			rc = fsync_dirfd(en[n].new_set_fd);
		if (!rc)
			rc = fsync_dirfd(en[n].new_node_fd);
		if (rc) {
			sc_fail(err, errlen, rc, "node %" PRIu32 " '%s': fsync failed: %s", n,
			     p->nodes[n].path, sc_strerror(rc));
			goto out_remove;
		}
	}
	pause_here(s, "before commit");
	if (s->s3root && (rc = root_unchanged(s, &shared, err, errlen))) {
		if (shared)
			goto out; /* g(N+1) may be the other writer's now */
		goto out_remove;
	}
	snprintf(tool, sizeof(tool), "shardctl %s", SC_VERSION);
	nm.tool = tool;
	nm.generation = g;
	nm.shards = shards;
	rc = sc_set_commit_manifest(s->root, &nm, &committed, err, errlen);
	if (!committed)
		goto out_remove;
	res->generation = g;
	event(s, "committed generation %" PRIu64 " (manifest '%s/%s')", g, s->root,
	      SC_MANIFEST_NAME);
	/* renamed, but the root's fsync failed: a crash may still bring the
	 * old manifest back, so its generation stays until the next run */
	if (rc)
		goto out;
	pause_here(s, "committed");
	/* committed: gN is garbage now, on the old nodes and the new ones;
	 * a node that left the layout loses the set's directory */
	for (uint32_t j = 0; j < m->nnodes; j++) {
		int kept = 0;

		for (uint32_t n = 0; n < p->nnodes; n++)
			kept |= p->old_node[n] == (int32_t)j;
		clean_node(s, m, j, g, !kept);
		pause_here(s, "node cleaned");
	}
	for (uint32_t n = 0; n < p->nnodes; n++)
		if (p->old_node[n] < 0)
			clean_node(s, &nm, n, g, 0);
	goto out;
out_remove:
	/* nothing committed: remove what this run created (g(N+1) only) */
	for (uint32_t n = 0; n < p->nnodes; n++)
		if (en[n].new_set_fd >= 0 || (en[n].s3 && used[n]))
			clean_node(s, &nm, n, m->generation, 0);
out:
	for (uint32_t k = 0; k < nen; k++) {
		if (en[k].old_gen_fd >= 0)
			close(en[k].old_gen_fd);
		if (en[k].new_gen_fd >= 0)
			close(en[k].new_gen_fd);
		if (en[k].new_set_fd >= 0)
			close(en[k].new_set_fd);
		if (en[k].new_node_fd >= 0)
			close(en[k].new_node_fd);
	}
	for (uint64_t i = 0; i < m->nshards; i++)
		free(shards[i].name);
	free(shards);
	free(en);
	free(used);
	sc_buf_release(&buf);
	return rc;
}
