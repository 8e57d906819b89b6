/*
 * fuzz_journal.c - fuzz target for the ingest checkpoint journal parser of
 * store/journal.c (docs/RESUME.md section 4).
 *
 * The input is a whole .ingest-journal. sc_journal_parse must reject it
 * with SC_ECORRUPT or SC_EVERSION (or -ENOMEM), a message, and a zeroed
 * journal; or accept it with a journal whose every field is within the
 * bounds of the spec, no more shards than whole records in the input, the
 * torn flag set exactly when bytes after the accepted records were
 * dropped, and a header and records that encode back to the very bytes of
 * the input they were read from (so nothing was accepted that the writer
 * would not have written). Any violation aborts.
 *
 * Mutations almost never keep the checksums right, which would hide the
 * field checks behind them, so each input is tried a second time with
 * the header's hash and every whole record's chained hash recomputed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "journal.h"

#define FUZZ_JOURNAL_MAX (64u << 10) /* bigger inputs add time, not coverage */

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

static void check(const uint8_t *data, size_t size)
{
	unsigned char buf[SC_JOURNAL_HEAD_BYTES];
	struct sc_journal j;
	char err[512] = "";
	uint64_t whole, prev;
	int rc;

	rc = sc_journal_parse(data, size, &j, err, sizeof(err));
	if (rc) {
		if (rc != SC_ECORRUPT && rc != SC_EVERSION && rc != -ENOMEM)
			abort();
		if (!err[0] || !all_zero(&j, sizeof(j)))
			abort();
		return;
	}
	whole = (size - SC_JOURNAL_HEAD_BYTES) / SC_JOURNAL_REC_BYTES;
	if (j.nshards > whole)
		abort();
	/* torn exactly when something after the accepted records was dropped */
	if (j.torn != (size != SC_JOURNAL_HEAD_BYTES + j.nshards * SC_JOURNAL_REC_BYTES))
		abort();
	if (j.torn && j.nshards + 1 < whole)
		abort(); /* at most one record torn */
	if (strlen(j.head.set_id) != 32 || j.head.generation < 1 ||
	    j.head.generation > UINT64_MAX - 2 ||
	    j.head.base_generation + 1 != j.head.generation ||
	    j.head.nnodes < 1 || j.head.nnodes > SC_NODES_MAX ||
	    j.head.replicas < 1 || j.head.replicas > SC_REPLICAS_MAX ||
	    j.head.replicas > j.head.nnodes)
		abort();
	prev = sc_journal_head_encode(&j.head, buf);
	if (memcmp(buf, data, SC_JOURNAL_HEAD_BYTES) || prev != j.chain[0])
		abort();
	for (uint64_t i = 0; i < j.nshards; i++) {
		const struct sc_manifest_shard *s = &j.shards[i];
		unsigned char rec[SC_JOURNAL_REC_BYTES];

		if (s->name || s->frames < 1 || s->frames > SC_SHARD_FRAMES_MAX ||
		    s->records < s->frames || s->raw_bytes < s->records ||
		    s->stored_bytes < 57 + 17 * (uint64_t)s->frames ||
		    s->nreplicas != j.head.replicas)
			abort();
		for (uint32_t r = 0; r < s->nreplicas; r++) {
			if (s->replica[r] >= j.head.nnodes)
				abort();
			for (uint32_t k = 0; k < r; k++)
				if (s->replica[k] == s->replica[r])
					abort();
		}
		prev = sc_journal_shard_encode(i, s, prev, rec);
		if (prev != j.chain[i + 1] ||
		    memcmp(rec, data + SC_JOURNAL_HEAD_BYTES + i * SC_JOURNAL_REC_BYTES,
			   sizeof(rec)))
			abort();
	}
	sc_journal_release(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint64_t prev;

	if (size > FUZZ_JOURNAL_MAX)
		return 0;
	check(data, size);
	if (size < SC_JOURNAL_HEAD_BYTES)
		return 0;
	/* again with every checksum made right */
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	prev = XXH64(copy, 192, 0);
	for (int b = 0; b < 8; b++)
		copy[192 + b] = (uint8_t)(prev >> (8 * b));
	for (size_t off = SC_JOURNAL_HEAD_BYTES; off + SC_JOURNAL_REC_BYTES <= size;
	     off += SC_JOURNAL_REC_BYTES) {
		prev = XXH64(copy + off, 88, prev);
		for (int b = 0; b < 8; b++)
			copy[off + 88 + b] = (uint8_t)(prev >> (8 * b));
	}
	check(copy, size);
	free(copy);
	return 0;
}
