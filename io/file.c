/*
 * file.c - the small file helpers every module leans on: whole transfers
 * that survive EINTR and short reads/writes, mkdir -p, directory fsync, and
 * the durable replace sequence (write a temporary beside the target, fsync
 * it, rename it over the target, fsync the directory). Nothing here knows
 * about shardctl's formats; callers get 0 or -errno (SC_ETRUNC / SC_ELIMIT
 * where the contract in file.h says so).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "file.h"

/* One write(2)/read(2) call moves at most this much (Linux caps near 2 GiB). */
#define FILE_IO_CHUNK ((size_t)1 << 30)
/* Read step of sc_read_file when the size is unknown (pipes, /proc). */
#define FILE_READ_STEP ((size_t)64 << 10)

int sc_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		size_t want = n < FILE_IO_CHUNK ? n : FILE_IO_CHUNK;
		ssize_t w = write(fd, s, want);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO; /* no progress and no error: do not spin */
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int sc_pread_all(int fd, void *p, size_t n, uint64_t off)
{
	char *d = p;

	if (off > (uint64_t)INT64_MAX || n > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	while (n > 0) {
		size_t want = n < FILE_IO_CHUNK ? n : FILE_IO_CHUNK;
		ssize_t r = pread(fd, d, want, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return SC_ETRUNC;
		d += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/*
 * Some filesystems refuse fsync on a directory with EINVAL; there is
 * nothing more durable to ask for there, so that counts as success.
 */
int sc_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const char *s = p;

	if (off > (uint64_t)INT64_MAX || n > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	while (n > 0) {
		size_t want = n < FILE_IO_CHUNK ? n : FILE_IO_CHUNK;
		ssize_t w = pwrite(fd, s, want, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO; /* no progress and no error: do not spin */
		s += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int sc_fsync_dir(const char *dir)
{
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (fsync(fd) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EINVAL)
			rc = -errno;
		break;
	}
	close(fd);
	return rc;
}

/* mkdir one component; an existing entry is fine here (checked at the end). */
static int mkdir_one(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

/*
 * Walk the path left to right creating each prefix. An intermediate that
 * exists as a non-directory surfaces as ENOTDIR from the next mkdir; the
 * final component must end up a directory (following symlinks), else
 * -EEXIST like mkdir(1).
 */
int sc_mkdir_p(const char *path, mode_t mode)
{
	char buf[SC_PATH_MAX];
	size_t len, i;
	struct stat st;
	int rc;

	len = strlen(path);
	if (len == 0)
		return -ENOENT;
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i < len; i++) {
		if (buf[i] != '/' || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		rc = mkdir_one(buf, mode);
		buf[i] = '/';
		if (rc)
			return rc;
	}
	rc = mkdir_one(buf, mode);
	if (rc)
		return rc;
	if (stat(buf, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -EEXIST;
}

/*
 * The stat size is only a hint (it is 0 for /proc files and pipes), so the
 * loop reads until EOF and fails as soon as more than max bytes turn up.
 */
int sc_read_file(const char *path, size_t max, struct sc_buf *out)
{
	struct stat st;
	size_t hint = FILE_READ_STEP;
	int fd, rc = 0;

	out->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out_close_fd;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((uint64_t)st.st_size > max) {
			rc = SC_ELIMIT;
			goto out_close_fd;
		}
		/* one byte more than the size, so EOF shows in the first pass */
		hint = (size_t)st.st_size + 1;
	}
	for (;;) {
		size_t room = max - out->len;
		ssize_t r;

		if (room == 0) {
			char probe;

			r = read(fd, &probe, 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				rc = -errno;
			else if (r > 0)
				rc = SC_ELIMIT;
			break;
		}
		if (room > hint)
			room = hint;
		if (room > FILE_IO_CHUNK)
			room = FILE_IO_CHUNK;
		rc = sc_buf_reserve(out, room);
		if (rc)
			break;
		r = read(fd, out->data + out->len, room);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		hint = FILE_READ_STEP;
	}
out_close_fd:
	close(fd);
	if (rc)
		out->len = 0;
	return rc;
}

/* Retry fsync on EINTR. 0 or -errno. */
static int fsync_file(int fd)
{
	while (fsync(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * After the rename succeeded the new content is in place even when the
 * directory fsync then fails; that failure is still returned because the
 * replacement may not survive a crash.
 */
int sc_write_file_atomic_why(const char *path, const void *data, size_t n,
			     char *why, size_t whylen)
{
	char dir[SC_PATH_MAX], tmp[SC_PATH_MAX];
	const char *base, *step;
	int fd, rc, wrote;

	if (why && whylen)
		why[0] = '\0';
	rc = sc_path_dirname(path, dir, sizeof(dir));
	if (rc)
		return sc_fail(why, whylen, -ENAMETOOLONG, "path too long");
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (*base == '\0')
		return sc_fail(why, whylen, -EISDIR, "'%s' names no file", path);
	if (strrchr(path, '/'))
		wrote = snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp.%ld",
				 (int)(base - path), path, base, (long)getpid());
	else
		wrote = snprintf(tmp, sizeof(tmp), ".%s.tmp.%ld", base,
				 (long)getpid());
	if (wrote < 0 || (size_t)wrote >= sizeof(tmp))
		return sc_fail(why, whylen, -ENAMETOOLONG, "path too long");

	/* a leftover of a crashed run with our pid: replace whatever it is */
	if (unlink(tmp) < 0 && errno != ENOENT && errno != EISDIR)
		return sc_fail(why, whylen, -errno, "cannot remove leftover '%s'", tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return sc_fail(why, whylen, -errno, "cannot create '%s'", tmp);
	step = "write";
	rc = sc_write_all(fd, data, n);
	if (rc)
		goto out_unlink;
	step = "fsync";
	rc = fsync_file(fd);
	if (rc)
		goto out_unlink;
	step = "close";
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		sc_fail(why, whylen, rc, "cannot rename '%s' to '%s'", tmp, path);
		goto out_unlink_named;
	}
	rc = sc_fsync_dir(dir);
	if (rc)
		sc_fail(why, whylen, rc, "cannot fsync directory '%s' after the "
			    "rename", dir);
	return rc;

out_unlink:
	sc_fail(why, whylen, rc, "cannot %s '%s'", step, tmp);
out_unlink_named:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int sc_write_file_atomic(const char *path, const void *data, size_t n)
{
	return sc_write_file_atomic_why(path, data, n, NULL, 0);
}

/*
 * POSIX dirname(3) semantics without modifying the input: trailing
 * slashes do not count, "a" gives ".", "/a" and "/" give "/".
 */
int sc_path_dirname(const char *path, char *buf, size_t n)
{
	size_t end = strlen(path);
	const char *res = path;
	size_t len;

	while (end > 1 && path[end - 1] == '/')
		end--; /* trailing slashes */
	while (end > 0 && path[end - 1] != '/')
		end--; /* last component */
	if (end == 0) {
		res = ".";
		len = 1;
	} else {
		while (end > 1 && path[end - 1] == '/')
			end--; /* slashes before it */
		len = end;
	}
	if (len >= n)
		return SC_ELIMIT;
	memcpy(buf, res, len);
	buf[len] = '\0';
	return 0;
}

/*
 * "A/B", without doubling a slash when a already ends in one. An empty a
 * gives "/B": callers use that to append a component to a path in place.
 */
int sc_path_join(char *buf, size_t n, const char *a, const char *b)
{
	size_t la = strlen(a);
	const char *sep = (la > 0 && a[la - 1] == '/') ? "" : "/";
	int w = snprintf(buf, n, "%s%s%s", a, sep, b);

	if (w < 0 || (size_t)w >= n)
		return SC_ELIMIT;
	return 0;
}
