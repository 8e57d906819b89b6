/*
 * test_order.c - the reader order of store/order.c (contract in
 * store/order.h, specification in docs/SHUFFLE.md): the random number
 * generators against their published test vectors, the frame sequence,
 * the rank and worker partition with both remainder modes, the shuffle
 * buffer (a permutation of its input), determinism and its keys, resume
 * by replay from every point, sequential mode, edge cases, option
 * validation, a pinned ("golden") order, and sanity checks that the
 * shuffle mixes.
 *
 * It includes order.c itself to reach the static generator functions;
 * the library's copy of order.o is then never linked in.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "order.c"

/* ---- helpers ------------------------------------------------------- */

/* The test's own generator (not the one under test). */
static uint64_t trng_state;

static uint64_t trng(void)
{
	uint64_t z = (trng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t trange(uint32_t lo, uint32_t hi) /* [lo, hi] */
{
	return lo + (uint32_t)(trng() % ((uint64_t)hi - lo + 1));
}

struct tset {
	struct sc_order_set set;
	uint32_t *nframes;
	uint32_t **rec;
	uint64_t total;
	uint64_t frames;
};

/* A set of nshards shards; frames in [fmin, fmax], records in [rmin, rmax]. */
static void tset_make(struct tset *t, uint32_t nshards, uint32_t fmin, uint32_t fmax,
		      uint32_t rmin, uint32_t rmax)
{
	memset(t, 0, sizeof(*t));
	t->nframes = calloc(nshards ? nshards : 1, sizeof(*t->nframes));
	t->rec = calloc(nshards ? nshards : 1, sizeof(*t->rec));
	assert_non_null(t->nframes);
	assert_non_null(t->rec);
	for (uint32_t s = 0; s < nshards; s++) {
		t->nframes[s] = trange(fmin, fmax);
		t->rec[s] = calloc(t->nframes[s] ? t->nframes[s] : 1, sizeof(uint32_t));
		assert_non_null(t->rec[s]);
		for (uint32_t f = 0; f < t->nframes[s]; f++) {
			t->rec[s][f] = trange(rmin, rmax);
			t->total += t->rec[s][f];
		}
		t->frames += t->nframes[s];
	}
	t->set.nshards = nshards;
	t->set.nframes = t->nframes;
	t->set.records = (const uint32_t *const *)t->rec;
}

/* A random small set: 0..9 shards, 0..5 frames (0 allowed), 1..7 records. */
static void tset_random(struct tset *t)
{
	tset_make(t, trange(0, 9), 0, 5, 1, 7);
}

static void tset_free(struct tset *t)
{
	for (uint32_t s = 0; s < t->set.nshards; s++)
		free(t->rec[s]);
	free(t->rec);
	free(t->nframes);
}

static struct sc_order_opts opts(int shuffle, uint64_t seed, uint64_t epoch)
{
	struct sc_order_opts o = {
		.shuffle = shuffle, .seed = seed, .epoch = epoch,
		.rank = 0, .world = 1, .worker = 0, .workers = 1,
		.window = 4, .buffer = 16, .remainder = SC_REMAINDER_DROP,
	};

	return o;
}

static struct sc_order *order_new(const struct tset *t, const struct sc_order_opts *o)
{
	struct sc_order *ord = NULL;

	assert_int_equal(sc_order_new(&t->set, o, &ord), 0);
	assert_non_null(ord);
	return ord;
}

/* Global position of input item i. */
static uint64_t input_pos(const struct sc_order *ord, uint64_t i)
{
	struct sc_order_item it = sc_order_input(ord, i);
	const struct sc_order_frame *fr = sc_order_frame(ord, it.seq);

	assert_non_null(fr);
	assert_true(it.index < fr->records);
	return fr->first + it.index;
}

/*
 * The documented reader loop on input indexes, mirroring the slots as a
 * reader mirrors records. `mirror` holds the slot contents on entry (after
 * a skip) and is updated; emitted input indexes are appended to out[*n].
 */
static void drain(struct sc_order_buffer *b, uint64_t *mirror, uint64_t *out, uint64_t *n)
{
	for (;;) {
		int64_t k;

		while (sc_order_buffer_want(b)) {
			mirror[b->used] = b->pushed;
			sc_order_buffer_push(b);
		}
		k = sc_order_buffer_pop(b);
		if (k == -1)
			break;
		assert_true(k >= 0 && k <= b->used);
		assert_true(b->last == b->used);
		out[(*n)++] = mirror[k];
		mirror[k] = mirror[b->last];
		/* the mirror and the buffer agree */
		for (uint32_t j = 0; j < b->used && j < 4; j++)
			assert_int_equal(mirror[j], sc_order_buffer_slot(b, j));
	}
	assert_int_equal(b->emitted, b->length);
	assert_int_equal(b->pushed, b->length);
	assert_int_equal(b->used, 0);
}

/* The whole emitted sequence (input indexes) of one reader; caller frees. */
static uint64_t *emit_all(const struct sc_order *ord, uint64_t *n)
{
	struct sc_order_buffer b;
	uint64_t len = sc_order_length(ord);
	uint64_t *out = malloc((len ? len : 1) * sizeof(*out));
	uint64_t *mirror;

	assert_non_null(out);
	assert_int_equal(sc_order_buffer_init(&b, ord), 0);
	assert_true(b.cap >= 1);
	mirror = malloc(b.cap * sizeof(*mirror));
	assert_non_null(mirror);
	*n = 0;
	drain(&b, mirror, out, n);
	assert_int_equal(*n, len);
	free(mirror);
	sc_order_buffer_release(&b);
	return out;
}

/* ---- the generators -------------------------------------------------- */

static void test_rng_vectors(void **state)
{
	/* xoshiro256** from state {1, 2, 3, 4}: the reference outputs */
	static const uint64_t xo[10] = {
		11520u, 0u, 1509978240u, 1215971899390074240u, 1216172134540287360u,
		607988272756665600u, 16172922978634559625u, 8476171486693032832u,
		10595114339597558777u, 2904607092377533576u,
	};
	/* SplitMix64 from 0 and from 1234567: the reference outputs */
	static const uint64_t sm0[4] = {
		0xe220a8397b1dcdafu, 0x6e789e6aa1b965f4u, 0x06c45d188009454fu, 0xf88bb8a8724c81ecu,
	};
	static const uint64_t sm1[5] = {
		6457827717110365317u, 3203168211198807973u, 9817491932198370423u,
		4593380528125082431u, 16408922859458223821u,
	};
	uint64_t s[4] = { 1, 2, 3, 4 }, x;

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_int_equal(xoshiro_next(s), xo[i]);
	x = 0;
	for (int i = 0; i < 4; i++)
		assert_int_equal(splitmix64_next(&x), sm0[i]);
	x = 1234567;
	for (int i = 0; i < 5; i++)
		assert_int_equal(splitmix64_next(&x), sm1[i]);
	assert_int_equal(purpose("shards"), 0x0000736472616873ull);
	assert_int_equal(purpose("frames"), 0x000073656d617266ull);
	assert_int_equal(purpose("buffer"), 0x0000726566667562ull);
}

static void test_below(void **state)
{
	uint64_t s[4], t[4], key[3] = { 7, 0, 1 };
	uint64_t cnt[3] = { 0, 0, 0 }, big = (1ull << 63) + 1, hi = 0;

	(void)state;
	stream_init(s, key, 3);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(below(s, 0), 0);
		assert_int_equal(below(s, 1), 0);
	}
	/* n == 1 draws nothing */
	memcpy(t, s, sizeof(t));
	below(s, 1);
	assert_memory_equal(s, t, sizeof(s));
	for (int i = 0; i < 30000; i++)
		cnt[below(s, 3)]++;
	for (int i = 0; i < 3; i++)
		assert_true(cnt[i] > 9500 && cnt[i] < 10500);
	/* n just above 2^63: about half the draws are rejected, results in range */
	for (int i = 0; i < 1000; i++) {
		uint64_t v = below(s, big);

		assert_true(v < big);
		hi += v >= big / 2;
	}
	assert_true(hi > 400 && hi < 600);
	/* ... and the rejections happen: about two draws per call */
	stream_init(s, key, 3);
	memcpy(t, s, sizeof(t));
	for (int i = 0; i < 1000; i++)
		below(s, big);
	{
		int k = 0;

		while (k < 5000 && memcmp(s, t, sizeof(s))) {
			xoshiro_next(t);
			k++;
		}
		assert_true(k > 1800 && k < 2200);
	}
	/* keys: each word matters */
	for (int w = 0; w < 3; w++) {
		uint64_t k2[3] = { 7, 0, 1 };

		k2[w] ^= 1;
		stream_init(t, k2, 3);
		stream_init(s, key, 3);
		assert_memory_not_equal(s, t, sizeof(s));
	}
}

/* ---- (a) the frame sequence ------------------------------------------ */

static void check_sequence(const struct tset *t, const struct sc_order_opts *o)
{
	struct sc_order *ord = order_new(t, o);
	uint64_t nf = sc_order_frames(ord), pos = 0;
	uint32_t *next = calloc(t->set.nshards + 1, sizeof(*next));
	uint32_t prev_shard = UINT32_MAX, runs = 0;

	assert_non_null(next);
	assert_int_equal(nf, t->frames);
	assert_int_equal(sc_order_total(ord), t->total);
	assert_null(sc_order_frame(ord, nf));
	for (uint64_t q = 0; q < nf; q++) {
		const struct sc_order_frame *fr = sc_order_frame(ord, q);

		assert_non_null(fr);
		assert_true(fr->shard < t->set.nshards);
		/* each shard's frames come in file order, each exactly once */
		assert_int_equal(fr->frame, next[fr->shard]);
		next[fr->shard]++;
		assert_int_equal(fr->records, t->rec[fr->shard][fr->frame]);
		assert_int_equal(fr->first, pos);
		pos += fr->records;
		if (!o->shuffle && prev_shard != UINT32_MAX)
			assert_true(fr->shard >= prev_shard); /* manifest order */
		if (fr->shard != prev_shard)
			runs++;
		prev_shard = fr->shard;
	}
	assert_int_equal(pos, t->total);
	for (uint32_t s = 0; s < t->set.nshards; s++)
		assert_int_equal(next[s], t->nframes[s]);
	/* window 1 or sequential: each shard is one contiguous run */
	if (!o->shuffle || o->window == 1) {
		uint32_t nonempty = 0;

		for (uint32_t s = 0; s < t->set.nshards; s++)
			nonempty += t->nframes[s] > 0;
		assert_int_equal(runs, nonempty);
	}
	free(next);
	sc_order_free(ord);
}

static void test_frame_sequence(void **state)
{
	static const uint32_t windows[] = { 1, 2, 3, 5, 1000000 };

	(void)state;
	trng_state = 1;
	for (int iter = 0; iter < 300; iter++) {
		struct tset t;
		struct sc_order_opts o = opts(0, trng(), iter % 4);

		tset_random(&t);
		check_sequence(&t, &o);
		o.shuffle = 1;
		for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
			o.window = windows[w];
			check_sequence(&t, &o);
		}
		tset_free(&t);
	}
}

/* The frame sequence does not depend on rank, world, worker(s), buffer, remainder. */
static void test_sequence_shared(void **state)
{
	struct tset t;
	struct sc_order_opts o = opts(1, 99, 3);
	struct sc_order *a, *b;

	(void)state;
	trng_state = 2;
	tset_make(&t, 12, 0, 6, 1, 9);
	o.window = 3;
	a = order_new(&t, &o);
	o.world = 5;
	o.rank = 4;
	o.workers = 3;
	o.worker = 1;
	o.buffer = 7;
	o.remainder = SC_REMAINDER_PAD;
	b = order_new(&t, &o);
	assert_int_equal(sc_order_frames(a), sc_order_frames(b));
	for (uint64_t q = 0; q < sc_order_frames(a); q++)
		assert_memory_equal(sc_order_frame(a, q), sc_order_frame(b, q),
				    sizeof(struct sc_order_frame));
	sc_order_free(a);
	sc_order_free(b);
	tset_free(&t);
}

/* ---- (b), (c) partition, worker split, the buffer is a permutation -- */

static void check_partition(const struct tset *t, struct sc_order_opts o)
{
	uint64_t n = t->total, fl = n / o.world, cl = fl + (n % o.world != 0);
	uint32_t *cnt = calloc(n ? n : 1, sizeof(*cnt));
	uint64_t extra = 0;

	assert_non_null(cnt);
	for (uint32_t r = 0; r < o.world; r++) {
		uint64_t rank_total = 0;
		uint64_t lo = (uint64_t)r * n / o.world, hi = (uint64_t)(r + 1) * n / o.world;

		for (uint32_t w = 0; w < o.workers; w++) {
			struct sc_order *ord;
			uint64_t len, got, *em;
			uint8_t *seen;

			o.rank = r;
			o.worker = w;
			ord = order_new(t, &o);
			len = sc_order_length(ord);
			rank_total += len;
			/* the worker's input, computed independently from the model */
			{
				uint64_t m = o.remainder == SC_REMAINDER_DROP ? fl : cl;
				uint64_t wlo = (uint64_t)w * m / o.workers;
				uint64_t whi = (uint64_t)(w + 1) * m / o.workers;

				assert_int_equal(len, whi - wlo);
				for (uint64_t i = 0; i < len; i++) {
					uint64_t j = wlo + i;

					assert_int_equal(input_pos(ord, i), j < hi - lo ? lo + j : lo);
				}
			}
			assert_int_equal(sc_order_input(ord, len).seq, UINT64_MAX);
			/* (c) the emitted sequence is a permutation of 0..len-1 */
			em = emit_all(ord, &got);
			seen = calloc(len ? len : 1, 1);
			assert_non_null(seen);
			for (uint64_t i = 0; i < got; i++) {
				assert_true(em[i] < len);
				assert_int_equal(seen[em[i]], 0);
				seen[em[i]] = 1;
				cnt[input_pos(ord, em[i])]++;
			}
			free(seen);
			free(em);
			sc_order_free(ord);
		}
		/* rank lengths are equal: floor (DROP) or ceil (PAD) */
		assert_int_equal(rank_total, o.remainder == SC_REMAINDER_DROP ? fl : cl);
		if (o.remainder == SC_REMAINDER_DROP) {
			/* a longer range drops its last position */
			if (hi - lo > fl)
				assert_int_equal(cnt[hi - 1], 0);
		} else if (hi - lo < cl) {
			extra++;
		}
	}
	if (o.remainder == SC_REMAINDER_DROP) {
		uint64_t dropped = 0;

		for (uint64_t p = 0; p < n; p++) {
			assert_true(cnt[p] <= 1);
			dropped += cnt[p] == 0;
		}
		assert_int_equal(dropped, n % o.world);
		assert_true(dropped <= o.world - 1);
	} else {
		uint64_t sum = 0, twice = 0;

		for (uint64_t p = 0; p < n; p++) {
			assert_true(cnt[p] >= 1);
			sum += cnt[p];
			twice += cnt[p] - 1;
		}
		assert_int_equal(sum, (uint64_t)o.world * cl);
		assert_int_equal(twice, extra);
		if (n % o.world == 0)
			assert_int_equal(extra, 0);
	}
	free(cnt);
}

static void test_partition(void **state)
{
	static const uint32_t worlds[] = { 1, 2, 3, 7 };

	(void)state;
	trng_state = 3;
	for (int iter = 0; iter < 60; iter++) {
		struct tset t;

		if (iter < 50)
			tset_random(&t);
		else
			tset_make(&t, trange(1, 4), 1, 2, 1, 2); /* often N < world */
		for (int shuffle = 0; shuffle <= 1; shuffle++)
			for (int rem = 0; rem <= 1; rem++)
				for (size_t wi = 0; wi < 4; wi++)
					for (uint32_t workers = 1; workers <= 3; workers++) {
						struct sc_order_opts o = opts(shuffle, trng(), iter);

						o.world = worlds[wi];
						o.workers = workers;
						o.remainder = rem ? SC_REMAINDER_PAD : SC_REMAINDER_DROP;
						o.window = trange(1, 4);
						o.buffer = trange(1, 12);
						check_partition(&t, o);
					}
		tset_free(&t);
	}
}

/* ---- (d) determinism -------------------------------------------------- */

static uint64_t *positions(const struct tset *t, const struct sc_order_opts *o, uint64_t *n)
{
	struct sc_order *ord = order_new(t, o);
	uint64_t *em = emit_all(ord, n);

	/* global positions depend on the frame sequence: name records by (shard, frame, index) */
	for (uint64_t i = 0; i < *n; i++) {
		struct sc_order_item it = sc_order_input(ord, em[i]);
		const struct sc_order_frame *fr = sc_order_frame(ord, it.seq);

		em[i] = ((uint64_t)fr->shard << 40) | ((uint64_t)fr->frame << 16) | it.index;
	}
	sc_order_free(ord);
	return em;
}

static int same(const uint64_t *a, uint64_t na, const uint64_t *b, uint64_t nb)
{
	return na == nb && (na == 0 || !memcmp(a, b, na * sizeof(*a)));
}

static void test_determinism(void **state)
{
	struct tset t;
	struct sc_order_opts o = opts(1, 12345, 0);
	uint64_t *a, *b, na, nb;

	(void)state;
	trng_state = 4;
	tset_make(&t, 20, 5, 5, 10, 10);
	o.window = 4;
	o.buffer = 64;
	o.world = 2;
	o.rank = 1;
	o.workers = 2;
	o.worker = 1;
	a = positions(&t, &o, &na);
	b = positions(&t, &o, &nb);
	assert_true(same(a, na, b, nb));
	free(b);
	o.epoch = 1;
	b = positions(&t, &o, &nb);
	assert_false(same(a, na, b, nb));
	free(b);
	o.epoch = 0;
	o.seed = 12346;
	b = positions(&t, &o, &nb);
	assert_false(same(a, na, b, nb));
	free(b);
	/* the frame sequence alone changes with epoch and seed */
	for (int w = 0; w < 2; w++) {
		struct sc_order *x, *y;
		int differ = 0;

		o.seed = 12345;
		o.epoch = 0;
		x = order_new(&t, &o);
		if (w == 0)
			o.epoch = 1;
		else
			o.seed = 12346;
		y = order_new(&t, &o);
		for (uint64_t q = 0; q < sc_order_frames(x); q++)
			differ += sc_order_frame(x, q)->shard != sc_order_frame(y, q)->shard;
		assert_true(differ > 0);
		sc_order_free(x);
		sc_order_free(y);
	}
	o.epoch = 0;
	/* each key word of the buffer stream matters: same input, new order */
	o.seed = 12345;
	for (int w = 0; w < 2; w++) {
		struct sc_order *x, *y;
		struct sc_order_buffer bx, by;

		o.worker = 1;
		x = order_new(&t, &o);
		assert_int_equal(sc_order_buffer_init(&bx, x), 0);
		if (w == 0)
			o.worker = 0; /* other worker: other stream */
		else
			o.workers = 3, o.worker = 1;
		y = order_new(&t, &o);
		assert_int_equal(sc_order_buffer_init(&by, y), 0);
		assert_memory_not_equal(bx.rng, by.rng, sizeof(bx.rng));
		sc_order_buffer_release(&bx);
		sc_order_buffer_release(&by);
		sc_order_free(x);
		sc_order_free(y);
		o.workers = 2;
	}
	/* sequential ignores seed and epoch */
	free(a);
	o = opts(0, 1, 0);
	a = positions(&t, &o, &na);
	o.seed = 2;
	o.epoch = 9;
	b = positions(&t, &o, &nb);
	assert_true(same(a, na, b, nb));
	free(a);
	free(b);
	tset_free(&t);
}

/* ---- (e) resume ------------------------------------------------------ */

static void check_resume(const struct sc_order *ord, uint64_t step)
{
	uint64_t n, len = sc_order_length(ord);
	uint64_t *ref = emit_all(ord, &n);
	uint64_t *out = malloc((len ? len : 1) * sizeof(*out));

	assert_non_null(out);
	for (uint64_t k = 0; k <= len; k += (k < 40 || k + 40 > len) ? 1 : step) {
		struct sc_order_buffer b;
		uint64_t *mirror, got = 0;

		assert_int_equal(sc_order_buffer_init(&b, ord), 0);
		mirror = malloc(b.cap * sizeof(*mirror));
		assert_non_null(mirror);
		assert_int_equal(sc_order_buffer_skip(&b, k), 0);
		assert_int_equal(b.emitted, k);
		/* refetch what the slots hold */
		for (uint32_t j = 0; j < b.used; j++)
			mirror[j] = sc_order_buffer_slot(&b, j);
		drain(&b, mirror, out, &got);
		assert_int_equal(got, len - k);
		assert_true(same(out, got, ref + k, len - k));
		free(mirror);
		sc_order_buffer_release(&b);
	}
	free(out);
	free(ref);
}

static void test_resume(void **state)
{
	(void)state;
	trng_state = 5;
	for (int iter = 0; iter < 40; iter++) {
		struct tset t;
		struct sc_order_opts o = opts(iter % 5 != 0, trng(), iter);
		struct sc_order *ord;

		tset_make(&t, trange(0, 12), 0, 6, 1, 40);
		o.window = trange(1, 5);
		o.buffer = iter % 3 == 0 ? 1 : trange(2, 300);
		o.world = trange(1, 3);
		o.rank = trange(0, o.world - 1);
		o.workers = trange(1, 3);
		o.worker = trange(0, o.workers - 1);
		o.remainder = iter & 1 ? SC_REMAINDER_PAD : SC_REMAINDER_DROP;
		ord = order_new(&t, &o);
		check_resume(ord, 7);
		sc_order_free(ord);
		tset_free(&t);
	}
}

static void test_skip_errors(void **state)
{
	struct tset t;
	struct sc_order_opts o = opts(1, 1, 1);
	struct sc_order *ord;
	struct sc_order_buffer b;

	(void)state;
	trng_state = 6;
	tset_make(&t, 3, 2, 2, 5, 5);
	ord = order_new(&t, &o);
	assert_int_equal(sc_order_buffer_init(&b, ord), 0);
	assert_int_equal(sc_order_buffer_skip(&b, 31), SC_EUSAGE);
	assert_int_equal(sc_order_buffer_skip(&b, 30), 0);
	assert_int_equal(b.used, 0);
	assert_int_equal(sc_order_buffer_pop(&b), -1);
	/* not fresh */
	assert_int_equal(sc_order_buffer_skip(&b, 30), SC_EUSAGE);
	sc_order_buffer_release(&b);
	assert_int_equal(sc_order_buffer_init(&b, ord), 0);
	sc_order_buffer_push(&b);
	/* popping before the buffer is full is refused and changes nothing */
	assert_int_equal(sc_order_buffer_pop(&b), SC_EUSAGE);
	assert_int_equal(b.used, 1);
	assert_int_equal(b.emitted, 0);
	assert_int_equal(sc_order_buffer_skip(&b, 1), SC_EUSAGE);
	sc_order_buffer_release(&b);
	sc_order_buffer_release(&b); /* twice is harmless */
	sc_order_free(ord);
	sc_order_free(NULL);
	tset_free(&t);
}

/* ---- (f) sequential mode --------------------------------------------- */

static void test_sequential(void **state)
{
	(void)state;
	trng_state = 7;
	for (int iter = 0; iter < 100; iter++) {
		struct tset t;
		struct sc_order_opts o = opts(iter % 2 ? 1 : 0, trng(), iter);
		struct sc_order *ord;
		uint64_t n, *em, prev = 0;

		tset_random(&t);
		if (o.shuffle) {
			o.buffer = 1; /* shuffled frames, no buffer: input order too */
		} else {
			o.window = 0; /* ignored when sequential */
			o.buffer = 0;
		}
		o.world = trange(1, 3);
		o.rank = trange(0, o.world - 1);
		ord = order_new(&t, &o);
		em = emit_all(ord, &n);
		for (uint64_t i = 0; i < n; i++) {
			assert_int_equal(em[i], i);
			if (!o.shuffle) {
				/* positions are manifest order: (shard, frame, index) ascending */
				uint64_t p = input_pos(ord, i);

				if (i)
					assert_true(p == prev + 1);
				prev = p;
			}
		}
		if (!o.shuffle && n) {
			struct sc_order_buffer b;

			assert_int_equal(sc_order_buffer_init(&b, ord), 0);
			assert_int_equal(b.cap, 1);
			sc_order_buffer_release(&b);
		}
		free(em);
		sc_order_free(ord);
		tset_free(&t);
	}
}

/* ---- edge cases ------------------------------------------------------- */

static void test_edges(void **state)
{
	uint32_t nf0[3] = { 0, 0, 0 }, nf1[3] = { 0, 1, 0 }, r1[1] = { 3 };
	const uint32_t *rec1[3] = { NULL, r1, NULL };
	struct sc_order_set empty = { 0, NULL, NULL }, zeros = { 3, nf0, NULL };
	struct sc_order_set three = { 3, nf1, rec1 };
	struct sc_order_opts o;
	struct sc_order *ord;
	struct sc_order_buffer b;

	(void)state;
	/* N == 0: nothing, in every mode */
	for (int shuffle = 0; shuffle <= 1; shuffle++)
		for (int rem = 0; rem <= 1; rem++)
			for (int which = 0; which < 2; which++) {
				o = opts(shuffle, 5, 0);
				o.remainder = rem ? SC_REMAINDER_PAD : SC_REMAINDER_DROP;
				o.world = 3;
				o.rank = 2;
				assert_int_equal(sc_order_new(which ? &zeros : &empty, &o, &ord), 0);
				assert_int_equal(sc_order_frames(ord), 0);
				assert_int_equal(sc_order_total(ord), 0);
				assert_int_equal(sc_order_length(ord), 0);
				assert_null(sc_order_frame(ord, 0));
				assert_int_equal(sc_order_input(ord, 0).seq, UINT64_MAX);
				assert_int_equal(sc_order_buffer_init(&b, ord), 0);
				assert_int_equal(b.cap, 1);
				assert_int_equal(sc_order_buffer_want(&b), 0);
				assert_int_equal(sc_order_buffer_pop(&b), -1);
				assert_int_equal(sc_order_buffer_skip(&b, 0), 0);
				sc_order_buffer_release(&b);
				sc_order_free(ord);
			}
	/* 0 < N < world: N = 3, world = 7. DROP: 0 each. PAD: 1 each, floor(r*3/7). */
	for (int shuffle = 0; shuffle <= 1; shuffle++) {
		for (uint32_t r = 0; r < 7; r++) {
			o = opts(shuffle, 5, 0);
			o.world = 7;
			o.rank = r;
			assert_int_equal(sc_order_new(&three, &o, &ord), 0);
			assert_int_equal(sc_order_total(ord), 3);
			assert_int_equal(sc_order_length(ord), 0);
			sc_order_free(ord);
			o.remainder = SC_REMAINDER_PAD;
			assert_int_equal(sc_order_new(&three, &o, &ord), 0);
			assert_int_equal(sc_order_length(ord), 1);
			assert_int_equal(input_pos(ord, 0), (uint64_t)r * 3 / 7);
			assert_int_equal(sc_order_input(ord, 0).seq, 0);
			assert_int_equal(sc_order_frame(ord, 0)->shard, 1);
			/* with 2 workers: worker 0 gets nothing, worker 1 the one */
			o.workers = 2;
			o.worker = 0;
			sc_order_free(ord);
			assert_int_equal(sc_order_new(&three, &o, &ord), 0);
			assert_int_equal(sc_order_length(ord), 0);
			sc_order_free(ord);
			o.worker = 1;
			assert_int_equal(sc_order_new(&three, &o, &ord), 0);
			assert_int_equal(sc_order_length(ord), 1);
			sc_order_free(ord);
		}
	}
	/* PAD with N divisible by world: no repeat */
	{
		struct tset t;
		uint64_t n, *em;

		trng_state = 8;
		tset_make(&t, 3, 2, 2, 2, 2); /* N = 12 */
		for (uint32_t r = 0; r < 3; r++) {
			o = opts(1, 5, 0);
			o.world = 3;
			o.rank = r;
			o.remainder = SC_REMAINDER_PAD;
			ord = order_new(&t, &o);
			assert_int_equal(sc_order_length(ord), 4);
			em = emit_all(ord, &n);
			for (uint64_t i = 0; i < 4; i++)
				assert_int_equal(input_pos(ord, i), 4 * r + i);
			free(em);
			sc_order_free(ord);
		}
		tset_free(&t);
	}
	/* buffer larger than the input: cap shrinks, order as with an exact buffer */
	{
		struct tset t;
		uint64_t na, nb, *a, *bb;

		trng_state = 9;
		tset_make(&t, 2, 2, 2, 3, 3); /* N = 12 */
		o = opts(1, 5, 0);
		o.buffer = 12;
		ord = order_new(&t, &o);
		a = emit_all(ord, &na);
		sc_order_free(ord);
		o.buffer = UINT32_MAX;
		ord = order_new(&t, &o);
		assert_int_equal(sc_order_buffer_init(&b, ord), 0);
		assert_int_equal(b.cap, 12);
		sc_order_buffer_release(&b);
		bb = emit_all(ord, &nb);
		assert_true(same(a, na, bb, nb));
		free(a);
		free(bb);
		sc_order_free(ord);
		tset_free(&t);
	}
}

/* ---- (g) validation --------------------------------------------------- */

static void test_validation(void **state)
{
	struct tset t;
	struct sc_order_opts o;
	struct sc_order *ord = (struct sc_order *)1;
	uint32_t big[1] = { SC_SHARD_FRAMES_MAX + 1 }, zero_rec[2] = { 1, 0 }, two[1] = { 2 };
	const uint32_t *zr[1] = { zero_rec };
	struct sc_order_set s;

	(void)state;
	trng_state = 10;
	tset_make(&t, 3, 1, 3, 1, 5);
#define BAD(field, value, err)                                           \
	do {                                                             \
		o = opts(1, 1, 1);                                       \
		o.field = value;                                         \
		ord = (struct sc_order *)1;                              \
		assert_int_equal(sc_order_new(&t.set, &o, &ord), err);   \
		assert_null(ord);                                        \
	} while (0)
	BAD(world, 0, SC_EUSAGE);
	BAD(rank, 1, SC_EUSAGE);
	BAD(workers, 0, SC_EUSAGE);
	BAD(worker, 1, SC_EUSAGE);
	BAD(window, 0, SC_EUSAGE);
	BAD(buffer, 0, SC_EUSAGE);
	BAD(shuffle, 2, SC_EUSAGE);
	BAD(remainder, (enum sc_remainder)2, SC_EUSAGE);
	o = opts(1, 1, 1);
	o.world = UINT32_MAX;
	o.rank = UINT32_MAX - 1;
	o.workers = UINT32_MAX;
	o.worker = UINT32_MAX - 1;
	o.window = UINT32_MAX;
	o.buffer = UINT32_MAX;
	assert_int_equal(sc_order_new(&t.set, &o, &ord), 0);
	assert_int_equal(sc_order_length(ord), 0);
	sc_order_free(ord);
	/* NULL arguments */
	o = opts(1, 1, 1);
	assert_int_equal(sc_order_new(NULL, &o, &ord), SC_EUSAGE);
	assert_int_equal(sc_order_new(&t.set, NULL, &ord), SC_EUSAGE);
	assert_int_equal(sc_order_new(&t.set, &o, NULL), SC_EUSAGE);
	/* bad sets */
	s = (struct sc_order_set){ 1, NULL, NULL };
	assert_int_equal(sc_order_new(&s, &o, &ord), SC_EUSAGE);
	s = (struct sc_order_set){ 1, two, NULL };
	assert_int_equal(sc_order_new(&s, &o, &ord), SC_EUSAGE);
	s = (struct sc_order_set){ 1, two, zr };
	assert_int_equal(sc_order_new(&s, &o, &ord), SC_EUSAGE);
	assert_null(ord);
	s = (struct sc_order_set){ 1, big, zr };
	assert_int_equal(sc_order_new(&s, &o, &ord), SC_ELIMIT);
	s = (struct sc_order_set){ SC_SHARDS_MAX + 1, big, zr };
	assert_int_equal(sc_order_new(&s, &o, &ord), SC_ELIMIT);
#undef BAD
	tset_free(&t);
}

/* ---- a pinned order ---------------------------------------------------- */

/*
 * SC_ORDER_VERSION 1. If this fails the order changed: checkpoints taken
 * before would resume into a different order. Bump SC_ORDER_VERSION and
 * re-pin only when that is intended.
 */
static void test_golden(void **state)
{
	static const uint32_t gshard[] = {
		3, 5, 5, 5, 3, 4, 3, 2, 3, 2, 0, 0, 0,
	};
	static const uint64_t gemit[] = {
		5, 8, 6, 1, 9, 10, 2, 12, 0, 15, 4, 11, 18, 7, 21, 17,
		22, 13, 3, 23, 25, 26, 27, 24, 30, 19, 16, 28, 14, 29, 20,
	};
	uint32_t nf[6] = { 3, 0, 2, 4, 1, 3 };
	uint32_t r0[3] = { 4, 5, 6 }, r2[2] = { 7, 1 }, r3[4] = { 2, 2, 9, 3 };
	uint32_t r4[1] = { 8 }, r5[3] = { 5, 5, 5 };
	const uint32_t *rec[6] = { r0, NULL, r2, r3, r4, r5 };
	struct sc_order_set s = { 6, nf, rec };
	struct sc_order_opts o = opts(1, 0x5eed, 3);
	struct sc_order *ord;
	uint64_t n, *em;

	(void)state;
	assert_int_equal(SC_ORDER_VERSION, 1);
	o.window = 2;
	o.buffer = 8;
	o.world = 2;
	o.rank = 1;
	o.workers = 1;
	o.remainder = SC_REMAINDER_PAD;
	assert_int_equal(sc_order_new(&s, &o, &ord), 0);
	em = emit_all(ord, &n);
	if (getenv("ORDER_PRINT_GOLDEN")) {
		for (uint64_t q = 0; q < sc_order_frames(ord); q++)
			printf("%u, ", sc_order_frame(ord, q)->shard);
		printf("\n");
		for (uint64_t i = 0; i < n; i++)
			printf("%" PRIu64 ", ", em[i]);
		printf("\n");
	}
	assert_int_equal(sc_order_frames(ord), sizeof(gshard) / sizeof(gshard[0]));
	for (uint64_t q = 0; q < sc_order_frames(ord); q++)
		assert_int_equal(sc_order_frame(ord, q)->shard, gshard[q]);
	assert_int_equal(n, sizeof(gemit) / sizeof(gemit[0]));
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(em[i], gemit[i]);
	free(em);
	sc_order_free(ord);
}

/* ---- the shuffle mixes ------------------------------------------------ */

/* Distinct shards and the largest shard's share among the first `first` emitted. */
static void mix_stats(const struct tset *t, const struct sc_order_opts *o, uint64_t first,
		      uint32_t *distinct, uint64_t *maxcnt)
{
	struct sc_order *ord = order_new(t, o);
	uint64_t n, *em = emit_all(ord, &n);
	uint64_t *cnt = calloc(t->set.nshards, sizeof(*cnt));

	assert_non_null(cnt);
	assert_true(n >= first);
	*distinct = 0;
	*maxcnt = 0;
	for (uint64_t i = 0; i < first; i++) {
		struct sc_order_item it = sc_order_input(ord, em[i]);
		uint32_t s = sc_order_frame(ord, it.seq)->shard;

		*distinct += cnt[s]++ == 0;
		if (cnt[s] > *maxcnt)
			*maxcnt = cnt[s];
	}
	free(cnt);
	free(em);
	sc_order_free(ord);
}

static void test_mixing(void **state)
{
	struct tset t;
	struct sc_order_opts o = opts(1, 2024, 0);
	uint32_t distinct;
	uint64_t maxcnt;
	uint32_t perm_count[6] = { 0 };

	(void)state;
	trng_state = 11;
	/* 64 shards ("sources") of 10 frames of 100 records */
	tset_make(&t, 64, 10, 10, 100, 100);
	o.window = 64;
	o.buffer = 1024;
	mix_stats(&t, &o, 1000, &distinct, &maxcnt);
	if (getenv("ORDER_PRINT_MIX"))
		printf("distinct %u max %" PRIu64 "\n", distinct, maxcnt);
	assert_true(distinct >= 10);
	assert_true(maxcnt <= 300);
	/* the check discriminates: no window, no buffer reads one shard at a time */
	o.window = 1;
	o.buffer = 1;
	mix_stats(&t, &o, 1000, &distinct, &maxcnt);
	assert_int_equal(distinct, 1);
	assert_int_equal(maxcnt, 1000);
	tset_free(&t);

	/* shard permutations are uniform: 3 one-frame shards, window 1 */
	{
		uint32_t nf[3] = { 1, 1, 1 }, r[1] = { 1 };
		const uint32_t *rec[3] = { r, r, r };
		struct sc_order_set s = { 3, nf, rec };

		for (uint64_t seed = 0; seed < 6000; seed++) {
			struct sc_order *ord;
			uint32_t a, b;

			o = opts(1, seed, 0);
			o.window = 1;
			assert_int_equal(sc_order_new(&s, &o, &ord), 0);
			a = sc_order_frame(ord, 0)->shard;
			b = sc_order_frame(ord, 1)->shard;
			perm_count[a * 2 + (b > a ? b - 1 : b)]++;
			sc_order_free(ord);
		}
		for (int i = 0; i < 6; i++)
			assert_true(perm_count[i] > 800 && perm_count[i] < 1200);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_vectors),
		cmocka_unit_test(test_below),
		cmocka_unit_test(test_frame_sequence),
		cmocka_unit_test(test_sequence_shared),
		cmocka_unit_test(test_partition),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_skip_errors),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_mixing),
	};

	return cmocka_run_group_tests_name("order", tests, NULL, NULL);
}
