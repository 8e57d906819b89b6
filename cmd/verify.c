/*
 * verify.c - `shardctl verify SET [--deep] [--json]`: check every replica
 * of every shard against the manifest (store/verify.h) and say whether
 * the set is healthy. One line per problem on stdout, notes (stale or
 * extra files) marked as such, then a summary; --json gives the same as
 * one object. Exit 0 only when healthy.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "s3.h"
#include "verify.h"

static const char verify_usage[] =
"usage: shardctl verify SET [--deep] [--json] [--quiet] [--s3-endpoint URL]\n"
"\n"
"Check every replica of every shard: present below its node (no symbolic\n"
"link followed), a regular file of the size the manifest records, with\n"
"the SHA-256 it records. Prints one line per problem (shard, replica,\n"
"node, path, what is wrong), notes about stale or extra files, and a\n"
"summary. The manifest itself is checked first (its own SHA-256 and every\n"
"field).\n"
"  --deep    also decode every frame against its checksums and check the\n"
"            record index against the frames (same single read per file)\n"
"  --json    one JSON object instead of lines\n"
"  --quiet   no notes and no summary line: problems only\n"
"\n"
"Exit status: 0 healthy, 4 problems found (the set or its manifest is\n"
"damaged; see 'shardctl repair'), 1 could not check (no set, out of\n"
"memory, output error), 2 usage error.\n";

struct out {
	int json;           /* --json */
	int quiet;          /* --quiet */
	uint64_t printed;   /* JSON problems printed (for commas) */
	struct sc_buf notes;/* JSON: notes kept until the end, each NUL-terminated */
	int notes_full;     /* notes beyond the buffer's cap were dropped */
};

/* A manifest string or path for a terminal: control characters escaped. */
static void shown(const char *s, char *buf, size_t n)
{
	sc_manifest_printable(s, buf, n);
}

static void on_problem(void *ctx, const struct sc_verify_problem *p)
{
	struct out *o = ctx;
	char path[SC_PATH_MAX * 4 + 4], what[4096];

	if (o->json) {
		printf("%s\n  {\"kind\": \"%s\", ", o->printed++ ? "," : "",
		       sc_verify_kind_name(p->kind));
		if (p->shard != UINT64_MAX)
			printf("\"shard\": %" PRIu64 ", \"replica\": %" PRIu32 ", ", p->shard,
			       p->replica);
		printf("\"node\": %" PRIu32 ", ", p->node);
		if (p->frame != UINT32_MAX)
			printf("\"frame\": %" PRIu32 ", ", p->frame);
		printf("\"path\": ");
		cmd_json_str(p->path);
		printf(", \"what\": ");
		cmd_json_str(p->what);
		printf("}");
		return;
	}
	shown(p->path, path, sizeof(path));
	shown(p->what, what, sizeof(what));
	if (p->shard == UINT64_MAX)
		printf("node %" PRIu32 " '%s': %s\n", p->node, path, what);
	else
		printf("shard %" PRIu64 " replica %" PRIu32 " (node %" PRIu32 ") '%s': %s\n",
		       p->shard, p->replica, p->node, path, what);
}

static void on_note(void *ctx, const char *msg)
{
	struct out *o = ctx;
	char buf[8192];

	if (o->quiet)
		return;
	if (o->json) {
		if (sc_buf_append(&o->notes, msg, strlen(msg) + 1))
			o->notes_full = 1;
		return;
	}
	shown(msg, buf, sizeof(buf));
	printf("note: %s\n", buf);
}

/* The manifest could not be loaded: a damaged one is a problem (4). */
static int manifest_failed(struct out *o, const char *set, int rc, const char *err)
{
	/* on S3, only a manifest that was read and rejected is damaged; the
	 * rest (no answer, no access, ...) means it could not be checked */
	int status = rc == SC_ENOTSET || rc == SC_EVERSION || rc == -ENOMEM ||
		     rc == SC_EUSAGE ||
		     (sc_s3_is_location(set) && rc != SC_ECORRUPT && rc != SC_ELIMIT) ?
		     EXIT_FAIL : EXIT_UNHEALTHY;
	char buf[4096];

	if (status == EXIT_FAIL) {
		cmd_error("%s", err);
		return status;
	}
	if (o->json) {
		printf("{\"set\": ");
		cmd_json_str(set);
		printf(", \"healthy\": false, \"manifest_error\": ");
		cmd_json_str(err);
		printf("}\n");
	} else {
		shown(err, buf, sizeof(buf));
		printf("%s\n", buf);
		if (!o->quiet)
			printf("verify: set is damaged: its manifest cannot be trusted, so no "
			       "shard was checked\n");
	}
	return fflush(stdout) ? EXIT_FAIL : status;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "deep", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "s3-endpoint", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct out o = { 0 };
	struct sc_verify_opts vo = { .problem = on_problem, .note = on_note, .ctx = &o };
	struct sc_verify_totals t;
	struct sc_manifest m = { 0 };
	char err[2048], *set;
	int c, rc, healthy, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (c) {
		case 'd': vo.deep = 1; break;
		case 'j': o.json = 1; break;
		case 'q': o.quiet = 1; break;
		case 'e':
			if (cmd_s3_endpoint(optarg))
				return EXIT_USAGE;
			break;
		case 'h':
			fputs(verify_usage, stdout);
			return EXIT_OK;
		default:
			fputs(verify_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(verify_usage, stderr);
		return EXIT_USAGE;
	}
	set = argv[optind];
	rc = sc_manifest_load(set, &m, err, sizeof(err));
	if (rc)
		return manifest_failed(&o, set, rc, err);
	sc_buf_init(&o.notes, 16u << 20);
	if (o.json) {
		printf("{\"set\": ");
		cmd_json_str(set);
		printf(", \"set_id\": \"%s\", \"generation\": %" PRIu64 ", \"deep\": %s,\n"
		       " \"problems\": [", m.set_id, m.generation, vo.deep ? "true" : "false");
	}
	rc = sc_verify_set(set, &m, &vo, NULL, &t);
	if (rc) {
		if (o.json)
			printf("]}\n");
		cmd_error("set '%s': cannot verify: %s", set, sc_strerror(rc));
		status = EXIT_FAIL;
		goto out;
	}
	healthy = t.problems == 0;
	if (o.json) {
		printf("%s],\n \"notes\": [", o.printed ? "\n " : "");
		for (size_t off = 0, k = 0; off < o.notes.len; k++) {
			printf("%s\n  ", k ? "," : "");
			cmd_json_str(o.notes.data + off);
			off += strlen(o.notes.data + off) + 1;
		}
		printf("%s],\n \"notes_truncated\": %s,\n", o.notes.len ? "\n " : "",
		       o.notes_full ? "true" : "false");
		printf(" \"summary\": {\"shards\": %" PRIu64 ", \"replicas\": %" PRIu64
		       ", \"replicas_checked\": %" PRIu64 ", \"replicas_bad\": %" PRIu64
		       ", \"bytes_read\": %" PRIu64 ", \"problems\": %" PRIu64
		       ", \"notes\": %" PRIu64 ", \"shards_degraded\": %" PRIu64
		       ", \"shards_lost\": %" PRIu64 "},\n \"healthy\": %s}\n", t.shards,
		       t.replicas, t.replicas_checked, t.replicas_bad, t.bytes_read, t.problems,
		       t.notes, t.shards_degraded, t.shards_lost, healthy ? "true" : "false");
	} else if (!o.quiet) {
		char bytes[32];

		cmd_fmt_bytes(t.bytes_read, bytes, sizeof(bytes));
		printf("verify: %" PRIu64 " shards, %" PRIu64 " replicas, %" PRIu64 " checked%s, %"
		       PRIu64 " bytes read (%s): ", t.shards, t.replicas, t.replicas_checked,
		       vo.deep ? " deep" : "", t.bytes_read, bytes);
		if (healthy)
			printf("healthy (%" PRIu64 " note%s)\n", t.notes, t.notes == 1 ? "" : "s");
		else
			printf("%" PRIu64 " problem%s, %" PRIu64 " bad replica%s, %" PRIu64
			       " shard%s degraded, %" PRIu64 " shard%s without a good replica\n",
			       t.problems, t.problems == 1 ? "" : "s", t.replicas_bad,
			       t.replicas_bad == 1 ? "" : "s", t.shards_degraded,
			       t.shards_degraded == 1 ? "" : "s", t.shards_lost,
			       t.shards_lost == 1 ? "" : "s");
	}
	status = healthy ? EXIT_OK : EXIT_UNHEALTHY;
out:
	if (fflush(stdout))
		status = EXIT_FAIL;
	sc_buf_release(&o.notes);
	sc_manifest_release(&m);
	return status;
}
