/*
 * test_aio.c - unit tests for io/aio.c on a real temporary file (under
 * $TMPDIR, else /tmp) filled with a known pattern, for both backends:
 * many random reads with fewer slots than reads (room and -EAGAIN), results
 * matched by tag and checked byte for byte, short reads at EOF, bad file
 * descriptors, pool buffers with and without registration (READ_FIXED),
 * registration refused by RLIMIT_MEMLOCK, O_DIRECT, the SHARDCTL_NO_URING
 * fallback, batching counters, EINTR while waiting, and closing with reads
 * in flight.
 *
 * io_uring availability is probed here independently of the library: where
 * a ring can be created, the io_uring tests insist the library used it
 * (no silent fallback); where it cannot, they skip loudly.
 *
 * pread() is defined in this file: the linker binds the library's calls to
 * it, and it passes through to libc (dlsym RTLD_NEXT) unless a test arms
 * interrupted, short or failing reads.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "sc_base.h"
#include "aio.h"

/* The test file: a pattern, not a multiple of 4096 long. */
#define FSIZE ((uint64_t)(3u << 20) + 1234)

static char fpath[512];      /* the pattern file */
static unsigned char *fdata; /* its content, for comparisons */
static int uring_ok;         /* a ring can be created here */
static char uring_why[128];  /* why not */

/* ---- pread fault injection ---- */

static int pread_mode;   /* 0 pass-through, 1 EINTR + short, 2 short then EIO */
static int pread_calls;  /* calls seen while armed */

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	static ssize_t (*real_pread)(int, void *, size_t, off_t);

	if (!real_pread)
		*(void **)&real_pread = dlsym(RTLD_NEXT, "pread");
	if (pread_mode == 1) {
		/* every even call is interrupted, the others move <= 1000 bytes */
		if (pread_calls++ % 2 == 0) {
			errno = EINTR;
			return -1;
		}
		if (n > 1000)
			n = 1000;
	} else if (pread_mode == 2) {
		/* 100 bytes, then an I/O error */
		if (pread_calls++ > 0) {
			errno = EIO;
			return -1;
		}
		if (n > 100)
			n = 100;
	}
	return real_pread(fd, buf, n, off);
}

/* ---- fixtures ---- */

static unsigned char pat(uint64_t i)
{
	uint32_t x = (uint32_t)(i ^ (i >> 17)) * 2654435761u;

	return (unsigned char)((x >> 24) ^ (i >> 12));
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct io_uring ring;
	int fd, rc;

	(void)state;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(fpath, sizeof(fpath), "%s/sc_test_aio.XXXXXX", tmp);
	fd = mkstemp(fpath);
	if (fd < 0)
		return -1;
	fdata = malloc(FSIZE);
	if (!fdata)
		return -1;
	for (uint64_t i = 0; i < FSIZE; i++)
		fdata[i] = pat(i);
	for (uint64_t done = 0; done < FSIZE;) {
		ssize_t w = write(fd, fdata + done, FSIZE - done);

		if (w <= 0)
			return -1;
		done += (uint64_t)w;
	}
	if (fsync(fd) || close(fd))
		return -1;

	rc = io_uring_queue_init(4, &ring, 0);
	if (rc == 0) {
		uring_ok = 1;
		io_uring_queue_exit(&ring);
	} else {
		snprintf(uring_why, sizeof(uring_why), "%s", strerror(-rc));
		fprintf(stderr, "test_aio: io_uring unavailable here (%s): "
			"io_uring tests skip\n", uring_why);
	}
	unsetenv("SHARDCTL_NO_URING");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(fdata);
	return unlink(fpath);
}

/* Skip loudly when the kernel has no io_uring. */
#define NEED_URING()                                                        \
	do {                                                                \
		if (!uring_ok) {                                            \
			fprintf(stderr, "  skipped: io_uring unavailable (%s)\n", \
				uring_why);                                 \
			skip();                                             \
		}                                                           \
	} while (0)

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int open_file(int flags)
{
	int fd = open(fpath, O_RDONLY | O_CLOEXEC | flags);

	if (fd < 0 && !(flags & O_DIRECT))
		fail_msg("open '%s': %s", fpath, strerror(errno));
	return fd;
}

/* SHARDCTL_NO_URING asks AUTO for pread. */
static int env_forced(void)
{
	const char *v = getenv("SHARDCTL_NO_URING");

	return v && *v && strcmp(v, "0") != 0;
}

static struct sc_aio *open_aio(enum sc_aio_mode mode, uint32_t depth,
			       uint32_t nbufs, size_t buf_size, int reg)
{
	struct sc_aio_opts o = {
		.mode = mode,
		.queue_depth = depth,
		.nbufs = nbufs,
		.buf_size = buf_size,
		.register_buffers = reg,
	};
	struct sc_aio *a = NULL;
	char err[256];
	int rc = sc_aio_open(&o, &a, err, sizeof(err));

	if (rc)
		fail_msg("sc_aio_open: %d %s", rc, err);
	assert_non_null(a);
	if (mode == SC_AIO_URING || (mode == SC_AIO_AUTO && uring_ok && !env_forced()))
		assert_string_equal(sc_aio_backend(a), "io_uring");
	if (mode == SC_AIO_PREAD)
		assert_string_equal(sc_aio_backend(a), "pread");
	return a;
}

/* Bytes a read of len at off must give. */
static int64_t expect_len(uint64_t off, uint64_t len)
{
	if (off >= FSIZE)
		return 0;
	return (int64_t)(len < FSIZE - off ? len : FSIZE - off);
}

/* ---- the random read driver ---- */

struct slot {
	unsigned char *buf; /* where the read goes */
	int32_t buf_idx;    /* pool buffer, or -1 */
	int busy;           /* a read is outstanding */
	uint64_t off;       /* file offset read */
	uint32_t len;       /* bytes asked */
	uint32_t inner;     /* buf is this far into the slot's memory */
};

/*
 * nreads random reads through a, with one slot per unit of queue depth
 * (pool buffer i for slot i when pool), reaped in random batch sizes,
 * sometimes after an explicit submit, sometimes without waiting. Every
 * result is checked against the file; returns the bytes read in total.
 * aligned: offsets, lengths and buffers 4096-aligned (O_DIRECT).
 */
static uint64_t random_reads(struct sc_aio *a, int fd, uint32_t depth,
			     uint32_t nreads, int pool, int aligned,
			     uint32_t max_len, uint64_t seed)
{
	struct slot *slots = calloc(depth, sizeof(*slots));
	uint32_t *tag_slot = calloc(nreads, sizeof(*tag_slot));
	char *seen = calloc(nreads, 1);
	struct sc_aio_done out[8];
	uint32_t queued = 0, finished = 0, outstanding = 0;
	uint64_t total = 0, s = seed | 1;
	unsigned char scratch[16];
	int last_empty = 0;

	assert_non_null(slots);
	assert_non_null(tag_slot);
	assert_non_null(seen);
	for (uint32_t i = 0; i < depth; i++) {
		slots[i].buf_idx = pool ? (int32_t)i : -1;
		if (pool) {
			slots[i].buf = sc_aio_buf(a, i);
			assert_true(sc_aio_buf_size(a) >= max_len);
		} else {
			assert_int_equal(posix_memalign((void **)&slots[i].buf,
							4096, max_len + 4096), 0);
		}
		assert_non_null(slots[i].buf);
	}

	while (finished < nreads) {
		int wait, n;

		/* fill every free slot */
		for (uint32_t i = 0; i < depth && queued < nreads; i++) {
			struct slot *sl = &slots[i];
			uint64_t r = rng_next(&s);
			uint32_t inner = 0;
			int rc;

			if (sl->busy)
				continue;
			if (r % 8 == 0) /* around EOF, and past it */
				sl->off = FSIZE - 8192 + rng_next(&s) % 16384;
			else
				sl->off = rng_next(&s) % FSIZE;
			sl->len = (uint32_t)(rng_next(&s) % (max_len + 1));
			if (aligned) {
				sl->off &= ~(uint64_t)4095;
				sl->len = (sl->len + 4095) & ~4095u;
				if (sl->len > max_len)
					sl->len = max_len;
			} else if (r % 3 == 0) {
				/* not at the start of the buffer */
				inner = (uint32_t)(rng_next(&s) % 512);
				if (sl->len > max_len - inner)
					sl->len = max_len - inner;
			}
			memset(sl->buf, 0x5a, (size_t)inner + sl->len);
			assert_int_equal(sc_aio_room(a), depth - outstanding);
			rc = sc_aio_read(a, fd, sl->off, sl->len, sl->buf + inner,
					 sl->buf_idx, queued);
			assert_int_equal(rc, 0);
			sl->buf += inner; /* undone when reaped */
			sl->inner = inner;
			sl->busy = 1;
			tag_slot[queued++] = i;
			outstanding++;
		}
		if (outstanding == depth) {
			/* full: one more read must bounce without side effects */
			assert_int_equal(sc_aio_room(a), 0);
			assert_int_equal(sc_aio_read(a, fd, 0, sizeof(scratch),
						     scratch, -1, 999999999),
					 -EAGAIN);
		}
		if (rng_next(&s) % 2)
			assert_true(sc_aio_submit(a) >= 0);
		wait = last_empty || rng_next(&s) % 4 != 0;
		n = sc_aio_reap(a, out, 1 + (unsigned)(rng_next(&s) % 8), wait);
		assert_true(n >= 0);
		if (wait)
			assert_true(n > 0);
		last_empty = n == 0;
		for (int k = 0; k < n; k++) {
			uint64_t tag = out[k].tag;
			struct slot *sl;
			int64_t want;

			assert_true(tag < queued);
			assert_int_equal(seen[tag], 0);
			seen[tag] = 1;
			sl = &slots[tag_slot[tag]];
			assert_true(sl->busy);
			want = expect_len(sl->off, sl->len);
			if (out[k].result != want)
				fail_msg("tag %llu: read %u at %llu gave %lld, want %lld",
					 (unsigned long long)tag, sl->len,
					 (unsigned long long)sl->off,
					 (long long)out[k].result, (long long)want);
			if (want > 0)
				assert_memory_equal(sl->buf, fdata + sl->off, (size_t)want);
			if (!aligned && want < (int64_t)sl->len)
				assert_int_equal(sl->buf[want], 0x5a); /* nothing past EOF */
			total += (uint64_t)want;
			sl->busy = 0;
			sl->buf -= sl->inner;
			finished++;
			outstanding--;
		}
	}
	assert_int_equal(sc_aio_room(a), depth);
	assert_int_equal(sc_aio_reap(a, out, SC_ARRAY_LEN(out), 1), 0);
	assert_int_equal(sc_aio_reap(a, out, SC_ARRAY_LEN(out), 0), 0);
	for (uint32_t i = 0; i < depth; i++)
		if (!pool)
			free(slots[i].buf);
	free(slots);
	free(tag_slot);
	free(seen);
	return total;
}

/* ---- io_uring backend ---- */

static void test_auto_uses_uring(void **state)
{
	struct sc_aio *a = NULL;
	char err[256];

	(void)state;
	unsetenv("SHARDCTL_NO_URING");
	assert_int_equal(sc_aio_open(NULL, &a, err, sizeof(err)), 0);
	if (uring_ok) {
		/* available: AUTO must not fall back */
		assert_string_equal(sc_aio_backend(a), "io_uring");
		assert_string_equal(sc_aio_fallback_reason(a), "");
	} else {
		assert_string_equal(sc_aio_backend(a), "pread");
		assert_true(strlen(sc_aio_fallback_reason(a)) > 0);
	}
	assert_int_equal(sc_aio_room(a), SC_AIO_QUEUE_DEPTH_DEFAULT);
	sc_aio_close(a);
}

static void test_uring_random_reads(void **state)
{
	static const uint32_t depths[] = { 1, 5, 8, 64 };
	struct sc_aio_stats st;

	(void)state;
	NEED_URING();
	for (size_t d = 0; d < SC_ARRAY_LEN(depths); d++) {
		uint32_t nreads = depths[d] == 1 ? 50 : 400;
		int fd = open_file(0);
		struct sc_aio *a = open_aio(SC_AIO_AUTO, depths[d], 0, 0, 0);
		uint64_t bytes = random_reads(a, fd, depths[d], nreads, 0, 0,
					      128 << 10, 42 + d);

		sc_aio_get_stats(a, &st);
		assert_int_equal(st.reads, nreads);
		assert_int_equal(st.uring_sqes, nreads);
		assert_int_equal(st.fixed_reads, 0);
		assert_int_equal(st.bytes, bytes);
		assert_true(st.submit_calls > 0);
		if (depths[d] > 1)
			assert_true(st.submit_calls < nreads); /* batched */
		sc_aio_close(a);
		close(fd);
	}
}

static void test_uring_pool_registered(void **state)
{
	struct sc_aio_stats st;
	struct sc_aio *a;
	uint64_t bytes;
	int fd;

	(void)state;
	NEED_URING();
	fd = open_file(0);
	a = open_aio(SC_AIO_URING, 16, 16, 256 << 10, 1);
	assert_int_equal(sc_aio_nbufs(a), 16);
	assert_int_equal(sc_aio_buf_size(a), 256 << 10);
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal((uintptr_t)sc_aio_buf(a, i) % 4096, 0);
	assert_null(sc_aio_buf(a, 16));
	bytes = random_reads(a, fd, 16, 500, 1, 0, 256 << 10, 7);
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.reads, 500);
	assert_int_equal(st.uring_sqes, 500);
	assert_int_equal(st.bytes, bytes);
	if (*sc_aio_fallback_reason(a)) {
		fprintf(stderr, "  note: %s\n", sc_aio_fallback_reason(a));
		assert_int_equal(st.fixed_reads, 0);
	} else {
		assert_int_equal(st.fixed_reads, 500);
	}
	sc_aio_close(a);
	close(fd);
}

static void test_uring_pool_unregistered(void **state)
{
	struct sc_aio_stats st;
	struct sc_aio *a;
	int fd;

	(void)state;
	NEED_URING();
	fd = open_file(0);
	a = open_aio(SC_AIO_URING, 8, 8, 64 << 10, 0);
	random_reads(a, fd, 8, 200, 1, 0, 64 << 10, 9);
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.uring_sqes, 200);
	assert_int_equal(st.fixed_reads, 0);
	assert_string_equal(sc_aio_fallback_reason(a), "");
	sc_aio_close(a);
	close(fd);
}

/* Raise or drop CAP_IPC_LOCK in the effective set. 0 or -errno. */
static int ipc_lock_cap(int on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on)
		d[0].effective |= 1u << CAP_IPC_LOCK;
	else
		d[0].effective &= ~(1u << CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * Registration charged to a tiny RLIMIT_MEMLOCK fails with ENOMEM: the
 * ring stays, reads go through plain READ and the reason is recorded.
 * Root's CAP_IPC_LOCK bypasses the limit, so it is dropped meanwhile.
 */
static void test_uring_register_enomem(void **state)
{
	struct sc_aio_opts o = { SC_AIO_URING, 4, 4, 1 << 20, 1 };
	struct sc_aio_stats st;
	struct rlimit old, low;
	struct sc_aio *a = NULL;
	int had_cap, rc, fd;
	char err[256];

	(void)state;
	NEED_URING();
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	low = old;
	low.rlim_cur = 64 << 10;
	had_cap = ipc_lock_cap(0) == 0;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &low), 0);
	rc = sc_aio_open(&o, &a, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
	if (had_cap)
		ipc_lock_cap(1);
	assert_int_equal(rc, 0);
	assert_string_equal(sc_aio_backend(a), "io_uring");
	if (!*sc_aio_fallback_reason(a)) {
		fprintf(stderr, "  skipped: registration under a 64 KiB "
			"RLIMIT_MEMLOCK succeeded (capability kept?)\n");
		sc_aio_close(a);
		skip();
	}
	assert_non_null(strstr(sc_aio_fallback_reason(a), "register"));
	assert_non_null(strstr(sc_aio_fallback_reason(a), strerror(ENOMEM)));
	fd = open_file(0);
	random_reads(a, fd, 4, 100, 1, 0, 1 << 20, 11);
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.uring_sqes, 100);
	assert_int_equal(st.fixed_reads, 0);
	sc_aio_close(a);
	close(fd);
}

/* Exact batching counters: one submit for a full queue, one per reap. */
static void test_uring_batching(void **state)
{
	struct sc_aio_done out[64];
	struct sc_aio_stats st;
	unsigned char *buf = malloc(32 * 4096);
	struct sc_aio *a;
	int fd, got = 0;

	(void)state;
	NEED_URING();
	assert_non_null(buf);
	fd = open_file(0);
	a = open_aio(SC_AIO_URING, 32, 0, 0, 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(sc_aio_read(a, fd, (uint64_t)i * 4096, 4096,
					     buf + i * 4096, -1, (uint64_t)i), 0);
	assert_int_equal(sc_aio_room(a), 0);
	assert_int_equal(sc_aio_read(a, fd, 0, 1, buf, -1, 99), -EAGAIN);
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.submit_calls, 0); /* nothing sent yet */
	assert_int_equal(sc_aio_submit(a), 32);
	assert_int_equal(sc_aio_submit(a), 0); /* nothing left: no call */
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.submit_calls, 1);
	while (got < 32) {
		int n = sc_aio_reap(a, out, SC_ARRAY_LEN(out), 1);

		assert_true(n > 0);
		for (int k = 0; k < n; k++) {
			assert_int_equal(out[k].result, 4096);
			assert_memory_equal(buf + out[k].tag * 4096,
					    fdata + out[k].tag * 4096, 4096);
		}
		got += n;
	}
	/* no explicit submit: the reap sends the batch */
	for (int i = 0; i < 10; i++)
		assert_int_equal(sc_aio_read(a, fd, 0, 4096, buf + i * 4096, -1,
					     (uint64_t)i), 0);
	for (got = 0; got < 10;) {
		int n = sc_aio_reap(a, out, SC_ARRAY_LEN(out), 1);

		assert_true(n > 0);
		got += n;
	}
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.submit_calls, 2);
	assert_int_equal(st.reads, 42);
	assert_int_equal(st.uring_sqes, 42);
	assert_int_equal(st.bytes, 42 * 4096);
	sc_aio_close(a);
	close(fd);
	free(buf);
}

static volatile sig_atomic_t alarms; /* SIGALRMs seen by on_alarm */

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/*
 * A read of a pipe that a child writes to after 300 ms, while a 5 ms
 * interval timer interrupts the wait (no SA_RESTART): the reap retries
 * EINTR and returns the read.
 */
static void test_uring_reap_eintr(void **state)
{
	struct itimerval on = { { 0, 5000 }, { 0, 5000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa, old;
	struct sc_aio_done d;
	struct sc_aio *a;
	char buf[16];
	int pfd[2], status;
	pid_t pid;

	(void)state;
	NEED_URING();
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		usleep(300000);
		_exit(write(pfd[1], "hello", 5) == 5 ? 0 : 1);
	}
	close(pfd[1]);
	a = open_aio(SC_AIO_URING, 4, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	alarms = 0;
	assert_int_equal(sc_aio_read(a, pfd[0], 0, sizeof(buf), buf, -1, 77), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &on, NULL), 0);
	assert_int_equal(sc_aio_reap(a, &d, 1, 1), 1);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	assert_true(alarms > 0);
	assert_int_equal(d.tag, 77);
	assert_int_equal(d.result, 5);
	assert_memory_equal(buf, "hello", 5);
	sc_aio_close(a);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Close with reads queued, in flight, finished and unreaped, and one that
 * would never finish (an empty pipe): close waits (and cancels) instead of
 * freeing buffers under the kernel; ASan runs would see a use after free.
 * alarm() turns a hang into a failure.
 */
static void test_uring_close_inflight(void **state)
{
	struct sc_aio *a;
	int fd, pfd[2];

	(void)state;
	NEED_URING();
	fd = open_file(0);
	alarm(20);
	/* in flight */
	a = open_aio(SC_AIO_URING, 16, 16, 128 << 10, 1);
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(sc_aio_read(a, fd, i * 100000, 128 << 10,
					     sc_aio_buf(a, i), (int32_t)i, i), 0);
	assert_int_equal(sc_aio_submit(a), 16);
	sc_aio_close(a);
	/* queued, never submitted */
	a = open_aio(SC_AIO_URING, 16, 4, 128 << 10, 0);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(sc_aio_read(a, fd, 0, 128 << 10,
					     sc_aio_buf(a, i), (int32_t)i, i), 0);
	sc_aio_close(a);
	/* a read that only a cancel ends */
	assert_int_equal(pipe(pfd), 0);
	a = open_aio(SC_AIO_URING, 4, 1, 4096, 1);
	assert_int_equal(sc_aio_read(a, pfd[0], 0, 4096, sc_aio_buf(a, 0), 0, 1), 0);
	assert_int_equal(sc_aio_read(a, fd, 0, 100, sc_aio_buf(a, 0), 0, 2), 0);
	assert_int_equal(sc_aio_submit(a), 2);
	sc_aio_close(a);
	alarm(0);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
}

/* ---- pread backend ---- */

static void test_pread_random_reads(void **state)
{
	struct sc_aio_stats st;
	struct sc_aio *a;
	uint64_t bytes;
	int fd;

	(void)state;
	fd = open_file(0);
	a = open_aio(SC_AIO_PREAD, 8, 0, 0, 0);
	assert_string_equal(sc_aio_fallback_reason(a), "");
	bytes = random_reads(a, fd, 8, 400, 0, 0, 128 << 10, 5);
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.reads, 400);
	assert_int_equal(st.uring_sqes, 0);
	assert_int_equal(st.fixed_reads, 0);
	assert_int_equal(st.submit_calls, 0);
	assert_int_equal(st.bytes, bytes);
	sc_aio_close(a);

	/* pool buffers; registration is meaningless here and ignored */
	a = open_aio(SC_AIO_PREAD, 5, 5, 64 << 10, 1);
	assert_string_equal(sc_aio_fallback_reason(a), "");
	random_reads(a, fd, 5, 300, 1, 0, 64 << 10, 6);
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.reads, 300);
	assert_int_equal(st.fixed_reads, 0);
	sc_aio_close(a);
	close(fd);
}

/* The pread loop survives EINTR and short transfers; an error after some
 * bytes gives those bytes. */
static void test_pread_eintr_short(void **state)
{
	unsigned char *buf = malloc(10000);
	struct sc_aio_done d;
	struct sc_aio *a;
	int fd;

	(void)state;
	assert_non_null(buf);
	fd = open_file(0);
	a = open_aio(SC_AIO_PREAD, 2, 0, 0, 0);
	pread_mode = 1;
	pread_calls = 0;
	assert_int_equal(sc_aio_read(a, fd, 12345, 10000, buf, -1, 1), 0);
	assert_int_equal(pread_calls, 20); /* 10 interrupted, 10 of 1000 bytes */
	pread_mode = 2;
	pread_calls = 0;
	assert_int_equal(sc_aio_read(a, fd, 0, 10000, buf + 5000, -1, 2), 0);
	pread_mode = 0;
	assert_int_equal(sc_aio_reap(a, &d, 1, 1), 1);
	assert_int_equal(d.tag, 1);
	assert_int_equal(d.result, 10000);
	assert_memory_equal(buf, fdata + 12345, 5000);
	assert_int_equal(sc_aio_reap(a, &d, 1, 0), 1);
	assert_int_equal(d.tag, 2);
	assert_int_equal(d.result, 100);
	assert_memory_equal(buf + 5000, fdata, 100);
	/* an error before any byte is the result */
	pread_mode = 2;
	pread_calls = 1;
	assert_int_equal(sc_aio_read(a, fd, 0, 10, buf, -1, 3), 0);
	pread_mode = 0;
	assert_int_equal(sc_aio_reap(a, &d, 1, 1), 1);
	assert_int_equal(d.result, -EIO);
	sc_aio_close(a);
	close(fd);
	free(buf);
}

/* ---- both backends ---- */

static void for_each_backend(void (*fn)(enum sc_aio_mode mode))
{
	fn(SC_AIO_PREAD);
	if (uring_ok)
		fn(SC_AIO_URING);
	else
		fprintf(stderr, "  io_uring half skipped: io_uring unavailable (%s)\n",
			uring_why);
}

/* Reap exactly n completions, in any order, into done[tag]. */
static void reap_n(struct sc_aio *a, int n, int64_t *res_by_tag, size_t ntags)
{
	struct sc_aio_done out[16];

	while (n > 0) {
		int got = sc_aio_reap(a, out, SC_ARRAY_LEN(out), 1);

		assert_true(got > 0 && got <= n);
		for (int k = 0; k < got; k++) {
			assert_true(out[k].tag < ntags);
			res_by_tag[out[k].tag] = out[k].result;
		}
		n -= got;
	}
	assert_int_equal(sc_aio_reap(a, out, SC_ARRAY_LEN(out), 1), 0);
}

static void eof_reads(enum sc_aio_mode mode)
{
	static const struct {
		uint64_t off;
		uint32_t len;
	} cases[] = {
		{ FSIZE - 10, 100 },  /* straddles EOF */
		{ FSIZE - 1, 1 },     /* the last byte */
		{ FSIZE, 10 },        /* at EOF */
		{ FSIZE + 5000, 10 }, /* past it */
		{ 0, (uint32_t)FSIZE + 4096 }, /* the whole file and more */
		{ 100, 0 },           /* nothing asked */
		{ (uint64_t)INT64_MAX - 10, 10 }, /* far past EOF */
	};
	int64_t res[SC_ARRAY_LEN(cases)];
	unsigned char *bufs[SC_ARRAY_LEN(cases)];
	struct sc_aio *a = open_aio(mode, 4, 0, 0, 0);
	int fd = open_file(0);

	for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
		bufs[i] = malloc(cases[i].len + 1);
		assert_non_null(bufs[i]);
		memset(bufs[i], 0x5a, cases[i].len + 1);
		res[i] = 12345;
	}
	for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
		if (sc_aio_room(a) == 0)
			reap_n(a, 4, res, SC_ARRAY_LEN(res));
		assert_int_equal(sc_aio_read(a, fd, cases[i].off, cases[i].len,
					     bufs[i], -1, i), 0);
	}
	reap_n(a, 4 - (int)sc_aio_room(a), res, SC_ARRAY_LEN(res));
	for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
		int64_t want = expect_len(cases[i].off, cases[i].len);

		assert_int_equal(res[i], want);
		if (want > 0)
			assert_memory_equal(bufs[i], fdata + cases[i].off, (size_t)want);
		assert_int_equal(bufs[i][want], 0x5a);
		free(bufs[i]);
	}
	sc_aio_close(a);
	close(fd);
}

static void test_eof_short_reads(void **state)
{
	(void)state;
	for_each_backend(eof_reads);
}

static void bad_fd_reads(enum sc_aio_mode mode)
{
	struct sc_aio *a = open_aio(mode, 8, 0, 0, 0);
	int fd = open_file(0), closed = open_file(0);
	unsigned char buf[4][256];
	int64_t res[4];

	close(closed);
	/* bad and good reads in one batch: the good ones still complete */
	assert_int_equal(sc_aio_read(a, closed, 0, 256, buf[0], -1, 0), 0);
	assert_int_equal(sc_aio_read(a, fd, 1000, 256, buf[1], -1, 1), 0);
	assert_int_equal(sc_aio_read(a, -1, 0, 256, buf[2], -1, 2), 0);
	assert_int_equal(sc_aio_read(a, fd, 2000, 256, buf[3], -1, 3), 0);
	reap_n(a, 4, res, 4);
	assert_int_equal(res[0], -EBADF);
	assert_int_equal(res[1], 256);
	assert_int_equal(res[2], -EBADF);
	assert_int_equal(res[3], 256);
	assert_memory_equal(buf[1], fdata + 1000, 256);
	assert_memory_equal(buf[3], fdata + 2000, 256);
	/* a directory: EISDIR, not a crash either */
	{
		int dfd = open("/", O_RDONLY | O_DIRECTORY);

		assert_true(dfd >= 0);
		assert_int_equal(sc_aio_read(a, dfd, 0, 256, buf[0], -1, 0), 0);
		reap_n(a, 1, res, 4);
		assert_int_equal(res[0], -EISDIR);
		close(dfd);
	}
	sc_aio_close(a);
	close(fd);
}

static void test_bad_fd(void **state)
{
	(void)state;
	for_each_backend(bad_fd_reads);
}

static int direct_skipped; /* O_DIRECT refused by the filesystem */

static void direct_reads(enum sc_aio_mode mode)
{
	struct sc_aio_stats st;
	struct sc_aio *a;
	int64_t res[2];
	uint64_t last = FSIZE & ~(uint64_t)4095;
	int fd = open_file(O_DIRECT);

	if (fd < 0) {
		if (errno != EINVAL)
			fail_msg("open '%s' O_DIRECT: %s", fpath, strerror(errno));
		if (!direct_skipped)
			fprintf(stderr, "  skipped: the filesystem of '%s' "
				"refuses O_DIRECT (EINVAL)\n", fpath);
		direct_skipped = 1;
		return;
	}
	a = open_aio(mode, 8, 8, 256 << 10, 1);
	random_reads(a, fd, 8, 300, 1, 1, 256 << 10, 13);
	sc_aio_get_stats(a, &st);
	if (mode == SC_AIO_URING && !*sc_aio_fallback_reason(a))
		assert_int_equal(st.fixed_reads, 300);
	/* the last, partial block: the bytes up to EOF */
	assert_int_equal(sc_aio_read(a, fd, last, 8192, sc_aio_buf(a, 0), 0, 0), 0);
	/* misaligned buffer: the read's own failure, in its result (or
	 * fine, where the device takes any alignment) */
	assert_int_equal(sc_aio_read(a, fd, 0, 4096,
				     (char *)sc_aio_buf(a, 1) + 1, 1, 1), 0);
	reap_n(a, 2, res, 2);
	assert_int_equal(res[0], (int64_t)(FSIZE - last));
	assert_memory_equal(sc_aio_buf(a, 0), fdata + last, FSIZE - last);
	if (res[1] != -EINVAL) {
		assert_int_equal(res[1], 4096);
		assert_memory_equal((char *)sc_aio_buf(a, 1) + 1, fdata, 4096);
	}
	sc_aio_close(a);
	close(fd);
}

static void test_direct(void **state)
{
	(void)state;
	direct_skipped = 0;
	for_each_backend(direct_reads);
	if (direct_skipped)
		skip();
}

static void read_args(enum sc_aio_mode mode)
{
	struct sc_aio *a = open_aio(mode, 4, 2, 8192, 1);
	char *b0 = sc_aio_buf(a, 0), *b1 = sc_aio_buf(a, 1);
	int fd = open_file(0);
	int64_t res[3];

	assert_int_equal(sc_aio_read(a, fd, 0, 10, b0, 2, 0), -EINVAL);
	assert_int_equal(sc_aio_read(a, fd, 0, 10, b0, -2, 0), -EINVAL);
	assert_int_equal(sc_aio_read(a, fd, 0, 10, b1, 0, 0), -EINVAL);
	assert_int_equal(sc_aio_read(a, fd, 0, 11, b0 + 8192 - 10, 0, 0), -EINVAL);
	assert_int_equal(sc_aio_read(a, fd, 0, 8193, b0, 0, 0), -EINVAL);
	assert_int_equal(sc_aio_read(a, fd, 0, 10, NULL, -1, 0), -EINVAL);
	assert_int_equal(sc_aio_read(a, fd, (uint64_t)INT64_MAX + 1, 10, b0, 0, 0),
			 -EINVAL);
	assert_int_equal(sc_aio_read(a, fd, UINT64_MAX, 10, b0, 0, 0), -EINVAL);
	assert_int_equal(sc_aio_read(NULL, fd, 0, 10, b0, 0, 0), -EINVAL);
	assert_int_equal(sc_aio_room(a), 4); /* refusals take no room */
	/* the edges that are fine */
	assert_int_equal(sc_aio_read(a, fd, 0, 10, b0 + 8192 - 10, 0, 0), 0);
	assert_int_equal(sc_aio_read(a, fd, 0, 8192, b1, 1, 1), 0);
	assert_int_equal(sc_aio_read(a, fd, 0, 0, NULL, -1, 2), 0);
	assert_int_equal(sc_aio_room(a), 1);
	reap_n(a, 3, res, 3);
	assert_int_equal(res[0], 10);
	assert_memory_equal(b0 + 8192 - 10, fdata, 10);
	assert_int_equal(res[1], 8192);
	assert_memory_equal(b1, fdata, 8192);
	assert_int_equal(res[2], 0);
	{
		struct sc_aio_done d;

		assert_int_equal(sc_aio_reap(a, NULL, 1, 1), -EINVAL);
		assert_int_equal(sc_aio_reap(a, &d, 0, 1), 0);
		assert_int_equal(sc_aio_reap(a, &d, 1, 0), 0);
		assert_int_equal(sc_aio_submit(a), 0);
	}
	sc_aio_close(a);
	close(fd);
}

static void test_read_args(void **state)
{
	(void)state;
	for_each_backend(read_args);
}

/* ---- open, fallback, align ---- */

static void test_open_args(void **state)
{
	static const struct sc_aio_opts bad[] = {
		{ .mode = (enum sc_aio_mode)7 },
		{ .queue_depth = SC_AIO_QUEUE_DEPTH_MAX + 1 },
		{ .nbufs = SC_AIO_NBUFS_MAX + 1, .buf_size = 4096 },
		{ .nbufs = 1, .buf_size = 0 },
		{ .nbufs = 0, .buf_size = 4096 },
		{ .nbufs = 1, .buf_size = 4097 },
		{ .nbufs = 1, .buf_size = SC_AIO_BUF_SIZE_MAX + 4096 },
	};
	struct sc_aio_opts o = { .mode = SC_AIO_PREAD, .queue_depth = SC_AIO_QUEUE_DEPTH_MAX };
	struct sc_aio *a;
	char err[256];

	(void)state;
	for (size_t i = 0; i < SC_ARRAY_LEN(bad); i++) {
		a = (struct sc_aio *)&o; /* must be reset */
		err[0] = '\0';
		assert_int_equal(sc_aio_open(&bad[i], &a, err, sizeof(err)), -EINVAL);
		assert_null(a);
		assert_true(strlen(err) > 0);
		assert_string_not_equal(err + strlen(err) - 1, ".");
	}
	assert_int_equal(sc_aio_open(&o, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(sc_aio_open(&o, &a, NULL, 0), 0);
	assert_int_equal(sc_aio_room(a), SC_AIO_QUEUE_DEPTH_MAX);
	assert_int_equal(sc_aio_nbufs(a), 0);
	assert_int_equal(sc_aio_buf_size(a), 0);
	assert_null(sc_aio_buf(a, 0));
	sc_aio_close(a);
	sc_aio_close(NULL);
	if (uring_ok) {
		o.mode = SC_AIO_URING;
		assert_int_equal(sc_aio_open(&o, &a, err, sizeof(err)), 0);
		assert_string_equal(sc_aio_backend(a), "io_uring");
		assert_string_equal(err, "");
		sc_aio_close(a);
	}
}

static void test_env_fallback(void **state)
{
	struct sc_aio_stats st;
	struct sc_aio *a;
	int64_t res[3];
	char buf[3][100];
	int fd;

	(void)state;
	fd = open_file(0);
	assert_int_equal(setenv("SHARDCTL_NO_URING", "1", 1), 0);
	a = open_aio(SC_AIO_AUTO, 2, 0, 0, 0);
	assert_string_equal(sc_aio_backend(a), "pread");
	assert_true(strlen(sc_aio_fallback_reason(a)) > 0);
	assert_null(strchr(sc_aio_fallback_reason(a), '\n'));
	assert_non_null(strstr(sc_aio_fallback_reason(a), "io_uring unavailable"));
	assert_non_null(strstr(sc_aio_fallback_reason(a), "SHARDCTL_NO_URING"));
	assert_non_null(strstr(sc_aio_fallback_reason(a), "using pread"));
	/* same room accounting: two fit, the third bounces */
	assert_int_equal(sc_aio_read(a, fd, 0, 100, buf[0], -1, 0), 0);
	assert_int_equal(sc_aio_read(a, fd, 500, 100, buf[1], -1, 1), 0);
	assert_int_equal(sc_aio_room(a), 0);
	assert_int_equal(sc_aio_read(a, fd, 900, 100, buf[2], -1, 2), -EAGAIN);
	reap_n(a, 2, res, 3);
	assert_int_equal(res[0], 100);
	assert_int_equal(res[1], 100);
	assert_memory_equal(buf[1], fdata + 500, 100);
	sc_aio_get_stats(a, &st);
	assert_int_equal(st.uring_sqes, 0);
	sc_aio_close(a);

	/* explicit modes ignore the variable */
	if (uring_ok) {
		a = open_aio(SC_AIO_URING, 2, 0, 0, 0);
		assert_string_equal(sc_aio_fallback_reason(a), "");
		sc_aio_close(a);
	}
	a = open_aio(SC_AIO_PREAD, 2, 0, 0, 0);
	assert_string_equal(sc_aio_fallback_reason(a), "");
	sc_aio_close(a);

	/* "0" and "" do not force anything */
	assert_int_equal(setenv("SHARDCTL_NO_URING", "0", 1), 0);
	a = open_aio(SC_AIO_AUTO, 2, 0, 0, 0);
	assert_string_equal(sc_aio_backend(a), uring_ok ? "io_uring" : "pread");
	sc_aio_close(a);
	assert_int_equal(setenv("SHARDCTL_NO_URING", "", 1), 0);
	a = open_aio(SC_AIO_AUTO, 2, 0, 0, 0);
	assert_string_equal(sc_aio_backend(a), uring_ok ? "io_uring" : "pread");
	sc_aio_close(a);
	unsetenv("SHARDCTL_NO_URING");
	close(fd);
}

static void test_align(void **state)
{
	static const struct {
		uint64_t off, len, aoff, alen;
	} cases[] = {
		{ 0, 0, 0, 0 },
		{ 0, 1, 0, 4096 },
		{ 0, 4096, 0, 4096 },
		{ 0, 4097, 0, 8192 },
		{ 1, 4095, 0, 4096 },
		{ 1, 4096, 0, 8192 },
		{ 4095, 2, 0, 8192 },
		{ 4096, 4096, 4096, 4096 },
		{ 10000, 100, 8192, 4096 },
		{ 12288, 0, 12288, 0 },
		{ 12289, 0, 12288, 4096 },
		{ (1ull << 40) + 5, 1 << 20, 1ull << 40, (1 << 20) + 4096 },
		{ UINT64_MAX - 10, 5, UINT64_MAX - 4095, 4095 },
		{ 5, UINT64_MAX, 0, UINT64_MAX },
	};
	uint64_t aoff, alen;

	(void)state;
	for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
		sc_aio_align(cases[i].off, cases[i].len, &aoff, &alen);
		if (aoff != cases[i].aoff || alen != cases[i].alen)
			fail_msg("case %zu: got %llu+%llu", i,
				 (unsigned long long)aoff, (unsigned long long)alen);
		assert_true(aoff <= cases[i].off);
		assert_true(alen >= cases[i].len || aoff + alen == UINT64_MAX);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_uses_uring),
		cmocka_unit_test(test_uring_random_reads),
		cmocka_unit_test(test_uring_pool_registered),
		cmocka_unit_test(test_uring_pool_unregistered),
		cmocka_unit_test(test_uring_register_enomem),
		cmocka_unit_test(test_uring_batching),
		cmocka_unit_test(test_uring_reap_eintr),
		cmocka_unit_test(test_uring_close_inflight),
		cmocka_unit_test(test_pread_random_reads),
		cmocka_unit_test(test_pread_eintr_short),
		cmocka_unit_test(test_eof_short_reads),
		cmocka_unit_test(test_bad_fd),
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_read_args),
		cmocka_unit_test(test_open_args),
		cmocka_unit_test(test_env_fallback),
		cmocka_unit_test(test_align),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
