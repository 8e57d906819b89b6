/*
 * stats.h - what an ingest measured. Filled by the pipeline, stored in the
 * manifest, shown by `shardctl stats`. All counters are totals for the set.
 */
#ifndef SC_STATS_H
#define SC_STATS_H

#include <stdint.h>

#include "json.h"

struct sc_stats {
	uint64_t input_files;          /* files read (stdin counts as one) */
	uint64_t input_errors;         /* files that ended early (corrupt, truncated, unreadable) */
	uint64_t bytes_in_disk;        /* on-disk bytes of the inputs (compressed if they were) */
	uint64_t bytes_in;             /* decoded input bytes, newlines included */
	uint64_t lines_blank;          /* blank lines skipped (line formats only) */
	uint64_t records_in;           /* records seen, blank lines excluded */
	uint64_t records_rejected;     /* sum of rejected[] */
	uint64_t rejected[SC_REJECT__COUNT]; /* by enum sc_reject (index 0 unused) */
	uint64_t records_normalized;   /* accepted records whose text normalization changed */
	uint64_t duplicates;           /* exact duplicates dropped */
	uint64_t near_duplicates;      /* near duplicates dropped (--dedup near) */
	uint64_t near_clusters;        /* kept records that near duplicates were dropped for */
	uint64_t near_largest_cluster; /* 1 + most near duplicates dropped for one kept record */
	uint64_t lsh_index_bytes;      /* peak heap bytes of the near-dup LSH index */
	uint64_t near_capped;          /* near-dup queries that reached the candidate cap */
	uint64_t records_kept;         /* records stored */
	uint64_t bytes_text_in;        /* decoded text-field bytes of accepted records, before normalization */
	uint64_t bytes_text_kept;      /* normalized text bytes of kept records */
	uint64_t bytes_kept;           /* stored record bytes (JSONL, newlines included) = raw shard bytes */
	uint64_t bytes_stored;         /* shard file bytes, one replica */
	uint64_t dedup_index_bytes;    /* peak heap bytes of the exact-dedup index */
	uint64_t shards;               /* shards written */
	uint64_t frames;               /* frames written */
	double elapsed_s;              /* wall time of the ingest */
};

#endif
