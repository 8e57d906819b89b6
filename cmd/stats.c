/*
 * stats.c - `shardctl stats SET [--json]`: what a set holds and what the
 * ingest saved, from the manifest alone (no shard is read). The human
 * table and the JSON carry the same numbers.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "json.h"
#include "lsh.h"
#include "normalize.h"
#include "set.h"
#include "utf8.h"

static const char stats_usage[] =
"usage: shardctl stats SET [--json]\n"
"\n"
"Show records in / kept / duplicates / rejected by reason, bytes in /\n"
"normalized / stored, compression and dedup ratios, per-shard compression\n"
"(min, median, max) and bytes per node against its weight share.\n"
"  --json    the same as one JSON object\n";

struct node_use {
	uint64_t bytes;   /* replica bytes on the node */
	uint64_t shards;  /* replicas on the node */
};

struct summary {
	double ratio_min, ratio_median, ratio_max; /* per-shard raw/stored */
	double compression;                        /* kept bytes / stored bytes */
	double dedup;                              /* accepted records / kept */
	double overall;                            /* decoded input / stored */
	uint64_t total_replica_bytes;              /* all replicas */
	uint64_t weight_total;
	struct node_use *nodes;                    /* [nnodes] */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double div0(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* a + b, or UINT64_MAX when that does not fit (a hostile manifest's
 * stored_bytes add up to at most 2^64 - 1 per replica, not over all) */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t c;

	return __builtin_add_overflow(a, b, &c) ? UINT64_MAX : c;
}

static int summarize(const struct sc_manifest *m, struct summary *s)
{
	const struct sc_stats *st = &m->stats;
	double *r = NULL;

	memset(s, 0, sizeof(*s));
	s->nodes = calloc(m->nnodes, sizeof(*s->nodes));
	if (!s->nodes)
		return -1;
	if (m->nshards) {
		r = malloc(m->nshards * sizeof(double));
		if (!r)
			return -1;
	}
	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct sc_manifest_shard *sh = &m->shards[i];

		r[i] = div0((double)sh->raw_bytes, (double)sh->stored_bytes);
		for (uint32_t k = 0; k < sh->nreplicas; k++) {
			/* the manifest reader checked replica[k] < nnodes */
			struct node_use *u = &s->nodes[sh->replica[k]];

			u->bytes = sat_add(u->bytes, sh->stored_bytes);
			u->shards++;
			s->total_replica_bytes = sat_add(s->total_replica_bytes,
							 sh->stored_bytes);
		}
	}
	if (m->nshards) {
		qsort(r, m->nshards, sizeof(double), cmp_double);
		s->ratio_min = r[0];
		s->ratio_max = r[m->nshards - 1];
		s->ratio_median = m->nshards % 2 ? r[m->nshards / 2]
			: (r[m->nshards / 2 - 1] + r[m->nshards / 2]) / 2;
	}
	free(r);
	for (uint32_t i = 0; i < m->nnodes; i++)
		s->weight_total += m->nodes[i].weight;
	s->compression = div0((double)st->bytes_kept, (double)st->bytes_stored);
	s->dedup = div0((double)(st->records_in - st->records_rejected),
			(double)st->records_kept);
	s->overall = div0((double)st->bytes_in, (double)st->bytes_stored);
	return 0;
}

static void pct(char *buf, size_t n, uint64_t part, uint64_t whole)
{
	snprintf(buf, n, "%.2f%%", whole ? 100.0 * (double)part / (double)whole : 0.0);
}

/*
 * Strings from the manifest (and the set path) for the terminal: control
 * characters escaped, so a hostile manifest cannot send escape sequences.
 * Free with free(); NULL when out of memory.
 */
static char *printable(const char *s)
{
	size_t n = 4 * strlen(s) + 4; /* always enough: manifest.h */
	char *p = malloc(n);

	if (p)
		sc_manifest_printable(s, p, n);
	return p;
}

enum { P_ROOT, P_CREATED, P_TOOL, P_FORMAT, P_FIELD, P_DEDUP, P__COUNT };

static int print_human(const char *root, const struct sc_manifest *m,
		       const struct summary *s)
{
	const struct sc_stats *st = &m->stats;
	const struct sc_manifest_config *c = &m->config;
	char a[32], b[32], norm[128], p[32], *t[P__COUNT];
	int rc = -1;

	t[P_ROOT] = printable(root);
	t[P_CREATED] = printable(m->created);
	t[P_TOOL] = printable(m->tool ? m->tool : "");
	t[P_FORMAT] = printable(c->input_format);
	t[P_FIELD] = printable(c->text_field);
	t[P_DEDUP] = printable(c->dedup);
	for (int i = 0; i < P__COUNT; i++)
		if (!t[i])
			goto out;
	sc_normalize_format_spec(c->normalize, norm, sizeof(norm));
	printf("set            %s\n", t[P_ROOT]);
	printf("set id         %s (generation %" PRIu64 ", committed %s by %s)\n",
	       m->set_id, m->generation, t[P_CREATED], t[P_TOOL]);
	printf("config         format %s, text field '%s', normalize %s (v%u), dedup %s\n",
	       t[P_FORMAT], t[P_FIELD], norm, c->normalize_version, t[P_DEDUP]);
	printf("               frame %" PRIu64 " B, shard %" PRIu64 " B, zstd level %d, replicas %u\n",
	       c->frame_size, c->shard_size, c->zstd_level, c->replicas);
	printf("\nrecords\n");
	printf("  in           %" PRIu64 "  (from %" PRIu64 " files, %" PRIu64
	       " blank lines skipped, %" PRIu64 " input errors)\n",
	       st->records_in, st->input_files, st->lines_blank, st->input_errors);
	pct(p, sizeof(p), st->records_kept, st->records_in);
	printf("  kept         %" PRIu64 "  (%s)\n", st->records_kept, p);
	pct(p, sizeof(p), st->duplicates, st->records_in);
	printf("  duplicates   %" PRIu64 "  (%s)\n", st->duplicates, p);
	if (!strcmp(c->dedup, "near")) {
		pct(p, sizeof(p), st->near_duplicates, st->records_in);
		printf("  near dups    %" PRIu64 "  (%s) in %" PRIu64 " clusters, largest %" PRIu64
		       " records\n", st->near_duplicates, p, st->near_clusters,
		       st->near_largest_cluster);
		printf("    near-dup   %u-word shingles, %u bands x %u rows, threshold %.3f, margin "
		       "%.2f sd (near v%u), LSH index peak %" PRIu64 " B", c->near_ngram,
		       c->near_bands, c->near_rows, c->near_threshold, c->near_margin,
		       c->near_version, st->lsh_index_bytes);
		if (st->records_kept)
			printf(" (%.1f B per kept record)",
			       (double)st->lsh_index_bytes / (double)st->records_kept);
		printf("\n");
		if (st->near_capped)
			printf("    near-dup   %" PRIu64 " lookups reached the cap of %u candidates "
			       "(the rest were not compared)\n", st->near_capped,
			       SC_LSH_CANDIDATES_MAX);
	}
	pct(p, sizeof(p), st->records_rejected, st->records_in);
	printf("  rejected     %" PRIu64 "  (%s)\n", st->records_rejected, p);
	for (int r = 1; r < SC_REJECT__COUNT; r++)
		if (st->rejected[r])
			printf("    %-20s %" PRIu64 "\n", sc_reject_name((enum sc_reject)r),
			       st->rejected[r]);
	printf("  normalized   %" PRIu64 "  (text changed by normalization)\n",
	       st->records_normalized);
	printf("\nbytes\n");
	cmd_fmt_bytes(st->bytes_in_disk, a, sizeof(a));
	cmd_fmt_bytes(st->bytes_in, b, sizeof(b));
	printf("  in           %s decoded (%s on disk)\n", b, a);
	cmd_fmt_bytes(st->bytes_text_in, a, sizeof(a));
	cmd_fmt_bytes(st->bytes_text_kept, b, sizeof(b));
	printf("  text         %s accepted, %s kept after normalization and dedup\n", a, b);
	cmd_fmt_bytes(st->bytes_kept, a, sizeof(a));
	printf("  normalized   %s (kept records as JSONL)\n", a);
	cmd_fmt_bytes(st->bytes_stored, a, sizeof(a));
	cmd_fmt_bytes(s->total_replica_bytes, b, sizeof(b));
	printf("  stored       %s per replica, %s with all replicas\n", a, b);
	printf("\nratios\n");
	printf("  compression  %.3fx (normalized / stored)\n", s->compression);
	printf("  dedup        %.3fx (accepted records / kept)\n", s->dedup);
	printf("  overall      %.3fx (decoded input / stored)\n", s->overall);
	printf("\nshards         %" PRIu64 " shards, %" PRIu64 " frames, %" PRIu64
	       " B dedup index peak\n", m->nshards, st->frames, st->dedup_index_bytes);
	printf("  compression  min %.3fx, median %.3fx, max %.3fx\n", s->ratio_min,
	       s->ratio_median, s->ratio_max);
	printf("\nnodes          %-8s %-8s %-14s %-8s %-7s %s\n", "weight", "target",
	       "bytes", "share", "shards", "path");
	for (uint32_t i = 0; i < m->nnodes; i++) {
		char tgt[32], share[32], *path = printable(m->nodes[i].path);

		if (!path)
			goto out;
		pct(tgt, sizeof(tgt), m->nodes[i].weight, s->weight_total);
		pct(share, sizeof(share), s->nodes[i].bytes, s->total_replica_bytes);
		cmd_fmt_bytes(s->nodes[i].bytes, a, sizeof(a));
		printf("  %-12u %-8u %-8s %-14s %-8s %-7" PRIu64 " %s\n", i, m->nodes[i].weight,
		       tgt, a, share, s->nodes[i].shards, path);
		free(path);
	}
	rc = 0;
out:
	for (int i = 0; i < P__COUNT; i++)
		free(t[i]);
	return rc;
}

static void print_json(const char *root, const struct sc_manifest *m,
		       const struct summary *s)
{
	const struct sc_stats *st = &m->stats;
	const struct sc_manifest_config *c = &m->config;
	char norm[128];

	sc_normalize_format_spec(c->normalize, norm, sizeof(norm));
	printf("{\"set\": ");
	cmd_json_str(root);
	printf(", \"set_id\": ");
	cmd_json_str(m->set_id);
	printf(", \"generation\": %" PRIu64 ", \"created\": ", m->generation);
	cmd_json_str(m->created);
	printf(", \"tool\": ");
	cmd_json_str(m->tool ? m->tool : "");
	printf(",\n \"config\": {\"input_format\": ");
	cmd_json_str(c->input_format);
	printf(", \"text_field\": ");
	cmd_json_str(c->text_field);
	printf(", \"record_per_file\": %s, \"normalize\": ",
	       c->record_per_file ? "true" : "false");
	cmd_json_str(norm);
	printf(", \"normalize_version\": %u, \"dedup\": ", c->normalize_version);
	cmd_json_str(c->dedup);
	printf(", \"frame_size\": %" PRIu64 ", \"shard_size\": %" PRIu64
	       ", \"zstd_level\": %d, \"replicas\": %u, \"max_record_size\": %" PRIu64 "},\n",
	       c->frame_size, c->shard_size, c->zstd_level, c->replicas, c->max_record_size);
	printf(" \"records\": {\"in\": %" PRIu64 ", \"kept\": %" PRIu64 ", \"duplicates\": %" PRIu64
	       ", \"rejected\": %" PRIu64 ", \"normalized\": %" PRIu64 ", \"blank_lines\": %" PRIu64
	       ", \"input_files\": %" PRIu64 ", \"input_errors\": %" PRIu64 ", \"rejected_by_reason\": {",
	       st->records_in, st->records_kept, st->duplicates, st->records_rejected,
	       st->records_normalized, st->lines_blank, st->input_files, st->input_errors);
	for (int r = 1; r < SC_REJECT__COUNT; r++)
		printf("%s\"%s\": %" PRIu64, r > 1 ? ", " : "",
		       sc_reject_name((enum sc_reject)r), st->rejected[r]);
	printf("}},\n");
	if (!strcmp(c->dedup, "near"))
		printf(" \"near\": {\"near_duplicates\": %" PRIu64 ", \"near_clusters\": %" PRIu64
		       ", \"near_largest_cluster\": %" PRIu64 ", \"lsh_index_bytes\": %" PRIu64
		       ", \"near_capped\": %" PRIu64
		       ", \"ngram\": %u, \"bands\": %u, \"rows\": %u, \"threshold\": %.6f"
		       ", \"margin\": %.6f, \"near_version\": %u},\n", st->near_duplicates,
		       st->near_clusters, st->near_largest_cluster, st->lsh_index_bytes,
		       st->near_capped, c->near_ngram, c->near_bands, c->near_rows,
		       c->near_threshold, c->near_margin, c->near_version);
	printf(" \"bytes\": {\"in_disk\": %" PRIu64 ", \"in\": %" PRIu64
	       ", \"text_in\": %" PRIu64 ", \"text_kept\": %" PRIu64 ", \"normalized\": %" PRIu64
	       ", \"stored\": %" PRIu64 ", \"stored_all_replicas\": %" PRIu64
	       ", \"dedup_index_peak\": %" PRIu64 "},\n",
	       st->bytes_in_disk, st->bytes_in, st->bytes_text_in, st->bytes_text_kept,
	       st->bytes_kept, st->bytes_stored, s->total_replica_bytes, st->dedup_index_bytes);
	printf(" \"ratios\": {\"compression\": %.6f, \"dedup\": %.6f, \"overall\": %.6f},\n",
	       s->compression, s->dedup, s->overall);
	printf(" \"shards\": {\"count\": %" PRIu64 ", \"frames\": %" PRIu64
	       ", \"compression_min\": %.6f, \"compression_median\": %.6f, "
	       "\"compression_max\": %.6f},\n", m->nshards, st->frames, s->ratio_min,
	       s->ratio_median, s->ratio_max);
	printf(" \"elapsed_s\": %.3f,\n \"nodes\": [", st->elapsed_s);
	for (uint32_t i = 0; i < m->nnodes; i++) {
		printf("%s\n  {\"path\": ", i ? "," : "");
		cmd_json_str(m->nodes[i].path);
		printf(", \"weight\": %u, \"weight_share\": %.6f, \"bytes\": %" PRIu64
		       ", \"byte_share\": %.6f, \"shards\": %" PRIu64 "}", m->nodes[i].weight,
		       div0(m->nodes[i].weight, (double)s->weight_total), s->nodes[i].bytes,
		       div0((double)s->nodes[i].bytes, (double)s->total_replica_bytes),
		       s->nodes[i].shards);
	}
	printf("\n ]}\n");
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sc_set *set = NULL;
	struct summary s;
	char err[2048];
	int c, json = 0, status = EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'h') {
			fputs(stats_usage, stdout);
			return EXIT_OK;
		} else {
			fputs(stats_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(stats_usage, stderr);
		return EXIT_USAGE;
	}
	if (sc_set_open(argv[optind], &set, err, sizeof(err))) {
		cmd_error("%s", err);
		return EXIT_FAIL;
	}
	if (summarize(sc_set_manifest(set), &s)) {
		cmd_error("out of memory");
		goto out;
	}
	if (json) {
		print_json(argv[optind], sc_set_manifest(set), &s);
	} else if (print_human(argv[optind], sc_set_manifest(set), &s)) {
		cmd_error("out of memory");
		goto out;
	}
	status = fflush(stdout) ? EXIT_FAIL : EXIT_OK;
out:
	free(s.nodes);
	sc_set_close(set);
	return status;
}
