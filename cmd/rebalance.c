/*
 * rebalance.c - `shardctl rebalance SET --node PATH[:WEIGHT] ...
 * [--remove-node PATH] [--dry-run]`: move a set's replicas to a new node
 * layout with as little data moved as placement allows
 * (store/rebalance.h), then show the bytes moved against the ideal and
 * every node's balance before and after.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "rebalance.h"

static const char rebalance_usage[] =
"usage: shardctl rebalance SET [--node PATH[:WEIGHT]]... [--remove-node PATH]...\n"
"                          [--dry-run] [--quiet] [--s3-endpoint URL]\n"
"\n"
"Move the replicas of SET to a new node layout: the set's nodes, plus each\n"
"--node (a node already in the set takes the new WEIGHT, if one is given),\n"
"minus each --remove-node. Replicas on removed nodes move; then replicas\n"
"move from nodes above their weight share to nodes below theirs until every\n"
"node is within half a shard of its share; every other replica stays where\n"
"it is (docs/PLACEMENT.md, 'Rebalancing'). Moved replicas are copied with\n"
"their SHA-256 checked, kept ones hard-linked, and the new layout is\n"
"committed as a new generation, manifest last: a rebalance killed at any\n"
"point leaves the old or the new layout, both complete, and can be run\n"
"again. The old generation's files are removed after the commit. A PATH\n"
"may be an S3 location, s3://BUCKET/PREFIX: replicas that stay there are\n"
"copied server-side, replicas moving there are uploaded (and checked).\n"
"SET may be an S3 location too; its nodes must then all be S3 locations\n"
"(the manifest is read again just before the commit, as ingest does).\n"
"  --node PATH[:WEIGHT]   add a node (weight 1..1000000, default 1) or\n"
"                         reweight one of the set; repeat for more\n"
"  --remove-node PATH     move every replica off this node and drop it\n"
"  --dry-run              show the moves and the balance; change nothing\n"
"  --quiet                no line per moved replica\n"
"  --s3-endpoint URL      S3 endpoint (default AWS_ENDPOINT_URL[_S3], else AWS)\n"
"\n"
"Exit status: 0 done (or nothing to do), 1 failed (nothing committed: the\n"
"set is as it was), 2 usage error (also: fewer nodes than replicas left).\n";

struct ui {
	int quiet;   /* --quiet */
};

static void on_event(void *ctx, const char *msg)
{
	struct ui *ui = ctx;
	char buf[8192];

	if (ui->quiet)
		return;
	sc_manifest_printable(msg, buf, sizeof(buf));
	printf("%s\n", buf);
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void print_balance(const struct sc_rebalance_result *res)
{
	static const char *const state[] = { "", " (added)", " (removed)" };
	char before[32], after[32], in[32];

	printf("\n%-5s %-7s %-7s %-20s %-20s %-11s %s\n", "node", "weight", "target",
	       "before (share)", "after (share)", "moved in", "path");
	for (uint32_t k = 0; k < res->nnodes; k++) {
		const struct sc_rebalance_node *n = &res->node[k];
		char b[40], a[40], t[16], path[SC_PATH_MAX * 4 + 4];

		cmd_fmt_bytes(n->bytes_before, before, sizeof(before));
		cmd_fmt_bytes(n->bytes_after, after, sizeof(after));
		cmd_fmt_bytes(n->bytes_in, in, sizeof(in));
		snprintf(b, sizeof(b), "%s %5.1f%%", before, share(n->bytes_before,
								    res->bytes_total));
		snprintf(a, sizeof(a), "%s %5.1f%%", after, share(n->bytes_after,
								   res->bytes_total));
		if (n->state == 2)
			snprintf(t, sizeof(t), "-");
		else
			snprintf(t, sizeof(t), "%.1f%%", share(n->target, res->bytes_total));
		sc_manifest_printable(n->path, path, sizeof(path));
		printf("%-5" PRIu32 " %-7" PRIu32 " %-7s %-20s %-20s %-11s %s%s\n", k, n->weight,
		       t, b, a, in, path, state[n->state]);
	}
}

int cmd_rebalance(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "remove-node", required_argument, NULL, 'R' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "s3-endpoint", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ui ui = { 0 };
	struct sc_rebalance_opts ro = { .event = on_event, .ctx = &ui };
	struct sc_rebalance_result res = { 0 };
	char **add = NULL, **rm = NULL, err[2048], moved[32], ideal[32];
	uint32_t nadd = 0, nrm = 0;
	int c, rc, status = EXIT_FAIL;

	add = calloc((size_t)argc, sizeof(char *));
	rm = calloc((size_t)argc, sizeof(char *));
	if (!add || !rm) {
		cmd_error("out of memory");
		goto out;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "hnq", opts, NULL)) != -1) {
		switch (c) {
		case 'N': add[nadd++] = optarg; break;
		case 'R': rm[nrm++] = optarg; break;
		case 'n': ro.dry_run = 1; break;
		case 'q': ui.quiet = 1; break;
		case 'e':
			if (cmd_s3_endpoint(optarg)) {
				status = EXIT_USAGE;
				goto out;
			}
			break;
		case 'h':
			fputs(rebalance_usage, stdout);
			status = EXIT_OK;
			goto out;
		default:
			fputs(rebalance_usage, stderr);
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (optind + 1 != argc) {
		fputs(rebalance_usage, stderr);
		status = EXIT_USAGE;
		goto out;
	}
	if (nadd + nrm > SC_NODES_MAX * 2) {
		cmd_error("too many --node and --remove-node options");
		status = EXIT_USAGE;
		goto out;
	}
	ro.root = argv[optind];
	ro.add = add;
	ro.nadd = nadd;
	ro.remove = rm;
	ro.nremove = nrm;
	rc = sc_rebalance_run(&ro, &res, err, sizeof(err));
	fflush(stdout);
	if (rc) {
		if (res.exec.generation)
			cmd_error("%s (generation %" PRIu64 " was committed: run rebalance again "
				  "to finish)", err, res.exec.generation);
		else
			cmd_error("%s", err);
		status = rc == SC_EUSAGE ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	print_balance(&res);
	cmd_fmt_bytes(res.bytes_moved, moved, sizeof(moved));
	cmd_fmt_bytes(res.bytes_ideal, ideal, sizeof(ideal));
	printf("\nrebalance: %s%" PRIu64 " replica%s moved, %" PRIu64 " bytes (%s; the ideal, "
	       "ignoring shard boundaries: %" PRIu64 " bytes, %s)", ro.dry_run ? "dry run: " : "",
	       res.replicas_moved, res.replicas_moved == 1 ? "" : "s", res.bytes_moved, moved,
	       res.bytes_ideal, ideal);
	if (res.exec.generation)
		printf("; committed generation %" PRIu64 "\n", res.exec.generation);
	else if (!ro.dry_run)
		printf("; nothing to do, the set is unchanged\n");
	else
		printf("\n");
	status = EXIT_OK;
out:
	sc_rebalance_result_release(&res);
	free(add);
	free(rm);
	if (fflush(stdout))
		status = EXIT_FAIL;
	return status;
}
