/*
 * order.c - the record order of one reader for one epoch (see order.h and
 * docs/SHUFFLE.md, which is the specification of every step below: a
 * change to any of them changes the order and so breaks resume from
 * checkpoints taken before it; bump SC_ORDER_VERSION when that happens).
 *
 * Random numbers: xoshiro256** (Blackman and Vigna, public domain), its
 * state filled by SplitMix64 (Steele, Lea and Flood; public domain) from a
 * 64-bit key that is hashed from (seed, epoch, purpose[, rank, world,
 * worker, workers]). Integers below n: Lemire's multiply-shift with
 * rejection, exactly uniform.
 */
#include "order.h"

#include "sc_base.h"

/* ---- random numbers ---------------------------------------------------- */

#define GOLDEN 0x9e3779b97f4a7c15ull

/* The SplitMix64 output function (a bijection of 64-bit words). */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t splitmix64_next(uint64_t *x)
{
	*x += GOLDEN;
	return mix64(*x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t s[4])
{
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform integer in [0, n), n >= 1. n == 1 draws nothing. */
static uint64_t below(uint64_t s[4], uint64_t n)
{
	unsigned __int128 m;
	uint64_t l;

	if (n <= 1)
		return 0;
	m = (unsigned __int128)xoshiro_next(s) * n;
	l = (uint64_t)m;
	if (l < n) {
		uint64_t t = (0 - n) % n; /* 2^64 mod n */

		while (l < t) {
			m = (unsigned __int128)xoshiro_next(s) * n;
			l = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/*
 * Purpose words: the ASCII name packed little-endian into 64 bits
 * ("shards" is 0x0000736472616873).
 */
static uint64_t purpose(const char *name)
{
	uint64_t w = 0;

	for (int i = 0; i < 8 && name[i]; i++)
		w |= (uint64_t)(unsigned char)name[i] << (8 * i);
	return w;
}

/*
 * Seed a stream: k = seed; for each further key word w: k = mix64(k ^ w)
 * (after adding GOLDEN so a zero word still moves k); then the four state
 * words are the first four outputs of SplitMix64 started at k.
 */
static void stream_init(uint64_t s[4], const uint64_t *key, size_t nkey)
{
	uint64_t k = key[0];

	for (size_t i = 1; i < nkey; i++)
		k = mix64((k ^ key[i]) + GOLDEN);
	for (int i = 0; i < 4; i++)
		s[i] = splitmix64_next(&k);
}

static void stream_shared(uint64_t s[4], const struct sc_order_opts *o, const char *name)
{
	uint64_t key[3] = { o->seed, o->epoch, purpose(name) };

	stream_init(s, key, 3);
}

/* ---- the order --------------------------------------------------------- */

struct sc_order {
	struct sc_order_frame *seq;   /* [nseq] the frame sequence */
	uint64_t nseq;
	uint64_t total;               /* N */
	uint64_t rlo, rlen;           /* rank range [rlo, rlo + rlen) */
	uint64_t rank_len;            /* M: the rank stream's length */
	uint64_t wlo;                 /* worker's first rank-stream index */
	uint64_t length;              /* worker's length */
	struct sc_order_opts o;
};

static int check_opts(const struct sc_order_opts *o)
{
	if (o->shuffle != 0 && o->shuffle != 1)
		return SC_EUSAGE;
	if (o->world < 1 || o->rank >= o->world)
		return SC_EUSAGE;
	if (o->workers < 1 || o->worker >= o->workers)
		return SC_EUSAGE;
	if (o->remainder != SC_REMAINDER_DROP && o->remainder != SC_REMAINDER_PAD)
		return SC_EUSAGE;
	if (o->shuffle && (o->window < 1 || o->buffer < 1))
		return SC_EUSAGE;
	return 0;
}

/* Check the set's shape and count frames and records. */
static int check_set(const struct sc_order_set *set, uint64_t *frames, uint64_t *records)
{
	uint64_t nf = 0, n = 0;

	if (set->nshards > SC_SHARDS_MAX)
		return SC_ELIMIT;
	if (set->nshards && !set->nframes)
		return SC_EUSAGE;
	for (uint32_t s = 0; s < set->nshards; s++) {
		if (set->nframes[s] > SC_SHARD_FRAMES_MAX)
			return SC_ELIMIT;
		if (!set->nframes[s])
			continue;
		if (!set->records || !set->records[s])
			return SC_EUSAGE;
		nf += set->nframes[s];
		for (uint32_t f = 0; f < set->nframes[s]; f++) {
			if (set->records[s][f] == 0)
				return SC_EUSAGE;
			if (__builtin_add_overflow(n, (uint64_t)set->records[s][f], &n))
				return SC_ELIMIT;
		}
	}
	*frames = nf;
	*records = n;
	return 0;
}

static void put_frame(struct sc_order *ord, const struct sc_order_set *set,
		      uint32_t s, uint32_t f, uint64_t *pos)
{
	struct sc_order_frame *fr = &ord->seq[ord->nseq++];

	fr->shard = s;
	fr->frame = f;
	fr->first = *pos;
	fr->records = set->records[s][f];
	*pos += fr->records;
}

struct open_shard {
	uint32_t shard;
	uint32_t next; /* next frame to take */
};

/* Step 1, shuffled: permute the shards, interleave a window of them. */
static int build_shuffled(struct sc_order *ord, const struct sc_order_set *set)
{
	uint32_t ns = set->nshards, w, nopen = 0, pi = 0;
	uint32_t *perm;
	struct open_shard *open;
	uint64_t st[4], pos = 0;

	if (ns == 0)
		return 0;
	w = ord->o.window < ns ? ord->o.window : ns;
	perm = malloc((size_t)ns * sizeof(*perm));
	open = malloc((size_t)w * sizeof(*open));
	if (!perm || !open) {
		free(perm);
		free(open);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < ns; i++)
		perm[i] = i;
	stream_shared(st, &ord->o, "shards");
	for (uint32_t i = ns - 1; i >= 1; i--) {
		uint32_t j = (uint32_t)below(st, (uint64_t)i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}

	/* open the first w shards of the permutation that have frames */
	while (nopen < w && pi < ns) {
		uint32_t s = perm[pi++];

		if (set->nframes[s])
			open[nopen++] = (struct open_shard){ s, 0 };
	}
	stream_shared(st, &ord->o, "frames");
	while (nopen) {
		uint32_t j = (uint32_t)below(st, nopen);
		uint32_t s = open[j].shard;

		put_frame(ord, set, s, open[j].next++, &pos);
		if (open[j].next < set->nframes[s])
			continue;
		/* exhausted: the next shard of the permutation takes its slot */
		while (pi < ns && set->nframes[perm[pi]] == 0)
			pi++;
		if (pi < ns)
			open[j] = (struct open_shard){ perm[pi++], 0 };
		else
			open[j] = open[--nopen];
	}
	free(perm);
	free(open);
	return 0;
}

/* floor(a * b / c) without overflow; c > 0, a <= c. */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	return (uint64_t)((unsigned __int128)a * b / c);
}

int sc_order_new(const struct sc_order_set *set, const struct sc_order_opts *o,
		 struct sc_order **out)
{
	struct sc_order *ord;
	uint64_t nf, n, hi, wlo, whi;
	int rc;

	if (!out)
		return SC_EUSAGE;
	*out = NULL;
	if (!set || !o)
		return SC_EUSAGE;
	rc = check_opts(o);
	if (rc)
		return rc;
	rc = check_set(set, &nf, &n);
	if (rc)
		return rc;
	if (nf > SIZE_MAX / sizeof(struct sc_order_frame))
		return SC_ELIMIT;

	ord = calloc(1, sizeof(*ord));
	if (!ord)
		return -ENOMEM;
	ord->o = *o;
	ord->seq = malloc(nf ? (size_t)nf * sizeof(*ord->seq) : 1);
	if (!ord->seq) {
		free(ord);
		return -ENOMEM;
	}

	/* step 1: the frame sequence (step 2 numbers its records) */
	if (o->shuffle) {
		rc = build_shuffled(ord, set);
		if (rc) {
			sc_order_free(ord);
			return rc;
		}
	} else {
		uint64_t pos = 0;

		for (uint32_t s = 0; s < set->nshards; s++)
			for (uint32_t f = 0; f < set->nframes[s]; f++)
				put_frame(ord, set, s, f, &pos);
	}
	ord->total = n;

	/* step 3: the rank range and the rank stream */
	ord->rlo = muldiv(o->rank, n, o->world);
	hi = muldiv((uint64_t)o->rank + 1, n, o->world);
	ord->rlen = hi - ord->rlo;
	if (o->remainder == SC_REMAINDER_DROP)
		ord->rank_len = n / o->world;
	else
		ord->rank_len = n / o->world + (n % o->world != 0);

	/* step 4: the worker's part of the rank stream */
	wlo = muldiv(o->worker, ord->rank_len, o->workers);
	whi = muldiv((uint64_t)o->worker + 1, ord->rank_len, o->workers);
	ord->wlo = wlo;
	ord->length = whi - wlo;
	*out = ord;
	return 0;
}

void sc_order_free(struct sc_order *ord)
{
	if (!ord)
		return;
	free(ord->seq);
	free(ord);
}

uint64_t sc_order_frames(const struct sc_order *ord)
{
	return ord->nseq;
}

const struct sc_order_frame *sc_order_frame(const struct sc_order *ord, uint64_t seq)
{
	return seq < ord->nseq ? &ord->seq[seq] : NULL;
}

uint64_t sc_order_total(const struct sc_order *ord)
{
	return ord->total;
}

uint64_t sc_order_length(const struct sc_order *ord)
{
	return ord->length;
}

struct sc_order_item sc_order_input(const struct sc_order *ord, uint64_t i)
{
	struct sc_order_item it = { UINT64_MAX, UINT32_MAX };
	uint64_t j, p, lo, hi;

	if (i >= ord->length)
		return it;
	j = ord->wlo + i;
	/* PAD: index rlen (only ever one past the range) repeats its start */
	p = j < ord->rlen ? ord->rlo + j : ord->rlo;
	/* the last frame whose first record is <= p */
	lo = 0;
	hi = ord->nseq;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (ord->seq[mid].first <= p)
			lo = mid;
		else
			hi = mid;
	}
	it.seq = lo;
	it.index = (uint32_t)(p - ord->seq[lo].first);
	return it;
}

/* ---- the shuffle buffer ------------------------------------------------ */

int sc_order_buffer_init(struct sc_order_buffer *b, const struct sc_order *ord)
{
	const struct sc_order_opts *o = &ord->o;

	memset(b, 0, sizeof(*b));
	b->length = ord->length;
	if (o->shuffle) {
		uint64_t key[7] = { o->seed, o->epoch, purpose("buffer"), o->rank,
				    o->world, o->worker, o->workers };

		b->cap = o->buffer;
		if (b->length < b->cap)
			b->cap = b->length ? (uint32_t)b->length : 1;
		stream_init(b->rng, key, 7);
	} else {
		b->cap = 1;
	}
	b->slot = malloc((size_t)b->cap * sizeof(*b->slot));
	if (!b->slot)
		return -ENOMEM;
	return 0;
}

void sc_order_buffer_release(struct sc_order_buffer *b)
{
	free(b->slot);
	b->slot = NULL;
	b->cap = 0;
	b->used = 0;
}

int sc_order_buffer_want(const struct sc_order_buffer *b)
{
	return b->pushed < b->length && b->used < b->cap;
}

void sc_order_buffer_push(struct sc_order_buffer *b)
{
	if (!sc_order_buffer_want(b))
		return;
	b->slot[b->used++] = b->pushed++;
}

int64_t sc_order_buffer_pop(struct sc_order_buffer *b)
{
	uint32_t k;

	if (sc_order_buffer_want(b))
		return SC_EUSAGE;
	if (b->used == 0)
		return -1;
	/* cap 1 (sequential, or buffer 1) and the tail's last slot draw nothing */
	k = (uint32_t)below(b->rng, b->used);
	b->last = --b->used;
	b->slot[k] = b->slot[b->last];
	b->emitted++;
	return k;
}

uint64_t sc_order_buffer_slot(const struct sc_order_buffer *b, uint32_t k)
{
	return k < b->used ? b->slot[k] : UINT64_MAX;
}

int sc_order_buffer_skip(struct sc_order_buffer *b, uint64_t emitted)
{
	if (b->pushed != 0 || b->emitted != 0 || emitted > b->length)
		return SC_EUSAGE;
	while (b->emitted < emitted) {
		while (sc_order_buffer_want(b))
			b->slot[b->used++] = b->pushed++;
		(void)sc_order_buffer_pop(b);
	}
	return 0;
}
