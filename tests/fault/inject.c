/*
 * inject.c - an LD_PRELOAD shim that makes chosen file system calls of a
 * process fail, so the CLI tests can check what shardctl does when a
 * write, fsync, rename, create, close or read goes wrong (disk full, I/O
 * error, quota) at every point of an ingest or a read, not only where a
 * unit test thought of wrapping a call. tests/fault/README.md documents
 * the environment variables; tests/cli/t_faults.sh is the main user.
 *
 * How it works: this object defines write(), fsync(), rename(), open() and
 * friends. Loaded first with LD_PRELOAD, its definitions win the dynamic
 * symbol lookup for every call a program (or a library it uses) makes
 * through the PLT; each definition counts the call when it is *eligible*
 * (its class was asked for in SC_FAULT_OPS, it acts on a regular file or
 * directory, its path matches SC_FAULT_PATH and its byte range covers
 * SC_FAULT_OFFSET when those are given), fails it when the count hits the
 * chosen number (SC_FAULT_NTH, SC_FAULT_FROM), and otherwise passes it to the
 * next definition (libc's, or a sanitizer's interceptor) found with
 * dlsym(RTLD_NEXT). Calls glibc makes internally (stdio's fwrite and
 * fclose, opendir, io_uring's raw system calls) do not go through the PLT
 * and are never seen: the shim fails what the program itself calls.
 *
 * An injected failure does no partial work, except close(), which really
 * closes the descriptor first (Linux releases it even when close fails)
 * and then reports the error, as a failing NFS or FUSE close does.
 *
 * The shim is test code: it keeps no state beyond its settings and a few
 * counters, has no heap of its own (buffers are on the stack), and writes
 * its log, trace and counts with the real calls, so they are never counted.
 * Counters are atomic, but which thread reaches a call first decides its
 * number: a sweep relies on the program making its file calls in a fixed
 * order (shardctl's ingest writes from one thread).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define FAULT_PATH_MAX 4096

/* The classes of calls (SC_FAULT_OPS names, in this order). */
enum op {
	OP_WRITE,  /* write, pwrite, pwrite64, writev, pwritev, pwritev2 */
	OP_FSYNC,  /* fsync, fdatasync, syncfs */
	OP_RENAME, /* rename, renameat, renameat2 */
	OP_OPEN,   /* open, open64, openat, openat64, creat, creat64 with O_CREAT */
	OP_CLOSE,  /* close */
	OP_READ,   /* read, pread, pread64, readv, preadv, preadv2 */
	OP_OPENR,  /* the open family without O_CREAT */
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"write", "fsync", "rename", "open", "close", "read", "openr",
};

/* What the environment asked for, read once. */
static struct {
	unsigned ops;              /* bit per enum op: eligible classes */
	uint64_t nth;              /* fail this eligible call (1-based), 0 none */
	uint64_t from;             /* fail this one and every later one, 0 none */
	int err;                   /* errno of an injected failure */
	char path[FAULT_PATH_MAX]; /* fnmatch pattern, "" for any path */
	int64_t offset;            /* SC_FAULT_OFFSET, -1 for any */
	char count_file[FAULT_PATH_MAX]; /* SC_FAULT_COUNT, "" for none */
	char log_file[FAULT_PATH_MAX];   /* SC_FAULT_LOG, "" for none */
	char trace_file[FAULT_PATH_MAX]; /* SC_FAULT_TRACE, "" for none */
} cfg;

static uint64_t calls;             /* eligible calls so far, all classes */
static uint64_t per_op[OP_COUNT];  /* eligible calls so far, by class */
static uint64_t injected;          /* failures injected */

/* ---- the next definitions (libc, or a sanitizer's interceptors) ---- */

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
#define LOAD_REAL(name)                                                        \
	do {                                                                   \
		if (!real_##name)                                              \
			*(void **)&real_##name = dlsym(RTLD_NEXT, #name);      \
	} while (0)

DECLARE_REAL(ssize_t, write, int, const void *, size_t);
DECLARE_REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
DECLARE_REAL(ssize_t, pwrite64, int, const void *, size_t, off_t);
DECLARE_REAL(ssize_t, writev, int, const struct iovec *, int);
DECLARE_REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
DECLARE_REAL(ssize_t, pwritev2, int, const struct iovec *, int, off_t, int);
DECLARE_REAL(int, fsync, int);
DECLARE_REAL(int, fdatasync, int);
DECLARE_REAL(int, syncfs, int);
DECLARE_REAL(int, rename, const char *, const char *);
DECLARE_REAL(int, renameat, int, const char *, int, const char *);
DECLARE_REAL(int, renameat2, int, const char *, int, const char *, unsigned);
DECLARE_REAL(int, open, const char *, int, ...);
DECLARE_REAL(int, open64, const char *, int, ...);
DECLARE_REAL(int, openat, int, const char *, int, ...);
DECLARE_REAL(int, openat64, int, const char *, int, ...);
DECLARE_REAL(int, __open_2, const char *, int);
DECLARE_REAL(int, __open64_2, const char *, int);
DECLARE_REAL(int, __openat_2, int, const char *, int);
DECLARE_REAL(int, __openat64_2, int, const char *, int);
DECLARE_REAL(int, creat, const char *, mode_t);
DECLARE_REAL(int, creat64, const char *, mode_t);
DECLARE_REAL(int, close, int);
DECLARE_REAL(ssize_t, read, int, void *, size_t);
DECLARE_REAL(ssize_t, pread, int, void *, size_t, off_t);
DECLARE_REAL(ssize_t, pread64, int, void *, size_t, off_t);
DECLARE_REAL(ssize_t, readv, int, const struct iovec *, int);
DECLARE_REAL(ssize_t, preadv, int, const struct iovec *, int, off_t);
DECLARE_REAL(ssize_t, preadv2, int, const struct iovec *, int, off_t, int);

/* ---- configuration ---- */

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT },
	{ "EACCES", EACCES }, { "EPERM", EPERM }, { "EROFS", EROFS },
	{ "EFBIG", EFBIG }, { "EINTR", EINTR }, { "ENOMEM", ENOMEM },
	{ "EMFILE", EMFILE }, { "ENFILE", ENFILE }, { "EXDEV", EXDEV },
};

static const char *errno_name(int e)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].value == e)
			return errnos[i].name;
	return "E?";
}

static void config_die(const char *what, const char *value);

/* A decimal number, 0 when unset; anything else stops the program. */
static uint64_t env_u64(const char *name)
{
	const char *v = getenv(name);
	char *end;
	uint64_t x;

	if (!v || !*v)
		return 0;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (*end || errno || *v == '-')
		config_die(name, v);
	return x;
}

static void env_str(const char *name, char *buf, size_t n)
{
	const char *v = getenv(name);

	buf[0] = '\0';
	if (v && strlen(v) < n)
		strcpy(buf, v);
}

/* A bad setting is a broken test: say so on stderr and stop. */
static void config_die(const char *what, const char *value)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "inject.so: bad %s '%s'\n", what, value);

	LOAD_REAL(write);
	if (n > 0)
		REAL(write)(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(125);
}

static void config_parse(void)
{
	const char *ops = getenv("SC_FAULT_OPS"), *e = getenv("SC_FAULT_ERRNO");

	cfg.ops = (1u << OP_WRITE) | (1u << OP_FSYNC) | (1u << OP_RENAME) |
		  (1u << OP_OPEN) | (1u << OP_CLOSE);
	if (ops && *ops) {
		const char *p = ops;

		cfg.ops = 0;
		while (*p) {
			size_t l = strcspn(p, ",");
			int found = 0;

			for (int i = 0; i < OP_COUNT; i++)
				if (strlen(op_names[i]) == l && !strncmp(p, op_names[i], l)) {
					cfg.ops |= 1u << i;
					found = 1;
				}
			if (!strncmp(p, "all", l) && l == 3) {
				cfg.ops = (1u << OP_COUNT) - 1;
				found = 1;
			}
			if (!found)
				config_die("SC_FAULT_OPS", ops);
			p += l + (p[l] == ',');
		}
	}
	cfg.err = EIO;
	if (e && *e) {
		cfg.err = 0;
		for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
			if (!strcmp(e, errnos[i].name))
				cfg.err = errnos[i].value;
		if (!cfg.err)
			cfg.err = atoi(e);
		if (cfg.err <= 0)
			config_die("SC_FAULT_ERRNO", e);
	}
	cfg.nth = env_u64("SC_FAULT_NTH");
	cfg.from = env_u64("SC_FAULT_FROM");
	env_str("SC_FAULT_PATH", cfg.path, sizeof(cfg.path));
	env_str("SC_FAULT_COUNT", cfg.count_file, sizeof(cfg.count_file));
	env_str("SC_FAULT_LOG", cfg.log_file, sizeof(cfg.log_file));
	env_str("SC_FAULT_TRACE", cfg.trace_file, sizeof(cfg.trace_file));
	cfg.offset = -1;
	if (getenv("SC_FAULT_OFFSET") && *getenv("SC_FAULT_OFFSET"))
		cfg.offset = (int64_t)env_u64("SC_FAULT_OFFSET");
}

/* The settings, read once by whichever thread gets here first. */
static void config_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, config_parse);
}

/* ---- the decision ---- */

/* Append a line to a file with the real calls (log and counts). */
static void append_line(const char *file, const char *line, size_t n)
{
	int fd;

	LOAD_REAL(open);
	LOAD_REAL(write);
	LOAD_REAL(close);
	fd = REAL(open)(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (REAL(write)(fd, line, n) < 0) {
		/* nothing to do: the test notices the missing line */
	}
	REAL(close)(fd);
}

/* The path behind fd, or "" (not a regular file or directory: *skip). */
static void fd_path(int fd, char *buf, size_t n, int *skip)
{
	char link[64];
	struct stat st;
	ssize_t l;

	buf[0] = '\0';
	*skip = 0;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		*skip = 1; /* pipes, terminals, sockets, devices, eventfds */
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = readlink(link, buf, n - 1);
	buf[l > 0 ? l : 0] = '\0';
}

/* An absolute form of a path given relative to dirfd, for matching. */
static void at_path(int dirfd, const char *path, char *buf, size_t n)
{
	char dir[FAULT_PATH_MAX];
	int skip;

	if (!path) {
		buf[0] = '\0';
		return;
	}
	if (path[0] == '/') {
		snprintf(buf, n, "%s", path);
		return;
	}
	if (dirfd == AT_FDCWD) {
		if (!getcwd(dir, sizeof(dir)))
			dir[0] = '\0';
	} else {
		fd_path(dirfd, dir, sizeof(dir), &skip);
	}
	snprintf(buf, n, "%s/%s", dir, path);
}

/* "K CLASS FUNCTION ERRNO-or-ok PATH[ -> PATH2]" into file. */
static void log_call(const char *file, uint64_t k, enum op op, const char *fn,
		     const char *what, const char *path, const char *path2)
{
	char line[3 * FAULT_PATH_MAX];
	int n = snprintf(line, sizeof(line), "%llu %s %s %s %s%s%s\n",
			 (unsigned long long)k, op_names[op], fn, what, path,
			 path2 ? " -> " : "", path2 ? path2 : "");

	if (n > 0)
		append_line(file, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/*
 * Count an eligible call of class op on path (path2: a rename's target)
 * and return 1 when it is to fail (errno is set then).
 */
static int decide(enum op op, const char *fn, const char *path, const char *path2)
{
	uint64_t k;
	int fire;

	config_load();
	if (!(cfg.ops & (1u << op)))
		return 0;
	if (cfg.path[0] && fnmatch(cfg.path, path, 0) != 0 &&
	    !(path2 && fnmatch(cfg.path, path2, 0) == 0))
		return 0;
	k = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&per_op[op], 1, __ATOMIC_RELAXED);
	fire = (cfg.nth && k == cfg.nth) || (cfg.from && k >= cfg.from);
	if (cfg.trace_file[0])
		log_call(cfg.trace_file, k, op, fn, fire ? errno_name(cfg.err) : "ok",
			 path, path2);
	if (!fire)
		return 0;
	__atomic_add_fetch(&injected, 1, __ATOMIC_RELAXED);
	if (cfg.log_file[0])
		log_call(cfg.log_file, k, op, fn, errno_name(cfg.err), path, path2);
	errno = cfg.err;
	return 1;
}

/*
 * decide() for a call on a descriptor. A read or write passes its byte
 * range (off -1: the file position) for SC_FAULT_OFFSET; other calls
 * pass len 0 and are not eligible while an offset is set. A close is
 * logged as "close:r" or "close:w" after the descriptor's access mode.
 */
static int decide_fd(enum op op, const char *fn, int fd, int64_t off, size_t len)
{
	char path[FAULT_PATH_MAX];
	int skip;

	config_load();
	if (!(cfg.ops & (1u << op)))
		return 0;
	if (cfg.offset >= 0) {
		if (len == 0)
			return 0;
		if (off < 0)
			off = (int64_t)lseek(fd, 0, SEEK_CUR);
		if (off < 0 || cfg.offset < off || (uint64_t)(cfg.offset - off) >= len)
			return 0;
	}
	fd_path(fd, path, sizeof(path), &skip);
	if (skip)
		return 0;
	if (op == OP_CLOSE) {
		int fl = fcntl(fd, F_GETFL);

		fn = fl >= 0 && (fl & O_ACCMODE) == O_RDONLY ? "close:r" : "close:w";
	}
	return decide(op, fn, path, NULL);
}

/* The bytes an iovec array covers (for SC_FAULT_OFFSET). */
static size_t iov_len(const struct iovec *iov, int cnt)
{
	size_t n = 0;

	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* decide() for the open family: O_CREAT opens are "open", others "openr". */
static int decide_open(const char *fn, int dirfd, const char *path, int flags)
{
	enum op op = (flags & O_CREAT) ? OP_OPEN : OP_OPENR;
	char abs[FAULT_PATH_MAX];

	config_load();
	if (!(cfg.ops & (1u << op)) || cfg.offset >= 0)
		return 0;
	at_path(dirfd, path, abs, sizeof(abs));
	return decide(op, fn, abs, NULL);
}

/* At exit: "CLASS COUNT" per class, "total N" and "injected N" (SC_FAULT_COUNT). */
__attribute__((destructor)) static void report_counts(void)
{
	char buf[1024];
	size_t o = 0;

	config_load();
	if (!cfg.count_file[0])
		return;
	for (int i = 0; i < OP_COUNT; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s %llu\n", op_names[i],
				      (unsigned long long)per_op[i]);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "total %llu\ninjected %llu\n",
			      (unsigned long long)calls, (unsigned long long)injected);
	append_line(cfg.count_file, buf, o);
}

/* ---- the interposed calls ---- */

ssize_t write(int fd, const void *buf, size_t n)
{
	LOAD_REAL(write);
	if (decide_fd(OP_WRITE, "write", fd, -1, n))
		return -1;
	return REAL(write)(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	LOAD_REAL(pwrite);
	if (decide_fd(OP_WRITE, "pwrite", fd, off, n))
		return -1;
	return REAL(pwrite)(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	LOAD_REAL(pwrite64);
	if (decide_fd(OP_WRITE, "pwrite64", fd, off, n))
		return -1;
	return REAL(pwrite64)(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	LOAD_REAL(writev);
	if (decide_fd(OP_WRITE, "writev", fd, -1, iov_len(iov, cnt)))
		return -1;
	return REAL(writev)(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	LOAD_REAL(pwritev);
	if (decide_fd(OP_WRITE, "pwritev", fd, off, iov_len(iov, cnt)))
		return -1;
	return REAL(pwritev)(fd, iov, cnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	LOAD_REAL(pwritev2);
	if (decide_fd(OP_WRITE, "pwritev2", fd, off, iov_len(iov, cnt)))
		return -1;
	return REAL(pwritev2)(fd, iov, cnt, off, flags);
}

int fsync(int fd)
{
	LOAD_REAL(fsync);
	if (decide_fd(OP_FSYNC, "fsync", fd, 0, 0))
		return -1;
	return REAL(fsync)(fd);
}

int fdatasync(int fd)
{
	LOAD_REAL(fdatasync);
	if (decide_fd(OP_FSYNC, "fdatasync", fd, 0, 0))
		return -1;
	return REAL(fdatasync)(fd);
}

int syncfs(int fd)
{
	LOAD_REAL(syncfs);
	if (decide_fd(OP_FSYNC, "syncfs", fd, 0, 0))
		return -1;
	return REAL(syncfs)(fd);
}

int rename(const char *from, const char *to)
{
	char a[FAULT_PATH_MAX], b[FAULT_PATH_MAX];

	LOAD_REAL(rename);
	config_load();
	if ((cfg.ops & (1u << OP_RENAME)) && cfg.offset < 0) {
		at_path(AT_FDCWD, from, a, sizeof(a));
		at_path(AT_FDCWD, to, b, sizeof(b));
		if (decide(OP_RENAME, "rename", a, b))
			return -1;
	}
	return REAL(rename)(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	char a[FAULT_PATH_MAX], b[FAULT_PATH_MAX];

	LOAD_REAL(renameat);
	config_load();
	if ((cfg.ops & (1u << OP_RENAME)) && cfg.offset < 0) {
		at_path(fromfd, from, a, sizeof(a));
		at_path(tofd, to, b, sizeof(b));
		if (decide(OP_RENAME, "renameat", a, b))
			return -1;
	}
	return REAL(renameat)(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	char a[FAULT_PATH_MAX], b[FAULT_PATH_MAX];

	LOAD_REAL(renameat2);
	config_load();
	if ((cfg.ops & (1u << OP_RENAME)) && cfg.offset < 0) {
		at_path(fromfd, from, a, sizeof(a));
		at_path(tofd, to, b, sizeof(b));
		if (decide(OP_RENAME, "renameat2", a, b))
			return -1;
	}
	return REAL(renameat2)(fromfd, from, tofd, to, flags);
}

/* The mode argument is there only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, mode)                                                 \
	do {                                                                   \
		if ((flags) & (O_CREAT | __O_TMPFILE)) {                       \
			va_list ap;                                            \
			va_start(ap, flags);                                   \
			mode = (mode_t)va_arg(ap, int);                        \
			va_end(ap);                                            \
		}                                                              \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	LOAD_REAL(open);
	if (decide_open("open", AT_FDCWD, path, flags))
		return -1;
	return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	LOAD_REAL(open64);
	if (decide_open("open64", AT_FDCWD, path, flags))
		return -1;
	return REAL(open64)(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	LOAD_REAL(openat);
	if (decide_open("openat", dirfd, path, flags))
		return -1;
	return REAL(openat)(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	LOAD_REAL(openat64);
	if (decide_open("openat64", dirfd, path, flags))
		return -1;
	return REAL(openat64)(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE forms, used for opens without a mode */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

int __open_2(const char *path, int flags)
{
	LOAD_REAL(__open_2);
	if (decide_open("__open_2", AT_FDCWD, path, flags))
		return -1;
	return REAL(__open_2)(path, flags);
}

int __open64_2(const char *path, int flags)
{
	LOAD_REAL(__open64_2);
	if (decide_open("__open64_2", AT_FDCWD, path, flags))
		return -1;
	return REAL(__open64_2)(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	LOAD_REAL(__openat_2);
	if (decide_open("__openat_2", dirfd, path, flags))
		return -1;
	return REAL(__openat_2)(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	LOAD_REAL(__openat64_2);
	if (decide_open("__openat64_2", dirfd, path, flags))
		return -1;
	return REAL(__openat64_2)(dirfd, path, flags);
}

int creat(const char *path, mode_t mode)
{
	LOAD_REAL(creat);
	if (decide_open("creat", AT_FDCWD, path, O_CREAT))
		return -1;
	return REAL(creat)(path, mode);
}

int creat64(const char *path, mode_t mode)
{
	LOAD_REAL(creat64);
	if (decide_open("creat64", AT_FDCWD, path, O_CREAT))
		return -1;
	return REAL(creat64)(path, mode);
}

int close(int fd)
{
	int fire, rc, saved;

	LOAD_REAL(close);
	fire = decide_fd(OP_CLOSE, "close", fd, 0, 0); /* before the path is gone */
	saved = errno;
	rc = REAL(close)(fd);
	if (!fire)
		return rc;
	errno = saved;
	return -1;
}

ssize_t read(int fd, void *buf, size_t n)
{
	LOAD_REAL(read);
	if (decide_fd(OP_READ, "read", fd, -1, n))
		return -1;
	return REAL(read)(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	LOAD_REAL(pread);
	if (decide_fd(OP_READ, "pread", fd, off, n))
		return -1;
	return REAL(pread)(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	LOAD_REAL(pread64);
	if (decide_fd(OP_READ, "pread64", fd, off, n))
		return -1;
	return REAL(pread64)(fd, buf, n, off);
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	LOAD_REAL(readv);
	if (decide_fd(OP_READ, "readv", fd, -1, iov_len(iov, cnt)))
		return -1;
	return REAL(readv)(fd, iov, cnt);
}

ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	LOAD_REAL(preadv);
	if (decide_fd(OP_READ, "preadv", fd, off, iov_len(iov, cnt)))
		return -1;
	return REAL(preadv)(fd, iov, cnt, off);
}

ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	LOAD_REAL(preadv2);
	if (decide_fd(OP_READ, "preadv2", fd, off, iov_len(iov, cnt)))
		return -1;
	return REAL(preadv2)(fd, iov, cnt, off, flags);
}
