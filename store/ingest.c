/*
 * ingest.c - the ingest pipeline (see ingest.h for the threading model).
 *
 * Two job kinds run on the worker pool:
 *   parse jobs     one input batch -> per-record verdicts, fingerprints and
 *                  the bytes to store (the original line when normalization
 *                  changed nothing, else the line with its text value
 *                  re-encoded)
 *   compress jobs  one frame of records -> one zstd frame
 * Both live in fixed rings, so memory is bounded by the ring sizes times
 * the batch and frame sizes, whatever the input size. The calling thread
 * consumes both rings strictly in order.
 *
 * Resuming (docs/RESUME.md) runs the very same pipeline from the first
 * input byte: the dedup index, the LSH index, the statistics and the
 * --rejects and --near-report files come out exactly as in an
 * uninterrupted run because they are made the same way. Only the frames
 * that the kept shards already hold are not compressed and written: a
 * compress job for one of them just computes the frame checksum, and the
 * set writer checks size, checksum and record count against the kept
 * shard's trailer. Frame and shard boundaries depend only on the kept
 * records, so the first frame after the kept ones starts the next shard.
 */
#include "ingest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>
#include <zstd.h>

#include "dedup.h"
#include "digest.h"
#include "fingerprint.h"
#include "input.h"
#include "json.h"
#include "lsh.h"
#include "manifest.h"
#include "normalize.h"
#include "set.h"
#include "shard.h"
#include "utf8.h"
#include "workq.h"

enum rec_status { REC_OK, REC_BLANK, REC_REJECT };

struct rec_result {
	uint8_t status;        /* enum rec_status */
	uint8_t reject;        /* enum sc_reject when REC_REJECT */
	uint8_t normalized;    /* 1 when normalization changed the text */
	uint8_t as_read;       /* 1: stored as read, the batch line plus '\n' */
	uint64_t out_off;      /* else: stored bytes in the job's out buffer */
	uint64_t out_len;      /* including the final newline */
	uint64_t err_off;      /* byte offset of a reject's cause */
	const char *detail;    /* static text about a reject, or NULL */
	uint64_t text_in;      /* decoded text bytes before normalization */
	uint64_t text_out;     /* after */
	struct sc_fp fp;       /* dedup fingerprint */
	uint8_t has_sig;       /* 1: near-dup signature in the job's sigs */
};

struct ingest;

/* Where a kept LSH document came from, for --near-report. */
struct near_ref {
	uint64_t record;            /* its position in the set (0-based) */
	uint64_t line;              /* input line */
	uint32_t file;              /* input file index */
};

struct parse_job {
	struct sc_job job;          /* must be first */
	const struct ingest *ing;   /* read-only options */
	struct sc_batch batch;      /* input records */
	struct rec_result *res;     /* [batch.nrecs] */
	size_t res_cap;
	struct sc_buf out;          /* stored bytes of accepted records */
	uint8_t *sigs;              /* [res_cap * psize] packed near-dup signatures */
	int rc;                     /* resource failure, 0 otherwise */
};

struct compress_job {
	struct sc_job job;          /* must be first */
	struct sc_buf raw;          /* the frame's records */
	uint32_t records;           /* records in raw */
	struct sc_buf comp;         /* compressed frame */
	uint32_t checksum;          /* seek-table checksum of raw */
	int replay;                 /* 1: a kept shard holds it; checksum only */
	int rc;
};

struct worker_ctx {
	struct sc_frame_encoder *enc;  /* reused zstd context */
	struct sc_buf text;            /* decoded text value */
	struct sc_buf norm;            /* normalized text */
	struct sc_buf key;             /* dedup key scratch */
	struct sc_buf nearbuf;         /* near-dup normalization scratch */
	uint64_t mins[SC_NEAR_HASHES_MAX]; /* full near-dup signature */
	int level;
};

struct ingest {
	const struct sc_ingest_opts *o;
	struct sc_stats *st;
	char *err;
	size_t errlen;
	struct sc_input *in;
	struct sc_workq *q;
	struct sc_dedup *dedup;
	struct sc_lsh *lsh;             /* near-dup index (SC_DEDUP_NEAR) */
	double near_cut;                /* sc_near_removal_cut() of the options */
	size_t psize;                   /* bytes of a packed near-dup signature */
	FILE *near_report;              /* --near-report, or NULL */
	struct near_ref *refs;          /* [nrefs_cap] per LSH document, with a report */
	size_t nrefs_cap;
	struct sc_set_writer *writer;
	FILE *rejects;
	unsigned shown;                 /* rejects printed so far */
	int input_failed;               /* strict mode: an input error happened */
	char input_msg[1024];           /* the first input error */
	struct parse_job *pj;           /* [nparse] ring */
	unsigned nparse;
	struct compress_job *cj;        /* [ncomp] ring */
	unsigned ncomp;
	uint64_t chead, ctail;          /* compress jobs consumed / started */
	int frame_open;                 /* cj[ctail % ncomp] is being filled */
	uint64_t replay_frames;         /* frames the kept shards hold (--resume) */
	uint32_t rec_file;              /* input file of the record being consumed */
	uint64_t rec_line;              /* ... and its line */
	struct timespec t0;
	double last_progress;
	const struct sc_ingest_sink *sink; /* sc_ingest_scan: where records go, else NULL */
	uint64_t *last_line;            /* sc_ingest_scan: [input files] lines read */
};

static int fail(struct ingest *g, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ingest *g, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->err, g->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static double elapsed(const struct ingest *g)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - g->t0.tv_sec) + (double)(t.tv_nsec - g->t0.tv_nsec) / 1e9;
}

static void message(struct ingest *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void message(struct ingest *g, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (!g->o->message)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	g->o->message(g->o->cb_ctx, buf);
}

/* ---- worker side ---- */

static int worker_init(void *arg, void **ctx)
{
	const struct ingest *g = arg;
	struct worker_ctx *w = calloc(1, sizeof(*w));
	size_t cap = (size_t)g->o->max_record_size * 4 + 64;
	int rc;

	if (!w)
		return -ENOMEM;
	sc_buf_init(&w->text, cap);
	sc_buf_init(&w->norm, cap);
	sc_buf_init(&w->key, cap);
	sc_buf_init(&w->nearbuf, cap);
	w->level = g->o->zstd_level;
	rc = sc_frame_encoder_new(w->level, &w->enc);
	if (rc) {
		free(w);
		return rc;
	}
	*ctx = w;
	return 0;
}

static void worker_fini(void *ctx)
{
	struct worker_ctx *w = ctx;

	if (!w)
		return;
	sc_frame_encoder_free(w->enc);
	sc_buf_release(&w->text);
	sc_buf_release(&w->norm);
	sc_buf_release(&w->key);
	sc_buf_release(&w->nearbuf);
	free(w);
}

static int is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' &&
		    s[i] != '\v' && s[i] != '\n')
			return 0;
	return 1;
}

static void reject(struct rec_result *r, enum sc_reject why, uint64_t off,
		   const char *detail)
{
	r->status = REC_REJECT;
	r->reject = (uint8_t)why;
	r->err_off = off;
	r->detail = detail;
}

/* One record: verdict, fingerprint and stored bytes appended to out. */
static int parse_record(const struct ingest *g, struct worker_ctx *w,
			const char *line, const struct sc_rec_ref *ref,
			struct rec_result *r, struct sc_buf *out, uint8_t *sig)
{
	const struct sc_ingest_opts *o = g->o;
	const char *text;
	size_t tlen, bad;
	struct sc_json_record jr;
	int rc, changed;

	memset(r, 0, sizeof(*r));
	if (ref->flags & SC_REC_TOO_LARGE) {
		reject(r, SC_REJECT_TOO_LARGE, o->max_record_size, "record exceeds --max-record-size");
		return 0;
	}
	if (!o->record_per_file && is_blank(line, ref->len)) {
		r->status = REC_BLANK;
		return 0;
	}
	if (!o->format_text) {
		rc = sc_json_scan_record(line, ref->len, o->text_field,
					 strlen(o->text_field), &jr, &w->text);
		if (rc)
			return rc;
		if (jr.reject != SC_REJECT_NONE) {
			reject(r, jr.reject, jr.err_offset, jr.detail);
			return 0;
		}
		text = w->text.data;
		tlen = w->text.len;
	} else {
		const char *nul = memchr(line, 0, ref->len);

		if (nul) {
			reject(r, SC_REJECT_NUL_BYTE, (uint64_t)(nul - line), "nul byte in text");
			return 0;
		}
		bad = sc_utf8_check(line, ref->len);
		if (bad != ref->len) {
			reject(r, SC_REJECT_INVALID_UTF8, bad, "invalid utf-8 sequence");
			return 0;
		}
		text = line;
		tlen = ref->len;
	}
	r->text_in = tlen;
	/* plain ASCII text is left alone by every rule: skip the pass */
	changed = !o->format_text && jr.text_plain ? 0 :
		  sc_normalize(o->normalize, text, tlen, &w->norm);
	if (changed < 0)
		return changed;
	if (changed) {
		text = w->norm.data;
		tlen = w->norm.len;
		r->normalized = 1;
	}
	if (is_blank(text, tlen)) {
		reject(r, SC_REJECT_EMPTY_TEXT, 0, "text is empty or white space only");
		return 0;
	}
	r->text_out = tlen;
	if (o->dedup == SC_DEDUP_EXACT) {
		rc = sc_fingerprint_text(text, tlen, &w->key, &r->fp);
		if (rc)
			return rc;
	}
	if (o->dedup == SC_DEDUP_NEAR) {
		rc = sc_fingerprint_text(text, tlen, &w->key, &r->fp);
		if (!rc)
			rc = sc_near_signature(&o->near, text, tlen, &w->nearbuf, w->mins);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			sc_near_pack(w->mins, o->near.bands * o->near.rows, sig);
			r->has_sig = 1;
		}
	}
	r->status = REC_OK;
	if (!o->format_text && !changed) {
		/* the common case: the line is stored as it is, no copy here */
		r->as_read = 1;
		r->out_len = ref->len + 1;
		return 0;
	}
	r->out_off = out->len;
	if (!o->format_text) {
		rc = sc_buf_append(out, line, jr.val_start);
		if (!rc)
			rc = sc_json_escape(out, text, tlen);
		if (!rc)
			rc = sc_buf_append(out, line + jr.val_end, ref->len - jr.val_end);
	} else {
		rc = sc_buf_putc(out, '{');
		if (!rc)
			rc = sc_json_escape(out, o->text_field, strlen(o->text_field));
		if (!rc)
			rc = sc_buf_putc(out, ':');
		if (!rc)
			rc = sc_json_escape(out, text, tlen);
		if (!rc)
			rc = sc_buf_putc(out, '}');
	}
	if (!rc)
		rc = sc_buf_putc(out, '\n');
	r->out_len = out->len - r->out_off;
	return rc;
}

static void parse_run(struct sc_job *job, void *ctx)
{
	struct parse_job *p = (struct parse_job *)job;
	struct sc_batch *b = &p->batch;

	p->rc = 0;
	p->out.len = 0;
	if (b->nrecs > p->res_cap) {
		void *n = realloc(p->res, b->nrecs * sizeof(*p->res));

		if (!n) {
			p->rc = -ENOMEM;
			return;
		}
		p->res = n;
		if (p->ing->psize) {
			n = realloc(p->sigs, b->nrecs * p->ing->psize);
			if (!n) {
				p->rc = -ENOMEM;
				return;
			}
			p->sigs = n;
		}
		p->res_cap = b->nrecs;
	}
	for (size_t i = 0; i < b->nrecs && !p->rc; i++)
		p->rc = parse_record(p->ing, ctx, b->data.data + b->recs[i].off,
				     &b->recs[i], &p->res[i], &p->out,
				     p->sigs ? p->sigs + i * p->ing->psize : NULL);
}

static void compress_run(struct sc_job *job, void *ctx)
{
	struct compress_job *c = (struct compress_job *)job;
	struct worker_ctx *w = ctx;

	if (c->replay) {
		/* the checksum sc_frame_encode would give (FORMAT.md section 4) */
		c->checksum = (uint32_t)XXH64(c->raw.data, c->raw.len, 0);
		c->rc = 0;
		return;
	}
	c->rc = sc_frame_encode(w->enc, c->raw.data, c->raw.len, &c->comp,
				&c->checksum);
}

/* ---- calling-thread side ---- */

static void on_input_error(void *ctx, const char *file, uint64_t line,
			   const char *msg)
{
	struct ingest *g = ctx;

	if (g->sink) {
		char why[1024];

		if (g->sink->input_error && !g->input_failed &&
		    g->sink->input_error(g->sink->ctx, file, line, msg, why, sizeof(why)) < 0) {
			g->input_failed = 1;
			snprintf(g->input_msg, sizeof(g->input_msg), "%s", why);
		}
		return;
	}
	message(g, "input '%s': after line %" PRIu64 ": %s", file, line, msg);
	if (g->o->strict && !g->input_failed) {
		g->input_failed = 1;
		snprintf(g->input_msg, sizeof(g->input_msg),
			 "input '%s': after line %" PRIu64 ": %s (--strict)", file, line, msg);
	}
}

static void maybe_progress(struct ingest *g, int force)
{
	struct sc_ingest_progress p;
	double t;

	if (!g->o->progress)
		return;
	t = elapsed(g);
	if (!force && t - g->last_progress < 0.25)
		return;
	g->last_progress = t;
	p.bytes_read = sc_input_bytes_read(g->in);
	p.bytes_total = sc_input_total_bytes(g->in);
	p.bytes_in = g->st->bytes_in;
	p.records_in = g->st->records_in;
	p.records_kept = g->st->records_kept;
	p.duplicates = g->st->duplicates;
	p.rejected = g->st->records_rejected;
	p.bytes_stored = g->writer ? sc_set_writer_stored_bytes(g->writer)
				   : g->st->bytes_stored;
	p.elapsed_s = t;
	p.replaying = g->writer && sc_set_writer_replaying(g->writer);
	g->o->progress(g->o->cb_ctx, &p);
}

/* Wait for the oldest compress job and append its frame to the set. */
static int drain_one(struct ingest *g)
{
	struct compress_job *c = &g->cj[g->chead % g->ncomp];
	int rc;

	sc_workq_wait(g->q, &c->job);
	if (c->rc)
		return fail(g, c->rc, "compressing frame: %s", sc_strerror(c->rc));
	rc = sc_set_writer_add_frame(g->writer, c->replay ? NULL : c->comp.data,
				     c->replay ? 0 : c->comp.len,
				     (uint32_t)c->raw.len, c->checksum, c->records,
				     g->err, g->errlen);
	if (rc)
		return rc;
	g->st->frames++;
	g->chead++;
	return 0;
}

static int drain_ready(struct ingest *g)
{
	int rc = 0;

	while (!rc && g->chead < g->ctail &&
	       sc_workq_is_done(g->q, &g->cj[g->chead % g->ncomp].job))
		rc = drain_one(g);
	return rc;
}

static int frame_submit(struct ingest *g)
{
	struct compress_job *c = &g->cj[g->ctail % g->ncomp];

	c->job.run = compress_run;
	c->replay = g->ctail < g->replay_frames;
	sc_workq_submit(g->q, &c->job);
	g->ctail++;
	g->frame_open = 0;
	return 0;
}

/*
 * Append one stored record (rec[0..len), then a '\n' when nl) to the
 * current frame, cutting frames by size.
 */
static int frame_add(struct ingest *g, const char *rec, size_t len, int nl)
{
	struct compress_job *c;
	int rc;

	len += (size_t)nl;
	if (g->frame_open) {
		c = &g->cj[g->ctail % g->ncomp];
		if (c->raw.len + len > g->o->frame_size && c->raw.len)
			frame_submit(g);
	}
	if (!g->frame_open) {
		if (g->ctail - g->chead == g->ncomp && (rc = drain_one(g)))
			return rc;
		c = &g->cj[g->ctail % g->ncomp];
		c->raw.len = 0;
		c->records = 0;
		g->frame_open = 1;
		if (g->replay_frames && g->ctail == g->replay_frames)
			message(g, "resume: past the kept shards at input '%s' line %" PRIu64
				": writing from there on",
				sc_input_file_name(g->in, g->rec_file), g->rec_line);
	}
	c = &g->cj[g->ctail % g->ncomp];
	rc = sc_buf_append(&c->raw, rec, len - (size_t)nl);
	if (!rc && nl)
		rc = sc_buf_putc(&c->raw, '\n');
	if (rc)
		return fail(g, rc, "frame buffer: %s", sc_strerror(rc));
	c->records++;
	return 0;
}

int sc_ingest_reject_json(struct sc_buf *b, const char *file, uint64_t line,
			  const struct sc_ingest_reject *r)
{
	const char *why = sc_reject_name((enum sc_reject)r->reason);
	char mid[160];
	int rc;

	/* the file name and the detail are escaped; reason names are plain
	 * identifiers */
	snprintf(mid, sizeof(mid), ",\"line\":%" PRIu64 ",\"reason\":\"%s\",\"offset\":%"
		 PRIu64 ",\"detail\":", line, why, r->offset);
	rc = sc_buf_append(b, "{\"file\":", 8);
	if (!rc)
		rc = sc_json_escape(b, file, strlen(file));
	if (!rc)
		rc = sc_buf_append(b, mid, strlen(mid));
	if (!rc)
		rc = sc_json_escape(b, r->detail, strlen(r->detail));
	if (!rc)
		rc = sc_buf_append(b, "}\n", 2);
	return rc;
}

void sc_ingest_reject_message(char *buf, size_t n, const char *file, uint64_t line,
			      const struct sc_ingest_reject *r)
{
	snprintf(buf, n, "input '%s': line %" PRIu64 ": rejected (%s): %s at byte %" PRIu64,
		 file, line, sc_reject_name((enum sc_reject)r->reason), r->detail, r->offset);
}

static void write_reject(struct ingest *g, const char *file, uint64_t line,
			 const struct rec_result *r)
{
	struct sc_ingest_reject rj = {
		.line = line, .reason = r->reject, .offset = r->err_off,
		.detail = r->detail ? r->detail : "",
	};
	char msg[2048];
	struct sc_buf b;

	if (g->shown < g->o->show_rejects) {
		sc_ingest_reject_message(msg, sizeof(msg), file, line, &rj);
		message(g, "%s", msg);
	} else if (g->shown == g->o->show_rejects && g->o->show_rejects) {
		message(g, "further rejects not shown%s", g->rejects ?
			" (all are in the --rejects file)" : "; use --rejects FILE to keep them all");
	}
	g->shown++;
	if (!g->rejects)
		return;
	sc_buf_init(&b, SC_PATH_MAX * 8);
	if (!sc_ingest_reject_json(&b, file, line, &rj))
		fwrite(b.data, 1, b.len, g->rejects);
	sc_buf_release(&b);
}

#define NEAR_REPORT_HEAD "{\"removed\":{\"file\":"
#define NEAR_REPORT_KEPT "\"kept\":{\"file\":"

int sc_ingest_near_report_json(struct sc_buf *b, const char *rfile, uint64_t rline,
			       const char *kfile, uint64_t kline, uint64_t krecord,
			       double similarity)
{
	char num[128];
	int rc;

	rc = sc_buf_append(b, NEAR_REPORT_HEAD, sizeof(NEAR_REPORT_HEAD) - 1);
	if (!rc)
		rc = sc_json_escape(b, rfile, strlen(rfile));
	snprintf(num, sizeof(num), ",\"line\":%" PRIu64 "},", rline);
	if (!rc)
		rc = sc_buf_append(b, num, strlen(num));
	if (!rc)
		rc = sc_buf_append(b, NEAR_REPORT_KEPT, sizeof(NEAR_REPORT_KEPT) - 1);
	if (!rc)
		rc = sc_json_escape(b, kfile, strlen(kfile));
	snprintf(num, sizeof(num), ",\"line\":%" PRIu64 ",\"record\":%" PRIu64 "},"
		 "\"similarity\":%.4f}\n", kline, krecord, similarity);
	if (!rc)
		rc = sc_buf_append(b, num, strlen(num));
	return rc;
}

/*
 * Near-dup check of a record that passed exact dedup: 1 when it is a near
 * duplicate of a kept record (counted, reported), 0 when it is kept (and
 * then inserted, so only kept records are ever references), or negative.
 */
static int near_check(struct ingest *g, const uint8_t *sig, const struct sc_rec_ref *ref)
{
	uint32_t doc;
	double sim;
	int64_t d;
	int rc;

	rc = sc_lsh_query(g->lsh, sig, g->near_cut, &doc, &sim);
	if (rc == 1) {
		rc = sc_lsh_note_removed(g->lsh, doc);
		if (rc)
			return fail(g, rc, "near-dup index: %s", sc_strerror(rc));
		if (g->near_report) {
			const struct near_ref *k = &g->refs[doc];
			struct sc_buf b;

			sc_buf_init(&b, SC_PATH_MAX * 16);
			if (!sc_ingest_near_report_json(&b, sc_input_file_name(g->in, ref->file),
							ref->line, sc_input_file_name(g->in, k->file),
							k->line, k->record, sim))
				fwrite(b.data, 1, b.len, g->near_report);
			sc_buf_release(&b);
		}
		return 1;
	}
	d = sc_lsh_insert(g->lsh, sig);
	if (d < 0)
		return fail(g, (int)d, "near-dup index: %s", sc_strerror((int)d));
	if (g->near_report) {
		if ((size_t)d >= g->nrefs_cap) {
			size_t ncap = g->nrefs_cap ? g->nrefs_cap * 2 : 1024;
			void *n = realloc(g->refs, ncap * sizeof(*g->refs));

			if (!n)
				return fail(g, -ENOMEM, "near-dup report: out of memory");
			g->refs = n;
			g->nrefs_cap = ncap;
		}
		g->refs[d].record = g->st->records_kept;
		g->refs[d].line = ref->line;
		g->refs[d].file = ref->file;
	}
	return 0;
}

/* Consume one parse job's results in order. */
static int consume(struct ingest *g, struct parse_job *p)
{
	struct sc_stats *st = g->st;
	int rc;

	if (p->rc)
		return fail(g, p->rc, "parsing: %s", sc_strerror(p->rc));
	st->bytes_in += p->batch.in_bytes;
	for (size_t i = 0; i < p->batch.nrecs; i++) {
		const struct rec_result *r = &p->res[i];
		const struct sc_rec_ref *ref = &p->batch.recs[i];

		if (g->last_line)
			g->last_line[ref->file] = ref->line;
		if (r->status == REC_BLANK) {
			st->lines_blank++;
			continue;
		}
		st->records_in++;
		if (r->status == REC_REJECT) {
			const char *file = sc_input_file_name(g->in, ref->file);

			st->records_rejected++;
			st->rejected[r->reject]++;
			if (g->sink) {
				struct sc_ingest_reject rj = {
					.file = ref->file, .line = ref->line, .reason = r->reject,
					.offset = r->err_off, .detail = r->detail ? r->detail : "",
				};

				rc = g->sink->reject(g->sink->ctx, &rj, g->err, g->errlen);
				if (rc)
					return rc;
				continue;
			}
			if (g->o->strict)
				return fail(g, SC_EFORMAT,
					    "input '%s': line %" PRIu64 ": rejected (%s): %s at byte %" PRIu64
					    " (--strict)", file, ref->line,
					    sc_reject_name((enum sc_reject)r->reject),
					    r->detail ? r->detail : "", r->err_off);
			write_reject(g, file, ref->line, r);
			continue;
		}
		st->bytes_text_in += r->text_in;
		st->records_normalized += r->normalized;
		if (g->dedup) {
			rc = sc_dedup_insert(g->dedup, &r->fp);
			if (rc < 0)
				return fail(g, rc, "dedup index: %s", sc_strerror(rc));
			if (rc == 0) {
				st->duplicates++;
				continue;
			}
		}
		if (g->sink) {
			/* a line stored as read is in the batch without its '\n' */
			struct sc_ingest_rec k = {
				.data = r->as_read ? p->batch.data.data + ref->off :
					p->out.data + r->out_off,
				.len = r->as_read ? ref->len : r->out_len,
				.add_nl = r->as_read, .text_out = r->text_out, .fp = &r->fp,
				.sig = r->has_sig ? p->sigs + i * g->psize : NULL,
				.file = ref->file, .line = ref->line,
			};

			rc = g->sink->record(g->sink->ctx, &k, g->err, g->errlen);
			if (rc)
				return rc;
			continue;
		}
		if (g->lsh && r->has_sig) {
			rc = near_check(g, p->sigs + i * g->psize, ref);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				st->near_duplicates++;
				continue;
			}
		}
		st->records_kept++;
		st->bytes_text_kept += r->text_out;
		st->bytes_kept += r->out_len;
		g->rec_file = ref->file;
		g->rec_line = ref->line;
		if (r->as_read)
			rc = frame_add(g, p->batch.data.data + ref->off, ref->len, 1);
		else
			rc = frame_add(g, p->out.data + r->out_off, r->out_len, 0);
		if (rc)
			return rc;
	}
	return drain_ready(g);
}

/* ---- what the set's bytes depend on (docs/RESUME.md section 3) ---- */

static int digest_put(struct sc_sha256 *h, const void *p, size_t n)
{
	unsigned char len[8];
	int rc;

	sc_put_le64(len, n);
	rc = sc_sha256_update(h, len, 8);
	return rc ? rc : sc_sha256_update(h, p, n);
}

static int digest_u64(struct sc_sha256 *h, uint64_t v)
{
	unsigned char b[8];

	sc_put_le64(b, v);
	return sc_sha256_update(h, b, 8);
}

/* SHA-256 of every option that changes the bytes of the set. */
static int options_digest(const struct sc_ingest_opts *o, unsigned char out[32])
{
	struct sc_sha256 *h;
	char num[128];
	int rc;

	rc = sc_sha256_new(&h);
	if (rc)
		return rc;
	rc = digest_put(h, "shardctl-ingest-options 1", 25);
	/* the code that makes the bytes: ours, and libzstd's compressor */
	if (!rc)
		rc = digest_put(h, SC_VERSION, strlen(SC_VERSION));
	if (!rc)
		rc = digest_put(h, ZSTD_versionString(), strlen(ZSTD_versionString()));
	if (!rc)
		rc = digest_put(h, o->text_field, strlen(o->text_field));
	if (!rc) {
		const char *d = o->dedup == SC_DEDUP_NEAR ? "near" :
				o->dedup == SC_DEDUP_EXACT ? "exact" : "none";

		rc = digest_put(h, d, strlen(d));
	}
	if (!rc && o->tasks) {
		/* slices end shards: a partitioned ingest makes other shards */
		snprintf(num, sizeof(num), "tasks %" PRIu32, o->tasks);
		rc = digest_put(h, num, strlen(num));
	}
	if (!rc && o->dedup == SC_DEDUP_NEAR) {
		/* %a: the doubles exactly */
		snprintf(num, sizeof(num), "%u %u %u %u %a %a", SC_NEAR_VERSION, o->near.ngram,
			 o->near.bands, o->near.rows, o->near_threshold, o->near_margin);
		rc = digest_put(h, num, strlen(num));
	}
	{
		const uint64_t v[] = {
			SC_SHARD_FORMAT_VERSION, (uint64_t)o->format_text,
			(uint64_t)o->record_per_file, o->normalize, SC_NORM_VERSION,
			SC_FINGERPRINT_VERSION, o->max_record_size, o->frame_size,
			o->shard_size, (uint64_t)o->zstd_level, o->replicas,
		};

		for (size_t i = 0; i < SC_ARRAY_LEN(v) && !rc; i++)
			rc = digest_u64(h, v[i]);
	}
	if (!rc)
		rc = sc_sha256_final(h, out);
	sc_sha256_free(h);
	return rc;
}

/*
 * The journal id of this ingest: options and inputs digests. The inputs
 * digest covers the expanded file list in order, with each file's size
 * and modification time. Returns 0, or 1 when an input cannot be read a
 * second time (stdin, a pipe: no journal then), which with --resume is
 * SC_EUSAGE; or negative.
 */
static int journal_id(struct ingest *g, struct sc_journal_id *id)
{
	size_t n = sc_input_file_count(g->in);
	struct sc_sha256 *h;
	int rc;

	memset(id, 0, sizeof(*id));
	rc = options_digest(g->o, id->options);
	if (rc)
		return fail(g, rc, "options digest: %s", sc_strerror(rc));
	rc = sc_sha256_new(&h);
	if (rc)
		return rc;
	rc = digest_put(h, "shardctl-ingest-inputs 1", 24);
	for (size_t i = 0; i < n && !rc; i++) {
		const char *name = sc_input_file_name(g->in, i);
		struct stat sb;

		if (strcmp(name, "-") && stat(name, &sb)) {
			rc = fail(g, -errno, "input '%s': %s", name, strerror(errno));
			break;
		}
		if (!strcmp(name, "-") || !S_ISREG(sb.st_mode)) {
			rc = 1;
			if (g->o->resume)
				rc = fail(g, SC_EUSAGE, "--resume: input '%s' %s cannot be read "
					  "again; resuming needs regular files", name,
					  strcmp(name, "-") ? "is not a regular file and" :
					  "(standard input)");
			break;
		}
		rc = digest_put(h, name, strlen(name));
		if (!rc)
			rc = digest_u64(h, (uint64_t)sb.st_size);
		if (!rc)
			rc = digest_u64(h, (uint64_t)sb.st_mtim.tv_sec);
		if (!rc)
			rc = digest_u64(h, (uint64_t)sb.st_mtim.tv_nsec);
		id->input_files++;
		id->input_bytes += (uint64_t)sb.st_size;
	}
	if (!rc)
		rc = sc_sha256_final(h, id->inputs);
	sc_sha256_free(h);
	return rc;
}

void sc_ingest_manifest_config(const struct sc_ingest_opts *o, struct sc_manifest *m)
{
	m->config.text_field = (char *)(uintptr_t)o->text_field;
	m->config.input_format = o->format_text ? "text" : "jsonl";
	m->config.record_per_file = o->record_per_file;
	m->config.normalize = o->normalize;
	m->config.normalize_version = SC_NORM_VERSION;
	m->config.dedup = o->dedup == SC_DEDUP_EXACT ? "exact" :
			  o->dedup == SC_DEDUP_NEAR ? "near" : "none";
	if (o->dedup == SC_DEDUP_NEAR) {
		m->config.near_version = SC_NEAR_VERSION;
		m->config.near_ngram = o->near.ngram;
		m->config.near_bands = o->near.bands;
		m->config.near_rows = o->near.rows;
		m->config.near_threshold = o->near_threshold;
		m->config.near_margin = o->near_margin;
	}
	m->config.fingerprint_version = SC_FINGERPRINT_VERSION;
	m->config.max_record_size = o->max_record_size;
	m->config.frame_size = o->frame_size;
	m->config.shard_size = o->shard_size;
	m->config.zstd_level = o->zstd_level;
	m->config.replicas = o->replicas;
}

static void note_cb(void *ctx, const char *msg)
{
	message(ctx, "%s", msg);
}

static int check_opts(struct ingest *g)
{
	const struct sc_ingest_opts *o = g->o;

	if (o->ninputs == 0)
		return fail(g, SC_EUSAGE, "no inputs given");
	for (size_t i = 0; o->resume && i < o->ninputs; i++)
		if (!strcmp(o->inputs[i], "-"))
			return fail(g, SC_EUSAGE, "--resume: standard input cannot be read "
				    "again; resuming needs input files");
	return sc_ingest_check_opts(o, g->err, g->errlen);
}

int sc_ingest_check_opts(const struct sc_ingest_opts *o, char *err, size_t errlen)
{
	struct ingest ge = { .o = o, .err = err, .errlen = errlen }, *g = &ge;

	if (o->record_per_file && !o->format_text)
		return fail(g, SC_EUSAGE, "--record-per-file needs --format text");
	if (!o->text_field[0] || strlen(o->text_field) > SC_FIELD_NAME_MAX ||
	    sc_utf8_check(o->text_field, strlen(o->text_field)) != strlen(o->text_field))
		return fail(g, SC_EUSAGE, "--text-field must be 1..%d bytes of utf-8",
			    SC_FIELD_NAME_MAX);
	if (o->max_record_size < 1 || o->max_record_size > SC_RECORD_SIZE_MAX)
		return fail(g, SC_EUSAGE, "--max-record-size must be 1..%u", SC_RECORD_SIZE_MAX);
	if (o->frame_size < SC_FRAME_SIZE_MIN || o->frame_size > SC_FRAME_SIZE_MAX)
		return fail(g, SC_EUSAGE, "--frame-size must be %u..%u", SC_FRAME_SIZE_MIN,
			    SC_FRAME_SIZE_MAX);
	if (o->shard_size < SC_SHARD_SIZE_MIN || o->shard_size > SC_SHARD_SIZE_MAX)
		return fail(g, SC_EUSAGE, "--shard-size must be %llu..%llu",
			    (unsigned long long)SC_SHARD_SIZE_MIN,
			    (unsigned long long)SC_SHARD_SIZE_MAX);
	if (o->shard_size < o->frame_size)
		return fail(g, SC_EUSAGE, "--shard-size must not be below --frame-size");
	if (o->threads < 1 || o->threads > SC_THREADS_MAX)
		return fail(g, SC_EUSAGE, "--threads must be 1..%d", SC_THREADS_MAX);
	if (o->zstd_level < 1 || o->zstd_level > 19)
		return fail(g, SC_EUSAGE, "--level must be 1..19");
	if (o->dedup == SC_DEDUP_NEAR && sc_near_params_check(&o->near))
		return fail(g, SC_EUSAGE, "--ngram must be 1..%d, --bands 1..%d, --rows 1..%d, "
			    "and bands x rows at most %d", SC_NEAR_NGRAM_MAX, SC_NEAR_BANDS_MAX,
			    SC_NEAR_ROWS_MAX, SC_NEAR_HASHES_MAX);
	if (o->dedup == SC_DEDUP_NEAR && !(o->near_threshold >= 0.0 && o->near_threshold <= 1.0))
		return fail(g, SC_EUSAGE, "--near-threshold must be 0..1");
	if (o->dedup == SC_DEDUP_NEAR && !(o->near_margin >= 0.0 && o->near_margin <= SC_NEAR_MARGIN_MAX))
		return fail(g, SC_EUSAGE, "--near-margin must be 0..%g", SC_NEAR_MARGIN_MAX);
	if (o->near_report_path && o->dedup != SC_DEDUP_NEAR)
		return fail(g, SC_EUSAGE, "--near-report needs --dedup near");
	return 0;
}

static void free_rings(struct ingest *g)
{
	for (unsigned i = 0; g->pj && i < g->nparse; i++) {
		sc_batch_release(&g->pj[i].batch);
		sc_buf_release(&g->pj[i].out);
		free(g->pj[i].res);
		free(g->pj[i].sigs);
	}
	for (unsigned i = 0; g->cj && i < g->ncomp; i++) {
		sc_buf_release(&g->cj[i].raw);
		sc_buf_release(&g->cj[i].comp);
	}
	free(g->pj);
	free(g->cj);
}

static int alloc_rings(struct ingest *g)
{
	const struct sc_ingest_opts *o = g->o;
	size_t rec_max = (size_t)o->max_record_size;

	g->nparse = 2 * o->threads + 2;
	g->ncomp = 2 * o->threads + 2;
	g->pj = calloc(g->nparse, sizeof(*g->pj));
	g->cj = calloc(g->ncomp, sizeof(*g->cj));
	if (!g->pj || !g->cj)
		return -ENOMEM;
	for (unsigned i = 0; i < g->nparse; i++) {
		g->pj[i].ing = g;
		g->pj[i].job.done = 1;
		sc_batch_init(&g->pj[i].batch, SC_BATCH_BYTES + rec_max);
		/* escaping can grow text up to 6x (\u00XX); bound accordingly */
		sc_buf_init(&g->pj[i].out, 6 * ((size_t)SC_BATCH_BYTES + rec_max) + 4096);
	}
	for (unsigned i = 0; i < g->ncomp; i++) {
		size_t fmax = (size_t)o->frame_size + 6 * rec_max + 64;

		g->cj[i].job.done = 1;
		sc_buf_init(&g->cj[i].raw, fmax);
		sc_buf_init(&g->cj[i].comp, fmax + fmax / 64 + 4096);
	}
	return 0;
}

/* The rings and the worker pool over them (sc_workq_free(g->q) joins it,
 * free_rings() frees the rings). 0 or negative (reported through fail()). */
static int start_stages(struct ingest *g)
{
	int rc = alloc_rings(g);

	if (rc)
		return fail(g, rc, "out of memory");
	rc = sc_workq_new(g->o->threads, worker_init, worker_fini, g, &g->q);
	if (rc)
		return fail(g, rc, "starting workers: %s", sc_strerror(rc));
	return 0;
}

/*
 * Commit g's writer with a manifest of g->st and the options: the
 * manifest's shards and bytes_stored go back into g->st, and g->writer is
 * gone on success. 0 or negative with g->err.
 */
static int commit_set(struct ingest *g)
{
	struct sc_manifest m;
	char tool[64];
	int rc;

	memset(&m, 0, sizeof(m));
	m.stats = *g->st;
	snprintf(tool, sizeof(tool), "shardctl %s", SC_VERSION);
	m.tool = tool;
	sc_ingest_manifest_config(g->o, &m);
	rc = sc_set_writer_commit(g->writer, &m, g->err, g->errlen);
	if (!rc) {
		g->writer = NULL;
		g->st->shards = m.stats.shards;
		g->st->bytes_stored = m.stats.bytes_stored;
	}
	return rc;
}

static struct sc_set_writer_opts writer_opts(const struct sc_ingest_opts *o)
{
	struct sc_set_writer_opts wo = {
		.root = o->out, .node_paths = o->node_paths,
		.node_weights = o->node_weights, .nnodes = o->nnodes,
		.replicas = o->replicas, .shard_size = o->shard_size,
	};

	return wo;
}

void sc_ingest_input_opts(const struct sc_ingest_opts *o, struct sc_input_opts *io)
{
	memset(io, 0, sizeof(*io));
	io->mode = o->record_per_file ? SC_INPUT_FILE : SC_INPUT_LINES;
	io->max_record = (size_t)o->max_record_size;
	io->batch_bytes = SC_BATCH_BYTES;
}

/* sc_ingest_input_opts, with input errors going to on_input_error(g) */
static void input_opts_with_errors(struct ingest *g, struct sc_input_opts *io)
{
	sc_ingest_input_opts(g->o, io);
	io->on_error = on_input_error;
	io->error_ctx = g;
}

static int run_pipeline(struct ingest *g)
{
	uint64_t phead = 0, ptail = 0;
	int eof = 0, rc;

	for (;;) {
		while (!eof && ptail - phead < g->nparse) {
			struct parse_job *p = &g->pj[ptail % g->nparse];

			rc = sc_input_next(g->in, &p->batch);
			if (rc < 0)
				return fail(g, rc, "reading input: %s", sc_strerror(rc));
			if (g->input_failed)
				return fail(g, SC_EFORMAT, "%s", g->input_msg);
			if (rc == 0) {
				eof = 1;
				break;
			}
			p->job.run = parse_run;
			sc_workq_submit(g->q, &p->job);
			ptail++;
		}
		if (phead == ptail)
			break;
		sc_workq_wait(g->q, &g->pj[phead % g->nparse].job);
		rc = consume(g, &g->pj[phead % g->nparse]);
		if (rc)
			return rc;
		phead++;
		maybe_progress(g, 0);
	}
	if (g->frame_open)
		frame_submit(g);
	while (g->chead < g->ctail)
		if ((rc = drain_one(g)))
			return rc;
	return 0;
}

/*
 * The rings, the worker pool and the pipeline over them, for a run and for
 * a partitioned scan alike; the pool is joined before returning, so no job
 * touches the rings afterwards. 0 or negative (reported through fail()).
 */
static int run_stages(struct ingest *g)
{
	int rc = start_stages(g);

	if (rc)
		return rc;
	rc = run_pipeline(g);
	sc_workq_free(g->q);
	g->q = NULL;
	return rc;
}

int sc_ingest_run(const struct sc_ingest_opts *o, struct sc_stats *st,
		  char *err, size_t errlen)
{
	struct ingest g = { .o = o, .st = st, .err = err, .errlen = errlen };
	struct sc_set_writer_opts wo = writer_opts(o);
	struct sc_input_opts io;
	struct sc_journal_id jid;
	uint64_t kept_shards = 0, kept_records = 0;
	struct sc_manifest m;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(&m, 0, sizeof(m));
	clock_gettime(CLOCK_MONOTONIC, &g.t0);
	rc = check_opts(&g);
	if (rc)
		return rc;
	input_opts_with_errors(&g, &io);
	rc = sc_input_open((const char *const *)o->inputs, o->ninputs, &io, &g.in,
			   err, errlen);
	if (rc)
		return rc;
	rc = journal_id(&g, &jid);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		wo.journal = &jid;
		wo.resume = o->resume;
	}
	wo.note = note_cb;
	wo.note_ctx = &g;
	rc = sc_set_writer_open(&wo, &g.writer, err, errlen);
	if (rc == 1) {
		/* the set already holds this ingest's result */
		rc = sc_manifest_load(o->out, &m, err, errlen);
		if (!rc) {
			*st = m.stats;
			message(&g, "resume: '%s' already holds the result of this ingest "
				"(generation %" PRIu64 "): nothing to do", o->out, m.generation);
		}
		sc_manifest_release(&m);
		goto out;
	}
	if (rc)
		goto out;
	sc_set_writer_kept(g.writer, &kept_shards, &g.replay_frames, &kept_records);
	if (kept_shards)
		message(&g, "resume: continuing the interrupted ingest of '%s': %" PRIu64
			" complete shards (%" PRIu64 " records) kept, every replica checked; "
			"reading the inputs again up to there", o->out, kept_shards,
			kept_records);
	if (o->rejects_path) {
		g.rejects = fopen(o->rejects_path, "w");
		if (!g.rejects) {
			rc = fail(&g, -errno, "rejects file '%s': %s", o->rejects_path,
				  strerror(errno));
			goto out;
		}
	}
	if (o->dedup != SC_DEDUP_NONE && (rc = sc_dedup_new(&g.dedup)))
		goto out;
	if (o->dedup == SC_DEDUP_NEAR) {
		rc = sc_lsh_new(o->near.bands, o->near.rows, &g.lsh);
		if (rc)
			goto out;
		g.psize = sc_near_packed_size(o->near.bands * o->near.rows);
		g.near_cut = sc_near_removal_cut(o->near_threshold, o->near_margin,
						 o->near.bands * o->near.rows);
	}
	if (o->near_report_path) {
		g.near_report = fopen(o->near_report_path, "w");
		if (!g.near_report) {
			rc = fail(&g, -errno, "near-dup report '%s': %s", o->near_report_path,
				  strerror(errno));
			goto out;
		}
	}
	rc = run_stages(&g);
	if (rc)
		goto out;
	st->input_files = sc_input_file_count(g.in);
	st->input_errors = sc_input_error_count(g.in);
	st->bytes_in_disk = sc_input_bytes_read(g.in);
	st->dedup_index_bytes = g.dedup ? sc_dedup_peak_bytes(g.dedup) : 0;
	if (g.lsh) {
		st->near_clusters = sc_lsh_clusters(g.lsh);
		st->near_largest_cluster = sc_lsh_largest_cluster(g.lsh);
		st->lsh_index_bytes = sc_lsh_peak_bytes(g.lsh);
		st->near_capped = sc_lsh_capped(g.lsh);
	}
	st->elapsed_s = elapsed(&g);
	/* the side files must be complete before the set is committed: a
	 * failure to write them is an exit 1, which promises no commit */
	if (g.rejects && (fflush(g.rejects) || ferror(g.rejects))) {
		rc = fail(&g, -EIO, "rejects file '%s': write failed", o->rejects_path);
		goto out;
	}
	if (g.near_report && (fflush(g.near_report) || ferror(g.near_report))) {
		rc = fail(&g, -EIO, "near-dup report '%s': write failed", o->near_report_path);
		goto out;
	}
	rc = commit_set(&g);
	if (!rc)
		maybe_progress(&g, 1);
out:
	sc_workq_free(g.q);
	if (rc && g.writer && sc_set_writer_replaying(g.writer)) {
		/* nothing written yet: the interrupted ingest stays resumable */
		size_t l = strlen(err);

		if (!strstr(err, "nothing written"))
			snprintf(err + l, errlen - l, "; the interrupted ingest is left as it was");
		sc_set_writer_suspend(g.writer);
	} else {
		sc_set_writer_abort(g.writer);
	}
	if (g.rejects && fclose(g.rejects) && !rc)
		rc = fail(&g, -EIO, "rejects file '%s': write failed", o->rejects_path);
	if (g.near_report && fclose(g.near_report) && !rc)
		rc = fail(&g, -EIO, "near-dup report '%s': write failed", o->near_report_path);
	sc_dedup_free(g.dedup);
	sc_lsh_free(g.lsh);
	free(g.refs);
	free_rings(&g);
	sc_input_close(g.in);
	return rc;
}

/* ---- the stages of a partitioned ingest (ingest.h, docs/TASKS.md) ---- */

int sc_ingest_identity(const struct sc_ingest_opts *o, struct sc_journal_id *id,
		       char *err, size_t errlen)
{
	struct ingest g = { .o = o, .err = err, .errlen = errlen };
	struct sc_input_opts io;
	int rc;

	sc_ingest_input_opts(o, &io);
	rc = sc_input_open((const char *const *)o->inputs, o->ninputs, &io, &g.in,
			   err, errlen);
	if (rc)
		return rc;
	rc = journal_id(&g, id);
	sc_input_close(g.in);
	return rc;
}

int sc_ingest_scan(const struct sc_ingest_opts *o, const struct sc_input_segment *segs,
		   size_t nsegs, const struct sc_ingest_sink *sink, uint64_t *lines,
		   struct sc_stats *st, char *err, size_t errlen)
{
	struct ingest g = { .o = o, .st = st, .err = err, .errlen = errlen, .sink = sink };
	struct sc_input_opts io;
	int rc;

	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_MONOTONIC, &g.t0);
	rc = sc_ingest_check_opts(o, err, errlen);
	if (rc)
		return rc;
	g.last_line = calloc(nsegs ? nsegs : 1, sizeof(*g.last_line));
	if (!g.last_line)
		return -ENOMEM;
	input_opts_with_errors(&g, &io);
	rc = sc_input_open_segments(segs, nsegs, &io, &g.in, err, errlen);
	if (rc)
		goto out;
	if (o->dedup != SC_DEDUP_NONE && (rc = sc_dedup_new(&g.dedup)))
		goto out;
	if (o->dedup == SC_DEDUP_NEAR)
		g.psize = sc_near_packed_size(o->near.bands * o->near.rows);
	rc = run_stages(&g);
	if (rc)
		goto out;
	st->input_errors = sc_input_error_count(g.in);
	st->bytes_in_disk = sc_input_bytes_read(g.in);
	st->dedup_index_bytes = g.dedup ? sc_dedup_peak_bytes(g.dedup) : 0;
	st->elapsed_s = elapsed(&g);
	memcpy(lines, g.last_line, nsegs * sizeof(*lines));
out:
	sc_workq_free(g.q);
	sc_dedup_free(g.dedup);
	free_rings(&g);
	sc_input_close(g.in);
	free(g.last_line);
	return rc;
}

int sc_ingest_pack(const struct sc_ingest_opts *o, const uint64_t *placed_bytes,
		   const struct sc_ingest_source *src, struct sc_stats *st,
		   char *err, size_t errlen)
{
	struct ingest g = { .o = o, .st = st, .err = err, .errlen = errlen };
	struct sc_set_writer_opts wo = writer_opts(o);
	int rc;

	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_MONOTONIC, &g.t0);
	rc = sc_ingest_check_opts(o, err, errlen);
	if (rc)
		return rc;
	wo.placed_bytes = placed_bytes;
	rc = sc_set_writer_open(&wo, &g.writer, err, errlen);
	if (rc)
		return rc < 0 ? rc : fail(&g, SC_EUSAGE, "set '%s': unexpected journal", o->out);
	rc = start_stages(&g);
	if (rc)
		goto out;
	for (;;) {
		struct sc_ingest_rec r;

		memset(&r, 0, sizeof(r));
		rc = src->next(src->ctx, &r, err, errlen);
		if (rc <= 0)
			break;
		st->records_kept++;
		st->bytes_text_kept += r.text_out;
		st->bytes_kept += r.len + (r.add_nl ? 1 : 0);
		rc = frame_add(&g, r.data, r.len, r.add_nl ? 1 : 0);
		if (!rc)
			rc = drain_ready(&g);
		if (rc)
			break;
	}
	if (!rc && g.frame_open)
		rc = frame_submit(&g);
	while (!rc && g.chead < g.ctail)
		rc = drain_one(&g);
	sc_workq_free(g.q); /* joins: no job touches the rings after this */
	g.q = NULL;
	if (rc)
		goto out;
	st->records_in = st->records_kept;
	st->elapsed_s = elapsed(&g);
	rc = commit_set(&g);
out:
	sc_workq_free(g.q);
	sc_set_writer_abort(g.writer);
	free_rings(&g);
	return rc;
}
