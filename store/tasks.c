/*
 * tasks.c - the five phases of a partitioned ingest (see tasks.h; the
 * design, the file formats and the equivalence argument are in
 * docs/TASKS.md).
 *
 *   scan    per slice s: sc_ingest_scan() (the pipeline's own parse stage)
 *           drops exact duplicates inside the slice and hands over every
 *           other record, numbered 0, 1, 2 ... in input order (its
 *           ordinal): its stored bytes go to the spool, its fingerprint to
 *           sorted runs with one section per hash partition, its near-dup
 *           signature to the signature file and its band keys to sorted
 *           runs by partition; rejects and input errors to the events.
 *   dedup   per partition p: merge section p of every run; of the records
 *           sharing a fingerprint, the one of the lowest slice is the
 *           first in input order (ordinals never tie: a slice has one of
 *           each fingerprint), the rest are duplicates -> drop lists by
 *           slice. Band keys shared by two records or more put those
 *           records in the near-dup candidate graph -> graph by slice.
 *   near    one task: walk the signatures of all slices in input order
 *           and apply the single-process rule to the graph's records that
 *           survived exact dedup, with the same LSH index (store/lsh.h):
 *           a record is removed when an earlier kept one reaches the cut;
 *           only kept records are inserted. A record outside the graph
 *           shares no band with any other record, so the rule keeps it
 *           and it is never a candidate: leaving it out changes nothing.
 *   pack    per slice: the spool minus the drop lists, through
 *           sc_ingest_pack() into a slice set in the plan directory.
 *   commit  one task: the slices' shards become the shards of the set,
 *           in slice order, under one manifest (sc_set_writer_add_shards:
 *           hard links on local nodes, server-side copies on S3 nodes,
 *           many at once, whose slice objects the pack tasks uploaded; then the
 *           writer's commit); then the intermediate files go, the slice
 *           objects on S3 nodes with them (sc_plan_clean).
 */
#include "tasks.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dedup.h"
#include "file.h"
#include "fingerprint.h"
#include "input.h"
#include "json.h"
#include "lsh.h"
#include "manifest.h"
#include "near.h"
#include "placement.h"
#include "s3node.h"
#include "set.h"
#include "tfile.h"

struct task {
	const struct sc_plan *p;
	const struct sc_task_opts *to;
	enum sc_phase ph;
	uint32_t idx;
	char *err;
	size_t errlen;
};

static int tfail(struct task *t, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int tfail(struct task *t, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, t->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static void note(struct task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct task *t, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (!t->to->message)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	t->to->message(t->to->cb_ctx, buf);
}

/* Partition of a 64-bit hash: its top 32 bits scaled onto [0, n), so that
 * sorting by the hash sorts by partition. */
static inline uint32_t part_of(uint64_t h, uint32_t n)
{
	return (uint32_t)(((h >> 32) * (uint64_t)n) >> 32);
}

/* ---- summaries (the payload of done markers) ---- */

#define ST(f) { #f, offsetof(struct sc_stats, f) }
static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
	ST(input_files), ST(input_errors), ST(bytes_in_disk), ST(bytes_in), ST(lines_blank),
	ST(records_in), ST(records_rejected), ST(records_normalized), ST(duplicates),
	ST(near_duplicates), ST(near_clusters), ST(near_largest_cluster), ST(lsh_index_bytes),
	ST(near_capped), ST(records_kept), ST(bytes_text_in), ST(bytes_text_kept),
	ST(bytes_kept), ST(bytes_stored), ST(dedup_index_bytes), ST(shards), ST(frames),
};

static uint64_t *stat_at(struct sc_stats *st, size_t i)
{
	return (uint64_t *)(void *)((char *)st + stat_fields[i].off);
}

struct summary {
	struct sc_stats st;     /* "stat NAME VALUE", "rejected REASON N", "elapsed X" */
	uint64_t unique;        /* scan: records spooled */
	uint64_t key_runs;      /* scan: fingerprint runs */
	uint64_t band_runs;     /* scan: band-key runs */
	uint64_t dups;          /* dedup: duplicates found */
	uint64_t graph;         /* dedup: near candidates found */
	uint64_t *lines;        /* scan: lines read per segment */
	uint32_t nlines;        /* entries in lines */
	struct sc_buf msgs;     /* commit: messages, NUL-separated */
};

static void summary_release(struct summary *s)
{
	free(s->lines);
	sc_buf_release(&s->msgs);
}

static int put_stats(struct sc_buf *b, const struct sc_stats *st)
{
	int rc = 0;

	for (size_t i = 0; i < SC_ARRAY_LEN(stat_fields) && !rc; i++)
		rc = sc_plan_putf(b, "stat %s %" PRIu64 "\n", stat_fields[i].name,
			   *stat_at((struct sc_stats *)(uintptr_t)st, i));
	for (int r = 1; r < SC_REJECT__COUNT && !rc; r++)
		if (st->rejected[r])
			rc = sc_plan_putf(b, "rejected %d %" PRIu64 "\n", r, st->rejected[r]);
	if (!rc)
		rc = sc_plan_putf(b, "elapsed %a\n", st->elapsed_s);
	return rc;
}

/* A message line: "msg " then the text with '\\' and '\n' escaped. */
static int put_msg(struct sc_buf *b, const char *m)
{
	int rc = sc_buf_append(b, "msg ", 4);

	for (; *m && !rc; m++) {
		if (*m == '\\')
			rc = sc_buf_append(b, "\\\\", 2);
		else if (*m == '\n')
			rc = sc_buf_append(b, "\\n", 2);
		else
			rc = sc_buf_putc(b, *m);
	}
	return rc ? rc : sc_buf_putc(b, '\n');
}

static int parse_summary(char *text, struct summary *s)
{
	char *save = NULL;
	int ended = 0;

	memset(s, 0, sizeof(*s));
	sc_buf_init(&s->msgs, SC_TASK_SUMMARY_MAX);
	for (char *line = strtok_r(text, "\n", &save); line && !ended;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ts = NULL, *key, *a, *b, *end;
		uint64_t v = 0, w = 0;

		if (!strncmp(line, "msg ", 4)) {
			for (const char *m = line + 4; *m; m++) {
				char c = *m;

				if (c == '\\') {
					m++;
					c = *m == 'n' ? '\n' : *m == '\\' ? '\\' : 0;
					if (!c)
						return SC_ECORRUPT;
				}
				if (sc_buf_putc(&s->msgs, c))
					return -ENOMEM;
			}
			if (sc_buf_putc(&s->msgs, '\0'))
				return -ENOMEM;
			continue;
		}
		key = strtok_r(line, " ", &ts);
		if (!key)
			return SC_ECORRUPT;
		if (!strcmp(key, "end")) {
			ended = 1;
			continue;
		}
		a = strtok_r(NULL, " ", &ts);
		b = strtok_r(NULL, " ", &ts);
		if (!a)
			return SC_ECORRUPT;
		if (!strcmp(key, "elapsed")) {
			s->st.elapsed_s = strtod(a, &end);
			if (*end)
				return SC_ECORRUPT;
			continue;
		}
		errno = 0;
		if (strcmp(key, "stat")) {
			v = strtoull(a, &end, 10);
			if (*end || errno || *a == '-' || !*a)
				return SC_ECORRUPT;
		}
		if (b) {
			w = strtoull(b, &end, 10);
			if (*end || errno || *b == '-' || !*b)
				return SC_ECORRUPT;
		}
		if (!strcmp(key, "stat")) {
			size_t i;

			for (i = 0; i < SC_ARRAY_LEN(stat_fields); i++)
				if (!strcmp(a, stat_fields[i].name))
					break;
			if (i == SC_ARRAY_LEN(stat_fields) || !b)
				return SC_ECORRUPT;
			*stat_at(&s->st, i) = w;
		} else if (!strcmp(key, "rejected")) {
			if (!b || v < 1 || v >= SC_REJECT__COUNT)
				return SC_ECORRUPT;
			s->st.rejected[v] = w;
		} else if (!strcmp(key, "unique")) {
			s->unique = v;
		} else if (!strcmp(key, "key_runs")) {
			s->key_runs = v;
		} else if (!strcmp(key, "band_runs")) {
			s->band_runs = v;
		} else if (!strcmp(key, "dups")) {
			s->dups = v;
		} else if (!strcmp(key, "graph")) {
			s->graph = v;
		} else if (!strcmp(key, "lines")) {
			void *n;

			if (!b || v != s->nlines || v >= UINT32_MAX)
				return SC_ECORRUPT;
			n = realloc(s->lines, (s->nlines + 1) * sizeof(*s->lines));
			if (!n)
				return -ENOMEM;
			s->lines = n;
			s->lines[s->nlines++] = w;
		} else {
			return SC_ECORRUPT;
		}
	}
	return ended ? 0 : SC_ECORRUPT;
}

/* Remove a task's done marker (so --resume runs it again). */
static void undone(const struct sc_plan *p, enum sc_phase ph, uint32_t i)
{
	char path[SC_PATH_MAX];

	if (!sc_plan_done_path(p, ph, i, path, sizeof(path)))
		unlink(path);
}

/*
 * The summary of task (ph, i), which must be done. A missing marker is
 * SC_EUSAGE ("not done yet"); a damaged one is removed (the task runs
 * again) and is SC_ECORRUPT.
 */
static int load_summary(struct task *t, enum sc_phase ph, uint32_t i, struct summary *s)
{
	char path[SC_PATH_MAX], msg[SC_PATH_MAX + 512];
	struct sc_buf b;
	int rc;

	memset(s, 0, sizeof(*s));
	sc_buf_init(&s->msgs, 1);
	if (sc_plan_done_path(t->p, ph, i, path, sizeof(path)))
		return tfail(t, SC_ELIMIT, "plan path too long");
	sc_buf_init(&b, SC_TASK_SUMMARY_MAX + 1);
	rc = sc_tfile_load(path, SC_TF_DONE, t->p->id, i, SC_TASK_SUMMARY_MAX, &b, msg,
			   sizeof(msg));
	if (rc == -ENOENT) {
		sc_buf_release(&b);
		return tfail(t, SC_EUSAGE, "task %s %" PRIu32 " is not done yet (task %s %" PRIu32
			     " needs it)", sc_phase_name(ph), i, sc_phase_name(t->ph), t->idx);
	}
	if (!rc && memchr(b.data, 0, b.len))
		rc = SC_ECORRUPT;
	if (!rc) {
		sc_buf_release(&s->msgs);
		rc = parse_summary(b.data, s);
		if (rc == SC_ECORRUPT)
			snprintf(msg, sizeof(msg), "done marker '%s': not a valid summary", path);
	}
	sc_buf_release(&b);
	if (rc) {
		summary_release(s);
		memset(s, 0, sizeof(*s));
		if (rc == -ENOMEM)
			return tfail(t, rc, "out of memory");
		undone(t->p, ph, i);
		return tfail(t, rc, "%s; task %s %" PRIu32 " will run again (its done marker was "
			     "removed)", msg, sc_phase_name(ph), i);
	}
	return 0;
}

/* Write the done marker of this task with payload text. */
static int write_done(struct task *t, const struct sc_buf *text)
{
	struct sc_tfile_writer *w;
	char path[SC_PATH_MAX];
	int rc;

	if (sc_plan_done_path(t->p, t->ph, t->idx, path, sizeof(path)))
		return tfail(t, SC_ELIMIT, "plan path too long");
	rc = sc_tfile_create(path, SC_TF_DONE, t->p->id, t->idx, 1, SC_TASK_RUN_BLOCK, &w,
			     t->err, t->errlen);
	if (rc)
		return rc;
	rc = sc_tfile_write(w, text->data, text->len);
	if (!rc)
		rc = sc_tfile_write(w, "end\n", 4);
	if (rc) {
		sc_tfile_abort(w);
		return tfail(t, rc, "done marker '%s': write failed: %s", path, sc_strerror(rc));
	}
	return sc_tfile_commit(w, t->err, t->errlen);
}

/*
 * An output of task (ph, i) could not be used (why says why). When it is
 * damaged, missing or of another version, that task must run again: its
 * done marker goes and the message says so. Other failures (out of
 * memory, I/O errors, too many open files) say nothing about the file.
 */
static int bad_input(struct task *t, int rc, enum sc_phase ph, uint32_t i, const char *why)
{
	char msg[SC_PATH_MAX + 512];

	snprintf(msg, sizeof(msg), "%s", why);
	if (rc != SC_ECORRUPT && rc != SC_ETRUNC && rc != SC_EVERSION && rc != -ENOENT)
		return tfail(t, rc, "%s", msg);
	undone(t->p, ph, i);
	return tfail(t, SC_ECORRUPT, "%s; task %s %" PRIu32 " will run again (its done "
		     "marker was removed: rerun with --resume)", msg, sc_phase_name(ph), i);
}

/* Open an output of task (ph, i) for reading: any failure is bad_input. */
static int open_output(struct task *t, const char *path, uint32_t kind, enum sc_phase ph,
		       uint32_t i, uint32_t nsections, struct sc_tfile **f)
{
	char msg[SC_PATH_MAX + 512];
	int rc;

	rc = sc_tfile_open(path, kind, t->p->id, i, f, msg, sizeof(msg));
	if (!rc && sc_tfile_nsections(*f) != nsections) {
		snprintf(msg, sizeof(msg), "task file '%s': %" PRIu32 " sections, expected %"
			 PRIu32, path, sc_tfile_nsections(*f), nsections);
		sc_tfile_close(*f);
		*f = NULL;
		rc = SC_ECORRUPT;
	}
	if (rc == -ENOMEM)
		return tfail(t, rc, "out of memory");
	return rc ? bad_input(t, rc, ph, i, msg) : 0;
}

/*
 * Read the next n-byte item of f, an output of task (ph, i): 1 when read,
 * 0 at the end of the section, negative after bad_input (a damaged file
 * sends task (ph, i) to run again).
 */
static int read_item(struct task *t, struct sc_tfile *f, void *p, size_t n, enum sc_phase ph,
		     uint32_t i)
{
	int rc = sc_tfile_read(f, p, n);

	return rc < 0 ? bad_input(t, rc, ph, i, sc_tfile_error(f)) : rc;
}

/* Remove the files of this task's earlier attempts: names in dir starting
 * with prefix, or ".prefix" (temporaries). */
static void remove_prefixed(const char *dir, const char *prefix)
{
	size_t n = strlen(prefix);
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, n) ||
		    (e->d_name[0] == '.' && !strncmp(e->d_name + 1, prefix, n)))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

/* The line number before each segment of the plan (segments of one file
 * number their lines from 1): base[k], from the scan summaries. */
static int line_bases(struct task *t, uint64_t **out)
{
	const struct sc_plan *p = t->p;
	uint64_t *base = calloc(p->nsegs ? p->nsegs : 1, sizeof(*base));
	uint64_t *per_file = calloc(p->nfiles ? p->nfiles : 1, sizeof(*per_file));
	int rc = 0;

	if (!base || !per_file) {
		free(base);
		free(per_file);
		return -ENOMEM;
	}
	for (uint32_t s = 0; s < p->tasks && !rc; s++) {
		uint32_t k0 = p->slice_first[s], nk = p->slice_first[s + 1] - k0;
		struct summary sm;

		rc = load_summary(t, SC_PHASE_SCAN, s, &sm);
		if (rc)
			break;
		if (sm.nlines != nk) {
			char why[128];

			summary_release(&sm);
			snprintf(why, sizeof(why), "scan %" PRIu32 ": summary lists %" PRIu32
				 " segments, the plan %" PRIu32, s, sm.nlines, nk);
			rc = bad_input(t, SC_ECORRUPT, SC_PHASE_SCAN, s, why);
			break;
		}
		for (uint32_t k = 0; k < nk; k++) {
			uint32_t f = p->segs[k0 + k].file;

			base[k0 + k] = per_file[f];
			per_file[f] += sm.lines[k];
		}
		summary_release(&sm);
	}
	free(per_file);
	if (rc) {
		free(base);
		return rc;
	}
	*out = base;
	return 0;
}

/* Lines (LF) of fd before byte off: for --strict messages about a range. */
static uint64_t lines_before(const char *path, uint64_t off)
{
	char buf[1 << 16];
	uint64_t n = 0, at = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (at < off) {
		size_t want = off - at < sizeof(buf) ? (size_t)(off - at) : sizeof(buf);
		ssize_t r = pread(fd, buf, want, (off_t)at);

		if (r <= 0)
			break;
		for (char *q = buf, *e = buf + r; (q = memchr(q, '\n', (size_t)(e - q))); q++)
			n++;
		at += (uint64_t)r;
	}
	close(fd);
	return n;
}

static void more_files(void);

/* ---- bitmaps of ordinals ---- */

struct bitmap {
	uint64_t *w;   /* [(n + 63) / 64] */
	uint64_t n;    /* ordinals */
};

static int bitmap_init(struct bitmap *b, uint64_t n)
{
	b->n = n;
	b->w = calloc((size_t)(n / 64 + 1), sizeof(uint64_t));
	return b->w ? 0 : -ENOMEM;
}

static inline int bit_get(const struct bitmap *b, uint64_t i)
{
	return (int)((b->w[i >> 6] >> (i & 63)) & 1);
}

static inline void bit_set(struct bitmap *b, uint64_t i)
{
	b->w[i >> 6] |= UINT64_C(1) << (i & 63);
}

static uint64_t bitmap_count(const struct bitmap *b)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < b->n / 64 + 1; i++)
		n += (uint64_t)__builtin_popcountll(b->w[i]);
	return n;
}

/*
 * Set the bits of the ordinals in section s of f (kind kind, written by
 * task (ph, i)): ascending u64 ordinals below b->n, as many as the
 * section's item count.
 */
static int bitmap_add(struct task *t, struct bitmap *b, struct sc_tfile *f, uint32_t s,
		      enum sc_phase ph, uint32_t i, const char *path)
{
	uint64_t items = sc_tfile_section_items(f, s), prev = 0, v, n = 0;
	unsigned char e[8];
	char why[SC_PATH_MAX + 256];
	int rc;

	rc = sc_tfile_seek(f, s);
	if (rc)
		return bad_input(t, rc, ph, i, sc_tfile_error(f));
	while ((rc = read_item(t, f, e, 8, ph, i)) == 1) {
		v = sc_get_le64(e);
		if (v >= b->n || (n && v <= prev)) {
			snprintf(why, sizeof(why), "task file '%s': section %" PRIu32 ": ordinal %"
				 PRIu64 " out of order or range", path, s, v);
			return bad_input(t, SC_ECORRUPT, ph, i, why);
		}
		bit_set(b, v);
		prev = v;
		n++;
	}
	if (rc < 0)
		return rc;
	if (n != items) {
		snprintf(why, sizeof(why), "task file '%s': section %" PRIu32 ": %" PRIu64
			 " ordinals, %" PRIu64 " recorded", path, s, n, items);
		return bad_input(t, SC_ECORRUPT, ph, i, why);
	}
	return 0;
}

/* ---- scan ---- */

struct key_ent {
	uint64_t hi, lo;  /* fingerprint (the all-zero one as lo 1, as the index has it) */
	uint64_t ord;     /* ordinal of the record in its slice */
};

struct band_ent {
	uint64_t key;     /* band key (sc_near_band_key) */
	uint64_t ord;     /* ordinal of the record in its slice */
};

#define EV_REJECT 1
#define EV_INPUT_ERROR 2
#define EV_HEAD 32

struct scan {
	struct task *t;
	uint32_t slice;              /* s */
	uint32_t seg0, nsegs;        /* the slice's segments in the plan */
	struct sc_tfile_writer *spool, *events, *sigs;
	uint64_t unique;             /* records handed over so far (next ordinal) */
	struct key_ent *keys;        /* [keys_cap] unsorted run being collected */
	size_t nkeys, keys_cap;
	uint32_t key_runs;           /* runs written */
	struct band_ent *bands;      /* [bands_cap] */
	size_t nbands, bands_cap;
	uint32_t band_runs;
	uint64_t rejects_kept;       /* reject events recorded */
	size_t psize;                /* packed signature bytes */
	unsigned nbands_sig, rows;   /* near parameters */
	unsigned char *sigrec;       /* one signature record */
};

static int cmp_key(const void *a, const void *b)
{
	const struct key_ent *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static int cmp_band(const void *a, const void *b)
{
	const struct band_ent *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Sort what was collected and write it as run number `run` of kind kind. */
static int write_run(struct scan *sc, uint32_t kind, void *ents, size_t n, size_t esize,
		     uint32_t run)
{
	struct task *t = sc->t;
	const struct sc_plan *p = t->p;
	struct sc_tfile_writer *w;
	char path[SC_PATH_MAX];
	unsigned char rec[24];
	int rc;

	if (run >= SC_TASK_RUNS_MAX)
		return tfail(t, SC_ELIMIT, "scan %" PRIu32 ": more than %d sorted runs",
			     sc->slice, SC_TASK_RUNS_MAX);
	qsort(ents, n, esize, kind == SC_TF_KEYS ? cmp_key : cmp_band);
	if (sc_plan_path(p, path, sizeof(path), "scan/s%06" PRIu32 ".%s.%" PRIu32, sc->slice,
			 kind == SC_TF_KEYS ? "keys" : "bands", run))
		return tfail(t, SC_ELIMIT, "plan path too long");
	rc = sc_tfile_create(path, kind, p->id, sc->slice, p->tasks, SC_TASK_RUN_BLOCK, &w,
			     t->err, t->errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		uint32_t part;

		if (kind == SC_TF_KEYS) {
			const struct key_ent *e = (const struct key_ent *)ents + i;

			part = part_of(e->hi, p->tasks);
			sc_put_le64(rec, e->hi);
			sc_put_le64(rec + 8, e->lo);
			sc_put_le64(rec + 16, e->ord);
		} else {
			const struct band_ent *e = (const struct band_ent *)ents + i;

			part = part_of(e->key, p->tasks);
			sc_put_le64(rec, e->key);
			sc_put_le64(rec + 8, e->ord);
		}
		rc = sc_tfile_section(w, part);
		if (!rc)
			rc = sc_tfile_write(w, rec, kind == SC_TF_KEYS ? 24 : 16);
		sc_tfile_items(w, 1);
	}
	if (rc) {
		sc_tfile_abort(w);
		return tfail(t, rc, "run '%s': write failed: %s", path, sc_strerror(rc));
	}
	return sc_tfile_commit(w, t->err, t->errlen);
}

static int flush_keys(struct scan *sc)
{
	int rc;

	if (!sc->nkeys)
		return 0;
	rc = write_run(sc, SC_TF_KEYS, sc->keys, sc->nkeys, sizeof(*sc->keys), sc->key_runs);
	sc->key_runs++;
	sc->nkeys = 0;
	return rc;
}

static int flush_bands(struct scan *sc)
{
	int rc;

	if (!sc->nbands)
		return 0;
	rc = write_run(sc, SC_TF_BANDS, sc->bands, sc->nbands, sizeof(*sc->bands),
		       sc->band_runs);
	sc->band_runs++;
	sc->nbands = 0;
	return rc;
}

/*
 * Bytes of key entries sorted in memory before a run is written:
 * SC_TASK_SORT_BYTES, or for tests SHARDCTL_TASK_SORT_BYTES (at least 4096),
 * which makes many runs out of a small input (docs/TASKS.md section 6).
 */
static size_t sort_bytes(void)
{
	const char *v = getenv("SHARDCTL_TASK_SORT_BYTES");
	unsigned long long n;
	char *end;

	if (!v || !*v)
		return SC_TASK_SORT_BYTES;
	n = strtoull(v, &end, 10);
	if (*end || n < 4096 || n > SC_TASK_SORT_BYTES)
		return SC_TASK_SORT_BYTES;
	return (size_t)n;
}

/* Grow *v (n entries used, *cap allocated) by one; at the cap, 1. */
static int grow(void **v, size_t *cap, size_t n, size_t esize)
{
	size_t max = sort_bytes() / esize, ncap;
	void *nv;

	if (n < *cap)
		return 0;
	if (*cap >= max)
		return 1;
	ncap = *cap ? *cap * 2 : 256;
	if (ncap > max)
		ncap = max;
	nv = realloc(*v, ncap * esize);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

static int scan_record(void *ctx, const struct sc_ingest_rec *r, char *err, size_t errlen)
{
	struct scan *sc = ctx;
	unsigned char hdr[16];
	int rc;

	(void)err;
	(void)errlen;
	sc_put_le64(hdr, r->len + (r->add_nl ? 1 : 0));
	sc_put_le64(hdr + 8, r->text_out);
	rc = sc_tfile_write(sc->spool, hdr, sizeof(hdr));
	if (!rc)
		rc = sc_tfile_write(sc->spool, r->data, r->len);
	if (!rc && r->add_nl)
		rc = sc_tfile_write(sc->spool, "\n", 1);
	if (rc)
		return tfail(sc->t, rc, "scan %" PRIu32 ": spool: write failed: %s", sc->slice,
			     sc_strerror(rc));
	sc_tfile_items(sc->spool, 1);
	if (r->fp && sc->t->p->o.dedup != SC_DEDUP_NONE) {
		struct key_ent *e;

		rc = grow((void **)&sc->keys, &sc->keys_cap, sc->nkeys, sizeof(*sc->keys));
		if (rc == 1)
			rc = flush_keys(sc);
		if (rc)
			return rc < 0 && rc != -ENOMEM ? rc : tfail(sc->t, rc, "out of memory");
		e = &sc->keys[sc->nkeys++];
		e->hi = r->fp->hi;
		e->lo = r->fp->lo;
		if (!(e->hi | e->lo))
			e->lo = 1; /* as the dedup index stores it (codec/dedup.c) */
		e->ord = sc->unique;
	}
	if (r->sig && sc->sigs) {
		sc_put_le64(sc->sigrec, sc->unique);
		sc_put_le32(sc->sigrec + 8, r->file);
		sc_put_le32(sc->sigrec + 12, 0);
		sc_put_le64(sc->sigrec + 16, r->line);
		memcpy(sc->sigrec + 24, r->sig, sc->psize);
		rc = sc_tfile_write(sc->sigs, sc->sigrec, 24 + sc->psize);
		if (rc)
			return tfail(sc->t, rc, "scan %" PRIu32 ": signatures: write failed: %s",
				     sc->slice, sc_strerror(rc));
		sc_tfile_items(sc->sigs, 1);
		for (unsigned b = 0; b < sc->nbands_sig; b++) {
			struct band_ent *e;

			rc = grow((void **)&sc->bands, &sc->bands_cap, sc->nbands,
				  sizeof(*sc->bands));
			if (rc == 1)
				rc = flush_bands(sc);
			if (rc)
				return rc < 0 && rc != -ENOMEM ? rc : tfail(sc->t, rc, "out of memory");
			e = &sc->bands[sc->nbands++];
			e->key = sc_near_band_key(r->sig, b, sc->rows);
			e->ord = sc->unique;
		}
	}
	sc->unique++;
	return 0;
}

static int write_event(struct scan *sc, unsigned type, unsigned reason, uint32_t file,
		       uint64_t line, uint64_t offset, const char *text)
{
	unsigned char h[EV_HEAD] = { 0 };
	size_t n = strlen(text);
	int rc;

	h[0] = (unsigned char)type;
	h[1] = (unsigned char)reason;
	sc_put_le32(h + 4, file);
	sc_put_le64(h + 8, line);
	sc_put_le64(h + 16, offset);
	sc_put_le32(h + 24, (uint32_t)n);
	rc = sc_tfile_write(sc->events, h, sizeof(h));
	if (!rc)
		rc = sc_tfile_write(sc->events, text, n);
	sc_tfile_items(sc->events, 1);
	if (rc)
		return tfail(sc->t, rc, "scan %" PRIu32 ": events: write failed: %s", sc->slice,
			     sc_strerror(rc));
	return 0;
}

static const struct sc_plan_seg *scan_seg(const struct scan *sc, uint32_t file)
{
	return &sc->t->p->segs[sc->seg0 + file];
}

static uint64_t abs_line_slow(const struct scan *sc, uint32_t file, uint64_t line)
{
	const struct sc_plan_seg *g = scan_seg(sc, file);

	return g->offset ? line + lines_before(sc->t->p->files[g->file].path, g->offset) : line;
}

static int scan_reject(void *ctx, const struct sc_ingest_reject *r, char *err, size_t errlen)
{
	struct scan *sc = ctx;
	const struct sc_plan *p = sc->t->p;

	if (p->o.strict) {
		const char *name = p->files[scan_seg(sc, r->file)->file].name;
		char msg[2048];

		sc_ingest_reject_message(msg, sizeof(msg), name,
					 abs_line_slow(sc, r->file, r->line), r);
		snprintf(err, errlen, "%s (--strict)", msg);
		return SC_EFORMAT;
	}
	if (!p->rejects_path && sc->rejects_kept >= p->o.show_rejects)
		return 0;
	sc->rejects_kept++;
	return write_event(sc, EV_REJECT, r->reason, r->file, r->line, r->offset, r->detail);
}

static int scan_input_error(void *ctx, const char *file, uint64_t line, const char *msg,
			    char *err, size_t errlen)
{
	struct scan *sc = ctx;
	uint32_t k;

	for (k = 0; k < sc->nsegs; k++)
		if (!strcmp(sc->t->p->files[scan_seg(sc, k)->file].name, file))
			break;
	if (k == sc->nsegs)
		k = 0;
	if (sc->t->p->o.strict) {
		snprintf(err, errlen, "input '%s': after line %" PRIu64 ": %s (--strict)", file,
			 sc->nsegs ? abs_line_slow(sc, k, line) : line, msg);
		return SC_EFORMAT;
	}
	return write_event(sc, EV_INPUT_ERROR, 0, k, line, 0, msg);
}

/* The inputs must be what the plan saw. */
static int check_inputs(struct task *t, uint32_t seg0, uint32_t nsegs)
{
	for (uint32_t k = 0; k < nsegs; k++) {
		const struct sc_plan_file *f = &t->p->files[t->p->segs[seg0 + k].file];
		struct stat st;

		if (stat(f->path, &st))
			return tfail(t, SC_EUSAGE, "input '%s' ('%s'): %s; it was there when the "
				     "ingest was planned", f->name, f->path, strerror(errno));
		if ((uint64_t)st.st_size != f->size || (int64_t)st.st_mtim.tv_sec != f->mtime_s ||
		    (int64_t)st.st_mtim.tv_nsec != f->mtime_ns)
			return tfail(t, SC_EUSAGE, "input '%s' changed since the ingest was "
				     "planned (size or modification time); start the ingest "
				     "again without --resume", f->name);
	}
	return 0;
}

static int run_scan(struct task *t)
{
	const struct sc_plan *p = t->p;
	struct scan sc = { .t = t, .slice = t->idx };
	struct sc_ingest_sink sink = {
		.record = scan_record, .reject = scan_reject, .input_error = scan_input_error,
		.ctx = &sc,
	};
	struct sc_input_segment *segs = NULL;
	struct sc_ingest_opts o = p->o;
	uint64_t *lines = NULL;
	char path[SC_PATH_MAX], prefix[32];
	struct sc_stats st;
	struct sc_buf sum;
	int rc;

	sc_buf_init(&sum, SC_TASK_SUMMARY_MAX);
	sc.seg0 = p->slice_first[t->idx];
	sc.nsegs = p->slice_first[t->idx + 1] - sc.seg0;
	rc = check_inputs(t, sc.seg0, sc.nsegs);
	if (rc)
		return rc;
	snprintf(prefix, sizeof(prefix), "s%06" PRIu32 ".", t->idx);
	if (sc_plan_path(p, path, sizeof(path), "scan"))
		return tfail(t, SC_ELIMIT, "plan path too long");
	remove_prefixed(path, prefix);
	segs = calloc(sc.nsegs ? sc.nsegs : 1, sizeof(*segs));
	lines = calloc(sc.nsegs ? sc.nsegs : 1, sizeof(*lines));
	if (!segs || !lines) {
		rc = tfail(t, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t k = 0; k < sc.nsegs; k++) {
		const struct sc_plan_seg *g = &p->segs[sc.seg0 + k];
		const struct sc_plan_file *f = &p->files[g->file];

		segs[k].path = f->path;
		segs[k].name = f->name;
		segs[k].size = f->size;
		segs[k].offset = g->offset;
		segs[k].length = g->length;
	}
	if (p->o.dedup == SC_DEDUP_NEAR) {
		sc.psize = sc_near_packed_size(p->o.near.bands * p->o.near.rows);
		sc.nbands_sig = p->o.near.bands;
		sc.rows = p->o.near.rows;
		sc.sigrec = malloc(24 + sc.psize);
		if (!sc.sigrec) {
			rc = tfail(t, -ENOMEM, "out of memory");
			goto out;
		}
	}
#define CREATE(field, kind, name, block)                                                 \
	do {                                                                             \
		if (!rc && sc_plan_path(p, path, sizeof(path), "scan/s%06" PRIu32 ".%s", \
					t->idx, name))                                   \
			rc = tfail(t, SC_ELIMIT, "plan path too long");                  \
		if (!rc)                                                                 \
			rc = sc_tfile_create(path, kind, p->id, t->idx, 1, block,        \
					     &sc.field, t->err, t->errlen);              \
	} while (0)
	CREATE(spool, SC_TF_SPOOL, "spool", SC_TASK_SPOOL_BLOCK);
	CREATE(events, SC_TF_EVENTS, "events", SC_TASK_RUN_BLOCK);
	if (p->o.dedup == SC_DEDUP_NEAR)
		CREATE(sigs, SC_TF_SIGS, "sigs", SC_TASK_SPOOL_BLOCK);
#undef CREATE
	if (rc)
		goto out;
	o.threads = t->to->threads;
	rc = sc_ingest_scan(&o, segs, sc.nsegs, &sink, lines, &st, t->err, t->errlen);
	if (!rc)
		rc = flush_keys(&sc);
	if (!rc)
		rc = flush_bands(&sc);
	if (rc)
		goto out;
	rc = sc_tfile_commit(sc.spool, t->err, t->errlen);
	sc.spool = NULL;
	if (!rc) {
		rc = sc_tfile_commit(sc.events, t->err, t->errlen);
		sc.events = NULL;
	}
	if (!rc && sc.sigs) {
		rc = sc_tfile_commit(sc.sigs, t->err, t->errlen);
		sc.sigs = NULL;
	}
	if (rc)
		goto out;
	st.input_files = 0;
	for (uint32_t k = 0; k < sc.nsegs; k++)
		st.input_files += p->segs[sc.seg0 + k].offset == 0;
	rc = put_stats(&sum, &st);
	if (!rc)
		rc = sc_plan_putf(&sum, "unique %" PRIu64 "\nkey_runs %" PRIu32 "\nband_runs %" PRIu32
			   "\n", sc.unique, sc.key_runs, sc.band_runs);
	for (uint32_t k = 0; k < sc.nsegs && !rc; k++)
		rc = sc_plan_putf(&sum, "lines %" PRIu32 " %" PRIu64 "\n", k, lines[k]);
	if (rc) {
		tfail(t, rc, "summary: %s", sc_strerror(rc));
		goto out;
	}
	rc = write_done(t, &sum);
	if (!rc)
		note(t, "scan %" PRIu32 ": %" PRIu64 " records, %" PRIu64 " to pack before global "
		     "dedup, %" PRIu64 " duplicates within the slice, %" PRIu64 " rejected",
		     t->idx, st.records_in, sc.unique, st.duplicates, st.records_rejected);
out:
	sc_tfile_abort(sc.spool);
	sc_tfile_abort(sc.events);
	sc_tfile_abort(sc.sigs);
	free(sc.keys);
	free(sc.bands);
	free(sc.sigrec);
	free(segs);
	free(lines);
	sc_buf_release(&sum);
	return rc;
}

/* ---- dedup: k-way merge of the runs' section p ---- */

struct cursor {
	struct sc_tfile *f;   /* the run */
	uint32_t slice;       /* whose */
	uint64_t unique;      /* ordinals of that slice are below this */
	uint64_t a, b, ord;   /* current entry: (hi, lo) or (key, -) and ordinal */
	int live;             /* an entry is current */
	char path[SC_PATH_MAX];
};

struct merge {
	struct task *t;
	uint32_t kind;          /* SC_TF_KEYS or SC_TF_BANDS */
	struct cursor *c;       /* [n] */
	uint32_t n;
	uint32_t *heap;         /* [n] indexes into c, a min-heap */
	uint32_t nheap;
};

static int cur_less(const struct cursor *x, const struct cursor *y)
{
	if (x->a != y->a)
		return x->a < y->a;
	if (x->b != y->b)
		return x->b < y->b;
	if (x->slice != y->slice)
		return x->slice < y->slice;
	return x->ord < y->ord;
}

/* Advance cursor i; entries must come sorted and in this partition. */
static int cur_next(struct merge *m, struct cursor *c, uint32_t part)
{
	unsigned char rec[24];
	size_t n = m->kind == SC_TF_KEYS ? 24 : 16;
	uint64_t pa = c->a, pb = c->b, po = c->ord;
	int had = c->live, rc;
	char why[SC_PATH_MAX + 256];

	rc = read_item(m->t, c->f, rec, n, SC_PHASE_SCAN, c->slice);
	if (rc <= 0) {
		c->live = 0;
		return rc;
	}
	c->a = sc_get_le64(rec);
	if (m->kind == SC_TF_KEYS) {
		c->b = sc_get_le64(rec + 8);
		c->ord = sc_get_le64(rec + 16);
	} else {
		c->b = 0;
		c->ord = sc_get_le64(rec + 8);
	}
	c->live = 1;
	if (c->ord >= c->unique || part_of(c->a, m->t->p->tasks) != part ||
	    (had && (c->a < pa || (c->a == pa && (c->b < pb || (c->b == pb && c->ord <= po)))))) {
		snprintf(why, sizeof(why), "task file '%s': entries out of order or range", c->path);
		return bad_input(m->t, SC_ECORRUPT, SC_PHASE_SCAN, c->slice, why);
	}
	return 0;
}

static void heap_down(struct merge *m, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, s = i;

		if (l < m->nheap && cur_less(&m->c[m->heap[l]], &m->c[m->heap[s]]))
			s = l;
		if (r < m->nheap && cur_less(&m->c[m->heap[r]], &m->c[m->heap[s]]))
			s = r;
		if (s == i)
			return;
		uint32_t tmp = m->heap[i];

		m->heap[i] = m->heap[s];
		m->heap[s] = tmp;
		i = s;
	}
}

static void merge_close(struct merge *m)
{
	for (uint32_t i = 0; m->c && i < m->n; i++)
		sc_tfile_close(m->c[i].f);
	free(m->c);
	free(m->heap);
}

/* Open section part of every run of kind kind (runs[s] per slice). */
static int merge_open(struct task *t, struct merge *m, uint32_t kind, const uint64_t *runs,
		      const uint64_t *unique, uint32_t part)
{
	const struct sc_plan *p = t->p;
	uint64_t total = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	m->t = t;
	m->kind = kind;
	for (uint32_t s = 0; s < p->tasks; s++)
		total += runs[s];
	if (total > UINT32_MAX / 2)
		return tfail(t, SC_ELIMIT, "too many runs");
	m->c = calloc(total ? total : 1, sizeof(*m->c));
	m->heap = calloc(total ? total : 1, sizeof(*m->heap));
	if (!m->c || !m->heap)
		return tfail(t, -ENOMEM, "out of memory");
	for (uint32_t s = 0; s < p->tasks; s++)
		for (uint64_t r = 0; r < runs[s]; r++) {
			struct cursor *c = &m->c[m->n++];

			c->slice = s;
			c->unique = unique[s];
			if (sc_plan_path(p, c->path, sizeof(c->path), "scan/s%06" PRIu32 ".%s.%"
					 PRIu64, s, kind == SC_TF_KEYS ? "keys" : "bands", r))
				return tfail(t, SC_ELIMIT, "plan path too long");
			rc = open_output(t, c->path, kind, SC_PHASE_SCAN, s, p->tasks, &c->f);
			if (!rc && (rc = sc_tfile_seek(c->f, part)))
				rc = bad_input(t, rc, SC_PHASE_SCAN, s, sc_tfile_error(c->f));
			if (!rc)
				rc = cur_next(m, c, part);
			if (rc)
				return rc;
			if (c->live)
				m->heap[m->nheap++] = m->n - 1;
		}
	for (uint32_t i = m->nheap / 2; i-- > 0;)
		heap_down(m, i);
	return 0;
}

/* Ordinals by slice, collected by a merge. */
struct by_slice {
	uint64_t **v;    /* [slices] arrays */
	size_t *n, *cap; /* [slices] */
	uint64_t total;
};

static int by_slice_add(struct by_slice *b, uint32_t s, uint64_t ord)
{
	if (b->n[s] == b->cap[s]) {
		size_t ncap = b->cap[s] ? b->cap[s] * 2 : 256;
		void *n = realloc(b->v[s], ncap * sizeof(uint64_t));

		if (!n)
			return -ENOMEM;
		b->v[s] = n;
		b->cap[s] = ncap;
	}
	b->v[s][b->n[s]++] = ord;
	b->total++;
	return 0;
}

static void by_slice_free(struct by_slice *b, uint32_t slices)
{
	for (uint32_t s = 0; b->v && s < slices; s++)
		free(b->v[s]);
	free(b->v);
	free(b->n);
	free(b->cap);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Write b (sorted, deduplicated per slice) as path, kind kind, sections by slice. */
static int write_by_slice(struct task *t, struct by_slice *b, const char *path, uint32_t kind)
{
	const struct sc_plan *p = t->p;
	struct sc_tfile_writer *w;
	unsigned char e[8];
	int rc;

	rc = sc_tfile_create(path, kind, p->id, t->idx, p->tasks, SC_TASK_RUN_BLOCK, &w,
			     t->err, t->errlen);
	if (rc)
		return rc;
	for (uint32_t s = 0; s < p->tasks && !rc; s++) {
		size_t n = 0;

		if (b->n[s] > 1)
			qsort(b->v[s], b->n[s], sizeof(uint64_t), cmp_u64);
		for (size_t i = 0; i < b->n[s]; i++)
			if (!n || b->v[s][n - 1] != b->v[s][i])
				b->v[s][n++] = b->v[s][i];
		b->n[s] = n;
		rc = sc_tfile_section(w, s);
		for (size_t i = 0; i < n && !rc; i++) {
			sc_put_le64(e, b->v[s][i]);
			rc = sc_tfile_write(w, e, 8);
		}
		sc_tfile_items(w, n);
	}
	if (rc) {
		sc_tfile_abort(w);
		return tfail(t, rc, "'%s': write failed: %s", path, sc_strerror(rc));
	}
	return sc_tfile_commit(w, t->err, t->errlen);
}

static int by_slice_init(struct by_slice *b, uint32_t slices)
{
	memset(b, 0, sizeof(*b));
	b->v = calloc(slices, sizeof(*b->v));
	b->n = calloc(slices, sizeof(*b->n));
	b->cap = calloc(slices, sizeof(*b->cap));
	return b->v && b->n && b->cap ? 0 : -ENOMEM;
}

/*
 * Merge section part of all runs of kind: exact dedup (SC_TF_KEYS: every
 * entry after the first of a fingerprint is a duplicate) or the near-dup
 * candidate graph (SC_TF_BANDS: every entry of a band key held by two or
 * more) into out.
 */
static int merge_part(struct task *t, uint32_t kind, const uint64_t *runs,
		      const uint64_t *unique, struct by_slice *out)
{
	struct merge m;
	uint64_t ga = 0, gb = 0;
	int have = 0, rc;
	uint32_t first_s = 0, group = 0;
	uint64_t first_ord = 0;

	rc = merge_open(t, &m, kind, runs, unique, t->idx);
	while (!rc && m.nheap) {
		struct cursor *c = &m.c[m.heap[0]];
		int same = have && c->a == ga && c->b == gb;

		if (!same) {
			ga = c->a;
			gb = c->b;
			have = 1;
			group = 1;
			first_s = c->slice;
			first_ord = c->ord;
		} else if (kind == SC_TF_KEYS) {
			rc = by_slice_add(out, c->slice, c->ord);
		} else {
			if (++group == 2)
				rc = by_slice_add(out, first_s, first_ord);
			if (!rc)
				rc = by_slice_add(out, c->slice, c->ord);
		}
		if (rc) {
			rc = tfail(t, rc, "out of memory");
			break;
		}
		rc = cur_next(&m, c, t->idx);
		if (rc)
			break;
		if (!c->live)
			m.heap[0] = m.heap[--m.nheap];
		heap_down(&m, 0);
	}
	merge_close(&m);
	return rc;
}

static int run_dedup(struct task *t)
{
	const struct sc_plan *p = t->p;
	uint64_t *key_runs = calloc(p->tasks, sizeof(uint64_t));
	uint64_t *band_runs = calloc(p->tasks, sizeof(uint64_t));
	uint64_t *unique = calloc(p->tasks, sizeof(uint64_t));
	struct by_slice drops = { 0 }, graph = { 0 };
	char path[SC_PATH_MAX], prefix[32];
	struct sc_buf sum;
	int rc = 0;

	sc_buf_init(&sum, SC_TASK_SUMMARY_MAX);
	if (!key_runs || !band_runs || !unique || by_slice_init(&drops, p->tasks) ||
	    by_slice_init(&graph, p->tasks)) {
		rc = tfail(t, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t s = 0; s < p->tasks && !rc; s++) {
		struct summary sm;

		rc = load_summary(t, SC_PHASE_SCAN, s, &sm);
		if (rc)
			break;
		key_runs[s] = sm.key_runs;
		band_runs[s] = sm.band_runs;
		unique[s] = sm.unique;
		summary_release(&sm);
	}
	if (rc)
		goto out;
	snprintf(prefix, sizeof(prefix), "p%06" PRIu32 ".", t->idx);
	if (sc_plan_path(p, path, sizeof(path), "dedup")) {
		rc = tfail(t, SC_ELIMIT, "plan path too long");
		goto out;
	}
	remove_prefixed(path, prefix);
	more_files();
	rc = merge_part(t, SC_TF_KEYS, key_runs, unique, &drops);
	if (!rc && p->o.dedup == SC_DEDUP_NEAR)
		rc = merge_part(t, SC_TF_BANDS, band_runs, unique, &graph);
	if (!rc && sc_plan_path(p, path, sizeof(path), "dedup/p%06" PRIu32 ".drops", t->idx))
		rc = tfail(t, SC_ELIMIT, "plan path too long");
	if (!rc)
		rc = write_by_slice(t, &drops, path, SC_TF_DROPS);
	if (!rc && p->o.dedup == SC_DEDUP_NEAR) {
		if (sc_plan_path(p, path, sizeof(path), "dedup/p%06" PRIu32 ".graph", t->idx))
			rc = tfail(t, SC_ELIMIT, "plan path too long");
		if (!rc)
			rc = write_by_slice(t, &graph, path, SC_TF_GRAPH);
	}
	if (rc)
		goto out;
	{
		uint64_t g = 0;

		for (uint32_t s = 0; s < p->tasks; s++)
			g += graph.n[s];
		rc = sc_plan_putf(&sum, "dups %" PRIu64 "\ngraph %" PRIu64 "\n", drops.total, g);
		if (rc) {
			tfail(t, rc, "summary: %s", sc_strerror(rc));
			goto out;
		}
		rc = write_done(t, &sum);
		if (!rc)
			note(t, "dedup %" PRIu32 ": %" PRIu64 " duplicates across slices%s", t->idx,
			     drops.total, p->o.dedup == SC_DEDUP_NEAR ? ", near candidates noted" : "");
	}
out:
	by_slice_free(&drops, p->tasks);
	by_slice_free(&graph, p->tasks);
	free(key_runs);
	free(band_runs);
	free(unique);
	sc_buf_release(&sum);
	return rc;
}

/* ---- near: the ordered keep-first walk over the candidate graph ---- */

struct near_ref {
	uint64_t record;   /* its index in the set */
	uint64_t line;     /* input line */
	uint32_t file;     /* plan file index */
};

/* The drop lists (and, with near, the near drops) of slice s as a bitmap. */
static int slice_drops(struct task *t, uint32_t s, uint64_t unique, struct sc_tfile **drops,
		       struct sc_tfile *near, struct bitmap *b)
{
	const struct sc_plan *p = t->p;
	char path[SC_PATH_MAX];
	int rc;

	rc = bitmap_init(b, unique);
	if (rc)
		return tfail(t, rc, "out of memory");
	for (uint32_t q = 0; drops && q < p->tasks && !rc; q++) {
		sc_plan_path(p, path, sizeof(path), "dedup/p%06" PRIu32 ".drops", q);
		rc = bitmap_add(t, b, drops[q], s, SC_PHASE_DEDUP, q, path);
	}
	if (!rc && near) {
		sc_plan_path(p, path, sizeof(path), "near/near");
		rc = bitmap_add(t, b, near, s, SC_PHASE_NEAR, 0, path);
	}
	return rc;
}

static int open_parts(struct task *t, const char *suffix, uint32_t kind, struct sc_tfile ***out)
{
	const struct sc_plan *p = t->p;
	struct sc_tfile **f = calloc(p->tasks, sizeof(*f));
	char path[SC_PATH_MAX];
	int rc = 0;

	if (!f)
		return tfail(t, -ENOMEM, "out of memory");
	for (uint32_t q = 0; q < p->tasks && !rc; q++) {
		if (sc_plan_path(p, path, sizeof(path), "dedup/p%06" PRIu32 ".%s", q, suffix))
			rc = tfail(t, SC_ELIMIT, "plan path too long");
		if (!rc)
			rc = open_output(t, path, kind, SC_PHASE_DEDUP, q, p->tasks, &f[q]);
	}
	*out = f;
	return rc;
}

static void close_parts(const struct sc_plan *p, struct sc_tfile **f)
{
	for (uint32_t q = 0; f && q < p->tasks; q++)
		sc_tfile_close(f[q]);
	free(f);
}

/* Raise the open-file limit to its maximum: a merge opens every run. */
static void more_files(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int run_near(struct task *t)
{
	const struct sc_plan *p = t->p;
	const unsigned k = p->o.near.bands * p->o.near.rows;
	const size_t psize = sc_near_packed_size(k);
	const double cut = sc_near_removal_cut(p->o.near_threshold, p->o.near_margin, k);
	struct sc_tfile **drops = NULL, **graphs = NULL, *sigs = NULL;
	struct sc_tfile_writer *w = NULL;
	struct sc_lsh *lsh = NULL;
	struct near_ref *refs = NULL;
	size_t nrefs_cap = 0;
	uint64_t *base = NULL, kept_base = 0, removed_total = 0;
	unsigned char *rec = malloc(24 + psize);
	char path[SC_PATH_MAX], tmp[SC_PATH_MAX + 32];
	FILE *report = NULL;
	struct sc_stats st;
	struct sc_buf sum, line;
	int rc = 0;

	memset(&st, 0, sizeof(st));
	sc_buf_init(&sum, SC_TASK_SUMMARY_MAX);
	sc_buf_init(&line, SC_PATH_MAX * 16);
	tmp[0] = '\0';
	if (!rec) {
		rc = tfail(t, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t q = 0; q < p->tasks && !rc; q++) {
		struct summary sm;

		rc = load_summary(t, SC_PHASE_DEDUP, q, &sm);
		summary_release(&sm);
	}
	if (!rc)
		rc = line_bases(t, &base);
	if (rc)
		goto out;
	if (sc_plan_path(p, path, sizeof(path), "near")) {
		rc = tfail(t, SC_ELIMIT, "plan path too long");
		goto out;
	}
	remove_prefixed(path, "near");
	more_files();
	rc = open_parts(t, "drops", SC_TF_DROPS, &drops);
	if (!rc)
		rc = open_parts(t, "graph", SC_TF_GRAPH, &graphs);
	if (!rc && (rc = sc_lsh_new(p->o.near.bands, p->o.near.rows, &lsh)))
		tfail(t, rc, "near-dup index: %s", sc_strerror(rc));
	if (!rc && sc_plan_path(p, path, sizeof(path), "near/near"))
		rc = tfail(t, SC_ELIMIT, "plan path too long");
	if (!rc)
		rc = sc_tfile_create(path, SC_TF_NEAR, p->id, 0, p->tasks, SC_TASK_RUN_BLOCK, &w,
				     t->err, t->errlen);
	if (!rc && p->near_report_path) {
		snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", p->near_report_path, (long)getpid());
		report = fopen(tmp, "w");
		if (!report)
			rc = tfail(t, -errno, "near-dup report '%s': %s", tmp, strerror(errno));
	}
	for (uint32_t s = 0; s < p->tasks && !rc; s++) {
		struct bitmap drop = { 0 }, cand = { 0 };
		uint64_t pc_pos = 0, pc_drops = 0, removed = 0, items, n = 0, prev = 0;
		struct summary sm;

		rc = load_summary(t, SC_PHASE_SCAN, s, &sm);
		if (rc)
			break;
		rc = slice_drops(t, s, sm.unique, drops, NULL, &drop);
		if (!rc)
			rc = bitmap_init(&cand, sm.unique) ? tfail(t, -ENOMEM, "out of memory") : 0;
		for (uint32_t q = 0; q < p->tasks && !rc; q++) {
			sc_plan_path(p, path, sizeof(path), "dedup/p%06" PRIu32 ".graph", q);
			rc = bitmap_add(t, &cand, graphs[q], s, SC_PHASE_DEDUP, q, path);
		}
		if (!rc && sc_plan_path(p, path, sizeof(path), "scan/s%06" PRIu32 ".sigs", s))
			rc = tfail(t, SC_ELIMIT, "plan path too long");
		if (!rc)
			rc = open_output(t, path, SC_TF_SIGS, SC_PHASE_SCAN, s, 1, &sigs);
		if (!rc && (rc = sc_tfile_seek(sigs, 0)))
			rc = bad_input(t, rc, SC_PHASE_SCAN, s, sc_tfile_error(sigs));
		if (!rc)
			rc = sc_tfile_section(w, s);
		items = sigs ? sc_tfile_section_items(sigs, 0) : 0;
		while (!rc) {
			uint64_t ord, ln;
			uint32_t seg, doc;
			const uint8_t *sig = rec + 24;
			double sim;

			rc = read_item(t, sigs, rec, 24 + psize, SC_PHASE_SCAN, s);
			if (rc <= 0)
				break;
			rc = 0;
			ord = sc_get_le64(rec);
			ln = sc_get_le64(rec + 16);
			seg = sc_get_le32(rec + 8);
			if (ord >= sm.unique || (n && ord <= prev) ||
			    seg >= p->slice_first[s + 1] - p->slice_first[s]) {
				rc = bad_input(t, SC_ECORRUPT, SC_PHASE_SCAN, s,
					       "signatures out of order or range");
				break;
			}
			prev = ord;
			n++;
			/* exact duplicates below ord, for the record numbers of --near-report */
			for (; pc_pos < ord; pc_pos++)
				pc_drops += (uint64_t)bit_get(&drop, pc_pos);
			if (bit_get(&drop, ord) || !bit_get(&cand, ord))
				continue;
			if (sc_lsh_query(lsh, sig, cut, &doc, &sim) == 1) {
				unsigned char e[8];

				rc = sc_lsh_note_removed(lsh, doc);
				if (rc) {
					tfail(t, rc, "near-dup index: %s", sc_strerror(rc));
					break;
				}
				removed++;
				sc_put_le64(e, ord);
				rc = sc_tfile_write(w, e, 8);
				sc_tfile_items(w, 1);
				if (!rc && report) {
					const struct near_ref *kr = &refs[doc];
					uint32_t pk = p->slice_first[s] + seg;

					line.len = 0;
					rc = sc_ingest_near_report_json(&line, p->files[p->segs[pk].file].name,
									base[pk] + ln, p->files[kr->file].name,
									kr->line, kr->record, sim);
					if (!rc && fwrite(line.data, 1, line.len, report) != line.len)
						rc = -EIO;
				}
				if (rc) {
					tfail(t, rc, "near: write failed: %s", sc_strerror(rc));
					break;
				}
			} else {
				int64_t d = sc_lsh_insert(lsh, sig);

				if (d < 0) {
					rc = tfail(t, (int)d, "near-dup index: %s", sc_strerror((int)d));
					break;
				}
				if (report) {
					uint32_t pk = p->slice_first[s] + seg;

					if ((size_t)d >= nrefs_cap) {
						size_t ncap = nrefs_cap ? nrefs_cap * 2 : 1024;
						void *nr = realloc(refs, ncap * sizeof(*refs));

						if (!nr) {
							rc = tfail(t, -ENOMEM, "out of memory");
							break;
						}
						refs = nr;
						nrefs_cap = ncap;
					}
					refs[d].record = kept_base + ord - pc_drops - removed;
					refs[d].line = base[pk] + ln;
					refs[d].file = p->segs[pk].file;
				}
			}
		}
		if (!rc && n != items)
			rc = bad_input(t, SC_ECORRUPT, SC_PHASE_SCAN, s,
				       "signature count differs from the recorded one");
		if (!rc) {
			kept_base += sm.unique - bitmap_count(&drop) - removed;
			removed_total += removed;
		}
		sc_tfile_close(sigs);
		sigs = NULL;
		free(drop.w);
		free(cand.w);
		summary_release(&sm);
	}
	if (rc)
		goto out;
	if (report) {
		int bad = fflush(report) || ferror(report);

		bad |= fclose(report) != 0;
		report = NULL;
		if (bad || rename(tmp, p->near_report_path)) {
			rc = tfail(t, -EIO, "near-dup report '%s': write failed", p->near_report_path);
			goto out;
		}
		tmp[0] = '\0';
	}
	rc = sc_tfile_commit(w, t->err, t->errlen);
	w = NULL;
	if (rc)
		goto out;
	st.near_duplicates = removed_total;
	st.near_clusters = sc_lsh_clusters(lsh);
	st.near_largest_cluster = sc_lsh_largest_cluster(lsh);
	st.lsh_index_bytes = sc_lsh_peak_bytes(lsh);
	st.near_capped = sc_lsh_capped(lsh);
	rc = put_stats(&sum, &st);
	if (rc) {
		tfail(t, rc, "summary: %s", sc_strerror(rc));
		goto out;
	}
	rc = write_done(t, &sum);
	if (!rc)
		note(t, "near: %" PRIu64 " near duplicates, %" PRIu64 " candidates kept in the "
		     "index (%" PRIu64 " bytes at the peak)", removed_total, sc_lsh_count(lsh),
		     st.lsh_index_bytes);
out:
	if (report)
		fclose(report);
	if (tmp[0])
		unlink(tmp);
	sc_tfile_abort(w);
	sc_tfile_close(sigs);
	close_parts(p, drops);
	close_parts(p, graphs);
	sc_lsh_free(lsh);
	free(refs);
	free(base);
	free(rec);
	sc_buf_release(&sum);
	sc_buf_release(&line);
	return rc;
}

/* ---- pack ---- */

struct packsrc {
	struct task *t;
	struct sc_tfile *spool;
	struct bitmap drop;
	uint64_t ord, items;       /* next ordinal; records in the spool */
	struct sc_buf rec;         /* the current record */
	uint32_t slice;
};

static int pack_next(void *ctx, struct sc_ingest_rec *r, char *err, size_t errlen)
{
	struct packsrc *ps = ctx;
	unsigned char h[16];
	uint64_t len;
	int rc;

	(void)err;
	(void)errlen;
	for (;;) {
		rc = read_item(ps->t, ps->spool, h, sizeof(h), SC_PHASE_SCAN, ps->slice);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (ps->ord != ps->items)
				return bad_input(ps->t, SC_ECORRUPT, SC_PHASE_SCAN, ps->slice,
						 "spool: record count differs from the recorded one");
			return 0;
		}
		len = sc_get_le64(h);
		if (!len || len > ps->rec.max || ps->ord >= ps->drop.n)
			return bad_input(ps->t, SC_ECORRUPT, SC_PHASE_SCAN, ps->slice,
					 "spool: a record of impossible length");
		ps->rec.len = 0;
		rc = sc_buf_reserve(&ps->rec, (size_t)len);
		if (rc)
			return tfail(ps->t, rc, "out of memory");
		rc = sc_tfile_read(ps->spool, ps->rec.data, (size_t)len);
		if (rc != 1)
			return bad_input(ps->t, rc ? rc : SC_ECORRUPT, SC_PHASE_SCAN, ps->slice,
					 rc ? sc_tfile_error(ps->spool) : "spool: cut record");
		if (ps->rec.data[len - 1] != '\n')
			return bad_input(ps->t, SC_ECORRUPT, SC_PHASE_SCAN, ps->slice,
					 "spool: a record without its newline");
		if (bit_get(&ps->drop, ps->ord++))
			continue;
		r->data = ps->rec.data;
		r->len = (size_t)len;
		r->add_nl = 0;
		r->text_out = sc_get_le64(h + 8);
		return 1;
	}
}

/* The placement state a slice starts from: slice s places as if s shards
 * of the first-shard estimate had been placed before it, so that the
 * slices' first shards go to different nodes. */
static int slice_placed(const struct sc_plan *p, uint32_t s, uint64_t *bytes)
{
	uint64_t est = p->o.shard_size / 4 + 1;
	uint32_t pick[SC_REPLICAS_MAX];
	int rc = 0;

	memset(bytes, 0, p->o.nnodes * sizeof(*bytes));
	for (uint32_t k = 0; k < s && !rc; k++) {
		rc = sc_placement_choose(bytes, p->node_weights, p->o.nnodes, est,
					 p->o.replicas, pick);
		for (uint32_t r = 0; !rc && r < p->o.replicas; r++)
			bytes[pick[r]] += est;
	}
	return rc;
}

static int run_pack(struct task *t)
{
	const struct sc_plan *p = t->p;
	struct packsrc ps = { .t = t, .slice = t->idx };
	struct sc_ingest_source src = { .next = pack_next, .ctx = &ps };
	struct sc_tfile **drops = NULL, *near = NULL;
	struct sc_ingest_opts o = p->o;
	uint64_t placed[SC_NODES_MAX];
	char path[SC_PATH_MAX], root[SC_PATH_MAX];
	struct summary sm;
	struct sc_stats st;
	struct sc_buf sum;
	int rc = 0;

	sc_buf_init(&sum, SC_TASK_SUMMARY_MAX);
	sc_buf_init(&ps.rec, (size_t)p->o.max_record_size * 6 + 4096);
	memset(&sm, 0, sizeof(sm));
	for (uint32_t q = 0; q < sc_plan_phase_tasks(p, SC_PHASE_DEDUP) && !rc; q++) {
		struct summary d;

		rc = load_summary(t, SC_PHASE_DEDUP, q, &d);
		summary_release(&d);
	}
	if (!rc && sc_plan_phase_tasks(p, SC_PHASE_NEAR)) {
		struct summary d;

		rc = load_summary(t, SC_PHASE_NEAR, 0, &d);
		summary_release(&d);
	}
	if (!rc)
		rc = load_summary(t, SC_PHASE_SCAN, t->idx, &sm);
	if (rc)
		goto out;
	more_files();
	if (sc_plan_phase_tasks(p, SC_PHASE_DEDUP))
		rc = open_parts(t, "drops", SC_TF_DROPS, &drops);
	if (!rc && sc_plan_phase_tasks(p, SC_PHASE_NEAR)) {
		if (sc_plan_path(p, path, sizeof(path), "near/near"))
			rc = tfail(t, SC_ELIMIT, "plan path too long");
		if (!rc)
			rc = open_output(t, path, SC_TF_NEAR, SC_PHASE_NEAR, 0, p->tasks, &near);
	}
	if (!rc)
		rc = slice_drops(t, t->idx, sm.unique, drops, near, &ps.drop);
	if (!rc && sc_plan_path(p, path, sizeof(path), "scan/s%06" PRIu32 ".spool", t->idx))
		rc = tfail(t, SC_ELIMIT, "plan path too long");
	if (!rc)
		rc = open_output(t, path, SC_TF_SPOOL, SC_PHASE_SCAN, t->idx, 1, &ps.spool);
	if (!rc && (rc = sc_tfile_seek(ps.spool, 0)))
		rc = bad_input(t, rc, SC_PHASE_SCAN, t->idx, sc_tfile_error(ps.spool));
	if (rc)
		goto out;
	ps.items = sc_tfile_section_items(ps.spool, 0);
	if (ps.items != sm.unique) {
		rc = bad_input(t, SC_ECORRUPT, SC_PHASE_SCAN, t->idx,
			       "spool: record count differs from the scan summary");
		goto out;
	}
	close_parts(p, drops);
	drops = NULL;
	sc_tfile_close(near);
	near = NULL;
	if (sc_plan_path(p, root, sizeof(root), "pack/s%06" PRIu32, t->idx)) {
		rc = tfail(t, SC_ELIMIT, "plan path too long");
		goto out;
	}
	rc = slice_placed(p, t->idx, placed);
	if (rc) {
		tfail(t, rc, "placement: %s", sc_strerror(rc));
		goto out;
	}
	o.out = root;
	o.threads = t->to->threads;
	rc = sc_ingest_pack(&o, placed, &src, &st, t->err, t->errlen);
	if (rc)
		goto out;
	rc = put_stats(&sum, &st);
	if (rc) {
		tfail(t, rc, "summary: %s", sc_strerror(rc));
		goto out;
	}
	rc = write_done(t, &sum);
	if (!rc)
		note(t, "pack %" PRIu32 ": %" PRIu64 " records kept in %" PRIu64 " shards",
		     t->idx, st.records_kept, st.shards);
out:
	close_parts(p, drops);
	sc_tfile_close(near);
	sc_tfile_close(ps.spool);
	free(ps.drop.w);
	sc_buf_release(&ps.rec);
	summary_release(&sm);
	sc_buf_release(&sum);
	return rc;
}

/* ---- commit ---- */

/* The events of all slices in order: the --rejects file (when asked for)
 * and the messages a single-process ingest prints. */
static int render_events(struct task *t, const uint64_t *base, uint64_t rejects_total,
			 struct sc_buf *msgs)
{
	const struct sc_plan *p = t->p;
	char path[SC_PATH_MAX], tmp[SC_PATH_MAX + 32] = "", msg[4096];
	unsigned char h[EV_HEAD];
	struct sc_buf text, line;
	struct sc_tfile *f = NULL;
	FILE *rj = NULL;
	uint64_t shown = 0;
	int rc = 0;

	sc_buf_init(&text, 1 << 16);
	sc_buf_init(&line, SC_PATH_MAX * 8 + (1 << 16));
	if (p->rejects_path) {
		snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", p->rejects_path, (long)getpid());
		rj = fopen(tmp, "w");
		if (!rj) {
			rc = tfail(t, -errno, "rejects file '%s': %s", tmp, strerror(errno));
			tmp[0] = '\0';
		}
	}
	for (uint32_t s = 0; s < p->tasks && !rc; s++) {
		uint32_t k0 = p->slice_first[s], nk = p->slice_first[s + 1] - k0;

		if (sc_plan_path(p, path, sizeof(path), "scan/s%06" PRIu32 ".events", s)) {
			rc = tfail(t, SC_ELIMIT, "plan path too long");
			break;
		}
		rc = open_output(t, path, SC_TF_EVENTS, SC_PHASE_SCAN, s, 1, &f);
		if (!rc && (rc = sc_tfile_seek(f, 0)))
			rc = bad_input(t, rc, SC_PHASE_SCAN, s, sc_tfile_error(f));
		while (!rc) {
			uint32_t seg, n;
			uint64_t ln;
			const char *name;

			rc = read_item(t, f, h, sizeof(h), SC_PHASE_SCAN, s);
			if (rc <= 0)
				break;
			rc = 0;
			seg = sc_get_le32(h + 4);
			n = sc_get_le32(h + 24);
			ln = sc_get_le64(h + 8);
			if ((h[0] != EV_REJECT && h[0] != EV_INPUT_ERROR) || seg >= nk ||
			    n > 65536 || (h[0] == EV_REJECT && (h[1] < 1 ||
								 h[1] >= SC_REJECT__COUNT))) {
				rc = bad_input(t, SC_ECORRUPT, SC_PHASE_SCAN, s, "events: a bad event");
				break;
			}
			text.len = 0;
			if ((rc = sc_buf_reserve(&text, (size_t)n + 1))) {
				tfail(t, rc, "out of memory");
				break;
			}
			if (n && sc_tfile_read(f, text.data, n) != 1) {
				rc = bad_input(t, SC_ECORRUPT, SC_PHASE_SCAN, s, sc_tfile_error(f));
				break;
			}
			text.data[n] = '\0';
			name = p->files[p->segs[k0 + seg].file].name;
			ln += base[k0 + seg];
			if (h[0] == EV_INPUT_ERROR) {
				snprintf(msg, sizeof(msg), "input '%s': after line %" PRIu64 ": %s",
					 name, ln, text.data);
				rc = put_msg(msgs, msg);
			} else {
				struct sc_ingest_reject r = {
					.line = ln, .reason = h[1], .offset = sc_get_le64(h + 16),
					.detail = text.data,
				};

				if (shown < p->o.show_rejects) {
					sc_ingest_reject_message(msg, sizeof(msg), name, ln, &r);
					rc = put_msg(msgs, msg);
					if (!rc && ++shown == p->o.show_rejects &&
					    rejects_total > p->o.show_rejects)
						rc = put_msg(msgs, rj ? "further rejects not shown (all "
							     "are in the --rejects file)" : "further "
							     "rejects not shown; use --rejects FILE to "
							     "keep them all");
				}
				if (!rc && rj) {
					line.len = 0;
					rc = sc_ingest_reject_json(&line, name, ln, &r);
					if (!rc && fwrite(line.data, 1, line.len, rj) != line.len)
						rc = -EIO;
				}
			}
			if (rc) {
				tfail(t, rc, "events: %s", sc_strerror(rc));
				break;
			}
		}
		sc_tfile_close(f);
		f = NULL;
	}
	if (rj) {
		int bad = fflush(rj) || ferror(rj);

		bad |= fclose(rj) != 0;
		if (!rc && (bad || rename(tmp, p->rejects_path)))
			rc = tfail(t, -EIO, "rejects file '%s': write failed", p->rejects_path);
		if (!rc)
			tmp[0] = '\0';
	}
	if (tmp[0])
		unlink(tmp);
	sc_buf_release(&text);
	sc_buf_release(&line);
	return rc;
}

/* journal id of the plan, nodes digest included (as the writer computes it) */
static int plan_jid(const struct sc_plan *p, struct sc_journal_id *id, char *err, size_t errlen)
{
	char *stored[SC_NODES_MAX] = { 0 };
	int rc = 0;

	*id = p->jid;
	for (uint32_t i = 0; i < p->o.nnodes && !rc; i++)
		rc = sc_set_node_resolve(p->out, p->node_paths[i], 0, &stored[i], err, errlen);
	if (!rc)
		rc = sc_journal_nodes_digest(stored, p->node_weights, p->o.nnodes, p->o.replicas,
					     id->nodes);
	for (uint32_t i = 0; i < p->o.nnodes; i++)
		free(stored[i]);
	return rc;
}

int sc_task_committed(const struct sc_plan *p, struct sc_stats *st, char *err, size_t errlen)
{
	struct sc_journal j = { 0 };
	struct sc_journal_id id;
	struct sc_manifest m;
	char msg[1024];
	int rc, same = 0;

	memset(&m, 0, sizeof(m));
	if (sc_journal_load(p->out, &j, msg, sizeof(msg)))
		return 0;
	rc = sc_manifest_load(p->out, &m, msg, sizeof(msg));
	if (rc) {
		sc_journal_release(&j);
		return 0;
	}
	/* a node that cannot be resolved (it does not exist): not this set */
	rc = plan_jid(p, &id, msg, sizeof(msg));
	same = !rc && !memcmp(id.options, j.head.id.options, 32) &&
	       !memcmp(id.inputs, j.head.id.inputs, 32) && !memcmp(id.nodes, j.head.id.nodes, 32) &&
	       !strcmp(m.set_id, j.head.set_id) && m.generation == j.head.generation &&
	       m.nshards == j.nshards;
	for (uint64_t i = 0; same && i < j.nshards; i++) {
		const struct sc_manifest_shard *a = &m.shards[i], *b = &j.shards[i];

		same = a->records == b->records && a->raw_bytes == b->raw_bytes &&
		       a->stored_bytes == b->stored_bytes && a->frames == b->frames &&
		       !memcmp(a->sha256, b->sha256, 32);
	}
	(void)err;
	(void)errlen;
	if (same)
		*st = m.stats;
	rc = same;
	sc_manifest_release(&m);
	sc_journal_release(&j);
	return rc;
}

static void writer_note(void *ctx, const char *msg)
{
	note(ctx, "%s", msg);
}

/*
 * 1 when node i of slice set m (at root) is the plan's node i: the same
 * directory (realpath), or for an S3 node the same canonical location.
 */
static int same_node(const struct sc_plan *p, const struct sc_manifest *m, const char *root,
		     uint32_t i)
{
	char dir[SC_PATH_MAX], real_a[PATH_MAX], real_b[PATH_MAX], why[256];

	if (sc_manifest_node_dir(m, root, i, dir, sizeof(dir)))
		return 0;
	if (sc_s3node_is(p->node_paths[i]))
		return !sc_s3node_canonical(p->node_paths[i], real_b, sizeof(real_b), why,
					    sizeof(why)) && !strcmp(dir, real_b);
	return !sc_s3node_is(dir) && realpath(dir, real_a) && realpath(p->node_paths[i], real_b) &&
	       !strcmp(real_a, real_b);
}

/* Take over the shards of slice s into w (files linked on local nodes,
 * objects copied server-side on S3 nodes, many at once:
 * sc_set_writer_add_shards). */
static int adopt_slice(struct task *t, struct sc_set_writer *w, uint32_t s)
{
	const struct sc_plan *p = t->p;
	char root[SC_PATH_MAX], msg[SC_PATH_MAX + 512];
	struct sc_manifest m;
	int rc;

	memset(&m, 0, sizeof(m));
	if (sc_plan_path(p, root, sizeof(root), "pack/s%06" PRIu32, s))
		return tfail(t, SC_ELIMIT, "plan path too long");
	rc = sc_manifest_load(root, &m, msg, sizeof(msg));
	if (rc)
		return bad_input(t, rc == SC_ENOTSET ? -ENOENT : rc, SC_PHASE_PACK, s, msg);
	if (m.nnodes != p->o.nnodes) {
		rc = bad_input(t, SC_ECORRUPT, SC_PHASE_PACK, s, "slice set: other nodes");
		goto out;
	}
	for (uint32_t i = 0; i < m.nnodes; i++) {
		if (!same_node(p, &m, root, i)) {
			snprintf(msg, sizeof(msg), "slice set '%s': node %" PRIu32 " is not the "
				 "plan's node '%s'", root, i, p->node_paths[i]);
			rc = bad_input(t, SC_ECORRUPT, SC_PHASE_PACK, s, msg);
			goto out;
		}
	}
	/* one batch per slice: its S3 copies run many at once */
	rc = sc_set_writer_add_shards(w, m.shards, m.nshards, msg, sizeof(msg));
	if (rc == SC_ECORRUPT || rc == -ENOENT)
		rc = bad_input(t, rc, SC_PHASE_PACK, s, msg);
	else if (rc)
		tfail(t, rc, "%s", msg);
out:
	sc_manifest_release(&m);
	return rc;
}

static int run_commit(struct task *t)
{
	const struct sc_plan *p = t->p;
	struct sc_set_writer_opts wo = {
		.root = p->out, .node_paths = p->node_paths, .node_weights = p->node_weights,
		.nnodes = p->o.nnodes, .replicas = p->o.replicas, .shard_size = p->o.shard_size,
		.note = writer_note, .note_ctx = t,
	};
	struct sc_set_writer *w = NULL;
	struct sc_journal_id jid = p->jid;
	struct sc_stats st, done_st;
	struct sc_manifest m;
	struct sc_buf sum, msgs;
	uint64_t *base = NULL;
	struct timespec now;
	char tool[64];
	int rc = 0, already;

	memset(&st, 0, sizeof(st));
	memset(&m, 0, sizeof(m));
	sc_buf_init(&sum, SC_TASK_SUMMARY_MAX);
	sc_buf_init(&msgs, SC_TASK_SUMMARY_MAX / 2);
	/* the totals, from every summary */
	for (int ph = 0; ph < SC_PHASE_COMMIT && !rc; ph++)
		for (uint32_t i = 0; i < sc_plan_phase_tasks(p, (enum sc_phase)ph) && !rc; i++) {
			struct summary sm;
			const struct sc_stats *x = &sm.st;

			rc = load_summary(t, (enum sc_phase)ph, i, &sm);
			if (rc)
				break;
			switch (ph) {
			case SC_PHASE_SCAN:
				st.input_files += x->input_files;
				st.input_errors += x->input_errors;
				st.bytes_in_disk += x->bytes_in_disk;
				st.bytes_in += x->bytes_in;
				st.lines_blank += x->lines_blank;
				st.records_in += x->records_in;
				st.records_rejected += x->records_rejected;
				for (int r = 0; r < SC_REJECT__COUNT; r++)
					st.rejected[r] += x->rejected[r];
				st.records_normalized += x->records_normalized;
				st.bytes_text_in += x->bytes_text_in;
				st.duplicates += x->duplicates;
				if (x->dedup_index_bytes > st.dedup_index_bytes)
					st.dedup_index_bytes = x->dedup_index_bytes;
				break;
			case SC_PHASE_DEDUP:
				st.duplicates += sm.dups;
				break;
			case SC_PHASE_NEAR:
				st.near_duplicates = x->near_duplicates;
				st.near_clusters = x->near_clusters;
				st.near_largest_cluster = x->near_largest_cluster;
				st.lsh_index_bytes = x->lsh_index_bytes;
				st.near_capped = x->near_capped;
				break;
			case SC_PHASE_PACK:
				st.records_kept += x->records_kept;
				st.bytes_kept += x->bytes_kept;
				st.bytes_text_kept += x->bytes_text_kept;
				st.frames += x->frames;
				break;
			}
			summary_release(&sm);
		}
	if (rc)
		goto out;
	if (st.records_in != st.records_rejected + st.duplicates + st.near_duplicates +
			     st.records_kept) {
		rc = tfail(t, SC_ECORRUPT, "the task summaries do not add up: %" PRIu64 " records "
			   "in, %" PRIu64 " rejected + %" PRIu64 " duplicates + %" PRIu64 " near "
			   "duplicates + %" PRIu64 " kept", st.records_in, st.records_rejected,
			   st.duplicates, st.near_duplicates, st.records_kept);
		goto out;
	}
	rc = line_bases(t, &base);
	if (!rc)
		rc = render_events(t, base, st.records_rejected, &msgs);
	if (rc)
		goto out;
	already = sc_task_committed(p, &done_st, t->err, t->errlen);
	if (already < 0) {
		rc = already;
		goto out;
	}
	if (already) {
		note(t, "commit: '%s' already holds the result of this ingest", p->out);
		st = done_st;
	} else {
		wo.journal = &jid;
		rc = sc_set_writer_open(&wo, &w, t->err, t->errlen);
		if (rc == 1)
			rc = tfail(t, SC_ECORRUPT, "set '%s': unexpected journal state", p->out);
		for (uint32_t s = 0; s < p->tasks && !rc; s++)
			rc = adopt_slice(t, w, s);
		if (rc)
			goto out;
		clock_gettime(CLOCK_REALTIME, &now);
		st.elapsed_s = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - p->created;
		if (st.elapsed_s < 0)
			st.elapsed_s = 0;
		m.stats = st;
		snprintf(tool, sizeof(tool), "shardctl %s", SC_VERSION);
		m.tool = tool;
		sc_ingest_manifest_config(&p->o, &m);
		rc = sc_set_writer_commit(w, &m, t->err, t->errlen);
		if (rc)
			goto out;
		w = NULL;
		st.shards = m.stats.shards;
		st.bytes_stored = m.stats.bytes_stored;
	}
	rc = put_stats(&sum, &st);
	if (!rc)
		rc = sc_buf_append(&sum, msgs.data, msgs.len);
	if (rc) {
		tfail(t, rc, "summary: %s", sc_strerror(rc));
		goto out;
	}
	rc = write_done(t, &sum);
	if (rc)
		goto out;
	if (t->to->result)
		*t->to->result = st;
	if (!t->to->keep_plan && t->to->message) {
		struct summary sm;

		/* by hand: say what the launching command would say (sm is set
		 * up here: parse_summary is not reached when the append fails) */
		memset(&sm, 0, sizeof(sm));
		if (!sc_buf_append(&msgs, "end\n", 5) && !parse_summary(msgs.data, &sm)) {
			for (size_t off = 0; off < sm.msgs.len; off += strlen(sm.msgs.data + off) + 1)
				t->to->message(t->to->cb_ctx, sm.msgs.data + off);
		}
		summary_release(&sm);
	}
	sc_plan_clean(p, t->to->keep_plan ? SC_PLAN_KEEP_MARKERS : 0);
out:
	sc_set_writer_abort(w);
	free(base);
	sc_buf_release(&sum);
	sc_buf_release(&msgs);
	return rc;
}

int sc_task_result(const struct sc_plan *p, struct sc_stats *st,
		   void (*message)(void *ctx, const char *msg), void *ctx,
		   char *err, size_t errlen)
{
	const struct sc_task_opts to = { .threads = 1 };
	struct task t = { .p = p, .to = &to, .ph = SC_PHASE_COMMIT, .err = err,
			  .errlen = errlen };
	struct summary sm;
	int rc;

	if (!sc_plan_task_done(p, SC_PHASE_COMMIT, 0))
		return -ENOENT;
	rc = load_summary(&t, SC_PHASE_COMMIT, 0, &sm);
	if (rc)
		return rc;
	*st = sm.st;
	for (size_t off = 0; message && off < sm.msgs.len; off += strlen(sm.msgs.data + off) + 1)
		message(ctx, sm.msgs.data + off);
	summary_release(&sm);
	return 0;
}

/* ---- dispatch ---- */

static const char *const fail_env = "SHARDCTL_TASK_FAIL";

/* The test hook: SHARDCTL_TASK_FAIL=PHASE:INDEX[,PHASE:INDEX...] makes
 * those tasks fail at their start (docs/TASKS.md section 7). */
static int fail_hook(const struct task *t)
{
	const char *v = getenv(fail_env);
	char want[64];
	size_t n;

	if (!v || !*v)
		return 0;
	n = (size_t)snprintf(want, sizeof(want), "%s:%" PRIu32, sc_phase_name(t->ph), t->idx);
	for (const char *q = v; (q = strstr(q, want)); q += n)
		if ((q == v || q[-1] == ',') && (q[n] == ',' || !q[n]))
			return 1;
	return 0;
}

int sc_task_run(const struct sc_plan *p, enum sc_phase ph, uint32_t index,
		const struct sc_task_opts *to, char *err, size_t errlen)
{
	struct task t = { .p = p, .to = to, .ph = ph, .idx = index, .err = err,
			  .errlen = errlen };
	uint32_t n = ph < SC_PHASE__COUNT ? sc_plan_phase_tasks(p, ph) : 0;

	err[0] = '\0';
	if (!n)
		return tfail(&t, SC_EUSAGE, "this plan has no %s phase", sc_phase_name(ph));
	if (index >= n)
		return tfail(&t, SC_EUSAGE, "task %s %" PRIu32 ": the %s phase has %" PRIu32
			     " task%s (0..%" PRIu32 ")", sc_phase_name(ph), index,
			     sc_phase_name(ph), n, n == 1 ? "" : "s", n - 1);
	if (!to->force && sc_plan_task_done(p, ph, index)) {
		if (ph == SC_PHASE_COMMIT && to->result)
			sc_task_result(p, to->result, NULL, NULL, err, errlen);
		return 1;
	}
	if (to->force)
		undone(p, ph, index);
	if (fail_hook(&t))
		return tfail(&t, SC_EUSAGE, "task %s %" PRIu32 ": failing on purpose (%s is set)",
			     sc_phase_name(ph), index, fail_env);
	switch (ph) {
	case SC_PHASE_SCAN: return run_scan(&t);
	case SC_PHASE_DEDUP: return run_dedup(&t);
	case SC_PHASE_NEAR: return run_near(&t);
	case SC_PHASE_PACK: return run_pack(&t);
	case SC_PHASE_COMMIT: return run_commit(&t);
	default: return tfail(&t, SC_EUSAGE, "no such phase");
	}
}
