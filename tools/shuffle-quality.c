/*
 * shuffle-quality.c - how well the reader order of store/order.c mixes a
 * set, measured on synthetic sets (metadata only: no data is written or
 * read) for several (window, buffer) settings, side by side with a true
 * random permutation of all records (Fisher-Yates). docs/SHUFFLE.md shows
 * the output and explains each column.
 *
 * Each shard is one "source" (or `run` consecutive shards share one, like
 * the shards of one input file). For one reader's emitted records:
 *   src/batch  mean distinct sources in a batch of B consecutive records
 *   top        mean share of the most frequent source in a batch
 *   same-next  P(record t+1 has the same source as record t)
 *   succ       P(record t+1 is the ingest successor of record t)
 *   tau        Kendall tau between emitted order and ingest order
 *   disp       mean |t - p(t)|, p(t) the record's position in the reader's
 *              input (the frame sequence); how far the buffer moves records
 *   drift      mean total variation distance between the source mix of each
 *              tenth of the stream and the source mix of the whole stream:
 *              near 0 when every stretch of the epoch sees the same mixture
 *   buf MiB    buffer slots x the variant's mean record size
 *   ns/rec     time to build the order and run the buffer, per record
 *
 * usage: build/shuffle-quality [--batch B] [--seed S] [--variant NAME] [--quick]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "order.h"
#include "sc_base.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The tool's own generator (SplitMix64) for set shapes and the baseline. */
static uint64_t rs;

static uint64_t rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n) /* rejection: exactly uniform */
{
	uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;

	do
		x = rnd();
	while (x >= lim);
	return x % n;
}

struct setting {
	int shuffle;             /* 0, 1; -1: the random-permutation baseline; 9: end */
	uint32_t window, buffer;
};

#define END { 9, 0, 0 }
static const struct setting few_shards[] = {
	{ 0, 0, 0 }, { 1, 1, 1 }, { 1, 1, 16384 }, { 1, 8, 4096 }, { 1, 64, 1 },
	{ 1, 64, 1024 }, { 1, 64, 4096 }, { 1, 64, 16384 }, { 1, 64, 65536 }, { -1, 0, 0 }, END,
};
static const struct setting many_shards[] = {
	{ 0, 0, 0 }, { 1, 1, 16384 }, { 1, 8, 16384 }, { 1, 64, 16384 }, { 1, 256, 16384 },
	{ 1, 1024, 16384 }, { 1, 256, 65536 }, { -1, 0, 0 }, END,
};

struct variant {
	const char *name;
	const char *what;
	uint32_t shards, fmin, fmax, rmin, rmax;
	uint32_t run;          /* consecutive shards per source */
	uint32_t world, rank;
	uint32_t record_bytes; /* mean record size, for the memory column */
	const struct setting *settings;
};

static const struct variant variants[] = {
	{ "base", "64 shards = 64 sources, 128 frames of 384-640 records (2 MiB frames of 4 KiB records)",
	  64, 128, 128, 384, 640, 1, 1, 0, 4096, few_shards },
	{ "small-frames", "as base with 256 KiB frames: 1024 frames of 48-80 records",
	  64, 1024, 1024, 48, 80, 1, 1, 0, 4096, few_shards },
	{ "uneven", "64 sources of 16-240 frames each (sizes differ 15x), 384-640 records",
	  64, 16, 240, 384, 640, 1, 1, 0, 4096, few_shards },
	{ "runs", "16 sources of 4 consecutive shards each (one input file per source), else base",
	  64, 128, 128, 384, 640, 4, 1, 0, 4096, few_shards },
	{ "rank", "base seen by rank 3 of world 8", 64, 128, 128, 384, 640, 1, 8, 3, 4096, few_shards },
	{ "many", "1024 shards, 64 sources of 16 consecutive shards, 16 frames of 384-640 records",
	  1024, 16, 16, 384, 640, 16, 1, 0, 4096, many_shards },
};

struct set {
	struct sc_order_set os;
	uint32_t *nframes;
	uint32_t **rec;
	uint64_t *shard_base;   /* ingest index of each shard's first record */
	uint64_t **frame_base;  /* ... of each frame's first record, within its shard */
	uint16_t *src;          /* [N] source of each record, by ingest index */
	uint64_t n;
	uint32_t nsources;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static void set_build(struct set *s, const struct variant *v, int quick)
{
	uint32_t fdiv = quick ? 8 : 1;

	s->nframes = xmalloc(v->shards * sizeof(*s->nframes));
	s->rec = xmalloc(v->shards * sizeof(*s->rec));
	s->shard_base = xmalloc(v->shards * sizeof(*s->shard_base));
	s->frame_base = xmalloc(v->shards * sizeof(*s->frame_base));
	s->n = 0;
	for (uint32_t sh = 0; sh < v->shards; sh++) {
		uint32_t nf = v->fmin + (uint32_t)rnd_below(v->fmax - v->fmin + 1);
		uint64_t in = 0;

		nf = nf / fdiv ? nf / fdiv : 1;
		s->nframes[sh] = nf;
		s->rec[sh] = xmalloc(nf * sizeof(uint32_t));
		s->frame_base[sh] = xmalloc(nf * sizeof(uint64_t));
		s->shard_base[sh] = s->n;
		for (uint32_t f = 0; f < nf; f++) {
			s->rec[sh][f] = v->rmin + (uint32_t)rnd_below(v->rmax - v->rmin + 1);
			s->frame_base[sh][f] = in;
			in += s->rec[sh][f];
		}
		s->n += in;
	}
	s->nsources = (v->shards + v->run - 1) / v->run;
	s->src = xmalloc(s->n * sizeof(*s->src));
	for (uint32_t sh = 0; sh < v->shards; sh++) {
		uint64_t end = sh + 1 < v->shards ? s->shard_base[sh + 1] : s->n;

		for (uint64_t i = s->shard_base[sh]; i < end; i++)
			s->src[i] = (uint16_t)(sh / v->run);
	}
	s->os.nshards = v->shards;
	s->os.nframes = s->nframes;
	s->os.records = (const uint32_t *const *)s->rec;
}

static void set_free(struct set *s)
{
	for (uint32_t sh = 0; sh < s->os.nshards; sh++) {
		free(s->rec[sh]);
		free(s->frame_base[sh]);
	}
	free(s->rec);
	free(s->frame_base);
	free(s->nframes);
	free(s->shard_base);
	free(s->src);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Inversions of a[0..n) (sorted on return), by merge sort. */
static uint64_t inversions(uint64_t *a, uint64_t *tmp, uint64_t n)
{
	uint64_t inv = 0;

	for (uint64_t w = 1; w < n; w *= 2) {
		for (uint64_t lo = 0; lo < n; lo += 2 * w) {
			uint64_t mid = lo + w < n ? lo + w : n;
			uint64_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			uint64_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi) {
				if (a[i] <= a[j]) {
					tmp[k++] = a[i++];
				} else {
					inv += mid - i;
					tmp[k++] = a[j++];
				}
			}
			while (i < mid)
				tmp[k++] = a[i++];
			while (j < hi)
				tmp[k++] = a[j++];
		}
		memcpy(a, tmp, n * sizeof(*a));
	}
	return inv;
}

struct result {
	double src_batch, top, same_next, succ, tau, disp, drift, ns_rec;
	uint64_t n;
};

static void measure(const struct set *s, const uint64_t *ing, const uint64_t *pos, uint64_t n,
		    uint32_t batch, struct result *r)
{
	uint32_t *stamp = xmalloc(s->nsources * sizeof(*stamp));
	uint32_t *cnt = xmalloc(s->nsources * sizeof(*cnt));
	uint64_t *a = xmalloc(n * sizeof(*a)), *tmp = xmalloc(n * sizeof(*tmp));
	uint64_t batches = 0, distinct = 0, same = 0, succ = 0, inv;
	double top = 0, disp = 0;

	memset(stamp, 0xff, s->nsources * sizeof(*stamp));
	for (uint64_t b0 = 0; b0 + batch <= n; b0 += batch) {
		uint32_t mx = 0;

		for (uint64_t t = b0; t < b0 + batch; t++) {
			uint16_t so = s->src[ing[t]];

			if (stamp[so] != batches) {
				stamp[so] = (uint32_t)batches;
				cnt[so] = 0;
				distinct++;
			}
			if (++cnt[so] > mx)
				mx = cnt[so];
		}
		top += (double)mx / batch;
		batches++;
	}
	for (uint64_t t = 0; t + 1 < n; t++) {
		same += s->src[ing[t]] == s->src[ing[t + 1]];
		succ += ing[t + 1] == ing[t] + 1;
	}
	for (uint64_t t = 0; t < n; t++)
		disp += (double)(pos[t] > t ? pos[t] - t : t - pos[t]);
	/* drift: 10 stretches against the whole */
	{
		double *all = calloc(s->nsources, sizeof(double)), tv = 0;
		uint64_t parts = n >= 10 ? 10 : 1;

		if (!all)
			exit(1);
		for (uint64_t t = 0; t < n; t++)
			all[s->src[ing[t]]] += 1.0 / (double)n;
		for (uint64_t p = 0; p < parts; p++) {
			uint64_t lo = p * n / parts, hi = (p + 1) * n / parts;
			double d = 0;

			memset(cnt, 0, s->nsources * sizeof(*cnt));
			for (uint64_t t = lo; t < hi; t++)
				cnt[s->src[ing[t]]]++;
			for (uint32_t so = 0; so < s->nsources; so++) {
				double x = (double)cnt[so] / (double)(hi - lo) - all[so];

				d += x < 0 ? -x : x;
			}
			tv += d / 2;
		}
		r->drift = tv / (double)parts;
		free(all);
	}
	memcpy(a, ing, n * sizeof(*a));
	inv = inversions(a, tmp, n);
	r->n = n;
	r->src_batch = batches ? (double)distinct / (double)batches : 0;
	r->top = batches ? top / (double)batches : 0;
	r->same_next = n > 1 ? (double)same / (double)(n - 1) : 0;
	r->succ = n > 1 ? (double)succ / (double)(n - 1) : 0;
	r->tau = n > 1 ? 1.0 - 4.0 * (double)inv / ((double)n * (double)(n - 1)) : 1;
	r->disp = n ? disp / (double)n : 0;
	free(stamp);
	free(cnt);
	free(a);
	free(tmp);
}

/* One reader's emitted records (ingest indexes) and their input positions. */
static uint64_t run_order(const struct set *s, const struct variant *v, const struct setting *st,
			  uint64_t seed, uint64_t *ing, uint64_t *pos, double *secs)
{
	struct sc_order_opts o = {
		.shuffle = st->shuffle, .seed = seed, .epoch = 0, .rank = v->rank, .world = v->world,
		.worker = 0, .workers = 1, .window = st->window, .buffer = st->buffer,
		.remainder = SC_REMAINDER_DROP,
	};
	struct sc_order *ord;
	struct sc_order_buffer b;
	uint64_t n = 0, *mirror, len;
	double t0 = now();
	int rc;

	rc = sc_order_new(&s->os, &o, &ord);
	if (rc == 0)
		rc = sc_order_buffer_init(&b, ord);
	if (rc) {
		fprintf(stderr, "order: %s\n", sc_strerror(rc));
		exit(1);
	}
	len = sc_order_length(ord);
	mirror = xmalloc(b.cap * sizeof(*mirror));
	for (;;) {
		int64_t k;

		while (sc_order_buffer_want(&b)) {
			mirror[b.used] = b.pushed;
			sc_order_buffer_push(&b);
		}
		k = sc_order_buffer_pop(&b);
		if (k < 0)
			break;
		ing[n++] = mirror[k];
		mirror[k] = mirror[b.last];
	}
	*secs = now() - t0;
	if (n != len) {
		fprintf(stderr, "emitted %" PRIu64 " of %" PRIu64 "\n", n, len);
		exit(1);
	}
	/* input index -> (frame, index) -> ingest index; position in the input */
	for (uint64_t t = 0; t < n; t++) {
		struct sc_order_item it = sc_order_input(ord, ing[t]);
		const struct sc_order_frame *fr = sc_order_frame(ord, it.seq);

		pos[t] = ing[t];
		ing[t] = s->shard_base[fr->shard] + s->frame_base[fr->shard][fr->frame] + it.index;
	}
	free(mirror);
	sc_order_buffer_release(&b);
	sc_order_free(ord);
	return n;
}

int main(int argc, char **argv)
{
	uint32_t batch = 256;
	uint64_t seed = 1;
	const char *only = NULL;
	int quick = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--variant") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else {
			fprintf(stderr, "usage: %s [--batch B] [--seed S] [--variant NAME] [--quick]\n",
				argv[0]);
			return 2;
		}
	}
	if (batch < 1)
		batch = 1;

	for (size_t vi = 0; vi < sizeof(variants) / sizeof(variants[0]); vi++) {
		const struct variant *v = &variants[vi];
		struct set s;
		uint64_t *ing, *pos;

		if (only && strcmp(only, v->name))
			continue;
		rs = seed * 1000 + vi;
		set_build(&s, v, quick);
		ing = xmalloc(s.n * sizeof(*ing));
		pos = xmalloc(s.n * sizeof(*pos));
		printf("\n### %s: %s\n\n", v->name, v->what);
		printf("%" PRIu64 " records in the set, %u sources, batch %u, seed %" PRIu64 "\n\n",
		       s.n, s.nsources, batch, seed);
		printf("| window | buffer | buf MiB | src/batch | top | same-next | succ | tau | disp | drift | ns/rec |\n");
		printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		for (const struct setting *st = v->settings; st->shuffle != 9; st++) {
			struct result r;
			double secs = 0;
			uint64_t n;

			if (st->shuffle >= 0) {
				n = run_order(&s, v, st, seed, ing, pos, &secs);
			} else {
				/*
				 * The baseline: a uniform permutation of all records
				 * (Fisher-Yates), of which this reader gets 1/world;
				 * its "input position" is the record's rank among them.
				 */
				n = s.n / v->world;
				for (uint64_t t = 0; t < s.n; t++)
					ing[t] = t;
				for (uint64_t t = s.n; t > 1; t--) {
					uint64_t j = rnd_below(t), x = ing[t - 1];

					ing[t - 1] = ing[j];
					ing[j] = x;
				}
				{
					uint64_t *sorted = xmalloc(n * sizeof(*sorted));

					memcpy(sorted, ing, n * sizeof(*sorted));
					qsort(sorted, n, sizeof(*sorted), cmp_u64);
					for (uint64_t t = 0; t < n; t++) {
						const uint64_t *p = bsearch(&ing[t], sorted, n,
									    sizeof(*sorted), cmp_u64);

						pos[t] = (uint64_t)(p - sorted);
					}
					free(sorted);
				}
			}
			measure(&s, ing, pos, n, batch, &r);
			if (st->shuffle > 0)
				printf("| %u | %u | %.1f |", st->window, st->buffer,
				       (double)st->buffer * v->record_bytes / (1 << 20));
			else if (st->shuffle == 0)
				printf("| sequential | | |");
			else
				printf("| random permutation | | |");
			printf(" %.1f | %.3f | %.3f | %.3f | %.3f | %.0f | %.3f |", r.src_batch, r.top,
			       r.same_next, r.succ, r.tau, r.disp, r.drift);
			if (st->shuffle >= 0)
				printf(" %.0f |\n", secs * 1e9 / (double)(n ? n : 1));
			else
				printf(" |\n");
			fflush(stdout);
		}
		free(ing);
		free(pos);
		set_free(&s);
	}
	return 0;
}
