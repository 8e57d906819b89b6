/*
 * bench-stages.c - per-stage throughput of the ingest hot path on a JSONL
 * file: JSON scan (validation and text decoding), normalization, dedup key
 * and fingerprint, near-dup normalization and MinHash signature (default
 * parameters), JSON re-escaping and zstd frame compression, each timed
 * alone over the same records, single-threaded. It tells where ingest CPU
 * goes; tools/bench-ingest.py measures the whole pipeline.
 *
 * usage: build/bench-stages FILE.jsonl [--text-field NAME] [--frame-size N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fingerprint.h"
#include "json.h"
#include "near.h"
#include "normalize.h"
#include "sc_base.h"
#include "shard.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct span {
	size_t off, len;
};

static void report(const char *name, double secs, size_t bytes)
{
	printf("%-28s %8.3f s  %9.1f MB/s\n", name, secs, (double)bytes / 1e6 / secs);
}

int main(int argc, char **argv)
{
	const char *field = "text";
	size_t frame_size = SC_FRAME_SIZE_DEFAULT;
	FILE *f;
	char *data = NULL, *line;
	size_t n = 0, cap = 0, nl = 0, nt = 0;
	struct span *lines = NULL, *texts = NULL;
	struct sc_buf text, norm, key, esc, tall;
	struct sc_json_record jr;
	double t;
	size_t in_bytes = 0, text_bytes = 0, sink = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE.jsonl [--text-field NAME] [--frame-size N]\n", argv[0]);
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--text-field"))
			field = argv[i + 1];
		else if (!strcmp(argv[i], "--frame-size"))
			frame_size = strtoull(argv[i + 1], NULL, 0);
	}
	f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 24;
			data = realloc(data, cap);
			if (!data)
				return 1;
		}
		size_t k = fread(data + n, 1, cap - n, f);
		if (!k)
			break;
		n += k;
	}
	fclose(f);
	for (size_t p = 0; p < n;) {
		char *e = memchr(data + p, '\n', n - p);
		size_t len = e ? (size_t)(e - (data + p)) : n - p;

		if (!(nl & (nl - 1)))
			lines = realloc(lines, (nl ? nl * 2 : 1) * sizeof(*lines));
		lines[nl].off = p;
		lines[nl++].len = len;
		p += len + 1;
	}
	sc_buf_init(&text, SC_RECORD_SIZE_MAX);
	sc_buf_init(&norm, SC_RECORD_SIZE_MAX);
	sc_buf_init(&key, SC_RECORD_SIZE_MAX);
	sc_buf_init(&esc, SC_RECORD_SIZE_MAX);
	sc_buf_init(&tall, (size_t)1 << 40);
	texts = calloc(nl, sizeof(*texts));

	/* collect the decoded texts first (untimed: it grows a big buffer) */
	for (size_t i = 0; i < nl; i++) {
		line = data + lines[i].off;
		in_bytes += lines[i].len;
		if (sc_json_scan_record(line, lines[i].len, field, strlen(field), &jr, &text))
			return 1;
		if (jr.reject != SC_REJECT_NONE)
			continue;
		texts[nt].off = tall.len;
		texts[nt++].len = text.len;
		if (sc_buf_append(&tall, text.data, text.len))
			return 1;
	}
	text_bytes = tall.len;
	t = now();
	for (size_t i = 0; i < nl; i++) {
		if (sc_json_scan_record(data + lines[i].off, lines[i].len, field,
					strlen(field), &jr, &text))
			return 1;
		sink += text.len;
	}
	report("json scan + decode", now() - t, in_bytes);

	t = now();
	for (size_t i = 0; i < nt; i++)
		sink += (size_t)sc_normalize(SC_NORM_DEFAULT, tall.data + texts[i].off,
					     texts[i].len, &norm);
	report("normalize (all rules)", now() - t, text_bytes);

	t = now();
	for (size_t i = 0; i < nt; i++) {
		sc_fingerprint_key(tall.data + texts[i].off, texts[i].len, &key);
		sink += key.len;
	}
	report("dedup key", now() - t, text_bytes);

	t = now();
	for (size_t i = 0; i < nt; i++) {
		struct sc_fp fp;

		sc_fingerprint_text(tall.data + texts[i].off, texts[i].len, &key, &fp);
		sink += (size_t)fp.lo;
	}
	report("dedup key + XXH3-128", now() - t, text_bytes);

	t = now();
	for (size_t i = 0; i < nt; i++) {
		sc_near_normalize(tall.data + texts[i].off, texts[i].len, &key);
		sink += key.len;
	}
	report("near-dup normalize", now() - t, text_bytes);

	{
		struct sc_near_params np;
		uint64_t mins[SC_NEAR_HASHES_MAX];
		size_t sigs = 0;

		sc_near_params_default(&np);
		t = now();
		for (size_t i = 0; i < nt; i++) {
			if (sc_near_signature(&np, tall.data + texts[i].off, texts[i].len,
					      &key, mins) == 1) {
				sigs++;
				sink += (size_t)mins[0];
			}
		}
		report("near-dup signature (5x112)", now() - t, text_bytes);
		fprintf(stderr, "(%zu of %zu texts have a signature)\n", sigs, nt);
	}

	t = now();
	for (size_t i = 0; i < nt; i++) {
		esc.len = 0;
		sc_json_escape(&esc, tall.data + texts[i].off, texts[i].len);
		sink += esc.len;
	}
	report("json escape", now() - t, text_bytes);

	{
		struct sc_frame_encoder *enc;
		struct sc_buf comp;
		uint32_t ck;
		size_t done = 0;

		sc_buf_init(&comp, (size_t)1 << 31);
		if (sc_frame_encoder_new(3, &enc))
			return 1;
		t = now();
		while (done < n) {
			size_t len = n - done < frame_size ? n - done : frame_size;

			comp.len = 0;
			if (sc_frame_encode(enc, data + done, len, &comp, &ck))
				return 1;
			sink += comp.len;
			done += len;
		}
		report("zstd -3 frames (raw input)", now() - t, n);
		sc_frame_encoder_free(enc);
		sc_buf_release(&comp);
	}
	fprintf(stderr, "(%zu lines, %zu texts, sink %zu)\n", nl, nt, sink);
	return 0;
}
