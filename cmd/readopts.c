/*
 * readopts.c - the reader options shared by `cat` and `bench-read`:
 * order (--shuffle, --seed, --epoch, --rank/--world, --worker/--workers,
 * --remainder, --window, --buffer) and resources (--threads,
 * --queue-depth, --prefetch, --io, --direct, --no-fixed-buffers,
 * --resume). Each command adds its own options to the same getopt table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "file.h"
#include "sc_base.h"

const char cmd_read_opts_help[] =
"order:\n"
"  --shuffle              shuffled order (default: stored order)\n"
"  --seed N --epoch N     shuffle key (default 0, 0)\n"
"  --rank R --world W     read part R of W (equal record counts per rank)\n"
"  --worker K --workers N read part K of N of the rank's part\n"
"  --remainder drop|pad   equal counts: drop extra records or repeat (drop)\n"
"  --window N             open shards interleaved when shuffling (256)\n"
"  --buffer N             shuffle buffer records (about 16 MiB of records)\n"
"resources:\n"
"  --threads N            decode threads (1)\n"
"  --queue-depth N        reads in flight (32)\n"
"  --prefetch SIZE        bytes read ahead (32M)\n"
"  --io auto|uring|pread  read backend (auto: io_uring if it works here)\n"
"  --direct               O_DIRECT reads (cold data, bypasses the page cache)\n"
"  --no-fixed-buffers     do not register read buffers with io_uring\n"
"  --resume FILE          continue from a state saved with --save-state\n"
"S3 nodes (docs/S3.md):\n"
"  --cache-dir DIR        where fetched shards are kept (default ~/.cache/shardctl/s3)\n"
"  --cache-size SIZE      bound of the cache directory, LRU eviction (10G)\n"
"  --s3-endpoint URL      S3 endpoint (default AWS_ENDPOINT_URL[_S3], else AWS)\n";

const struct option cmd_read_long_opts[] = {
	{ "shuffle", no_argument, NULL, 1000 },
	{ "seed", required_argument, NULL, 1001 },
	{ "epoch", required_argument, NULL, 1002 },
	{ "rank", required_argument, NULL, 1003 },
	{ "world", required_argument, NULL, 1004 },
	{ "worker", required_argument, NULL, 1005 },
	{ "workers", required_argument, NULL, 1006 },
	{ "remainder", required_argument, NULL, 1007 },
	{ "window", required_argument, NULL, 1008 },
	{ "buffer", required_argument, NULL, 1009 },
	{ "threads", required_argument, NULL, 1010 },
	{ "queue-depth", required_argument, NULL, 1011 },
	{ "prefetch", required_argument, NULL, 1012 },
	{ "io", required_argument, NULL, 1013 },
	{ "direct", no_argument, NULL, 1014 },
	{ "no-fixed-buffers", no_argument, NULL, 1015 },
	{ "resume", required_argument, NULL, 1016 },
	{ "cache-dir", required_argument, NULL, 1017 },
	{ "cache-size", required_argument, NULL, 1018 },
	{ "s3-endpoint", required_argument, NULL, 1019 },
	{ NULL, 0, NULL, 0 },
};

static int num(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (cmd_parse_uint(s, lo, hi, out)) {
		cmd_error("%s: '%s' is not a number in %llu..%llu", opt, s,
			  (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	return 0;
}

int cmd_read_opt(int c, const char *arg, struct cmd_read_opts *ro)
{
	struct sc_reader_opts *o = &ro->o;
	uint64_t v;

	switch (c) {
	case 1000: o->shuffle = 1; return 1;
	case 1001: if (num("--seed", arg, 0, UINT64_MAX, &v)) return -1; o->seed = v; return 1;
	case 1002: if (num("--epoch", arg, 0, UINT64_MAX, &v)) return -1; o->epoch = v; return 1;
	case 1003: if (num("--rank", arg, 0, UINT32_MAX - 1, &v)) return -1; o->rank = (uint32_t)v; return 1;
	case 1004: if (num("--world", arg, 1, UINT32_MAX, &v)) return -1; o->world = (uint32_t)v; return 1;
	case 1005: if (num("--worker", arg, 0, UINT32_MAX - 1, &v)) return -1; o->worker = (uint32_t)v; return 1;
	case 1006: if (num("--workers", arg, 1, UINT32_MAX, &v)) return -1; o->workers = (uint32_t)v; return 1;
	case 1007:
		if (!strcmp(arg, "drop"))
			o->remainder = 0;
		else if (!strcmp(arg, "pad"))
			o->remainder = 1;
		else {
			cmd_error("--remainder: 'drop' or 'pad', not '%s'", arg);
			return -1;
		}
		return 1;
	case 1008: if (num("--window", arg, 1, 1u << 20, &v)) return -1; o->window = (uint32_t)v; return 1;
	case 1009: if (num("--buffer", arg, 1, 1u << 24, &v)) return -1; o->buffer = (uint32_t)v; return 1;
	case 1010: if (num("--threads", arg, 1, SC_THREADS_MAX, &v)) return -1; o->threads = (uint32_t)v; return 1;
	case 1011: if (num("--queue-depth", arg, 1, 4096, &v)) return -1; o->queue_depth = (uint32_t)v; return 1;
	case 1012:
		if (cmd_parse_size(arg, &v) || v < (1u << 20)) {
			cmd_error("--prefetch: a size of at least 1M, not '%s'", arg);
			return -1;
		}
		o->prefetch_bytes = v;
		return 1;
	case 1013:
		if (!strcmp(arg, "auto"))
			o->io = SC_READER_IO_AUTO;
		else if (!strcmp(arg, "uring"))
			o->io = SC_READER_IO_URING;
		else if (!strcmp(arg, "pread"))
			o->io = SC_READER_IO_PREAD;
		else {
			cmd_error("--io: 'auto', 'uring' or 'pread', not '%s'", arg);
			return -1;
		}
		return 1;
	case 1014: o->direct = 1; return 1;
	case 1015: o->register_buffers = 0; return 1;
	case 1016: ro->resume_path = arg; return 1;
	case 1017: return cmd_s3_cache_dir(arg) ? -1 : 1;
	case 1018: return cmd_s3_cache_size(arg) ? -1 : 1;
	case 1019: return cmd_s3_endpoint(arg) ? -1 : 1;
	default: return 0;
	}
}

void cmd_read_opts_init(struct cmd_read_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	sc_reader_opts_init(&ro->o);
	sc_buf_init(&ro->state, 4096);
}

int cmd_read_merge_opts(const struct option *own, size_t nown, struct option *out,
			size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < nown && own[i].name; i++) {
		if (n + 1 >= cap)
			return -1;
		out[n++] = own[i];
	}
	for (size_t i = 0; cmd_read_long_opts[i].name; i++) {
		if (n + 1 >= cap)
			return -1;
		out[n++] = cmd_read_long_opts[i];
	}
	memset(&out[n], 0, sizeof(out[n]));
	return 0;
}

static void on_warning(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "shardctl: warning: %s\n", msg);
}

int cmd_read_open(const char *set, struct cmd_read_opts *ro, struct sc_reader **out)
{
	char err[2048];
	int rc;

	if (ro->o.rank >= ro->o.world || ro->o.worker >= ro->o.workers) {
		cmd_error("--rank must be below --world and --worker below --workers");
		return EXIT_USAGE;
	}
	if (ro->resume_path) {
		rc = sc_read_file(ro->resume_path, 4096, &ro->state);
		if (rc) {
			cmd_error("--resume '%s': %s", ro->resume_path, sc_strerror(rc));
			return EXIT_FAIL;
		}
		ro->o.resume = ro->state.data;
		ro->o.resume_len = ro->state.len;
	}
	ro->o.warn = on_warning;
	rc = sc_reader_open(set, &ro->o, out, err, sizeof(err));
	if (rc) {
		/* errors opening the set itself already name it */
		if (!strncmp(err, "set '", 5))
			cmd_error("%s", err);
		else
			cmd_error("set '%s': %s", set, err);
		return rc == SC_EUSAGE ? EXIT_USAGE : EXIT_FAIL;
	}
	return EXIT_OK;
}

void cmd_read_opts_release(struct cmd_read_opts *ro)
{
	sc_buf_release(&ro->state);
}
