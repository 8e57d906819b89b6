/*
 * cat.c - `shardctl cat SET`: print records of a set as JSONL, in stored
 * order or shuffled, whole or one rank's/worker's part, through the reader
 * library (include/shardctl.h). Every frame is verified as it is decoded;
 * a bad replica is skipped for another (with a warning), and with none
 * left cat stops with an error naming the shard and frame, never printing
 * unverified bytes. --limit and --save-state stop early and write a state
 * that --resume continues from.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "file.h"

static const char cat_usage[] =
"usage: shardctl cat SET [options]\n"
"\n"
"Print the records of SET as JSONL (stored order unless --shuffle).\n"
"  --limit N              stop after N records\n"
"  --save-state FILE      at the end (or the limit) write a resume state\n";

static void usage(FILE *f)
{
	fprintf(f, "%s%s", cat_usage, cmd_read_opts_help);
	fprintf(f, "Exit status: 0 all records printed; 1 the set could not be opened, a frame\n"
		   "could not be read from any replica (the error names it), a damaged resume\n"
		   "state, or output failed; 2 usage error (bad option values, a resume state\n"
		   "taken with other options).\n");
}

/* Write out [p, p+n) with newlines after each record of the batch. */
static int write_batch(const struct sc_records *b, uint64_t n, struct sc_buf *w)
{
	w->len = 0;
	for (uint64_t i = 0; i < n; i++) {
		int rc = sc_buf_append(w, b->base + b->offsets[i],
				       b->offsets[i + 1] - b->offsets[i]);

		if (!rc)
			rc = sc_buf_putc(w, '\n');
		if (rc)
			return rc;
	}
	return sc_write_all(1, w->data, w->len);
}

int cmd_cat(int argc, char **argv)
{
	static const struct option own[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "limit", required_argument, NULL, 'l' },
		{ "save-state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct option opts[64];
	struct cmd_read_opts ro;
	struct sc_reader *r = NULL;
	struct sc_records b;
	struct sc_buf w;
	const char *save = NULL;
	uint64_t limit = UINT64_MAX, done = 0, unused = 0;
	int c, rc, status = EXIT_FAIL;

	cmd_read_opts_init(&ro);
	sc_buf_init(&w, (size_t)1 << 40);
	if (cmd_read_merge_opts(own, SC_ARRAY_LEN(own), opts, SC_ARRAY_LEN(opts)))
		return EXIT_FAIL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int k = cmd_read_opt(c, optarg, &ro);

		if (k < 0) {
			status = EXIT_USAGE;
			goto out;
		}
		if (k)
			continue;
		switch (c) {
		case 'h':
			usage(stdout);
			status = EXIT_OK;
			goto out;
		case 'l':
			if (cmd_parse_uint(optarg, 0, UINT64_MAX, &limit)) {
				cmd_error("--limit: '%s' is not a number", optarg);
				status = EXIT_USAGE;
				goto out;
			}
			break;
		case 's':
			save = optarg;
			break;
		default:
			usage(stderr);
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		status = EXIT_USAGE;
		goto out;
	}
	status = cmd_read_open(argv[optind], &ro, &r);
	if (status != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	while (done < limit) {
		uint64_t n;

		rc = sc_reader_next(r, 4096, 4u << 20, &b);
		if (rc < 0) {
			cmd_error("set '%s': %s", argv[optind], sc_reader_error(r));
			goto out;
		}
		if (rc == 0)
			break;
		n = b.count;
		if (n > limit - done) {
			unused = n - (limit - done);
			n = limit - done;
		}
		rc = write_batch(&b, n, &w);
		if (rc) {
			cmd_error("writing output: %s", sc_strerror(rc));
			goto out;
		}
		done += n;
	}
	if (save) {
		unsigned char st[256];
		size_t len = sc_reader_state(r, unused, st, sizeof(st));

		rc = len <= sizeof(st) ? sc_write_file_atomic(save, st, len) : SC_ELIMIT;
		if (rc) {
			cmd_error("--save-state '%s': %s", save, sc_strerror(rc));
			goto out;
		}
	}
	status = EXIT_OK;
out:
	sc_reader_close(r);
	cmd_read_opts_release(&ro);
	sc_buf_release(&w);
	return status;
}
