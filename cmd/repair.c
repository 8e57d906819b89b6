/*
 * repair.c - `shardctl repair SET [--dry-run]`: check every replica, then
 * rebuild each missing or corrupt one from a good replica and commit the
 * result as a new generation (store/repair.h). The problems found, each
 * action and a summary go to stdout; the exit status says whether the
 * set is healthy at the end.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "repair.h"

static const char repair_usage[] =
"usage: shardctl repair SET [--dry-run] [--quiet] [--s3-endpoint URL]\n"
"\n"
"Check every replica as 'shardctl verify' does, then rebuild each missing\n"
"or corrupt one by copying a good replica (its SHA-256 checked while\n"
"copying): on its own node when that node is usable, else on the node the\n"
"placement rule picks among the usable nodes with room that hold no\n"
"replica of the shard. The copies are written beside the committed set and\n"
"committed as a new generation, manifest last, so the set stays valid if\n"
"repair is killed at any point; the next run removes what a killed one\n"
"left. A shard with no good replica is reported and kept as it is; the\n"
"others are still repaired. A second run finds nothing to do. Nodes may be\n"
"S3 locations (s3://BUCKET/PREFIX): replicas kept there are copied\n"
"server-side into the new generation, rebuilt ones uploaded. SET may be an\n"
"S3 location too (no lock there: the manifest is read again just before\n"
"the commit, and nothing is committed if another writer committed since).\n"
"  --dry-run          check and say what would be done; change nothing\n"
"  --quiet            no line per replica, only problems that remain and errors\n"
"  --s3-endpoint URL  S3 endpoint (default AWS_ENDPOINT_URL[_S3], else AWS)\n"
"\n"
"Exit status: 0 the set is healthy (after repairing, or already), 4 some\n"
"replica could not be repaired (no good copy, or no node can take it; with\n"
"--dry-run: something needs repairing), 1 failed (nothing committed: the\n"
"set is as it was), 2 usage error.\n";

struct ui {
	int quiet;   /* --quiet */
};

static void on_problem(void *ctx, const struct sc_verify_problem *p)
{
	struct ui *ui = ctx;
	char path[SC_PATH_MAX * 4 + 4], what[4096];

	if (ui->quiet)
		return;
	sc_manifest_printable(p->path, path, sizeof(path));
	sc_manifest_printable(p->what, what, sizeof(what));
	if (p->shard == UINT64_MAX)
		printf("node %" PRIu32 " '%s': %s\n", p->node, path, what);
	else
		printf("shard %" PRIu64 " replica %" PRIu32 " (node %" PRIu32 ") '%s': %s\n",
		       p->shard, p->replica, p->node, path, what);
}

static void on_event(void *ctx, const char *msg)
{
	struct ui *ui = ctx;
	char buf[8192];

	if (ui->quiet)
		return;
	sc_manifest_printable(msg, buf, sizeof(buf));
	printf("%s\n", buf);
}

static void on_left(void *ctx, const char *msg)
{
	char buf[8192];

	(void)ctx;
	sc_manifest_printable(msg, buf, sizeof(buf));
	cmd_error("%s", buf);
}

int cmd_repair(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "s3-endpoint", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ui ui = { 0 };
	struct sc_repair_opts ro = { .problem = on_problem, .event = on_event,
				     .left = on_left, .ctx = &ui };
	struct sc_repair_result res;
	char err[2048], bytes[32];
	int c, rc, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hnq", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ro.dry_run = 1; break;
		case 'q': ui.quiet = 1; break;
		case 'e':
			if (cmd_s3_endpoint(optarg))
				return EXIT_USAGE;
			break;
		case 'h':
			fputs(repair_usage, stdout);
			return EXIT_OK;
		default:
			fputs(repair_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(repair_usage, stderr);
		return EXIT_USAGE;
	}
	ro.root = argv[optind];
	rc = sc_repair_run(&ro, &res, err, sizeof(err));
	fflush(stdout);
	if (rc) {
		if (res.exec.generation)
			cmd_error("%s (generation %" PRIu64 " was committed: run repair again "
				  "to finish)", err, res.exec.generation);
		else
			cmd_error("%s", err);
		return EXIT_FAIL;
	}
	if (res.scan.replicas_bad == 0 && res.scan.problems == 0) {
		printf("repair: nothing to repair: %" PRIu64 " shards, all %" PRIu64
		       " replicas good\n", res.scan.shards, res.scan.replicas);
	} else if (ro.dry_run) {
		printf("repair: dry run: %" PRIu64 " bad replica%s, %" PRIu64 " would be "
		       "rebuilt (%" PRIu64 " on another node), %" PRIu64 " cannot be\n",
		       res.scan.replicas_bad, res.scan.replicas_bad == 1 ? "" : "s",
		       res.replicas_rebuilt, res.replicas_moved, res.replicas_unrepairable);
	} else if (res.replicas_rebuilt == 0) {
		printf("repair: nothing could be repaired; the set is unchanged\n");
	} else {
		char server[64] = "";

		cmd_fmt_bytes(res.exec.bytes_copied, bytes, sizeof(bytes));
		if (res.exec.replicas_server_copied)
			snprintf(server, sizeof(server), ", %" PRIu64 " by server-side copy on S3",
				 res.exec.replicas_server_copied);
		printf("repair: rebuilt %" PRIu64 " replica%s (%" PRIu64 " on another node), %"
		       PRIu64 " bytes copied (%s), %" PRIu64 " kept by hard link%s; committed "
		       "generation %" PRIu64 "\n", res.exec.replicas_copied,
		       res.exec.replicas_copied == 1 ? "" : "s", res.replicas_moved,
		       res.exec.bytes_copied, bytes, res.exec.replicas_linked, server,
		       res.exec.generation);
	}
	status = EXIT_OK;
	if (res.replicas_unrepairable || res.shards_lost) {
		cmd_error("%" PRIu64 " replica%s could not be repaired (%" PRIu64 " shard%s "
			  "without any good replica)%s", res.replicas_unrepairable,
			  res.replicas_unrepairable == 1 ? "" : "s", res.shards_lost,
			  res.shards_lost == 1 ? "" : "s", "; see the lines above");
		status = EXIT_UNHEALTHY;
	} else if (ro.dry_run && res.scan.replicas_bad) {
		status = EXIT_UNHEALTHY;
	}
	return fflush(stdout) ? EXIT_FAIL : status;
}
