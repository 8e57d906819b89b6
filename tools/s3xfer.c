/*
 * s3xfer.c - move whole objects with the S3 client (io/s3.h), K at a time:
 * the shardctl side of tools/bench-s3.py, whose other side is curl with the
 * same parallelism. Configuration from the AWS_* environment.
 *
 *   s3xfer get [-j K] [-s SIZE] BUCKET KEY...        each object with one
 *       ranged GET of SIZE bytes into memory (K buffers, reused)
 *   s3xfer put [-j K] [-p PART] [-t THRESHOLD] BUCKET PREFIX FILE...
 *       each FILE to PREFIX/<basename>, streamed from the file (multipart
 *       at THRESHOLD bytes and above, PART-byte parts)
 *   s3xfer rm [-j K] BUCKET KEY...                    delete the objects
 *
 * At most K HTTP requests are in flight (inflight_max = K), so parts of a
 * multipart upload share the K with whole objects. Prints one JSON line:
 * {"op":..., "objects":N, "bytes":B, "seconds":S, "requests":R,
 *  "connections":C, "retries":T}; exits 1 on any failure (with the message).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_base.h"
#include "s3.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: s3xfer get [-j K] [-s SIZE] BUCKET KEY...\n"
			"       s3xfer put [-j K] [-p PART] [-t THRESHOLD] BUCKET PREFIX FILE...\n"
			"       s3xfer rm [-j K] BUCKET KEY...\n");
	return 2;
}

/* Count the failures (said) and the bytes moved of k completions. */
static void tally(const struct sc_s3_done *d, int k, int *failed, uint64_t *bytes)
{
	for (int j = 0; j < k; j++) {
		if (d[j].result < 0) {
			fprintf(stderr, "s3xfer: %s\n", d[j].err);
			(*failed)++;
		} else {
			*bytes += (uint64_t)d[j].result;
		}
	}
}

static void report(const char *op, int n, uint64_t bytes, double secs, struct sc_s3 *s)
{
	struct sc_s3_stats st;

	sc_s3_get_stats(s, &st);
	printf("{\"op\": \"%s\", \"objects\": %d, \"bytes\": %" PRIu64 ", \"seconds\": %.6f, "
	       "\"requests\": %" PRIu64 ", \"connections\": %" PRIu64 ", \"retries\": %" PRIu64 "}\n",
	       op, n, bytes, secs, st.requests, st.connects, st.retries);
}

int main(int argc, char **argv)
{
	struct sc_s3_config c;
	struct sc_s3 *s = NULL;
	struct sc_s3_done d[64];
	char err[SC_S3_ERR_MAX];
	uint32_t k = 8;
	uint64_t size = 0, part = 0, threshold = 0, bytes = 0;
	const char *op;
	int i = 2, first, n, next = 0, done = 0, failed = 0;
	double t0;

	if (argc < 2)
		return usage();
	op = argv[1];
	for (; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "-j") == 0)
			k = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-s") == 0)
			size = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-p") == 0)
			part = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-t") == 0)
			threshold = strtoull(argv[i + 1], NULL, 10);
		else
			return usage();
	}
	if (k < 1 || k > 64)
		return usage();
	if (sc_s3_config_from_env(&c, err, sizeof(err))) {
		fprintf(stderr, "s3xfer: %s\n", err);
		return 1;
	}
	c.inflight_max = k;
	if (part)
		c.part_size = part;
	if (threshold)
		c.multipart_threshold = threshold;
	if (sc_s3_open(&c, &s, err, sizeof(err))) {
		fprintf(stderr, "s3xfer: %s\n", err);
		return 1;
	}

	if (strcmp(op, "get") == 0) {
		char **keys;
		char **bufs;
		int *free_slot, nfree = 0;

		if (argc - i < 2 || size == 0 || size > SC_S3_GET_MAX)
			return usage();
		keys = argv + i + 1;
		n = argc - i - 1;
		bufs = calloc(k, sizeof(*bufs));
		free_slot = calloc(k, sizeof(*free_slot));
		if (!bufs || !free_slot)
			return 1;
		for (uint32_t b = 0; b < k; b++) {
			bufs[b] = malloc(size);
			if (!bufs[b])
				return 1;
			memset(bufs[b], 0, size); /* fault the pages in before timing */
			free_slot[nfree++] = (int)b;
		}
		t0 = now_s();
		while (done < n) {
			while (next < n && nfree > 0) {
				int slot = free_slot[--nfree];
				struct sc_s3_get_req r = { argv[i], keys[next], 0, (uint32_t)size,
							   bufs[slot], NULL,
							   (uint64_t)slot << 32 | (uint32_t)next };

				if (sc_s3_submit_get(s, &r)) {
					fprintf(stderr, "s3xfer: submit failed\n");
					return 1;
				}
				next++;
			}
			first = sc_s3_reap(s, d, 64, -1);
			tally(d, first, &failed, &bytes);
			for (int j = 0; j < first; j++)
				free_slot[nfree++] = (int)(d[j].tag >> 32);
			done += first;
		}
		report("get", n, bytes, now_s() - t0, s);
	} else if (strcmp(op, "put") == 0) {
		const char *prefix;
		int *fds;

		if (argc - i < 3)
			return usage();
		prefix = argv[i + 1];
		n = argc - i - 2;
		fds = calloc((size_t)n, sizeof(*fds));
		if (!fds)
			return 1;
		t0 = now_s();
		while (done < n) {
			while (next < n && (uint32_t)(next - done) < k) {
				const char *path = argv[i + 2 + next], *base = strrchr(path, '/');
				char key[SC_S3_KEY_MAX + 1];
				struct stat st;
				struct sc_s3_body b;

				fds[next] = open(path, O_RDONLY | O_CLOEXEC);
				if (fds[next] < 0 || fstat(fds[next], &st)) {
					fprintf(stderr, "s3xfer: %s: %s\n", path, strerror(errno));
					return 1;
				}
				snprintf(key, sizeof(key), "%s/%s", prefix, base ? base + 1 : path);
				b = (struct sc_s3_body){ NULL, fds[next], 0, (uint64_t)st.st_size };
				if (sc_s3_submit_put(s, argv[i], key, &b, (uint64_t)next)) {
					fprintf(stderr, "s3xfer: submit failed\n");
					return 1;
				}
				next++;
			}
			first = sc_s3_reap(s, d, 64, -1);
			tally(d, first, &failed, &bytes);
			for (int j = 0; j < first; j++)
				close(fds[d[j].tag]);
			done += first;
		}
		report("put", n, bytes, now_s() - t0, s);
	} else if (strcmp(op, "rm") == 0) {
		if (argc - i < 2)
			return usage();
		n = argc - i - 1;
		t0 = now_s();
		while (done < n) {
			while (next < n && sc_s3_pending(s) < 64) {
				if (sc_s3_submit_delete(s, argv[i], argv[i + 1 + next], (uint64_t)next)) {
					fprintf(stderr, "s3xfer: submit failed\n");
					return 1;
				}
				next++;
			}
			first = sc_s3_reap(s, d, 64, -1);
			tally(d, first, &failed, &bytes);
			done += first;
		}
		report("rm", n, 0, now_s() - t0, s);
	} else {
		return usage();
	}
	sc_s3_close(s);
	return failed ? 1 : 0;
}
