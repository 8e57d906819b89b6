/*
 * cat.c - `shardctl cat SET`: print every record of a set, in stored order,
 * as JSONL. Every frame is verified as it is decoded; a bad replica is
 * skipped for another (with a warning), and with none left cat stops with
 * an error naming the shard and frame, never printing unverified bytes.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "file.h"
#include "set.h"

static const char cat_usage[] =
"usage: shardctl cat SET\n"
"\n"
"Print the records of SET as JSONL, shard by shard in stored order.\n"
"Exit status: 0 all records printed, 1 a frame could not be read from any\n"
"replica (the error names it), 2 usage error.\n";

static void on_warning(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "shardctl: warning: %s\n", msg);
}

int cmd_cat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct sc_manifest *m;
	struct sc_set *set = NULL;
	struct sc_buf buf;
	char err[2048];
	int c, rc, status = EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(cat_usage, stdout);
			return EXIT_OK;
		}
		fputs(cat_usage, stderr);
		return EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		fputs(cat_usage, stderr);
		return EXIT_USAGE;
	}
	rc = sc_set_open(argv[optind], &set, err, sizeof(err));
	if (rc) {
		cmd_error("%s", err);
		return EXIT_FAIL;
	}
	sc_set_on_warning(set, on_warning, NULL);
	m = sc_set_manifest(set);
	sc_buf_init(&buf, (size_t)SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX);
	for (uint64_t s = 0; s < m->nshards; s++) {
		for (uint32_t f = 0; f < m->shards[s].frames; f++) {
			rc = sc_set_read_frame(set, s, f, &buf, err, sizeof(err));
			if (rc) {
				cmd_error("set '%s': %s", argv[optind], err);
				goto out;
			}
			rc = sc_write_all(1, buf.data, buf.len);
			if (rc) {
				cmd_error("writing output: %s", sc_strerror(rc));
				goto out;
			}
		}
	}
	status = EXIT_OK;
out:
	sc_buf_release(&buf);
	sc_set_close(set);
	return status;
}
