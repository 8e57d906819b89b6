/*
 * order.h - the record order of one reader for one epoch, computed from
 * metadata only (record counts per frame), never from data or timing.
 *
 * Model (docs/SHUFFLE.md):
 *  1. Frame sequence, the same for every rank and worker. Sequential: the
 *     shards in manifest order, each shard's frames in file order.
 *     Shuffled: the shards permuted by (seed, epoch); a window of `window`
 *     open shards, each next frame taken from an open shard chosen at
 *     random, an exhausted shard replaced by the next of the permutation.
 *     "At random" is uniform over the open shards (not weighted by the
 *     frames they have left); shards with no frames are skipped (they
 *     take no window slot). Exact procedure: docs/SHUFFLE.md.
 *  2. Global positions: the records of that frame sequence numbered
 *     0..N-1 in order (a frame's records in file order).
 *  3. Rank range: rank r of `world` owns positions
 *     [floor(r*N/world), floor((r+1)*N/world)); counts differ by at most
 *     one. remainder DROP: every rank yields floor(N/world) (a longer
 *     range drops its last position); PAD: every rank yields
 *     ceil(N/world) (a shorter range repeats its first position once at
 *     its end). The rank stream is that list of positions, M long.
 *     The "first position" of a range is floor(r*N/world) even when the
 *     range is empty (N < world): so with 0 < N < world, DROP gives every
 *     rank 0 records and PAD gives every rank 1 (ranks with an empty range
 *     repeat the first position of the next non-empty range). N == 0:
 *     every rank 0 in both modes.
 *  4. Worker range: worker w of `workers` owns rank-stream indexes
 *     [floor(w*M/workers), floor((w+1)*M/workers)). The workers of a
 *     rank together yield M; one worker's length may differ by one.
 *  5. Shuffled only: the worker's positions go, in order, through a
 *     buffer of `buffer` slots: fill it while there is input and room;
 *     then emit slot j = below(n) (n = slots in use), move the last slot
 *     into j; repeat until input and buffer are empty.
 *     Sequential: window and buffer are ignored (and not checked); the
 *     buffer has one slot, so the input passes straight through.
 * Random numbers: SplitMix64-seeded xoshiro256** streams, one per purpose,
 * keyed by (seed, epoch, "shards"), (seed, epoch, "frames") and (seed,
 * epoch, "buffer", rank, world, worker, workers) as docs/SHUFFLE.md says;
 * below(n) is exactly uniform (Lemire, with rejection) and draws nothing
 * when n == 1.
 *
 * Everything here is a pure function of its inputs; the reader feeds it
 * the set's per-frame record counts.
 */
#ifndef SC_ORDER_H
#define SC_ORDER_H

#include <stddef.h>
#include <stdint.h>

/*
 * The version of the order algorithm (docs/SHUFFLE.md). Any change that
 * alters an order for the same inputs bumps it; a resume checkpoint
 * should record it and refuse to resume under another version.
 */
#define SC_ORDER_VERSION 1

/*
 * The reader's default window, and the most slots its default buffer
 * takes (it sizes the buffer by bytes: docs/SHUFFLE.md "Defaults"), chosen
 * by measurement (tools/shuffle-quality.c). The buffer holds decoded
 * records: slots x mean record size per (rank, worker).
 */
#define SC_ORDER_WINDOW_DEFAULT 256
#define SC_ORDER_BUFFER_DEFAULT 16384

enum sc_remainder {
	SC_REMAINDER_DROP = 0,
	SC_REMAINDER_PAD = 1,
};

struct sc_order_opts {
	int shuffle;               /* 0: sequential, 1: shuffled */
	uint64_t seed;
	uint64_t epoch;
	uint32_t rank, world;      /* world >= 1, rank < world */
	uint32_t worker, workers;  /* workers >= 1, worker < workers */
	uint32_t window;           /* open shards interleaved (shuffled), >= 1 */
	uint32_t buffer;           /* shuffle buffer slots (shuffled), >= 1 */
	/* defaults: SC_ORDER_WINDOW_DEFAULT, SC_ORDER_BUFFER_DEFAULT */
	enum sc_remainder remainder;
};

/*
 * What the set looks like: per shard, the record count of each frame.
 * nshards <= SC_SHARDS_MAX and nframes[s] <= SC_SHARD_FRAMES_MAX (else
 * SC_ELIMIT); nframes[s] may be 0; records[s] may be NULL then.
 */
struct sc_order_set {
	uint32_t nshards;
	const uint32_t *nframes;          /* [nshards] */
	const uint32_t *const *records;   /* [nshards][nframes[s]] records per frame, >= 1 */
};

/* One frame of the frame sequence. */
struct sc_order_frame {
	uint32_t shard;
	uint32_t frame;
	uint64_t first;     /* global position of its first record */
	uint32_t records;
};

/* One record a reader yields: where it lives. */
struct sc_order_item {
	uint64_t seq;       /* index of its frame in the frame sequence */
	uint32_t index;     /* record index within that frame */
};

struct sc_order;

/*
 * Build the frame sequence and this reader's stream (steps 1-4).
 * A reader is one (rank, worker). 0, SC_EUSAGE (bad options: shuffle not
 * 0/1, world or workers 0, rank >= world, worker >= workers, unknown
 * remainder, window or buffer 0 when shuffled; or a bad set: NULL arrays,
 * a frame of 0 records), -ENOMEM, SC_ELIMIT (N overflows 64 bits, or a
 * set limit above). On failure *out is NULL.
 * Memory: O(frames in the set + 1) for the sequence; O(1) per record.
 */
int sc_order_new(const struct sc_order_set *set, const struct sc_order_opts *o,
		 struct sc_order **out);
void sc_order_free(struct sc_order *ord); /* accepts NULL */

/* The frame sequence, the same for every rank and worker. */
uint64_t sc_order_frames(const struct sc_order *ord);
const struct sc_order_frame *sc_order_frame(const struct sc_order *ord, uint64_t seq); /* NULL past the end */
uint64_t sc_order_total(const struct sc_order *ord);   /* N */
uint64_t sc_order_length(const struct sc_order *ord);  /* records this (rank, worker) yields */

/*
 * The reader's stream before the shuffle buffer (step 4 output): item i
 * of 0..length-1, in frame-sequence order apart from a PAD repeat at the
 * end. O(log frames). i >= length: { UINT64_MAX, UINT32_MAX }.
 */
struct sc_order_item sc_order_input(const struct sc_order *ord, uint64_t i);

/*
 * The shuffle buffer (step 5), on input indexes 0..length-1. Sequential
 * readers pass input straight through (buffer of one). Typical use:
 *
 *   while (sc_order_buffer_want(b))          push input item b->pushed
 *       sc_order_buffer_push(b);
 *   k = sc_order_buffer_pop(b);              slot to emit, -1 when done
 *
 * The buffer tracks input indexes; the reader keeps the records in a slot
 * array of the same shape (`cap` slots: min(buffer, length), at least 1;
 * 1 when sequential) and mirrors each pop (emit slot k, then move slot
 * `last` into k). Pop only when want() is 0: the order, and so resume,
 * is defined for exactly that loop.
 */
struct sc_order_buffer {
	uint64_t pushed;     /* input items pushed so far */
	uint64_t emitted;    /* items emitted so far */
	uint32_t used;       /* slots in use */
	uint32_t last;       /* after a pop: the slot that moved into k */
	/* private */
	uint64_t *slot;      /* [cap] input index held by each slot */
	uint32_t cap;        /* slots (readable: size the record slot array) */
	uint64_t length;
	uint64_t rng[4];
};

/* 0 or -ENOMEM. The buffer does not refer to ord afterwards. */
int sc_order_buffer_init(struct sc_order_buffer *b, const struct sc_order *ord);
void sc_order_buffer_release(struct sc_order_buffer *b);
/* 1 while the buffer wants the next input item (there is input and room). */
int sc_order_buffer_want(const struct sc_order_buffer *b);
/* Account input item b->pushed into slot b->used (no-op unless want()). */
void sc_order_buffer_push(struct sc_order_buffer *b);
/* Choose the next slot to emit; -1 when everything was emitted. Sets
 * b->last to the slot moved into the emitted one (== k when k was last).
 * SC_EUSAGE (< -1), changing nothing, if called while want() is 1. */
int64_t sc_order_buffer_pop(struct sc_order_buffer *b);
/* Input index held by slot k; UINT64_MAX if k >= used. */
uint64_t sc_order_buffer_slot(const struct sc_order_buffer *b, uint32_t k);

/*
 * Resume: advance a fresh buffer to the state after `emitted` items by
 * replaying pushes and pops on indexes only (O(emitted), no data).
 * Afterwards slots 0..used-1 hold the input indexes whose records the
 * reader must fetch again (then it goes on with the loop above).
 * SC_EUSAGE if emitted > length or the buffer is not fresh.
 */
int sc_order_buffer_skip(struct sc_order_buffer *b, uint64_t emitted);

#endif
