/*
 * mountfs.h - serving a set view (store/setfs.h) read-only through
 * libfuse3, and finding mounts in /proc/self/mountinfo. Used by `mount`
 * and `umount` (cmd/mount.c, cmd/umount.c). libfuse3 is linked into the
 * shardctl binary only, never into libshardctl.
 */
#ifndef SC_MOUNTFS_H
#define SC_MOUNTFS_H

#include <stddef.h>

#include "setfs.h"

#define CMD_MOUNT_FSTYPE "fuse.shardctl" /* the type /proc/mounts shows */

struct cmd_mountfs_opts {
	const char *mountpoint;    /* absolute, resolved */
	const char *fsname;        /* the source /proc/mounts shows: the set */
	int allow_other;           /* other users may read it */
	/* called once the kernel has opened the connection (FUSE_INIT): the
	 * mount answers requests from here on */
	void (*ready)(void *ctx);
	void *ready_ctx;
	/* where libfuse's own messages go */
	void (*log)(void *ctx, enum sc_setfs_level level, const char *msg);
	void *log_ctx;
};

/*
 * Mount fs at o->mountpoint and serve it until it is unmounted (or
 * SIGINT, SIGTERM, SIGHUP: then unmount). 0 after a clean unmount;
 * -1 when the mount could not be made (the reason was logged).
 */
int cmd_mountfs_run(struct sc_setfs *fs, const struct cmd_mountfs_opts *o);

/*
 * Look path (absolute, no trailing '/', symbolic links resolved) up in
 * /proc/self/mountinfo: 1 when something is mounted there (its type, the
 * topmost mount's, in fstype), 0 when not, negative -errno when the table
 * cannot be read.
 */
int cmd_mount_find(const char *path, char *fstype, size_t n);

#endif
