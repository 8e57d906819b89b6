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

#include "cmd.h"

static const char bench_usage[] =
"usage: shardctl bench-read SET [options]\n"
"\n"
"Read SET four times (stored order and --shuffle, each with --io uring and\n"
"--io pread) and report records/s and MB/s of record bytes (decompressed)\n"
"and of stored bytes.\n"
"  --only MODE            one pass: seq-uring, seq-pread, shuf-uring, shuf-pread\n"
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
		       ",\"fixed_reads\":%" PRIu64 ",\"peak_buffered\":%" PRIu64 "}\n",
		       p->name, sc_reader_backend(r), ro.o.threads ? ro.o.threads : 1, t, recs,
		       (double)recs / t, bytes, (double)bytes / 1e6 / t, st.bytes_stored,
		       (double)st.bytes_stored / 1e6 / t, st.uring_reads, st.fixed_reads,
		       st.peak_buffered);
	else
		printf("%-11s %-8s %8.3f s %12.0f rec/s %9.1f MB/s raw %9.1f MB/s stored\n",
		       p->name, sc_reader_backend(r), t, (double)recs / t,
		       (double)bytes / 1e6 / t, (double)st.bytes_stored / 1e6 / t);
	fflush(stdout);
	sc_reader_close(r);
	return EXIT_OK;
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
