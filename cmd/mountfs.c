/*
 * mountfs.c - the libfuse3 side of `shardctl mount`: low-level callbacks
 * that serve a set view (store/setfs.h) as one flat, read-only directory.
 *
 * libfuse3 rather than the FUSE protocol by hand: it is the maintained
 * implementation of the kernel protocol (version negotiation, request
 * parsing, the multithreaded loop, mounting through fusermount3 when not
 * root), and everything shardctl-specific stays in store/setfs.c, which
 * is tested without FUSE.
 *
 * Inodes: 1 is the root directory, file index i is inode i + 2; they
 * never change while mounted, nor do sizes or times, so the kernel may
 * cache entries, attributes and pages for as long as it likes (long
 * timeouts, keep_cache). Every way to change anything fails with EROFS:
 * the mount is "ro" and the callbacks that would write say so too. Each
 * open file gets a setfs stream, which lets sequential readers be read
 * ahead.
 */
#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "mountfs.h"

#define TIMEOUT_S     86400.0   /* entries and attributes never change */
#define BLKSIZE       (1u << 20) /* st_blksize: invites large reads */
#define OPTS_MAX      (2 * SC_PATH_MAX + 256)
#define FUSE_THREADS  16        /* requests served at once; bounds pinned frames */

struct mfs {
	struct sc_setfs *fs;
	const struct cmd_mountfs_opts *o;
	uid_t uid;                  /* owner shown for every file */
	gid_t gid;
};

static struct mfs *mfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* File index of a file inode. 0 or -1 (the root or out of range). */
static int file_of(struct mfs *m, fuse_ino_t ino, uint64_t *idx)
{
	if (ino < 2 || ino - 2 >= sc_setfs_nfiles(m->fs))
		return -1;
	*idx = ino - 2;
	return 0;
}

/* Attributes of ino. 0 or -ENOENT. */
static int attr_of(struct mfs *m, fuse_ino_t ino, struct stat *st)
{
	struct sc_setfs_file f;
	uint64_t idx;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_atime = st->st_mtime = st->st_ctime = (time_t)sc_setfs_mtime(m->fs);
	st->st_blksize = BLKSIZE;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	if (file_of(m, ino, &idx) || sc_setfs_file(m->fs, idx, &f))
		return -ENOENT;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)f.size;
	st->st_blocks = (blkcnt_t)((f.size + 511) / 512);
	return 0;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct mfs *m = userdata;

	/* reads of one file may be in flight at once (kernel read-ahead) */
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	/* nothing ever changes: no need to drop cached pages on getattr */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (m->o->ready)
		m->o->ready(m->o->ready_ctx);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mfs *m = mfs_of(req);
	struct fuse_entry_param e;
	int64_t idx;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	idx = sc_setfs_lookup(m->fs, name);
	if (idx < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = (fuse_ino_t)idx + 2;
	e.generation = 1;
	e.attr_timeout = TIMEOUT_S;
	e.entry_timeout = TIMEOUT_S;
	attr_of(m, e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (attr_of(mfs_of(req), ino, &st))
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, TIMEOUT_S);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct mfs *m = mfs_of(req);
	uint64_t nfiles = sc_setfs_nfiles(m->fs);
	size_t used = 0;
	char *buf;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* entry k: 0 ".", 1 "..", then file k - 2; an entry's offset is the
	 * next one's k */
	for (uint64_t k = (uint64_t)(off < 0 ? 0 : off); k < nfiles + 2; k++) {
		struct sc_setfs_file f;
		struct stat st;
		const char *name;
		size_t need;

		memset(&st, 0, sizeof(st));
		if (k < 2) {
			name = k ? ".." : ".";
			st.st_ino = FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		} else {
			if (sc_setfs_file(m->fs, k - 2, &f))
				break;
			name = f.name;
			st.st_ino = (ino_t)k;
			st.st_mode = S_IFREG;
		}
		need = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)k + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mfs *m = mfs_of(req);
	struct sc_setfs_stream *st;
	uint64_t idx;
	int rc;

	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (file_of(m, ino, &idx)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = sc_setfs_stream_open(m->fs, idx, &st);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)st;
	fi->keep_cache = 1;  /* pages read before are still right */
	fi->noflush = 1;     /* nothing to flush on close */
	if (fuse_reply_open(req, fi) == -ENOENT)
		sc_setfs_stream_close(st); /* interrupted: no release follows */
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mfs *m = mfs_of(req);
	struct sc_setfs_stream *st = (struct sc_setfs_stream *)(uintptr_t)fi->fh;
	const char *data;
	uint64_t idx;
	void *pin;
	int64_t n;
	char *buf;

	if (file_of(m, ino, &idx) || off < 0) {
		fuse_reply_err(req, off < 0 ? EINVAL : ENOENT);
		return;
	}
	/* inside one frame (most reads): reply straight from the cache */
	n = sc_setfs_pin(m->fs, st, idx, size, (uint64_t)off, &data, &pin);
	if (n >= 0) {
		fuse_reply_buf(req, data, (size_t)n);
		sc_setfs_unpin(m->fs, pin);
		return;
	}
	if (n != SC_ELIMIT) {
		fuse_reply_err(req, n == -ENOMEM ? ENOMEM : n == -EINVAL ? EINVAL : EIO);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* all or nothing: a short reply would read as the end of the file */
	n = sc_setfs_read(m->fs, st, idx, buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, n == -ENOMEM ? ENOMEM : n == -EINVAL ? EINVAL : EIO);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	sc_setfs_stream_close((struct sc_setfs_stream *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct mfs *m = mfs_of(req);
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = (fsblkcnt_t)((sc_setfs_total_bytes(m->fs) + 4095) / 4096);
	sv.f_files = (fsfilcnt_t)(sc_setfs_nfiles(m->fs) + 1);
	sv.f_namemax = SC_SETFS_NAME_MAX - 1;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

/* ---- everything that would change the tree: EROFS ---- */

static void rofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	rofs(req);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	rofs(req);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	rofs(req);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	rofs(req);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link, (void)parent, (void)name;
	rofs(req);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	rofs(req);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	rofs(req);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	(void)ino, (void)buf, (void)size, (void)off, (void)fi;
	rofs(req);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	rofs(req);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	rofs(req);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	rofs(req);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			 off_t length, struct fuse_file_info *fi)
{
	(void)ino, (void)mode, (void)offset, (void)length, (void)fi;
	rofs(req);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	(void)ino_in, (void)off_in, (void)fi_in, (void)ino_out, (void)off_out;
	(void)fi_out, (void)len, (void)flags;
	rofs(req);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
	.create = op_create,
	.fallocate = op_fallocate,
	.copy_file_range = op_copy_file_range,
};

/* ---- running ---- */

static const struct cmd_mountfs_opts *log_opts; /* for libfuse's messages */

static void fuse_msg(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	if (!log_opts || !log_opts->log || level > FUSE_LOG_NOTICE)
		return;
	n = (size_t)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= sizeof(msg))
		n = sizeof(msg) - 1;
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_opts->log(log_opts->log_ctx, level <= FUSE_LOG_ERR ? SC_SETFS_LOG_ERROR :
		      SC_SETFS_LOG_WARN, msg);
}

/* Append s to the -o list with ',' and '\' escaped (libfuse's option syntax). */
static int opt_escaped(char *buf, size_t n, size_t *len, const char *s)
{
	for (; *s; s++) {
		if (*len + 3 > n)
			return -1;
		if (*s == ',' || *s == '\\')
			buf[(*len)++] = '\\';
		buf[(*len)++] = *s;
	}
	buf[*len] = '\0';
	return 0;
}

int cmd_mountfs_run(struct sc_setfs *fs, const struct cmd_mountfs_opts *o)
{
	char opts[OPTS_MAX], arg0[] = "shardctl", arg1[] = "-o";
	char *argv[] = { arg0, arg1, opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_loop_config *cfg = NULL;
	struct fuse_session *se;
	struct mfs m;
	size_t len;
	int rc = -1;

	m.fs = fs;
	m.o = o;
	m.uid = getuid();
	m.gid = getgid();
	log_opts = o;
	fuse_set_log_func(fuse_msg);
	len = (size_t)snprintf(opts, sizeof(opts), "ro,default_permissions,%ssubtype=%s,fsname=",
			       o->allow_other ? "allow_other," : "",
			       CMD_MOUNT_FSTYPE + strlen("fuse."));
	if (len >= sizeof(opts) || opt_escaped(opts, sizeof(opts), &len, o->fsname)) {
		o->log(o->log_ctx, SC_SETFS_LOG_ERROR, "set path too long for the mount table");
		return -1;
	}
	se = fuse_session_new(&args, &ops, sizeof(ops), &m);
	if (!se) {
		o->log(o->log_ctx, SC_SETFS_LOG_ERROR, "cannot set up the FUSE session");
		goto out_args;
	}
	if (fuse_set_signal_handlers(se)) {
		o->log(o->log_ctx, SC_SETFS_LOG_ERROR, "cannot install signal handlers");
		goto out_session;
	}
	if (fuse_session_mount(se, o->mountpoint)) {
		/* libfuse (or fusermount3) said why, through fuse_msg */
		goto out_signals;
	}
	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		o->log(o->log_ctx, SC_SETFS_LOG_ERROR, "out of memory");
		goto out_unmount;
	}
	fuse_loop_cfg_set_max_threads(cfg, FUSE_THREADS);
	rc = fuse_session_loop_mt(se, cfg);
	if (rc < 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "FUSE loop: %s", strerror(-rc));
		o->log(o->log_ctx, SC_SETFS_LOG_ERROR, msg);
		rc = -1;
	} else {
		rc = 0; /* unmounted, or a signal asked us to unmount */
	}
	fuse_loop_cfg_destroy(cfg);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_opt_free_args(&args);
	return rc;
}

/* ---- the mount table ---- */

/* Undo mountinfo's octal escapes (\040 for ' ', ...) in place. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

int cmd_mount_find(const char *path, char *fstype, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return -errno;
	/* fields: id parent major:minor root MOUNTPOINT options [optional...] - TYPE source super */
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok, *mp = NULL, *type = NULL;
		int field = 0, dash = 0;

		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			if (dash) {
				type = tok;
				break;
			}
			if (field == 4)
				mp = tok;
			if (field >= 6 && !strcmp(tok, "-"))
				dash = 1;
			field++;
		}
		if (!mp || !type)
			continue;
		unescape(mp);
		if (!strcmp(mp, path)) {
			/* later lines are mounted on top: the last one counts */
			found = 1;
			snprintf(fstype, n, "%s", type);
		}
	}
	free(line);
	fclose(f);
	return found;
}
