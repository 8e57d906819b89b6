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
 * SC_FAULT_POWERCUT=N instead simulates a power cut at the Nth counted
 * call: what was not made durable (unsynced bytes, directory entry changes
 * whose directory was not fsynced) is undone and the process dies by
 * SIGKILL; the section "power cuts" below has the model, and
 * tests/fault/README.md its limits. Only for it does the shim also
 * interpose unlink, rmdir, mkdir, link and ftruncate (never counted).
 *
 * The shim is test code: it keeps no state beyond its settings, a few
 * counters and the power-cut tables (fixed size, static), has no heap of
 * its own (buffers are on the stack), and writes its log, trace, counts
 * and stash with the real calls, so they are never counted.
 * Counters are atomic, but which thread reaches a call first decides its
 * number: a sweep relies on the program making its file calls in a fixed
 * order (shardctl's ingest writes from one thread).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
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
	uint64_t powercut;         /* SC_FAULT_POWERCUT: cut power at this call, 0 none */
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
	cfg.powercut = env_u64("SC_FAULT_POWERCUT");
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

static void powercut_now(uint64_t k, enum op op, const char *fn, const char *path,
			 const char *path2) __attribute__((noreturn));

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
	if (cfg.powercut && k == cfg.powercut) {
		if (cfg.trace_file[0])
			log_call(cfg.trace_file, k, op, fn, "POWERCUT", path, path2);
		powercut_now(k, op, fn, path, path2);
	}
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

/* ---- power cuts (SC_FAULT_POWERCUT) ----
 *
 * The model: a file system that keeps, across a power cut, exactly what
 * was made durable and nothing else (the strict POSIX reading; ext4 and
 * XFS often keep more). Everything present when the process started
 * counts as durable. Then:
 *   - a regular file's bytes up to its size at its last fsync/fdatasync
 *     (or syncfs) survive; anything written or appended after that is cut
 *     off (the file is truncated back to that size; 0 for a file this
 *     process created and never synced);
 *   - a directory entry change (a create through open(O_CREAT), creat,
 *     link, mkdir, a rename, an unlink, rmdir) survives only once its
 *     directory has been fsynced after it (both directories for a rename
 *     between two); fsync of the file itself does not make its name
 *     durable. Changes that did not survive are undone newest first: a
 *     created name is removed (a created directory with everything below
 *     it), a rename is renamed back (and a file it replaced comes back
 *     with its durable bytes), an unlinked file comes back with its
 *     durable bytes, a removed directory comes back empty.
 * Bytes kept by an unlink or a replacing rename are copied into a stash
 * directory first (SC_FAULT_STASH, default ${TMPDIR:-/tmp}/sc-powercut.PID),
 * removed at exit or at the cut. What the model cannot undo (an overwrite
 * of already durable bytes, a shrinking truncate below the durable size,
 * O_TRUNC of a non-empty file, RENAME_EXCHANGE, a full table) is counted
 * as "unmodelled" in the cut's summary line, so a test can insist on 0.
 * Only the calls this shim sees are tracked (see the file comment); while
 * SC_FAULT_POWERCUT is set every tracked call runs under one lock, so the
 * cut, made under it, sees no write half done.
 */
#define PC_PATH_MAX 1024  /* longest path the model tracks */
#define PC_EVENTS_MAX 512 /* entry changes not yet durable */
#define PC_FILES_MAX 512  /* files with bytes not yet durable */

enum pc_kind { PC_CREATE, PC_MKDIR, PC_RENAME, PC_UNLINK, PC_RMDIR };

/* A directory entry change not yet durable. */
struct pc_event {
	enum pc_kind kind;        /* what happened */
	char path[PC_PATH_MAX];   /* the name created or removed; a rename's source */
	char path2[PC_PATH_MAX];  /* a rename's target, else "" */
	dev_t dev[2];             /* the directories that must be fsynced: */
	ino_t ino[2];             /* [0] of path, [1] of path2 (renames only) */
	int synced[2];            /* 1 once that directory was fsynced after it */
	int stash;                /* stash file with the bytes it removed, -1 none */
};

/* A regular file written since its last sync. */
struct pc_file {
	dev_t dev;                /* identity */
	ino_t ino;
	uint64_t synced;          /* its size at the last sync (or when first seen) */
	char path[PC_PATH_MAX];   /* its name now, followed through renames */
};

static pthread_mutex_t pc_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct pc_event pc_events[PC_EVENTS_MAX];
static int pc_nevents;
static struct pc_file pc_files[PC_FILES_MAX];
static int pc_nfiles;
static uint64_t pc_unmodelled;    /* changes the model could not undo */
static int pc_nstash;             /* stash files made so far */
static char pc_stash_dir[PC_PATH_MAX];

DECLARE_REAL(int, unlink, const char *);
DECLARE_REAL(int, unlinkat, int, const char *, int);
DECLARE_REAL(int, rmdir, const char *);
DECLARE_REAL(int, mkdir, const char *, mode_t);
DECLARE_REAL(int, mkdirat, int, const char *, mode_t);
DECLARE_REAL(int, link, const char *, const char *);
DECLARE_REAL(int, linkat, int, const char *, int, const char *, int);
DECLARE_REAL(int, ftruncate, int, off_t);
DECLARE_REAL(int, ftruncate64, int, off_t);
DECLARE_REAL(int, truncate, const char *, off_t);

static int pc_on(void)
{
	config_load();
	return cfg.powercut != 0;
}

static void pc_enter(void)
{
	if (pc_on())
		pthread_mutex_lock(&pc_mu);
}

static void pc_leave(void)
{
	int saved = errno;

	if (pc_on())
		pthread_mutex_unlock(&pc_mu);
	errno = saved;
}

static void pc_load_reals(void)
{
	LOAD_REAL(open);
	LOAD_REAL(read);
	LOAD_REAL(write);
	LOAD_REAL(close);
	LOAD_REAL(rename);
	LOAD_REAL(unlink);
	LOAD_REAL(unlinkat);
	LOAD_REAL(rmdir);
	LOAD_REAL(mkdir);
	LOAD_REAL(truncate);
}

/* The directory part of an absolute path ("/" for "/x"). */
static void pc_dirname(const char *path, char *buf, size_t n)
{
	const char *s = strrchr(path, '/');
	size_t l = s ? (size_t)(s - path) : 0;

	if (l == 0) {
		snprintf(buf, n, "%s", s ? "/" : ".");
		return;
	}
	snprintf(buf, n, "%.*s", (int)l, path);
}

/* Identity of the directory holding path: 0, or -1 when it is gone. */
static int pc_parent(const char *path, dev_t *dev, ino_t *ino)
{
	char dir[PC_PATH_MAX];
	struct stat st;

	pc_dirname(path, dir, sizeof(dir));
	if (stat(dir, &st))
		return -1;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

/* Copy the first max bytes of src (all: UINT64_MAX) to dst with the real calls. */
static int pc_copy(const char *src, const char *dst, uint64_t max)
{
	char buf[65536];
	int in, out, rc = 0;

	pc_load_reals();
	in = REAL(open)(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = REAL(open)(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		REAL(close)(in);
		return -1;
	}
	while (max > 0) {
		size_t want = max < sizeof(buf) ? (size_t)max : sizeof(buf);
		ssize_t r = REAL(read)(in, buf, want);

		if (r <= 0) {
			rc = r < 0 ? -1 : 0;
			break;
		}
		if (REAL(write)(out, buf, (size_t)r) != r) {
			rc = -1;
			break;
		}
		max -= (uint64_t)r;
	}
	REAL(close)(in);
	REAL(close)(out);
	return rc;
}

static void pc_stash_name(int i, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%d", pc_stash_dir, i);
}

static struct pc_file *pc_file_find(dev_t dev, ino_t ino)
{
	for (int i = 0; i < pc_nfiles; i++)
		if (pc_files[i].dev == dev && pc_files[i].ino == ino)
			return &pc_files[i];
	return NULL;
}

/* Keep the durable bytes of the regular file at path: a stash index, or -1. */
static int pc_stash(const char *path)
{
	char name[FAULT_PATH_MAX];
	struct pc_file *f;
	struct stat st;
	uint64_t max = UINT64_MAX;

	if (lstat(path, &st) || !S_ISREG(st.st_mode))
		return -1;
	if ((f = pc_file_find(st.st_dev, st.st_ino)))
		max = f->synced;
	pc_load_reals();
	if (!pc_stash_dir[0]) {
		const char *t = getenv("SC_FAULT_STASH"), *tmp = getenv("TMPDIR");

		if (t && *t && strlen(t) < sizeof(pc_stash_dir))
			strcpy(pc_stash_dir, t);
		else if (snprintf(pc_stash_dir, sizeof(pc_stash_dir), "%.900s/sc-powercut.%d",
				  tmp && *tmp ? tmp : "/tmp", (int)getpid()) < 0)
			pc_stash_dir[0] = '\0';
		REAL(mkdir)(pc_stash_dir, 0700);
	}
	pc_stash_name(pc_nstash, name, sizeof(name));
	if (pc_copy(path, name, max)) {
		pc_unmodelled++;
		return -1;
	}
	return pc_nstash++;
}

static void pc_event_drop(int i)
{
	char name[FAULT_PATH_MAX];

	if (pc_events[i].stash >= 0) {
		pc_stash_name(pc_events[i].stash, name, sizeof(name));
		REAL(unlink)(name);
	}
	memmove(&pc_events[i], &pc_events[i + 1],
		(size_t)(pc_nevents - i - 1) * sizeof(pc_events[0]));
	pc_nevents--;
}

/* Record an entry change made at path (and path2 for a rename). */
static void pc_event_add(enum pc_kind kind, const char *path, const char *path2, int stash)
{
	struct pc_event *e;

	if (pc_nevents == PC_EVENTS_MAX || strlen(path) >= PC_PATH_MAX ||
	    (path2 && strlen(path2) >= PC_PATH_MAX)) {
		pc_unmodelled++;
		return;
	}
	e = &pc_events[pc_nevents];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->stash = stash;
	strcpy(e->path, path);
	/* a rename's source directory, or the only one */
	if (pc_parent(path, &e->dev[0], &e->ino[0]))
		e->synced[0] = 1;
	e->synced[1] = 1;
	if (path2) {
		strcpy(e->path2, path2);
		if (!pc_parent(path2, &e->dev[1], &e->ino[1]))
			e->synced[1] = 0;
	}
	pc_nevents++;
}

/* A write of len bytes at off (-1: the file position) on fd is about to happen. */
static void pc_write(int fd, int64_t off, size_t len)
{
	struct pc_file *f;
	struct stat st;

	if (!pc_on() || len == 0 || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return;
	f = pc_file_find(st.st_dev, st.st_ino);
	if (!f) {
		char path[FAULT_PATH_MAX];
		int skip;

		fd_path(fd, path, sizeof(path), &skip);
		if (pc_nfiles == PC_FILES_MAX || strlen(path) >= PC_PATH_MAX) {
			pc_unmodelled++;
			return;
		}
		f = &pc_files[pc_nfiles++];
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->synced = (uint64_t)st.st_size; /* all there now is durable */
		strcpy(f->path, path);
	}
	if (off < 0) {
		int fl = fcntl(fd, F_GETFL);

		off = fl >= 0 && (fl & O_APPEND) ? (int64_t)st.st_size
						 : (int64_t)lseek(fd, 0, SEEK_CUR);
	}
	if (off >= 0 && (uint64_t)off < f->synced)
		pc_unmodelled++; /* overwrites durable bytes: no undo kept */
}

/* fsync/fdatasync of fd succeeded. */
static void pc_synced(int fd)
{
	struct stat st;

	if (!pc_on() || fstat(fd, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		for (int i = 0; i < pc_nevents; i++) {
			struct pc_event *e = &pc_events[i];

			for (int k = 0; k < 2; k++)
				if (e->dev[k] == st.st_dev && e->ino[k] == st.st_ino)
					e->synced[k] = 1;
			if (e->synced[0] && e->synced[1])
				pc_event_drop(i--);
		}
		return;
	}
	for (int i = 0; i < pc_nfiles; i++)
		if (pc_files[i].dev == st.st_dev && pc_files[i].ino == st.st_ino) {
			memmove(&pc_files[i], &pc_files[i + 1],
				(size_t)(pc_nfiles - i - 1) * sizeof(pc_files[0]));
			pc_nfiles--;
			break;
		}
}

/* syncfs: everything on fd's file system is durable. */
static void pc_syncfs(int fd)
{
	struct stat st;

	if (!pc_on() || fstat(fd, &st))
		return;
	for (int i = 0; i < pc_nevents; i++) {
		struct pc_event *e = &pc_events[i];

		for (int k = 0; k < 2; k++)
			if (e->dev[k] == st.st_dev)
				e->synced[k] = 1;
		if (e->synced[0] && e->synced[1])
			pc_event_drop(i--);
	}
	for (int i = 0; i < pc_nfiles; i++)
		if (pc_files[i].dev == st.st_dev) {
			memmove(&pc_files[i], &pc_files[i + 1],
				(size_t)(pc_nfiles - i - 1) * sizeof(pc_files[0]));
			pc_nfiles--;
			i--;
		}
}

/* Before an open: whether the name exists, and O_TRUNC's loss. */
static int pc_open_pre(int dirfd, const char *path, int flags, char *abs, size_t n)
{
	struct stat st;
	int exists;

	if (!pc_on() || !(flags & (O_CREAT | O_TRUNC)))
		return 1;
	at_path(dirfd, path, abs, n);
	exists = lstat(abs, &st) == 0;
	if (exists && (flags & O_TRUNC) && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (flags & O_ACCMODE) != O_RDONLY)
		pc_unmodelled++; /* the old bytes are gone: no undo kept */
	return exists;
}

/* After an open that may have created abs. */
static void pc_open_post(int fd, int existed, const char *abs)
{
	if (fd >= 0 && !existed)
		pc_event_add(PC_CREATE, abs, NULL, -1);
}

/* Before a rename from a to b: keep what b held. */
static int pc_rename_pre(const char *a, const char *b)
{
	(void)a;
	return pc_on() ? pc_stash(b) : -1;
}

static void pc_rename_post(int rc, const char *a, const char *b, int stash)
{
	if (!pc_on())
		return;
	if (rc) {
		if (stash >= 0) {
			char name[FAULT_PATH_MAX];

			pc_stash_name(stash, name, sizeof(name));
			REAL(unlink)(name);
		}
		return;
	}
	for (int i = 0; i < pc_nfiles; i++)
		if (!strcmp(pc_files[i].path, a)) {
			if (strlen(b) < sizeof(pc_files[i].path))
				strcpy(pc_files[i].path, b);
			else
				pc_files[i].path[0] = '\0';
		} else if (!strcmp(pc_files[i].path, b)) {
			pc_files[i].path[0] = '\0'; /* replaced */
		}
	pc_event_add(PC_RENAME, a, b, stash);
}

/* Remove path and everything below it, with the real calls. */
static void pc_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		char sub[FAULT_PATH_MAX];

		while (d && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			pc_remove_tree(sub);
		}
		if (d)
			closedir(d);
		REAL(rmdir)(path);
	} else {
		REAL(unlink)(path);
	}
}

/* Remove the stash directory (at exit, and after a cut). */
static void pc_stash_clean(void)
{
	if (pc_stash_dir[0]) {
		pc_load_reals();
		pc_remove_tree(pc_stash_dir);
	}
}

__attribute__((destructor)) static void pc_at_exit(void)
{
	pc_stash_clean();
}

/*
 * The cut, instead of call k: undo what was not durable, say what was done
 * in SC_FAULT_LOG, and die by SIGKILL with no clean-up of the program's.
 */
static void powercut_now(uint64_t k, enum op op, const char *fn, const char *path,
			 const char *path2)
{
	unsigned truncated = 0, undone[5] = { 0 }, failed = 0;
	char line[512], name[FAULT_PATH_MAX];
	int n;

	pthread_mutex_lock(&pc_mu); /* held until the end: no call gets through */
	pc_load_reals();
	if (cfg.log_file[0])
		log_call(cfg.log_file, k, op, fn, "POWERCUT", path, path2);
	for (int i = 0; i < pc_nfiles; i++) {
		struct pc_file *f = &pc_files[i];
		struct stat st;

		if (lstat(f->path, &st) || st.st_dev != f->dev || st.st_ino != f->ino) {
			if (f->path[0])
				failed++; /* renamed or removed where the shim did not see it */
			continue;
		}
		if ((uint64_t)st.st_size > f->synced) {
			if (REAL(truncate)(f->path, (off_t)f->synced))
				failed++;
			else
				truncated++;
		} else if ((uint64_t)st.st_size < f->synced) {
			pc_unmodelled++;
		}
	}
	for (int i = pc_nevents - 1; i >= 0; i--) {
		struct pc_event *e = &pc_events[i];
		int rc = 0;

		if (e->synced[0] && e->synced[1])
			continue;
		if (e->stash >= 0)
			pc_stash_name(e->stash, name, sizeof(name));
		switch (e->kind) {
		case PC_CREATE:
			rc = REAL(unlink)(e->path);
			break;
		case PC_MKDIR:
			pc_remove_tree(e->path);
			break;
		case PC_RENAME:
			rc = REAL(rename)(e->path2, e->path);
			if (!rc && e->stash >= 0)
				rc = pc_copy(name, e->path2, UINT64_MAX);
			break;
		case PC_UNLINK:
			rc = e->stash >= 0 ? pc_copy(name, e->path, UINT64_MAX) : -1;
			break;
		case PC_RMDIR:
			rc = REAL(mkdir)(e->path, 0755);
			break;
		}
		if (rc)
			failed++;
		else
			undone[e->kind]++;
	}
	n = snprintf(line, sizeof(line), "powercut at %llu: truncated %u, undid create %u "
		     "mkdir %u rename %u unlink %u rmdir %u, failed %u, unmodelled %llu\n",
		     (unsigned long long)k, truncated, undone[PC_CREATE], undone[PC_MKDIR],
		     undone[PC_RENAME], undone[PC_UNLINK], undone[PC_RMDIR], failed,
		     (unsigned long long)pc_unmodelled);
	if (cfg.log_file[0] && n > 0)
		append_line(cfg.log_file, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	pc_stash_clean();
	kill(getpid(), SIGKILL);
	_exit(137);
}

/* ---- the interposed calls ---- */

ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t rc;

	LOAD_REAL(write);
	pc_enter();
	if (decide_fd(OP_WRITE, "write", fd, -1, n)) {
		pc_leave();
		return -1;
	}
	pc_write(fd, -1, n);
	rc = REAL(write)(fd, buf, n);
	pc_leave();
	return rc;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t rc;

	LOAD_REAL(pwrite);
	pc_enter();
	if (decide_fd(OP_WRITE, "pwrite", fd, off, n)) {
		pc_leave();
		return -1;
	}
	pc_write(fd, off, n);
	rc = REAL(pwrite)(fd, buf, n, off);
	pc_leave();
	return rc;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t rc;

	LOAD_REAL(pwrite64);
	pc_enter();
	if (decide_fd(OP_WRITE, "pwrite64", fd, off, n)) {
		pc_leave();
		return -1;
	}
	pc_write(fd, off, n);
	rc = REAL(pwrite64)(fd, buf, n, off);
	pc_leave();
	return rc;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	ssize_t rc;

	LOAD_REAL(writev);
	pc_enter();
	if (decide_fd(OP_WRITE, "writev", fd, -1, iov_len(iov, cnt))) {
		pc_leave();
		return -1;
	}
	pc_write(fd, -1, iov_len(iov, cnt));
	rc = REAL(writev)(fd, iov, cnt);
	pc_leave();
	return rc;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t rc;

	LOAD_REAL(pwritev);
	pc_enter();
	if (decide_fd(OP_WRITE, "pwritev", fd, off, iov_len(iov, cnt))) {
		pc_leave();
		return -1;
	}
	pc_write(fd, off, iov_len(iov, cnt));
	rc = REAL(pwritev)(fd, iov, cnt, off);
	pc_leave();
	return rc;
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	ssize_t rc;

	LOAD_REAL(pwritev2);
	pc_enter();
	if (decide_fd(OP_WRITE, "pwritev2", fd, off, iov_len(iov, cnt))) {
		pc_leave();
		return -1;
	}
	pc_write(fd, off, iov_len(iov, cnt));
	rc = REAL(pwritev2)(fd, iov, cnt, off, flags);
	pc_leave();
	return rc;
}

int fsync(int fd)
{
	int rc;

	LOAD_REAL(fsync);
	pc_enter();
	if (decide_fd(OP_FSYNC, "fsync", fd, 0, 0)) {
		pc_leave();
		return -1;
	}
	rc = REAL(fsync)(fd);
	if (rc == 0)
		pc_synced(fd);
	pc_leave();
	return rc;
}

int fdatasync(int fd)
{
	int rc;

	LOAD_REAL(fdatasync);
	pc_enter();
	if (decide_fd(OP_FSYNC, "fdatasync", fd, 0, 0)) {
		pc_leave();
		return -1;
	}
	rc = REAL(fdatasync)(fd);
	if (rc == 0)
		pc_synced(fd);
	pc_leave();
	return rc;
}

int syncfs(int fd)
{
	int rc;

	LOAD_REAL(syncfs);
	pc_enter();
	if (decide_fd(OP_FSYNC, "syncfs", fd, 0, 0)) {
		pc_leave();
		return -1;
	}
	rc = REAL(syncfs)(fd);
	if (rc == 0)
		pc_syncfs(fd);
	pc_leave();
	return rc;
}

/*
 * The rename family: counted (and failed) when the class is on; under
 * SC_FAULT_POWERCUT also recorded, with what the target held kept aside.
 */
static int rename_common(const char *fn, int fromfd, const char *from, int tofd,
			 const char *to, unsigned flags, int at)
{
	char a[FAULT_PATH_MAX], b[FAULT_PATH_MAX];
	int rc, stash = -1;

	LOAD_REAL(rename);
	LOAD_REAL(renameat);
	LOAD_REAL(renameat2);
	config_load();
	pc_enter();
	at_path(fromfd, from, a, sizeof(a));
	at_path(tofd, to, b, sizeof(b));
	if ((cfg.ops & (1u << OP_RENAME)) && cfg.offset < 0 && decide(OP_RENAME, fn, a, b)) {
		pc_leave();
		return -1;
	}
	if (pc_on() && (flags & RENAME_EXCHANGE))
		pc_unmodelled++;
	else if (!(flags & RENAME_NOREPLACE))
		stash = pc_rename_pre(a, b);
	if (at == 0)
		rc = REAL(rename)(from, to);
	else if (at == 1)
		rc = REAL(renameat)(fromfd, from, tofd, to);
	else
		rc = REAL(renameat2)(fromfd, from, tofd, to, flags);
	pc_rename_post(rc, a, b, stash);
	pc_leave();
	return rc;
}

int rename(const char *from, const char *to)
{
	return rename_common("rename", AT_FDCWD, from, AT_FDCWD, to, 0, 0);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	return rename_common("renameat", fromfd, from, tofd, to, 0, 1);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	return rename_common("renameat2", fromfd, from, tofd, to, flags, 2);
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
	char abs[FAULT_PATH_MAX];
	int rc, existed;
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	LOAD_REAL(open);
	pc_enter();
	if (decide_open("open", AT_FDCWD, path, flags)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(AT_FDCWD, path, flags, abs, sizeof(abs));
	rc = REAL(open)(path, flags, mode);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int open64(const char *path, int flags, ...)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	LOAD_REAL(open64);
	pc_enter();
	if (decide_open("open64", AT_FDCWD, path, flags)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(AT_FDCWD, path, flags, abs, sizeof(abs));
	rc = REAL(open64)(path, flags, mode);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	LOAD_REAL(openat);
	pc_enter();
	if (decide_open("openat", dirfd, path, flags)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(dirfd, path, flags, abs, sizeof(abs));
	rc = REAL(openat)(dirfd, path, flags, mode);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;
	mode_t mode = 0;

	OPEN_MODE(flags, mode);
	LOAD_REAL(openat64);
	pc_enter();
	if (decide_open("openat64", dirfd, path, flags)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(dirfd, path, flags, abs, sizeof(abs));
	rc = REAL(openat64)(dirfd, path, flags, mode);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

/* _FORTIFY_SOURCE forms, used for opens without a mode */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

int __open_2(const char *path, int flags)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;

	LOAD_REAL(__open_2);
	pc_enter();
	if (decide_open("__open_2", AT_FDCWD, path, flags)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(AT_FDCWD, path, flags, abs, sizeof(abs));
	rc = REAL(__open_2)(path, flags);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int __open64_2(const char *path, int flags)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;

	LOAD_REAL(__open64_2);
	pc_enter();
	if (decide_open("__open64_2", AT_FDCWD, path, flags)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(AT_FDCWD, path, flags, abs, sizeof(abs));
	rc = REAL(__open64_2)(path, flags);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int __openat_2(int dirfd, const char *path, int flags)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;

	LOAD_REAL(__openat_2);
	pc_enter();
	if (decide_open("__openat_2", dirfd, path, flags)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(dirfd, path, flags, abs, sizeof(abs));
	rc = REAL(__openat_2)(dirfd, path, flags);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;

	LOAD_REAL(__openat64_2);
	pc_enter();
	if (decide_open("__openat64_2", dirfd, path, flags)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(dirfd, path, flags, abs, sizeof(abs));
	rc = REAL(__openat64_2)(dirfd, path, flags);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int creat(const char *path, mode_t mode)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;

	LOAD_REAL(creat);
	pc_enter();
	if (decide_open("creat", AT_FDCWD, path, O_CREAT)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(AT_FDCWD, path, O_CREAT | O_TRUNC, abs, sizeof(abs));
	rc = REAL(creat)(path, mode);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int creat64(const char *path, mode_t mode)
{
	char abs[FAULT_PATH_MAX];
	int rc, existed;

	LOAD_REAL(creat64);
	pc_enter();
	if (decide_open("creat64", AT_FDCWD, path, O_CREAT)) {
		pc_leave();
		return -1;
	}
	existed = pc_open_pre(AT_FDCWD, path, O_CREAT | O_TRUNC, abs, sizeof(abs));
	rc = REAL(creat64)(path, mode);
	pc_open_post(rc, existed, abs);
	pc_leave();
	return rc;
}

int close(int fd)
{
	int fire, rc, saved;

	LOAD_REAL(close);
	pc_enter();
	fire = decide_fd(OP_CLOSE, "close", fd, 0, 0); /* before the path is gone */
	saved = errno;
	rc = REAL(close)(fd);
	pc_leave();
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

/*
 * Calls that are never counted nor failed, only recorded for the power-cut
 * model (SC_FAULT_POWERCUT); without it they go straight through.
 */
static int unlink_common(int dirfd, const char *path, int flags, int how)
{
	char abs[FAULT_PATH_MAX];
	struct stat st;
	int rc, stash = -1, dir = 0;

	pc_load_reals();
	LOAD_REAL(unlinkat);
	pc_enter();
	if (pc_on()) {
		at_path(dirfd, path, abs, sizeof(abs));
		dir = lstat(abs, &st) == 0 && S_ISDIR(st.st_mode);
		if (!dir)
			stash = pc_stash(abs);
	}
	if (how == 0)
		rc = REAL(unlink)(path);
	else if (how == 1)
		rc = REAL(rmdir)(path);
	else
		rc = REAL(unlinkat)(dirfd, path, flags);
	if (pc_on()) {
		if (rc == 0) {
			for (int i = 0; i < pc_nfiles; i++)
				if (!strcmp(pc_files[i].path, abs))
					pc_files[i].path[0] = '\0';
			pc_event_add(dir ? PC_RMDIR : PC_UNLINK, abs, NULL, stash);
		} else if (stash >= 0) {
			char name[FAULT_PATH_MAX];

			pc_stash_name(stash, name, sizeof(name));
			REAL(unlink)(name);
		}
	}
	pc_leave();
	return rc;
}

int unlink(const char *path)
{
	return unlink_common(AT_FDCWD, path, 0, 0);
}

int rmdir(const char *path)
{
	return unlink_common(AT_FDCWD, path, AT_REMOVEDIR, 1);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	return unlink_common(dirfd, path, flags, 2);
}

/* A name made by mkdir or link (kind PC_MKDIR or PC_CREATE) when rc is 0. */
static void pc_made(int rc, int dirfd, const char *path, enum pc_kind kind)
{
	char abs[FAULT_PATH_MAX];

	if (rc || !pc_on())
		return;
	at_path(dirfd, path, abs, sizeof(abs));
	pc_event_add(kind, abs, NULL, -1);
}

int mkdir(const char *path, mode_t mode)
{
	int rc;

	LOAD_REAL(mkdir);
	pc_enter();
	rc = REAL(mkdir)(path, mode);
	pc_made(rc, AT_FDCWD, path, PC_MKDIR);
	pc_leave();
	return rc;
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	int rc;

	LOAD_REAL(mkdirat);
	pc_enter();
	rc = REAL(mkdirat)(dirfd, path, mode);
	pc_made(rc, dirfd, path, PC_MKDIR);
	pc_leave();
	return rc;
}

int link(const char *from, const char *to)
{
	int rc;

	LOAD_REAL(link);
	pc_enter();
	rc = REAL(link)(from, to);
	pc_made(rc, AT_FDCWD, to, PC_CREATE);
	pc_leave();
	return rc;
}

int linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
	int rc;

	LOAD_REAL(linkat);
	pc_enter();
	rc = REAL(linkat)(fromfd, from, tofd, to, flags);
	pc_made(rc, tofd, to, PC_CREATE);
	pc_leave();
	return rc;
}

/* A truncate to len: growing is a write of zeros; shrinking below the
 * durable size cannot be undone (unmodelled). */
static void pc_truncate(int fd, off_t len)
{
	struct stat st;
	struct pc_file *f;

	if (!pc_on() || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return;
	pc_write(fd, st.st_size, 1); /* track it, durable size as now */
	f = pc_file_find(st.st_dev, st.st_ino);
	if (f && (uint64_t)len < f->synced)
		pc_unmodelled++;
}

int ftruncate(int fd, off_t len)
{
	int rc;

	LOAD_REAL(ftruncate);
	pc_enter();
	pc_truncate(fd, len);
	rc = REAL(ftruncate)(fd, len);
	pc_leave();
	return rc;
}

int ftruncate64(int fd, off_t len)
{
	int rc;

	LOAD_REAL(ftruncate64);
	pc_enter();
	pc_truncate(fd, len);
	rc = REAL(ftruncate64)(fd, len);
	pc_leave();
	return rc;
}
