/*
 * main.c - shardctl entry point: dispatches to the subcommand named by the
 * first argument, from a table (one file per subcommand in cmd/).
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "sc_base.h"

struct subcommand {
	const char *name;                 /* as typed */
	int (*fn)(int argc, char **argv); /* argv[0] is the name */
	const char *summary;              /* one line for the overview */
};

static const struct subcommand commands[] = {
	{ "ingest", cmd_ingest, "validate, normalize, dedup and pack inputs into a shard set" },
	{ "stats", cmd_stats, "show what a set holds and what ingest saved" },
	{ "cat", cmd_cat, "print a set's records as JSONL (in order, shuffled, or one rank's part)" },
	{ "bench-read", cmd_bench_read, "measure how fast a set is read (io_uring and pread)" },
	{ "mount", cmd_mount, "mount a set read-only as JSONL files (FUSE)" },
	{ "umount", cmd_umount, "unmount a set mounted with 'shardctl mount'" },
	{ "verify", cmd_verify, "check every replica against the manifest (size, SHA-256, frames)" },
	{ "repair", cmd_repair, "rebuild missing or corrupt replicas from good ones" },
	{ "rebalance", cmd_rebalance, "move replicas to a new node layout, moving little data" },
	{ "ingest-task", cmd_ingest_task, "run one task of a partitioned ingest (ingest --tasks)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: shardctl <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < SC_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'shardctl <command> --help' describes a command; "
		   "'shardctl --version' prints the version.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("shardctl %s\n", SC_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < SC_ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	cmd_error("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
