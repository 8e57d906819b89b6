/*
 * ingest.c - `shardctl ingest`: option parsing, progress display and the
 * final summary around sc_ingest_run().
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "ingest.h"
#include "normalize.h"
#include "placement.h"
#include "plan.h"
#include "s3.h"
#include "sc_base.h"

static const char ingest_usage[] =
"usage: shardctl ingest --out SET [options] INPUT...\n"
"\n"
"Read INPUTs (files, directories walked recursively, '-' for stdin; .zst and\n"
".gz are decompressed), validate and normalize every record, drop exact\n"
"duplicates, and pack the rest into zstd shards on the storage nodes.\n"
"\n"
"  --out SET              set root directory (holds manifest.json), or an S3\n"
"                         location s3://BUCKET/PREFIX (S3 nodes only)\n"
"  --node PATH[:WEIGHT]   storage node; repeat for more (default: SET/data);\n"
"                         s3://BUCKET/PREFIX[:WEIGHT] is an S3 location\n"
"  --s3-endpoint URL      S3 endpoint (default AWS_ENDPOINT_URL[_S3], else AWS)\n"
"  --replicas N           copies of each shard, on distinct nodes (default 1)\n"
"  --format jsonl|text    input format (default jsonl)\n"
"  --text-field NAME      JSONL member holding the text (default text)\n"
"  --record-per-file      with --format text: each file is one record\n"
"  --normalize SPEC       default | none | comma list of rules, '-' disables:\n"
"                         newlines,bom,control,nfc,trim (e.g. default,-trim)\n"
"  --dedup exact|near|none  exact-duplicate removal (default exact); near:\n"
"                         exact first, then near duplicates (MinHash-LSH)\n"
"  --near-threshold X     near: remove at estimated similarity >= X (0.8)\n"
"  --near-margin Z        near: ... and >= X + Z standard deviations of the\n"
"                         estimate (default 1; 0 = the bare threshold)\n"
"  --ngram N              near: words per shingle (default 5)\n"
"  --bands N, --rows N    near: LSH bands and minhashes per band (14, 8)\n"
"  --near-report FILE     near: write each removal (removed, kept, similarity)\n"
"  --explain-near         print the near-dup detection curve and exit\n"
"  --max-record-size SIZE longer records are rejected (default 8M)\n"
"  --frame-size SIZE      raw bytes per zstd frame (default 2M)\n"
"  --shard-size SIZE      raw bytes per shard (default 256M)\n"
"  --level N              zstd level 1..19 (default 3)\n"
"  --threads N            worker threads (default: number of cores)\n"
"  --strict               stop at the first rejected record or bad input\n"
"  --resume               continue an interrupted ingest into SET (same options,\n"
"                         inputs and nodes); nothing to do if SET already holds\n"
"                         its result, a fresh ingest if there is none\n"
"  --tasks N              partitioned ingest: N tasks per phase, global dedup\n"
"                         (docs/TASKS.md); inputs must be files\n"
"  --launcher local|slurm|none  run the tasks as a local process pool\n"
"                         (default) or as Slurm job arrays (sbatch) and wait\n"
"                         for them; none: make the plan, print the tasks to\n"
"                         run with 'shardctl ingest-task', and exit\n"
"  --sbatch-args ARGS     with --launcher slurm: more sbatch options, e.g.\n"
"                         \"--partition=cpu --time=4:00:00\"\n"
"  --plan-dir DIR         with --tasks: the task graph and intermediate files\n"
"                         (default SET/.plan; a directory every task sees)\n"
"  --rejects FILE         write every rejected record's file, line, reason\n"
"  --show-rejects N       print at most N rejects on stderr (default 10)\n"
"  --quiet                no progress line and no summary\n"
"  -h, --help             this text\n"
"\n"
"SIZE takes K, M or G suffixes (binary). Exit status: 0 committed, 1 failed\n"
"(the previous set is untouched), 2 usage error (also: --resume of an ingest\n"
"with other options, inputs or nodes, or of stdin), 3 committed but some\n"
"inputs could not be read completely. With --tasks, 1 also when a task\n"
"failed (named with its log; the same command with --resume goes on).\n";

struct ui {
	int tty;        /* stderr is a terminal: show the progress line */
	int quiet;      /* --quiet */
	int line_shown; /* a progress line needs erasing */
};

static void on_message(void *ctx, const char *msg)
{
	struct ui *ui = ctx;

	if (ui->line_shown) {
		fputs("\r\033[K", stderr);
		ui->line_shown = 0;
	}
	fprintf(stderr, "shardctl: %s\n", msg);
}

static void on_progress(void *ctx, const struct sc_ingest_progress *p)
{
	struct ui *ui = ctx;
	double mbs = p->elapsed_s > 0 ? (double)p->bytes_in / 1e6 / p->elapsed_s : 0;
	double rps = p->elapsed_s > 0 ? (double)p->records_in / p->elapsed_s : 0;
	char eta[32] = "?";

	if (!ui->tty || ui->quiet)
		return;
	if (p->bytes_total && p->bytes_read && p->bytes_read <= p->bytes_total) {
		double left = p->elapsed_s * (double)(p->bytes_total - p->bytes_read) /
			      (double)p->bytes_read;

		snprintf(eta, sizeof(eta), "%.0fs", left);
	}
	fprintf(stderr, "\r\033[K%s%" PRIu64 " records (%.0f/s, %.1f MB/s), kept %" PRIu64
		", dups %" PRIu64 ", rejected %" PRIu64 ", ETA %s",
		p->replaying ? "re-reading up to the kept shards: " : "",
		p->records_in, rps, mbs, p->records_kept, p->duplicates, p->rejected, eta);
	ui->line_shown = 1;
}

enum {
	OPT_OUT = 256, OPT_NODE, OPT_REPLICAS, OPT_FORMAT, OPT_TEXT_FIELD,
	OPT_RECORD_PER_FILE, OPT_NORMALIZE, OPT_DEDUP, OPT_MAX_RECORD,
	OPT_FRAME_SIZE, OPT_SHARD_SIZE, OPT_LEVEL, OPT_THREADS, OPT_STRICT,
	OPT_REJECTS, OPT_SHOW_REJECTS, OPT_QUIET, OPT_NEAR_THRESHOLD, OPT_NEAR_MARGIN, OPT_NGRAM,
	OPT_BANDS, OPT_ROWS, OPT_NEAR_REPORT, OPT_EXPLAIN_NEAR, OPT_RESUME,
	OPT_S3_ENDPOINT, OPT_TASKS, OPT_LAUNCHER, OPT_SBATCH_ARGS, OPT_PLAN_DIR,
};

static const struct option ingest_options[] = {
	{ "out", required_argument, NULL, OPT_OUT },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "replicas", required_argument, NULL, OPT_REPLICAS },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "text-field", required_argument, NULL, OPT_TEXT_FIELD },
	{ "record-per-file", no_argument, NULL, OPT_RECORD_PER_FILE },
	{ "normalize", required_argument, NULL, OPT_NORMALIZE },
	{ "dedup", required_argument, NULL, OPT_DEDUP },
	{ "max-record-size", required_argument, NULL, OPT_MAX_RECORD },
	{ "frame-size", required_argument, NULL, OPT_FRAME_SIZE },
	{ "shard-size", required_argument, NULL, OPT_SHARD_SIZE },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "rejects", required_argument, NULL, OPT_REJECTS },
	{ "show-rejects", required_argument, NULL, OPT_SHOW_REJECTS },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "near-threshold", required_argument, NULL, OPT_NEAR_THRESHOLD },
	{ "near-margin", required_argument, NULL, OPT_NEAR_MARGIN },
	{ "ngram", required_argument, NULL, OPT_NGRAM },
	{ "bands", required_argument, NULL, OPT_BANDS },
	{ "rows", required_argument, NULL, OPT_ROWS },
	{ "near-report", required_argument, NULL, OPT_NEAR_REPORT },
	{ "explain-near", no_argument, NULL, OPT_EXPLAIN_NEAR },
	{ "resume", no_argument, NULL, OPT_RESUME },
	{ "tasks", required_argument, NULL, OPT_TASKS },
	{ "launcher", required_argument, NULL, OPT_LAUNCHER },
	{ "sbatch-args", required_argument, NULL, OPT_SBATCH_ARGS },
	{ "plan-dir", required_argument, NULL, OPT_PLAN_DIR },
	{ "s3-endpoint", required_argument, NULL, OPT_S3_ENDPOINT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void cmd_ingest_summary(const struct sc_stats *st, const char *out, int near)
{
	char in[32], kept[32], stored[32];
	double ratio = st->bytes_stored ? (double)st->bytes_kept / (double)st->bytes_stored : 0;

	cmd_fmt_bytes(st->bytes_in, in, sizeof(in));
	cmd_fmt_bytes(st->bytes_kept, kept, sizeof(kept));
	cmd_fmt_bytes(st->bytes_stored, stored, sizeof(stored));
	fprintf(stderr,
		"shardctl: committed '%s': %" PRIu64 " records in, %" PRIu64 " kept, %" PRIu64
		" duplicates, %" PRIu64 " rejected\n"
		"shardctl: %s in, %s kept, %s stored (%.2fx compression), %" PRIu64
		" shards, %.1f s (%.1f MB/s)\n",
		out, st->records_in, st->records_kept, st->duplicates, st->records_rejected,
		in, kept, stored, ratio, st->shards, st->elapsed_s,
		st->elapsed_s > 0 ? (double)st->bytes_in / 1e6 / st->elapsed_s : 0);
	if (near)
		fprintf(stderr, "shardctl: %" PRIu64 " near duplicates in %" PRIu64 " clusters "
			"(largest %" PRIu64 "), LSH index peak %" PRIu64 " bytes\n",
			st->near_duplicates, st->near_clusters, st->near_largest_cluster,
			st->lsh_index_bytes);
	if (st->input_errors)
		fprintf(stderr, "shardctl: %" PRIu64 " input file(s) could not be read "
			"completely (see messages above)\n", st->input_errors);
}

int cmd_ingest(int argc, char **argv)
{
	struct sc_ingest_opts o = {
		.text_field = "text", .normalize = SC_NORM_DEFAULT,
		.dedup = SC_DEDUP_EXACT, .max_record_size = SC_RECORD_SIZE_DEFAULT,
		.frame_size = SC_FRAME_SIZE_DEFAULT, .shard_size = SC_SHARD_SIZE_DEFAULT,
		.zstd_level = SC_ZSTD_LEVEL_DEFAULT, .replicas = 1, .show_rejects = 10,
		.near_threshold = SC_NEAR_THRESHOLD_DEFAULT,
		.near_margin = SC_NEAR_MARGIN_DEFAULT,
	};
	int explain = 0, launcher_given = 0;
	struct ui ui = { .tty = isatty(2) };
	struct cmd_tasks_opts to = { 0 };
	char *node_paths[SC_NODES_MAX];
	uint32_t node_weights[SC_NODES_MAX];
	uint32_t nnodes = 0;
	char *default_node = NULL;
	struct sc_stats st;
	char err[2048];
	uint64_t v;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int c, rc, status = EXIT_USAGE;

	o.threads = cores < 1 ? 1 : cores > SC_THREADS_MAX ? SC_THREADS_MAX : (unsigned)cores;
	sc_near_params_default(&o.near);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", ingest_options, NULL)) != -1) {
		switch (c) {
		case OPT_OUT: o.out = optarg; break;
		case OPT_NODE:
			if (nnodes == SC_NODES_MAX) {
				cmd_error("at most %d --node options", SC_NODES_MAX);
				goto out;
			}
			if (sc_placement_parse_node(optarg, &node_paths[nnodes],
						    &node_weights[nnodes])) {
				cmd_error("--node '%s': expected PATH[:WEIGHT] with WEIGHT 1..%d",
					  optarg, SC_NODE_WEIGHT_MAX);
				goto out;
			}
			nnodes++;
			break;
		case OPT_REPLICAS:
			if (cmd_parse_uint(optarg, 1, SC_REPLICAS_MAX, &v)) {
				cmd_error("--replicas must be 1..%d", SC_REPLICAS_MAX);
				goto out;
			}
			o.replicas = (uint32_t)v;
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "jsonl")) {
				o.format_text = 0;
			} else if (!strcmp(optarg, "text")) {
				o.format_text = 1;
			} else {
				cmd_error("--format must be jsonl or text");
				goto out;
			}
			break;
		case OPT_TEXT_FIELD: o.text_field = optarg; break;
		case OPT_RECORD_PER_FILE: o.record_per_file = 1; break;
		case OPT_NORMALIZE:
			if (sc_normalize_parse_spec(optarg, &o.normalize)) {
				cmd_error("--normalize '%s': expected default, none or rules "
					  "newlines,bom,control,nfc,trim (prefix '-' to disable)",
					  optarg);
				goto out;
			}
			break;
		case OPT_DEDUP:
			if (!strcmp(optarg, "exact")) {
				o.dedup = SC_DEDUP_EXACT;
			} else if (!strcmp(optarg, "near")) {
				o.dedup = SC_DEDUP_NEAR;
			} else if (!strcmp(optarg, "none")) {
				o.dedup = SC_DEDUP_NONE;
			} else {
				cmd_error("--dedup must be exact, near or none");
				goto out;
			}
			break;
		case OPT_MAX_RECORD:
		case OPT_FRAME_SIZE:
		case OPT_SHARD_SIZE:
			if (cmd_parse_size(optarg, &v)) {
				cmd_error("bad size '%s' (examples: 65536, 64K, 1M, 2G)", optarg);
				goto out;
			}
			if (c == OPT_MAX_RECORD)
				o.max_record_size = v;
			else if (c == OPT_FRAME_SIZE)
				o.frame_size = v;
			else
				o.shard_size = v;
			break;
		case OPT_LEVEL:
			if (cmd_parse_uint(optarg, 1, 19, &v)) {
				cmd_error("--level must be 1..19");
				goto out;
			}
			o.zstd_level = (int)v;
			break;
		case OPT_THREADS:
			if (cmd_parse_uint(optarg, 1, SC_THREADS_MAX, &v)) {
				cmd_error("--threads must be 1..%d", SC_THREADS_MAX);
				goto out;
			}
			o.threads = (unsigned)v;
			to.threads = (unsigned)v;
			break;
		case OPT_TASKS:
			if (cmd_parse_uint(optarg, 1, SC_TASKS_MAX, &v)) {
				cmd_error("--tasks must be 1..%d", SC_TASKS_MAX);
				goto out;
			}
			to.tasks = (uint32_t)v;
			break;
		case OPT_LAUNCHER:
			if (strcmp(optarg, "local") && strcmp(optarg, "slurm") &&
			    strcmp(optarg, "none")) {
				cmd_error("--launcher must be local, slurm or none");
				goto out;
			}
			to.slurm = !strcmp(optarg, "slurm");
			to.none = !strcmp(optarg, "none");
			launcher_given = 1;
			break;
		case OPT_SBATCH_ARGS: to.sbatch_args = optarg; break;
		case OPT_PLAN_DIR: to.plan_dir = optarg; break;
		case OPT_STRICT: o.strict = 1; break;
		case OPT_RESUME: o.resume = 1; break;
		case OPT_S3_ENDPOINT:
			if (cmd_s3_endpoint(optarg))
				goto out;
			break;
		case OPT_REJECTS: o.rejects_path = optarg; break;
		case OPT_SHOW_REJECTS:
			if (cmd_parse_uint(optarg, 0, UINT32_MAX, &v)) {
				cmd_error("--show-rejects must be a count");
				goto out;
			}
			o.show_rejects = (unsigned)v;
			break;
		case OPT_QUIET: ui.quiet = 1; break;
		case OPT_NEAR_THRESHOLD: {
			char *end;
			double x = strtod(optarg, &end);

			if (end == optarg || *end || !(x >= 0.0 && x <= 1.0)) {
				cmd_error("--near-threshold must be a number in 0..1");
				goto out;
			}
			o.near_threshold = x;
			break;
		}
		case OPT_NEAR_MARGIN: {
			char *end;
			double x = strtod(optarg, &end);

			if (end == optarg || *end || !(x >= 0.0 && x <= SC_NEAR_MARGIN_MAX)) {
				cmd_error("--near-margin must be a number in 0..%g", SC_NEAR_MARGIN_MAX);
				goto out;
			}
			o.near_margin = x;
			break;
		}
		case OPT_NGRAM:
		case OPT_BANDS:
		case OPT_ROWS: {
			unsigned hi = c == OPT_NGRAM ? SC_NEAR_NGRAM_MAX :
				      c == OPT_BANDS ? SC_NEAR_BANDS_MAX : SC_NEAR_ROWS_MAX;

			if (cmd_parse_uint(optarg, 1, hi, &v)) {
				cmd_error("--%s must be 1..%u", c == OPT_NGRAM ? "ngram" :
					  c == OPT_BANDS ? "bands" : "rows", hi);
				goto out;
			}
			if (c == OPT_NGRAM)
				o.near.ngram = (unsigned)v;
			else if (c == OPT_BANDS)
				o.near.bands = (unsigned)v;
			else
				o.near.rows = (unsigned)v;
			break;
		}
		case OPT_NEAR_REPORT: o.near_report_path = optarg; break;
		case OPT_EXPLAIN_NEAR: explain = 1; break;
		case 'h':
			fputs(ingest_usage, stdout);
			status = EXIT_OK;
			goto out;
		default:
			fputs(ingest_usage, stderr);
			goto out;
		}
	}
	if (o.near.bands * o.near.rows > SC_NEAR_HASHES_MAX) {
		cmd_error("--bands x --rows must be at most %d", SC_NEAR_HASHES_MAX);
		goto out;
	}
	if (explain) {
		status = sc_near_print_curve(stdout, &o.near, o.near_threshold, o.near_margin) ? EXIT_FAIL : EXIT_OK;
		goto out;
	}
	if (!o.out) {
		cmd_error("ingest: --out SET is required");
		fputs(ingest_usage, stderr);
		goto out;
	}
	if (sc_s3_is_location(o.out) && (o.resume || to.tasks)) {
		/* docs/S3.md section 9: a root on S3 has no journal or plan */
		cmd_error("ingest: --out '%s': %s is not supported yet for a set root on S3 "
			  "(a plain ingest is)", o.out, o.resume ? "--resume" : "--tasks");
		goto out;
	}
	if (optind >= argc) {
		cmd_error("ingest: no inputs given (use '-' for stdin)");
		goto out;
	}
	if (nnodes == 0) {
		if (asprintf(&default_node, "%s/data", o.out) < 0) {
			status = EXIT_FAIL;
			goto out;
		}
		node_paths[0] = default_node;
		node_weights[0] = 1;
		nnodes = 1;
		default_node = NULL;
	}
	if (o.replicas > nnodes) {
		cmd_error("--replicas %u needs at least %u distinct --node options (have %u)",
			  o.replicas, o.replicas, nnodes);
		goto out;
	}
	if (!to.tasks && (launcher_given || to.sbatch_args || to.plan_dir)) {
		cmd_error("--launcher, --sbatch-args and --plan-dir need --tasks N");
		goto out;
	}
	if (to.sbatch_args && !to.slurm) {
		cmd_error("--sbatch-args needs --launcher slurm");
		goto out;
	}
	o.inputs = argv + optind;
	o.ninputs = (size_t)(argc - optind);
	o.node_paths = node_paths;
	o.node_weights = node_weights;
	o.nnodes = nnodes;
	o.progress = on_progress;
	o.message = on_message;
	o.cb_ctx = &ui;
	if (to.tasks) {
		to.resume = o.resume;
		to.quiet = ui.quiet;
		to.tty = ui.tty;
		status = cmd_ingest_tasks(&o, &to, &st);
		if ((status == EXIT_OK || status == EXIT_PARTIAL) && !ui.quiet && !to.none)
			cmd_ingest_summary(&st, o.out, o.dedup == SC_DEDUP_NEAR);
		goto out;
	}
	rc = sc_ingest_run(&o, &st, err, sizeof(err));
	if (ui.line_shown)
		fputs("\r\033[K", stderr);
	if (rc) {
		cmd_error("ingest failed: %s", err);
		status = rc == SC_EUSAGE ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (!ui.quiet)
		cmd_ingest_summary(&st, o.out, o.dedup == SC_DEDUP_NEAR);
	status = st.input_errors ? EXIT_PARTIAL : EXIT_OK;
out:
	for (uint32_t i = 0; i < nnodes; i++)
		free(node_paths[i]);
	free(default_node);
	return status;
}
