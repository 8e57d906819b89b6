/*
 * nodedir.c - component-by-component opens below a node root, never
 * through a symbolic link (see nodedir.h for why).
 */
#include "nodedir.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open one directory component of a walk; create it first with mkdirs. */
static int open_dir_component(int dirfd, const char *name, int mkdirs)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	struct stat st;

	if (fd < 0 && errno == ENOENT && mkdirs) {
		if (mkdirat(dirfd, name, 0755) && errno != EEXIST)
			return -errno;
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	/* with O_DIRECTORY, Linux says ENOTDIR for a link: say ELOOP */
	if (fd < 0 && errno == ENOTDIR &&
	    !fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		return -ELOOP;
	return fd < 0 ? -errno : fd;
}

int sc_nodedir_openat(int dirfd, const char *rel, int flags, mode_t mode, int mkdirs)
{
	char comp[SC_PATH_MAX];
	const char *p = rel;
	int cur = dirfd, fd;

	if (!sc_manifest_name_ok(rel))
		return SC_EUSAGE;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		/* the name rule bounds every component below SC_PATH_MAX */
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (!slash) {
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			fd = fd < 0 ? -errno : fd;
			break;
		}
		fd = open_dir_component(cur, comp, mkdirs);
		if (cur != dirfd)
			close(cur);
		if (fd < 0)
			return fd;
		cur = fd;
		p = slash + 1;
	}
	if (cur != dirfd)
		close(cur);
	return fd;
}

int sc_nodedir_open(const struct sc_manifest *m, const char *root, uint32_t node)
{
	const char *p;
	int rootfd, fd;

	if (node >= m->nnodes)
		return SC_ELIMIT;
	p = m->nodes[node].path;
	if (p[0] == '/') {
		if (strlen(p) >= SC_PATH_MAX)
			return SC_ELIMIT;
		fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	fd = sc_nodedir_openat(rootfd, p, O_RDONLY | O_DIRECTORY, 0, 0);
	close(rootfd);
	return fd;
}

int sc_nodedir_open_file(int dirfd, const char *rel, struct stat *st)
{
	int fd = sc_nodedir_openat(dirfd, rel, O_RDONLY | O_NONBLOCK, 0, 0);

	memset(st, 0, sizeof(*st));
	if (fd < 0) {
		/* say what is there instead (a link, a directory, ...) */
		if (fd == -ELOOP || fd == -ENXIO || fd == -EISDIR) {
			int d = -1;
			const char *slash = strrchr(rel, '/');

			if (slash) {
				char dir[SC_PATH_MAX];

				memcpy(dir, rel, (size_t)(slash - rel));
				dir[slash - rel] = '\0';
				d = sc_nodedir_openat(dirfd, dir, O_RDONLY | O_DIRECTORY, 0, 0);
			}
			if ((slash ? d >= 0 : 1) &&
			    !fstatat(slash ? d : dirfd, slash ? slash + 1 : rel, st,
				     AT_SYMLINK_NOFOLLOW))
				fd = SC_EFORMAT;
			if (d >= 0)
				close(d);
		}
		return fd;
	}
	if (fstat(fd, st)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return SC_EFORMAT;
	}
	/* regular files ignore O_NONBLOCK, so the fd is fine for reading */
	return fd;
}

const char *sc_nodedir_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link (not followed)";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "not a regular file";
}
