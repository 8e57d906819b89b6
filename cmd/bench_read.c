/*
 * bench_read.c - `shardctl bench-read SET`: how fast the reader delivers
 * a set's records, in stored and shuffled order, through io_uring and
 * through plain pread in the same run (each pass reads the whole part the
 * options select and throws the records away).
 */
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

/* Read every frame of the first replicas with io/aio, nothing decoded. */
static int io_only(const char *root, const struct cmd_read_opts *ro, int json)
{
	struct sc_set *set = NULL;
	struct sc_aio *aio = NULL;
	struct sc_aio_opts ao;
	struct sc_shard_index **ix = NULL;
	const struct sc_manifest *m;
	int *fds = NULL;
	uint64_t nshards, bytes = 0, reads = 0, max_c = 0;
	char err[4096];
	double t0, t;
	int status = EXIT_FAIL;
	uint32_t qd = ro->o.queue_depth ? ro->o.queue_depth : 32;

	if (sc_set_open(root, &set, err, sizeof(err))) {
		cmd_error("%s", err);
		return EXIT_FAIL;
	}
	m = sc_set_manifest(set);
	nshards = m->nshards;
	ix = calloc(nshards + 1, sizeof(*ix));
	fds = calloc(nshards + 1, sizeof(*fds));
	if (!ix || !fds)
		goto out;
	for (uint64_t s = 0; s < nshards; s++)
		fds[s] = -1;
	for (uint64_t s = 0; s < nshards; s++) {
		char path[SC_PATH_MAX];
		struct stat st;
		int fd;

		if (sc_set_replica_path(set, s, 0, path, sizeof(path)))
			goto out;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) ||
		    sc_shard_index_load(fd, (uint64_t)st.st_size, &ix[s], err, sizeof(err))) {
			cmd_error("shard '%s': cannot load its index", path);
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		fds[s] = open(path, O_RDONLY | O_CLOEXEC | (ro->o.direct ? O_DIRECT : 0));
		if (fds[s] < 0) {
			cmd_error("shard '%s': cannot open", path);
			goto out;
		}
		for (uint32_t f = 0; f < ix[s]->frame_count; f++)
			if (ix[s]->csize[f] > max_c)
				max_c = ix[s]->csize[f];
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
	t0 = now();
	{
		uint64_t s = 0;
		uint32_t f = 0, nfree = qd, *freelist = calloc(qd, sizeof(uint32_t));
		uint64_t inflight = 0;

		if (!freelist)
			goto out;
		for (uint32_t b = 0; b < qd; b++)
			freelist[b] = b;
		for (;;) {
			struct sc_aio_done d[64];
			int n;

			while (nfree && s < nshards) {
				uint64_t off = ix[s]->frame_offset[f], len = ix[s]->csize[f], aoff, alen;
				uint32_t b = freelist[--nfree];

				if (ro->o.direct)
					sc_aio_align(off, len, &aoff, &alen);
				else
					aoff = off, alen = len;
				if (sc_aio_read(aio, fds[s], aoff, (uint32_t)alen, sc_aio_buf(aio, b),
						(int32_t)b, b) < 0) {
					free(freelist);
					cmd_error("read failed");
					goto out;
				}
				inflight++;
				bytes += len;
				reads++;
				if (++f == ix[s]->frame_count) {
					f = 0;
					s++;
				}
			}
			sc_aio_submit(aio);
			if (!inflight)
				break;
			n = sc_aio_reap(aio, d, SC_ARRAY_LEN(d), 1);
			if (n < 0) {
				free(freelist);
				cmd_error("read failed");
				goto out;
			}
			for (int i = 0; i < n; i++) {
				if (d[i].result <= 0) {
					free(freelist);
					cmd_error("read failed: %s", sc_strerror((int)d[i].result));
					goto out;
				}
				freelist[nfree++] = (uint32_t)d[i].tag;
				inflight--;
			}
		}
		free(freelist);
	}
	t = now() - t0;
	if (t <= 0)
		t = 1e-9;
	if (json)
		printf("{\"pass\":\"io-only\",\"backend\":\"%s\",\"direct\":%d,\"queue_depth\":%u,"
		       "\"seconds\":%.4f,\"reads\":%" PRIu64 ",\"avg_read\":%" PRIu64
		       ",\"stored_bytes\":%" PRIu64 ",\"stored_mb_per_s\":%.1f}\n",
		       sc_aio_backend(aio), ro->o.direct, qd, t, reads, reads ? bytes / reads : 0,
		       bytes, (double)bytes / 1e6 / t);
	else
		printf("%-11s %-8s %8.3f s %12" PRIu64 " reads  %9.1f MB/s stored (avg read %" PRIu64
		       " B, qd %u%s)\n", "io-only", sc_aio_backend(aio), t, reads,
		       (double)bytes / 1e6 / t, reads ? bytes / reads : 0, qd,
		       ro->o.direct ? ", O_DIRECT" : "");
	status = EXIT_OK;
out:
	sc_aio_close(aio);
	for (uint64_t s = 0; ix && s < nshards; s++) {
		sc_shard_index_free(ix[s]);
		if (fds[s] >= 0)
			close(fds[s]);
	}
	free(ix);
	free(fds);
	sc_set_close(set);
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
