/*
 * bench_read.c - `shardctl bench-read SET`: how fast the reader delivers
 * a set's records, in stored and shuffled order, through io_uring and
 * through plain pread in the same run (each pass reads the whole part the
 * options select and throws the records away).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aio.h"
#include "cmd.h"
#include "s3node.h"
#include "set.h"
#include "shard.h"

static const char bench_usage[] =
"usage: shardctl bench-read SET [options]\n"
"\n"
"Read SET four times (stored order and --shuffle, each with --io uring and\n"
"--io pread) and report records/s and MB/s of record bytes (decompressed)\n"
"and of stored bytes.\n"
"  --only MODE            one pass: seq-uring, seq-pread, shuf-uring, shuf-pread,\n"
"                         or io-only: every frame read (first replicas, file\n"
"                         order) through the reader's io_uring engine with\n"
"                         --queue-depth and --direct, nothing decoded: the\n"
"                         I/O path alone, to compare with fio\n"
"  --json                 one JSON object per pass\n";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct pass {
	const char *name;
	int shuffle;
	int io;
};

static int run_pass(const char *set, struct cmd_read_opts *base, const struct pass *p,
		    int json)
{
	struct cmd_read_opts ro = *base;
	struct sc_reader *r = NULL;
	struct sc_reader_stats st;
	struct sc_records b;
	uint64_t recs = 0, bytes = 0;
	double t0, t;
	int rc;

	ro.o.shuffle = p->shuffle;
	ro.o.io = p->io;
	ro.resume_path = NULL;
	rc = cmd_read_open(set, &ro, &r);
	if (rc != EXIT_OK)
		return rc;
	t0 = now();
	while ((rc = sc_reader_next(r, 8192, 8u << 20, &b)) > 0) {
		recs += b.count;
		bytes += b.offsets[b.count] + b.count; /* with newlines, as stored */
	}
	t = now() - t0;
	if (rc < 0) {
		cmd_error("set '%s': %s", set, sc_reader_error(r));
		sc_reader_close(r);
		return EXIT_FAIL;
	}
	sc_reader_get_stats(r, &st);
	if (t <= 0)
		t = 1e-9;
	if (json)
		printf("{\"pass\":\"%s\",\"backend\":\"%s\",\"threads\":%u,\"seconds\":%.4f,"
		       "\"records\":%" PRIu64 ",\"records_per_s\":%.0f,\"raw_bytes\":%" PRIu64
		       ",\"raw_mb_per_s\":%.1f,\"stored_bytes\":%" PRIu64
		       ",\"stored_mb_per_s\":%.1f,\"uring_reads\":%" PRIu64
		       ",\"fixed_reads\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"failovers\":%" PRIu64
		       ",\"peak_buffered\":%" PRIu64 "}\n",
		       p->name, sc_reader_backend(r), ro.o.threads ? ro.o.threads : 1, t, recs,
		       (double)recs / t, bytes, (double)bytes / 1e6 / t, st.bytes_stored,
		       (double)st.bytes_stored / 1e6 / t, st.uring_reads, st.fixed_reads,
		       st.frames_read, st.failovers, st.peak_buffered);
	else
		printf("%-11s %-8s %8.3f s %12.0f rec/s %9.1f MB/s raw %9.1f MB/s stored\n",
		       p->name, sc_reader_backend(r), t, (double)recs / t,
		       (double)bytes / 1e6 / t, (double)st.bytes_stored / 1e6 / t);
	fflush(stdout);
	sc_reader_close(r);
	return EXIT_OK;
}

/*
 * The I/O-only pass: every frame of every shard read through io/aio and
 * thrown away, nothing decoded. Each shard is read from its first replica
 * whose index loads (later replicas are tried when one is missing or
 * damaged). A replica on an S3 node is read the way the reader reads it:
 * its index from its trailer (ranged GETs, many shards at once), the
 * shard fetched whole into the cache directory ahead of use
 * (SC_IO_S3_AHEAD shards queued), then its frames read back from the
 * cached file; for such sets the time includes the index loads and the
 * fetches, so it compares with a download of the same objects.
 */
#define SC_IO_S3_AHEAD SC_S3NODE_PREFETCH_QUEUE

struct io_shard {
	struct sc_shard_index *ix;
	uint32_t replica;
	int fd;
};

struct io_pass {
	struct sc_set *set;
	const struct sc_manifest *m;
	struct io_shard *sh;
	int direct;
	uint64_t next_prefetch;
};

/* Load the index of a local replica; 0 or -1 with a warning printed. */
static int io_local_index(struct io_pass *p, uint64_t s, uint32_t r)
{
	char path[SC_PATH_MAX], err[1024];
	struct stat st;
	int fd, rc = -1;

	if (sc_set_replica_path(p->set, s, r, path, sizeof(path)))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		cmd_error("warning: shard %" PRIu64 " replica %" PRIu32 ": '%s': %s", s, r, path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		cmd_error("warning: shard %" PRIu64 " replica %" PRIu32 ": '%s': not a regular file",
			 s, r, path);
	else if (sc_shard_index_load(fd, (uint64_t)st.st_size, &p->sh[s].ix, err, sizeof(err)))
		cmd_error("warning: shard %" PRIu64 " replica %" PRIu32 ": '%s': %s", s, r, path, err);
	else
		rc = 0;
	close(fd);
	return rc;
}

/* Choose each shard's replica by loading indexes; 0 or -1 (said). */
static int io_load_indexes(struct io_pass *p)
{
	uint64_t n = p->m->nshards;
	struct sc_set_index *v = calloc(n ? n : 1, sizeof(*v));
	char err[1024];

	if (!v) {
		cmd_error("out of memory");
		return -1;
	}
	for (uint32_t r = 0; r < p->m->config.replicas; r++) {
		size_t nv = 0;

		for (uint64_t s = 0; s < n; s++) {
			if (p->sh[s].ix)
				continue;
			if (!sc_set_replica_is_s3(p->set, s, r)) {
				if (!io_local_index(p, s, r))
					p->sh[s].replica = r;
				continue;
			}
			memset(&v[nv], 0, sizeof(v[nv]));
			v[nv].shard = s;
			v[nv++].replica = r;
		}
		if (nv && sc_set_replica_indexes(p->set, v, nv, err, sizeof(err)) == -ENOMEM) {
			cmd_error("%s", err);
			free(v);
			return -1;
		}
		for (size_t i = 0; i < nv; i++) {
			if (v[i].rc) {
				cmd_error("warning: %s", v[i].err);
				continue;
			}
			p->sh[v[i].shard].ix = v[i].ix;
			p->sh[v[i].shard].replica = r;
		}
	}
	free(v);
	for (uint64_t s = 0; s < n; s++)
		if (!p->sh[s].ix) {
			cmd_error("shard %" PRIu64 ": no replica whose index loads", s);
			return -1;
		}
	return 0;
}

/* A descriptor for shard s's chosen replica (S3: fetched into the cache). */
static int io_open(struct io_pass *p, uint64_t s)
{
	char path[SC_PATH_MAX], err[1024];
	uint32_t r = p->sh[s].replica;

	for (; p->next_prefetch < p->m->nshards &&
	       p->next_prefetch < s + SC_IO_S3_AHEAD; p->next_prefetch++) {
		uint64_t q = p->next_prefetch;

		if (sc_set_replica_is_s3(p->set, q, p->sh[q].replica) &&
		    sc_set_replica_prefetch(p->set, q, p->sh[q].replica) == -EAGAIN)
			break;
	}
	if (sc_set_replica_is_s3(p->set, s, r)) {
		if (sc_set_replica_fetch(p->set, s, r, 0, &p->sh[s].fd, err, sizeof(err))) {
			cmd_error("%s", err);
			return -1;
		}
		return 0;
	}
	if (sc_set_replica_path(p->set, s, r, path, sizeof(path)))
		return -1;
	p->sh[s].fd = open(path, O_RDONLY | O_CLOEXEC | (p->direct ? O_DIRECT : 0));
	if (p->sh[s].fd < 0) {
		cmd_error("shard '%s': cannot open: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int io_only(const char *root, const struct cmd_read_opts *ro, int json)
{
	struct io_pass p = { .direct = ro->o.direct };
	struct sc_aio *aio = NULL;
	struct sc_aio_opts ao;
	uint64_t nshards, bytes = 0, reads = 0, max_c = 0, s = 0, closed = 0, inflight = 0;
	uint32_t qd = ro->o.queue_depth ? ro->o.queue_depth : 32, f = 0, nfree, *freelist = NULL;
	char err[4096];
	double t0 = now(), t;
	int status = EXIT_FAIL, s3 = 0;

	if (sc_set_open(root, &p.set, err, sizeof(err))) {
		cmd_error("%s", err);
		return EXIT_FAIL;
	}
	p.m = sc_set_manifest(p.set);
	nshards = p.m->nshards;
	p.sh = calloc(nshards + 1, sizeof(*p.sh));
	freelist = calloc(qd, sizeof(*freelist));
	if (!p.sh || !freelist)
		goto out;
	for (uint64_t i = 0; i < nshards; i++)
		p.sh[i].fd = -1;
	if (io_load_indexes(&p))
		goto out;
	for (uint64_t i = 0; i < nshards; i++) {
		s3 |= sc_set_replica_is_s3(p.set, i, p.sh[i].replica);
		for (uint32_t k = 0; k < p.sh[i].ix->frame_count; k++)
			if (p.sh[i].ix->csize[k] > max_c)
				max_c = p.sh[i].ix->csize[k];
	}
	memset(&ao, 0, sizeof(ao));
	ao.mode = SC_AIO_URING;
	ao.queue_depth = qd;
	ao.nbufs = qd;
	ao.buf_size = (size_t)((max_c + 8192 + 4095) & ~4095ull);
	ao.register_buffers = ro->o.register_buffers;
	if (sc_aio_open(&ao, &aio, err, sizeof(err))) {
		cmd_error("%s", err);
		goto out;
	}
	if (!s3)
		t0 = now(); /* local sets: the I/O alone, as fio measures it */
	nfree = qd;
	for (uint32_t b = 0; b < qd; b++)
		freelist[b] = b;
	for (;;) {
		struct sc_aio_done d[64];
		int n;

		while (nfree && s < nshards) {
			const struct sc_shard_index *ix = p.sh[s].ix;
			uint64_t off, len, aoff, alen;
			uint32_t b;

			if (!ix->frame_count) {
				s++;
				continue;
			}
			if (p.sh[s].fd < 0 && io_open(&p, s))
				goto out;
			off = ix->frame_offset[f];
			len = ix->csize[f];
			b = freelist[--nfree];
			if (p.direct && !sc_set_replica_is_s3(p.set, s, p.sh[s].replica))
				sc_aio_align(off, len, &aoff, &alen);
			else
				aoff = off, alen = len;
			if (sc_aio_read(aio, p.sh[s].fd, aoff, (uint32_t)alen, sc_aio_buf(aio, b),
					(int32_t)b, b) < 0) {
				cmd_error("shard %" PRIu64 ": read failed", s);
				goto out;
			}
			inflight++;
			bytes += len;
			reads++;
			if (++f == ix->frame_count) {
				f = 0;
				s++;
			}
		}
		sc_aio_submit(aio);
		if (!inflight)
			break;
		n = sc_aio_reap(aio, d, SC_ARRAY_LEN(d), 1);
		if (n < 0) {
			cmd_error("read failed: %s", sc_strerror(n));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (d[i].result <= 0) {
				cmd_error("read failed: %s", sc_strerror((int)d[i].result));
				goto out;
			}
			freelist[nfree++] = (uint32_t)d[i].tag;
			inflight--;
		}
		/* shards wholly read and with nothing in flight: their cached copies may go */
		for (; closed < s && !inflight; closed++)
			if (p.sh[closed].fd >= 0) {
				close(p.sh[closed].fd);
				p.sh[closed].fd = -1;
			}
	}
	t = now() - t0;
	if (t <= 0)
		t = 1e-9;
	if (json)
		printf("{\"pass\":\"io-only\",\"backend\":\"%s\",\"direct\":%d,\"queue_depth\":%u,"
		       "\"s3\":%d,\"seconds\":%.4f,\"reads\":%" PRIu64 ",\"avg_read\":%" PRIu64
		       ",\"stored_bytes\":%" PRIu64 ",\"stored_mb_per_s\":%.1f}\n",
		       sc_aio_backend(aio), ro->o.direct, qd, s3, t, reads, reads ? bytes / reads : 0,
		       bytes, (double)bytes / 1e6 / t);
	else
		printf("%-11s %-8s %8.3f s %12" PRIu64 " reads  %9.1f MB/s stored (avg read %" PRIu64
		       " B, qd %u%s%s)\n", "io-only", sc_aio_backend(aio), t, reads,
		       (double)bytes / 1e6 / t, reads ? bytes / reads : 0, qd,
		       ro->o.direct ? ", O_DIRECT" : "", s3 ? ", S3 fetches included" : "");
	status = EXIT_OK;
out:
	sc_aio_close(aio);
	for (uint64_t i = 0; p.sh && i < nshards; i++) {
		sc_shard_index_free(p.sh[i].ix);
		if (p.sh[i].fd >= 0)
			close(p.sh[i].fd);
	}
	free(p.sh);
	free(freelist);
	sc_set_close(p.set);
	return status;
}

int cmd_bench_read(int argc, char **argv)
{
	static const struct option own[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "only", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct pass passes[] = {
		{ "seq-uring", 0, SC_READER_IO_URING },
		{ "seq-pread", 0, SC_READER_IO_PREAD },
		{ "shuf-uring", 1, SC_READER_IO_URING },
		{ "shuf-pread", 1, SC_READER_IO_PREAD },
	};
	struct option opts[64];
	struct cmd_read_opts ro;
	const char *only = NULL;
	int c, json = 0, status = EXIT_OK, ran = 0;

	cmd_read_opts_init(&ro);
	if (cmd_read_merge_opts(own, SC_ARRAY_LEN(own), opts, SC_ARRAY_LEN(opts)))
		return EXIT_FAIL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int k = cmd_read_opt(c, optarg, &ro);

		if (k < 0)
			return EXIT_USAGE;
		if (k)
			continue;
		switch (c) {
		case 'h':
			printf("%s%s", bench_usage, cmd_read_opts_help);
			return EXIT_OK;
		case 'o':
			only = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "%s%s", bench_usage, cmd_read_opts_help);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "%s%s", bench_usage, cmd_read_opts_help);
		return EXIT_USAGE;
	}
	if (only && !strcmp(only, "io-only")) {
		status = io_only(argv[optind], &ro, json);
		cmd_read_opts_release(&ro);
		return status;
	}
	for (size_t i = 0; i < SC_ARRAY_LEN(passes) && status == EXIT_OK; i++) {
		if (only && strcmp(only, passes[i].name))
			continue;
		status = run_pass(argv[optind], &ro, &passes[i], json);
		ran++;
	}
	if (!ran) {
		cmd_error("--only: unknown pass '%s'", only);
		status = EXIT_USAGE;
	}
	cmd_read_opts_release(&ro);
	return status;
}
