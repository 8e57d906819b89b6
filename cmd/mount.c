/*
 * mount.c - `shardctl mount SET MOUNTPOINT`: the set, read-only, as files
 * (one decompressed JSONL file per shard, manifest.json, stats.json) for
 * loaders that can only read files. The view is store/setfs.c; the FUSE
 * side is cmd/mountfs.c; docs/MOUNT.md describes both.
 *
 * Before anything is mounted the command checks what it can and says why
 * it cannot start: no usable /dev/fuse, a mount point that is not an
 * empty directory or already has something mounted on it, a set that does
 * not open. Without -f it then forks: the child mounts and serves, and
 * the parent exits 0 only once the kernel has connected to the child
 * (the mount is live), or with the child's status (the child has said
 * why on the same stderr). The child logs to syslog, or to --log FILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "file.h"
#include "mountfs.h"
#include "s3node.h"
#include "setfs.h"

static const char mount_usage[] =
"usage: shardctl mount SET MOUNTPOINT [options]\n"
"\n"
"Mount SET read-only at MOUNTPOINT (an empty directory) through FUSE: one\n"
"decompressed JSONL file per shard (shard-000000.jsonl, ...; in name order\n"
"they are exactly `shardctl cat SET`), plus manifest.json and stats.json.\n"
"Returns once the mount is live; `shardctl umount MOUNTPOINT` unmounts it.\n"
"  -f, --foreground       serve in the foreground, log to stderr; Ctrl-C unmounts\n"
"  --cache-size SIZE      decoded frames kept in memory (256M; at least 64K)\n"
"  --prefetch SIZE        bytes decoded ahead of a sequential reader (32M; 0: off)\n"
"  --threads N            read-ahead decode threads (2)\n"
"  --io auto|uring|pread  read-ahead I/O (auto: io_uring if it works here)\n"
"  --allow-other          let other users read the mount (root, or\n"
"                         user_allow_other in /etc/fuse.conf)\n"
"  --log FILE             where a background mount logs (default: syslog)\n"
"S3 nodes (docs/S3.md): frames are fetched with ranged GETs and kept in\n"
"the cache directory; SET may itself be an S3 location (s3://BUCKET/PREFIX)\n"
"  --cache-dir DIR        the cache directory (default ~/.cache/shardctl/s3)\n"
"  --cache-dir-size SIZE  its bound, LRU eviction (10G; SHARDCTL_CACHE_SIZE)\n"
"  --s3-endpoint URL      S3 endpoint (default AWS_ENDPOINT_URL[_S3], else AWS)\n"
"Exit status: 0 mounted (with -f: served and unmounted); 1 it could not be\n"
"mounted (the message says why); 2 usage error.\n";

enum log_to { TO_STDERR, TO_FILE, TO_SYSLOG };

/* Where messages go; switched once the mount is live in the background. */
static volatile int log_to = TO_STDERR;
static int log_fd = -1;

static void mount_log(void *ctx, enum sc_setfs_level level, const char *msg)
{
	static const char *const what[] = { "", "warning: ", "error: " };
	char line[8192];
	int n;

	(void)ctx;
	switch (log_to) {
	case TO_SYSLOG:
		syslog(level == SC_SETFS_LOG_ERROR ? LOG_ERR :
		       level == SC_SETFS_LOG_WARN ? LOG_WARNING : LOG_INFO, "%s", msg);
		return;
	case TO_FILE: {
		char when[32];
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n = snprintf(line, sizeof(line), "%s shardctl[%ld]: %s%s\n", when,
			     (long)getpid(), what[level], msg);
		break;
	}
	default:
		n = snprintf(line, sizeof(line), "shardctl: %s%s\n", what[level], msg);
		break;
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* one write per line, so lines from several threads do not mix */
	if (write(log_to == TO_FILE ? log_fd : 2, line, (size_t)n) < 0) {
		/* nowhere left to say it */
	}
}

struct ready_ctx {
	int fd;                    /* the parent's pipe, -1 in the foreground */
	int detach;                /* log to --log/syslog from now on */
	const char *set, *mountpoint;
	struct sc_setfs *fs;
};

/* FUSE_INIT has arrived: tell the parent, let go of the terminal. */
static void on_ready(void *p)
{
	struct ready_ctx *r = p;
	char msg[2 * SC_PATH_MAX + 256];

	snprintf(msg, sizeof(msg), "mounted '%s' at '%s' (%" PRIu64 " files, read-ahead: %s)",
		 r->set, r->mountpoint, sc_setfs_nfiles(r->fs), sc_setfs_backend(r->fs));
	if (r->detach) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		log_to = log_fd >= 0 ? TO_FILE : TO_SYSLOG;
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			close(null);
		}
	}
	mount_log(NULL, SC_SETFS_LOG_INFO, msg);
	if (r->fd >= 0) {
		if (write(r->fd, "R", 1) != 1) {
			/* the parent is gone: nobody to tell */
		}
		close(r->fd);
		r->fd = -1;
	}
}

/* Descriptors 0-2 open (on /dev/null where closed), so that no file opened
 * later takes one of them and gets written to as stdout or stderr. */
static void std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		int null;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		null = open("/dev/null", O_RDWR);
		if (null >= 0 && null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
}

/*
 * stats.json: exactly what `shardctl stats SET --json` prints, captured
 * from cmd_stats with stdout sent to a memory file for the call.
 */
static int stats_json(const char *set, struct sc_buf *out)
{
	char a0[] = "stats", a1[] = "--json", *argv[4];
	int mfd, saved, rc, status;
	struct stat st;

	argv[0] = a0;
	argv[1] = a1;
	argv[2] = (char *)(uintptr_t)set;
	argv[3] = NULL;
	mfd = memfd_create("shardctl-stats", MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fflush(stdout);
	saved = dup(1);
	if (saved < 0 || dup2(mfd, 1) < 0) {
		rc = -errno;
		if (saved >= 0)
			close(saved);
		close(mfd);
		return rc;
	}
	status = cmd_stats(3, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rc = status == EXIT_OK ? 0 : SC_ECORRUPT;
	if (!rc && fstat(mfd, &st))
		rc = -errno;
	if (!rc) {
		out->len = 0;
		rc = sc_buf_reserve(out, (size_t)st.st_size + 1);
		if (!rc)
			rc = sc_pread_all(mfd, out->data, (size_t)st.st_size, 0);
		if (!rc)
			out->len = (size_t)st.st_size;
	}
	close(mfd);
	return rc;
}

/*
 * The background mount runs in "/": a relative cache directory (from
 * --cache-dir or SHARDCTL_CACHE_DIR) is made absolute here. 0 or -1 (said).
 */
static int abs_cache_dir(void)
{
	const char *dir = getenv("SHARDCTL_CACHE_DIR");
	char cwd[PATH_MAX], path[2 * PATH_MAX];

	if (!dir || !*dir || dir[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", cwd, dir) >= sizeof(path) ||
	    setenv("SHARDCTL_CACHE_DIR", path, 1)) {
		cmd_error("--cache-dir '%s': cannot make the path absolute", dir);
		return -1;
	}
	return 0;
}

/* The mount point must be an empty directory with nothing mounted on it. */
static int check_mountpoint(const char *given, char *real)
{
	char type[256];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc;

	if (!realpath(given, real)) {
		cmd_error("mountpoint '%s': %s", given, strerror(errno));
		return -1;
	}
	if (stat(real, &st)) {
		cmd_error("mountpoint '%s': %s", given, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cmd_error("mountpoint '%s': not a directory", given);
		return -1;
	}
	rc = cmd_mount_find(real, type, sizeof(type));
	if (rc > 0) {
		cmd_error("mountpoint '%s' is busy: a %s file system is mounted there "
			  "(shardctl umount, or umount, first)", given, type);
		return -1;
	}
	d = opendir(real);
	if (!d) {
		cmd_error("mountpoint '%s': %s", given, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			closedir(d);
			cmd_error("mountpoint '%s' is busy: the directory is not empty", given);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/*
 * FUSE needs /dev/fuse read-write: libfuse opens it before it mounts
 * (directly as root, else through fusermount3), so a device this user
 * cannot open means no mount.
 */
static int check_fuse_device(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	cmd_error("cannot mount: /dev/fuse: %s (%s)", strerror(errno),
		  errno == ENOENT || errno == ENODEV || errno == ENXIO ?
		  "the fuse kernel module is not loaded, or this container was started "
		  "without the FUSE device" :
		  errno == EACCES || errno == EPERM ?
		  "this user may not use FUSE here; the device is normally mode 0666" :
		  "the FUSE device cannot be used");
	return -1;
}

/*
 * Fork. The parent waits for one byte from the child, sent once the mount
 * is live, and returns the exit status to use; the child returns -1 and
 * goes on with *fd the pipe to write that byte to.
 */
static int daemonize(int *fd)
{
	int p[2], status;
	ssize_t n;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC)) {
		cmd_error("cannot start the mount: %s", strerror(errno));
		return EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cmd_error("cannot start the mount: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		*fd = p[1];
		return -1;
	}
	close(p[1]);
	c = 0;
	do
		n = read(p[0], &c, 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == 1 && c == 'R')
		return EXIT_OK;
	/* the child failed before the mount was live, and said why */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) != EXIT_OK)
		return WEXITSTATUS(status);
	return EXIT_FAIL;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "cache-size", required_argument, NULL, 1 },
		{ "prefetch", required_argument, NULL, 2 },
		{ "threads", required_argument, NULL, 3 },
		{ "io", required_argument, NULL, 4 },
		{ "allow-other", no_argument, NULL, 5 },
		{ "log", required_argument, NULL, 6 },
		{ "cache-dir", required_argument, NULL, 7 },
		{ "cache-dir-size", required_argument, NULL, 8 },
		{ "s3-endpoint", required_argument, NULL, 9 },
		{ NULL, 0, NULL, 0 },
	};
	char mp[PATH_MAX], setbuf[PATH_MAX], err[8192];
	const char *set, *logpath = NULL;
	struct cmd_mountfs_opts mo;
	struct sc_setfs_opts so;
	struct sc_setfs *fs = NULL;
	struct ready_ctx ready;
	struct sc_buf stats;
	int c, fg = 0, allow_other = 0, status = EXIT_FAIL, rc;
	uint64_t v;

	std_fds();
	memset(&ready, 0, sizeof(ready));
	ready.fd = -1;
	sc_setfs_opts_init(&so);
	so.log = mount_log;
	sc_buf_init(&stats, SC_MANIFEST_SIZE_MAX);
	optind = 1;
	while ((c = getopt_long(argc, argv, "hf", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(mount_usage, stdout);
			return EXIT_OK;
		case 'f':
			fg = 1;
			break;
		case 1:
			if (cmd_parse_size(optarg, &v) || v < SC_SETFS_CACHE_MIN ||
			    v > SC_SETFS_CACHE_MAX) {
				cmd_error("--cache-size: '%s' is not a size from 64K to 1T", optarg);
				return EXIT_USAGE;
			}
			so.cache_bytes = v;
			break;
		case 2:
			if (cmd_parse_size(optarg, &v) || v > SC_SETFS_PREFETCH_MAX) {
				cmd_error("--prefetch: '%s' is not a size up to 4G", optarg);
				return EXIT_USAGE;
			}
			so.prefetch_bytes = v;
			break;
		case 3:
			if (cmd_parse_uint(optarg, 1, SC_THREADS_MAX, &v)) {
				cmd_error("--threads: '%s' is not a number in 1..%d", optarg,
					  SC_THREADS_MAX);
				return EXIT_USAGE;
			}
			so.threads = (uint32_t)v;
			break;
		case 4:
			if (!strcmp(optarg, "auto")) {
				so.io = SC_SETFS_IO_AUTO;
			} else if (!strcmp(optarg, "uring")) {
				so.io = SC_SETFS_IO_URING;
			} else if (!strcmp(optarg, "pread")) {
				so.io = SC_SETFS_IO_PREAD;
			} else {
				cmd_error("--io: '%s' is not auto, uring or pread", optarg);
				return EXIT_USAGE;
			}
			break;
		case 5:
			allow_other = 1;
			break;
		case 6:
			logpath = optarg;
			break;
		case 7:
			if (cmd_s3_cache_dir(optarg))
				return EXIT_USAGE;
			break;
		case 8:
			/* what cat calls --cache-size (here that is the memory cache) */
			if (cmd_parse_size(optarg, &v) || v < (1u << 20)) {
				cmd_error("--cache-dir-size: '%s': expected a size of at least 1M",
					  optarg);
				return EXIT_USAGE;
			}
			if (cmd_s3_cache_size(optarg))
				return EXIT_USAGE;
			break;
		case 9:
			if (cmd_s3_endpoint(optarg))
				return EXIT_USAGE;
			break;
		default:
			fputs(mount_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 2 != argc) {
		fputs(mount_usage, stderr);
		return EXIT_USAGE;
	}
	if (abs_cache_dir())
		return EXIT_USAGE;
	/* the child runs in "/": every path it keeps must be absolute (an S3
	 * root, s3://BUCKET/PREFIX, is used as given) */
	set = !sc_s3node_is(argv[optind]) && realpath(argv[optind], setbuf) ? setbuf :
	      argv[optind];
	if (check_fuse_device() || check_mountpoint(argv[optind + 1], mp))
		return EXIT_FAIL;
	rc = sc_setfs_open(set, &so, &fs, err, sizeof(err));
	if (rc) {
		cmd_error("%s", err);
		return rc == SC_EUSAGE ? EXIT_USAGE : EXIT_FAIL;
	}
	rc = stats_json(set, &stats);
	if (!rc)
		rc = sc_setfs_add_file(fs, "stats.json", stats.data, stats.len);
	sc_buf_release(&stats);
	if (rc) {
		cmd_error("set '%s': stats.json: %s", argv[optind], sc_strerror(rc));
		goto out;
	}
	if (logpath) {
		log_fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (log_fd < 0) {
			cmd_error("--log '%s': %s", logpath, strerror(errno));
			goto out;
		}
	}
	ready.set = set;
	ready.mountpoint = mp;
	ready.fs = fs;
	if (!fg) {
		status = daemonize(&ready.fd);
		if (status >= 0)
			goto out; /* the parent */
		status = EXIT_FAIL;
		ready.detach = 1;
		openlog("shardctl", LOG_PID, LOG_DAEMON);
		if (chdir("/")) {
			/* stays where it was: harmless, every path is absolute */
		}
	}
	/* threads only now: a fork keeps just the thread that forks */
	rc = sc_setfs_start(fs, err, sizeof(err));
	if (rc) {
		cmd_error("cannot start read-ahead: %s", err);
		goto out;
	}
	memset(&mo, 0, sizeof(mo));
	mo.mountpoint = mp;
	mo.fsname = set;
	mo.allow_other = allow_other;
	mo.ready = on_ready;
	mo.ready_ctx = &ready;
	mo.log = mount_log;
	if (cmd_mountfs_run(fs, &mo) == 0) {
		struct sc_setfs_stats st;
		char msg[PATH_MAX + 640], s3[160] = "";

		sc_setfs_get_stats(fs, &st);
		if (sc_setfs_has_s3(fs))
			snprintf(s3, sizeof(s3), "; frames of S3 replicas: %" PRIu64 " fetched with "
				 "ranged GETs, %" PRIu64 " from the cache directory; indexes: %"
				 PRIu64 " ranged GETs", st.s3_gets, st.s3_cached, st.s3_index_gets);
		snprintf(msg, sizeof(msg), "unmounted '%s': %" PRIu64 " reads, %" PRIu64
			 " bytes; frames: %" PRIu64 " found cached, %" PRIu64 " waited for, %" PRIu64
			 " read ahead, %" PRIu64 " on demand; %" PRIu64 " replicas skipped, %" PRIu64
			 " read errors%s", mp, st.reads, st.bytes, st.hits, st.waits, st.prefetched,
			 st.misses, st.failovers, st.errors, s3);
		mount_log(NULL, SC_SETFS_LOG_INFO, msg);
		status = EXIT_OK;
	}
out:
	if (ready.fd >= 0)
		close(ready.fd);
	sc_setfs_close(fs);
	if (log_fd >= 0)
		close(log_fd);
	return status;
}
