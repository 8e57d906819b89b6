/*
 * plan.c - the plan of a partitioned ingest (see plan.h; docs/TASKS.md
 * sections 2 and 4.3).
 *
 * The plan file is a task file (tfile.h) of kind "plan" whose one section
 * is text: one "key value..." line per item, values separated by single
 * spaces, strings percent-escaped (every byte below 0x21, '%' and DEL as
 * %XX), doubles in C99 hex (%a) so they come back exactly. Parsing is
 * strict: an unknown key, a missing one or a bad value is SC_ECORRUPT.
 *
 * Slicing: the input bytes are cut at N - 1 boundaries k * total / N.
 * A plain file across a boundary is cut at the first line end at or after
 * it (so every record stays whole and keeps its place in input order); a
 * compressed file cannot be entered in the middle and goes whole to the
 * slice its first byte falls in. Slices are therefore contiguous pieces of
 * the input in order, which is what makes "slice, then position in the
 * slice" the global input order.
 */
#include "plan.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "file.h"
#include "input.h"
#include "s3.h"
#include "s3node.h"
#include "set.h"
#include "tfile.h"

static const char *const phase_names[SC_PHASE__COUNT] = {
	"scan", "dedup", "near", "pack", "commit",
};

const char *sc_phase_name(enum sc_phase ph)
{
	return ph < SC_PHASE__COUNT ? phase_names[ph] : "?";
}

int sc_phase_parse(const char *s, enum sc_phase *out)
{
	static const char *const nums[SC_PHASE__COUNT] = { "1", "2", "", "3", "4" };

	for (int i = 0; i < SC_PHASE__COUNT; i++)
		if (!strcmp(s, phase_names[i]) || (nums[i][0] && !strcmp(s, nums[i]))) {
			*out = (enum sc_phase)i;
			return 0;
		}
	return SC_EUSAGE;
}

uint32_t sc_plan_phase_tasks(const struct sc_plan *p, enum sc_phase ph)
{
	switch (ph) {
	case SC_PHASE_SCAN:
	case SC_PHASE_PACK:
		return p->tasks;
	case SC_PHASE_DEDUP:
		return p->o.dedup == SC_DEDUP_NONE ? 0 : p->tasks;
	case SC_PHASE_NEAR:
		return p->o.dedup == SC_DEDUP_NEAR ? 1 : 0;
	case SC_PHASE_COMMIT:
		return 1;
	default:
		return 0;
	}
}

int sc_plan_path(const struct sc_plan *p, char *buf, size_t n, const char *fmt, ...)
{
	size_t l = strlen(p->dir);
	va_list ap;
	int k;

	if (l + 2 > n)
		return SC_ELIMIT;
	memcpy(buf, p->dir, l);
	buf[l++] = '/';
	va_start(ap, fmt);
	k = vsnprintf(buf + l, n - l, fmt, ap);
	va_end(ap);
	return k < 0 || (size_t)k >= n - l ? SC_ELIMIT : 0;
}

int sc_plan_done_path(const struct sc_plan *p, enum sc_phase ph, uint32_t i, char *buf,
		      size_t n)
{
	return sc_plan_path(p, buf, n, "done/%s-%06" PRIu32, sc_phase_name(ph), i);
}

int sc_plan_log_path(const struct sc_plan *p, enum sc_phase ph, uint32_t i, char *buf,
		     size_t n)
{
	return sc_plan_path(p, buf, n, "logs/%s-%06" PRIu32 ".log", sc_phase_name(ph), i);
}

int sc_plan_task_done(const struct sc_plan *p, enum sc_phase ph, uint32_t i)
{
	char path[SC_PATH_MAX];
	struct stat st;

	return !sc_plan_done_path(p, ph, i, path, sizeof(path)) && !stat(path, &st);
}

uint32_t sc_plan_phase_done(const struct sc_plan *p, enum sc_phase ph)
{
	uint32_t n = sc_plan_phase_tasks(p, ph), k = 0;

	for (uint32_t i = 0; i < n; i++)
		k += (uint32_t)sc_plan_task_done(p, ph, i);
	return k;
}

void sc_plan_free(struct sc_plan *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nfiles; i++) {
		free(p->files[i].path);
		free(p->files[i].name);
	}
	for (uint32_t i = 0; p->node_paths && i < p->o.nnodes; i++)
		free(p->node_paths[i]);
	free(p->node_paths);
	free(p->node_weights);
	free(p->files);
	free(p->segs);
	free(p->slice_first);
	free(p->rejects_path);
	free(p->near_report_path);
	free(p->out);
	free(p->text_field);
	free(p);
}

/* path made absolute (against the working directory), malloc'd */
static char *absolute(const char *path)
{
	char cwd[SC_PATH_MAX];
	char *r;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&r, "%s/%s", cwd, path) < 0)
		return NULL;
	return r;
}

/* A new, empty plan whose directory is dir made absolute. */
static int plan_alloc(const char *dir, struct sc_plan **out, char *err, size_t errlen)
{
	struct sc_plan *p = calloc(1, sizeof(*p));
	char *d;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	d = absolute(dir);
	if (!d || strlen(d) >= sizeof(p->dir)) {
		free(d);
		free(p);
		return sc_fail(err, errlen, SC_ELIMIT, "plan directory '%s': path too long", dir);
	}
	strcpy(p->dir, d);
	free(d);
	*out = p;
	return 0;
}

/* Offset just after the first '\n' at or after off in fd, or size if none. */
static int find_cut(int fd, uint64_t off, uint64_t size, uint64_t *cut)
{
	char buf[65536];

	while (off < size) {
		size_t want = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		ssize_t r = pread(fd, buf, want, (off_t)off);
		char *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		nl = memchr(buf, '\n', (size_t)r);
		if (nl) {
			*cut = off + (uint64_t)(nl - buf) + 1;
			return 0;
		}
		off += (uint64_t)r;
	}
	*cut = size;
	return 0;
}

static int add_seg(struct sc_plan *p, uint32_t *cap, uint32_t slice, uint32_t file,
		   uint64_t offset, uint64_t length)
{
	if (p->nsegs == *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 64;
		void *n = realloc(p->segs, ncap * sizeof(*p->segs));

		if (!n)
			return -ENOMEM;
		p->segs = n;
		*cap = ncap;
	}
	p->segs[p->nsegs].file = file;
	p->segs[p->nsegs].offset = offset;
	p->segs[p->nsegs].length = length;
	p->nsegs++;
	/* slices are filled in order: every later slice starts after it */
	for (uint32_t s = slice + 1; s <= p->tasks; s++)
		p->slice_first[s] = p->nsegs;
	return 0;
}

static uint64_t bound(uint64_t total, uint32_t k, uint32_t n)
{
	return (uint64_t)((unsigned __int128)total * k / n);
}

/* Cut the files into p->tasks slices (see the top of this file). */
static int make_slices(struct sc_plan *p, char *err, size_t errlen)
{
	uint64_t total = 0, pos = 0;
	uint32_t s = 0, cap = 0, n = p->tasks;
	int rc;

	p->slice_first = calloc((size_t)n + 1, sizeof(*p->slice_first));
	if (!p->slice_first)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->nfiles; i++)
		total += p->files[i].size;
	for (uint32_t i = 0; i < p->nfiles; i++) {
		const struct sc_plan_file *f = &p->files[i];
		uint64_t start = 0;
		int fd;

		while (s + 1 < n && pos >= bound(total, s + 1, n))
			s++;
		if (!f->plain || p->o.record_per_file || !f->size ||
		    s + 1 >= n || bound(total, s + 1, n) >= pos + f->size) {
			rc = add_seg(p, &cap, s, i, 0, UINT64_MAX);
			if (rc)
				return rc;
			pos += f->size;
			continue;
		}
		fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return sc_fail(err, errlen, -errno, "input '%s': %s", f->name, strerror(errno));
		while (s + 1 < n && bound(total, s + 1, n) < pos + f->size) {
			uint64_t want = bound(total, s + 1, n) - pos, cut;

			if (want <= start) {
				s++;
				continue;
			}
			rc = find_cut(fd, want - 1, f->size, &cut);
			if (rc) {
				close(fd);
				return sc_fail(err, errlen, rc, "input '%s': %s", f->name,
					    sc_strerror(rc));
			}
			if (cut >= f->size)
				break;
			rc = add_seg(p, &cap, s, i, start, cut - start);
			if (rc) {
				close(fd);
				return rc;
			}
			start = cut;
			s++;
		}
		close(fd);
		rc = start ? add_seg(p, &cap, s, i, start, f->size - start) :
			     add_seg(p, &cap, s, i, 0, UINT64_MAX);
		if (rc)
			return rc;
		pos += f->size;
	}
	return 0;
}

int sc_plan_build(const struct sc_ingest_opts *o, const char *dir, uint32_t tasks,
		  struct sc_plan **out, char *err, size_t errlen)
{
	struct sc_input_opts io;
	struct sc_ingest_opts oi = *o;
	struct sc_input *in = NULL;
	struct sc_plan *p;
	struct timespec now;
	int rc;

	*out = NULL;
	if (tasks < 1 || tasks > SC_TASKS_MAX)
		return sc_fail(err, errlen, SC_EUSAGE, "--tasks must be 1..%d", SC_TASKS_MAX);
	for (size_t i = 0; i < o->ninputs; i++)
		if (!strcmp(o->inputs[i], "-"))
			return sc_fail(err, errlen, SC_EUSAGE, "--tasks: standard input cannot be "
				    "split into tasks; give input files");
	if (!oi.threads)
		oi.threads = 1; /* decided per task */
	rc = sc_ingest_check_opts(&oi, err, errlen);
	if (rc)
		return rc;
	if (sc_s3_is_location(o->out))
		return sc_fail(err, errlen, SC_EUSAGE, "--tasks: --out '%s': not supported yet for "
			    "a set root on S3", o->out);
	rc = plan_alloc(dir, &p, err, errlen);
	if (rc)
		return rc;
	if (getrandom(p->id, sizeof(p->id), 0) != (ssize_t)sizeof(p->id)) {
		rc = sc_fail(err, errlen, -EIO, "cannot get random bytes for a plan id");
		goto out_free;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	p->created = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	p->tasks = tasks;
	oi.tasks = tasks;
	rc = sc_ingest_identity(&oi, &p->jid, err, errlen);
	if (rc == 1)
		rc = sc_fail(err, errlen, SC_EUSAGE, "--tasks: every input must be a regular "
			  "file (tasks read their parts of it again, on any machine)");
	if (rc)
		goto out_free;
	/* the options, with the plan's own copies of every string */
	p->o = *o;
	p->o.tasks = tasks;
	p->o.inputs = NULL;
	p->o.ninputs = 0;
	p->o.progress = NULL;
	p->o.message = NULL;
	p->o.cb_ctx = NULL;
	p->o.resume = 0;
	p->out = absolute(o->out);
	p->text_field = strdup(o->text_field);
	p->rejects_path = o->rejects_path ? absolute(o->rejects_path) : NULL;
	p->near_report_path = o->near_report_path ? absolute(o->near_report_path) : NULL;
	p->node_paths = calloc(o->nnodes ? o->nnodes : 1, sizeof(char *));
	p->node_weights = calloc(o->nnodes ? o->nnodes : 1, sizeof(uint32_t));
	if (!p->out || !p->text_field || (o->rejects_path && !p->rejects_path) ||
	    (o->near_report_path && !p->near_report_path) || !p->node_paths ||
	    !p->node_weights) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < o->nnodes; i++) {
		/* an S3 node is a location, the same from every machine */
		p->node_paths[i] = sc_s3_is_location(o->node_paths[i]) ?
				   strdup(o->node_paths[i]) : absolute(o->node_paths[i]);
		if (!p->node_paths[i]) {
			rc = -ENOMEM;
			goto out_free;
		}
		p->node_weights[i] = o->node_weights[i];
	}
	p->o.out = p->out;
	p->o.text_field = p->text_field;
	p->o.rejects_path = p->rejects_path;
	p->o.near_report_path = p->near_report_path;
	p->o.node_paths = p->node_paths;
	p->o.node_weights = p->node_weights;
	/* the files, as ingest lists them */
	sc_ingest_input_opts(o, &io);
	rc = sc_input_open((const char *const *)o->inputs, o->ninputs, &io, &in, err, errlen);
	if (rc)
		goto out_free;
	if (sc_input_file_count(in) > UINT32_MAX / 2 ||
	    sc_input_file_count(in) != p->jid.input_files) {
		rc = sc_fail(err, errlen, SC_EUSAGE, "the inputs changed while the plan was made");
		goto out_free;
	}
	p->nfiles = (uint32_t)sc_input_file_count(in);
	p->files = calloc(p->nfiles ? p->nfiles : 1, sizeof(*p->files));
	if (!p->files) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < p->nfiles; i++) {
		struct sc_plan_file *f = &p->files[i];
		const char *name = sc_input_file_name(in, i);
		unsigned char magic[4];
		struct stat st;
		int fd;

		f->name = strdup(name);
		f->path = absolute(name);
		if (!f->name || !f->path) {
			rc = -ENOMEM;
			goto out_free;
		}
		if (stat(f->path, &st)) {
			rc = sc_fail(err, errlen, -errno, "input '%s': %s", name, strerror(errno));
			goto out_free;
		}
		f->size = (uint64_t)st.st_size;
		f->mtime_s = (int64_t)st.st_mtim.tv_sec;
		f->mtime_ns = (int64_t)st.st_mtim.tv_nsec;
		/* an unreadable file is not cut: ingest reports it once */
		fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t r = pread(fd, magic, sizeof(magic), 0);

			f->plain = r >= 0 && !sc_input_compressed_magic(magic, (size_t)r);
			close(fd);
		}
	}
	sc_input_close(in);
	in = NULL;
	rc = make_slices(p, err, errlen);
	if (rc)
		goto out_free;
	*out = p;
	return 0;
out_free:
	sc_input_close(in);
	sc_plan_free(p);
	return rc;
}

/* ---- the plan file ---- */

static int put_esc(struct sc_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int rc = 0;

	if (!*s)
		return sc_buf_append(b, "%", 1); /* the empty string */
	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c == '%' || c == 0x7f) {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			rc = sc_buf_append(b, e, 3);
		} else {
			rc = sc_buf_putc(b, (char)c);
		}
	}
	return rc;
}

int sc_plan_putf(struct sc_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(tmp))
		return SC_ELIMIT;
	return sc_buf_append(b, tmp, (size_t)k);
}

static int put_kv_str(struct sc_buf *b, const char *key, const char *v)
{
	int rc = sc_plan_putf(b, "%s ", key);

	if (!rc)
		rc = v ? put_esc(b, v) : sc_buf_append(b, "-", 1);
	return rc ? rc : sc_buf_putc(b, '\n');
}

static int plan_text(const struct sc_plan *p, struct sc_buf *b)
{
	const struct sc_ingest_opts *o = &p->o;
	const char *dedup = o->dedup == SC_DEDUP_NEAR ? "near" :
			    o->dedup == SC_DEDUP_EXACT ? "exact" : "none";
	char hex[65];
	int rc;

	sc_hex(p->id, 16, hex);
	rc = sc_plan_putf(b, "shardctl-plan 1\nid %s\ntasks %" PRIu32 "\ncreated %a\n", hex,
		  p->tasks, p->created);
	if (!rc)
		rc = put_kv_str(b, "out", p->out);
	if (!rc)
		rc = put_kv_str(b, "text_field", p->text_field);
	if (!rc)
		rc = sc_plan_putf(b, "format_text %d\nrecord_per_file %d\nnormalize %u\ndedup %s\n"
			  "ngram %u\nbands %u\nrows %u\nnear_threshold %a\nnear_margin %a\n",
			  o->format_text, o->record_per_file, o->normalize, dedup,
			  o->near.ngram, o->near.bands, o->near.rows, o->near_threshold,
			  o->near_margin);
	if (!rc)
		rc = sc_plan_putf(b, "max_record_size %" PRIu64 "\nframe_size %" PRIu64 "\nshard_size %"
			  PRIu64 "\nzstd_level %d\nthreads %u\nstrict %d\nshow_rejects %u\n"
			  "replicas %" PRIu32 "\n", o->max_record_size, o->frame_size,
			  o->shard_size, o->zstd_level, o->threads, o->strict, o->show_rejects,
			  o->replicas);
	if (!rc)
		rc = put_kv_str(b, "rejects", p->rejects_path);
	if (!rc)
		rc = put_kv_str(b, "near_report", p->near_report_path);
	if (!rc) {
		sc_hex(p->jid.options, 32, hex);
		rc = sc_plan_putf(b, "options %s\n", hex);
	}
	if (!rc) {
		sc_hex(p->jid.inputs, 32, hex);
		rc = sc_plan_putf(b, "inputs %s\ninput_files %" PRIu64 "\ninput_bytes %" PRIu64 "\n",
			  hex, p->jid.input_files, p->jid.input_bytes);
	}
	for (uint32_t i = 0; i < o->nnodes && !rc; i++) {
		rc = sc_plan_putf(b, "node %" PRIu32 " ", p->node_weights[i]);
		if (!rc)
			rc = put_esc(b, p->node_paths[i]);
		if (!rc)
			rc = sc_buf_putc(b, '\n');
	}
	for (uint32_t i = 0; i < p->nfiles && !rc; i++) {
		const struct sc_plan_file *f = &p->files[i];

		rc = sc_plan_putf(b, "file %" PRIu64 " %" PRId64 " %" PRId64 " %d ", f->size,
			  f->mtime_s, f->mtime_ns, f->plain);
		if (!rc)
			rc = put_esc(b, f->path);
		if (!rc)
			rc = sc_buf_putc(b, ' ');
		if (!rc)
			rc = put_esc(b, f->name);
		if (!rc)
			rc = sc_buf_putc(b, '\n');
	}
	for (uint32_t s = 0; s < p->tasks && !rc; s++)
		for (uint32_t k = p->slice_first[s]; k < p->slice_first[s + 1] && !rc; k++) {
			const struct sc_plan_seg *g = &p->segs[k];

			if (g->length == UINT64_MAX)
				rc = sc_plan_putf(b, "seg %" PRIu32 " %" PRIu32 " %" PRIu64 " -\n", s,
					  g->file, g->offset);
			else
				rc = sc_plan_putf(b, "seg %" PRIu32 " %" PRIu32 " %" PRIu64 " %" PRIu64 "\n",
					  s, g->file, g->offset, g->length);
		}
	if (!rc)
		rc = sc_buf_append(b, "end\n", 4);
	return rc;
}

static int mkdirs(const struct sc_plan *p, char *err, size_t errlen)
{
	static const char *const sub[] = { "done", "logs", "scan", "dedup", "near", "pack" };
	char path[SC_PATH_MAX];
	int rc;

	rc = sc_mkdir_p(p->dir, 0755);
	for (size_t i = 0; i < SC_ARRAY_LEN(sub) && !rc; i++) {
		rc = sc_plan_path(p, path, sizeof(path), "%s", sub[i]);
		if (!rc)
			rc = sc_mkdir_p(path, 0755);
	}
	if (rc)
		return sc_fail(err, errlen, rc, "plan directory '%s': cannot create: %s", p->dir,
			    sc_strerror(rc));
	return 0;
}

int sc_plan_save(const struct sc_plan *p, char *err, size_t errlen)
{
	struct sc_tfile_writer *w;
	char path[SC_PATH_MAX];
	struct sc_buf b;
	int rc;

	rc = mkdirs(p, err, errlen);
	if (rc)
		return rc;
	sc_buf_init(&b, SC_PLAN_SIZE_MAX);
	rc = plan_text(p, &b);
	if (rc) {
		sc_buf_release(&b);
		return sc_fail(err, errlen, rc, "plan: %s", sc_strerror(rc));
	}
	rc = sc_plan_path(p, path, sizeof(path), "plan");
	if (!rc)
		rc = sc_tfile_create(path, SC_TF_PLAN, p->id, 0, 1, SC_TASK_SPOOL_BLOCK, &w, err,
				     errlen);
	if (!rc) {
		rc = sc_tfile_write(w, b.data, b.len);
		if (rc) {
			sc_tfile_abort(w);
			sc_fail(err, errlen, rc, "plan '%s': write failed: %s", path, sc_strerror(rc));
		} else {
			rc = sc_tfile_commit(w, err, errlen);
		}
	}
	sc_buf_release(&b);
	return rc;
}

/* ---- parsing ---- */

struct parser {
	char *line;       /* current line (NUL-terminated in place) */
	char *next;       /* rest of the text */
	uint64_t lineno;  /* for messages */
	char *tok;        /* strtok state */
};

static int unesc(const char *s, char **out)
{
	size_t n = strlen(s);
	char *r, *d;

	if (!strcmp(s, "%")) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	r = malloc(n + 1);
	if (!r)
		return -ENOMEM;
	for (d = r; *s; s++) {
		if (*s == '%') {
			unsigned char c;

			/* both digits there: a '%' at the end must not read past it */
			if (!s[1] || !s[2] || sc_unhex(s + 1, 2, &c, 1) || !c) {
				free(r);
				return SC_ECORRUPT;
			}
			*d++ = (char)c;
			s += 2;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
	*out = r;
	return 0;
}

static int to_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return SC_ECORRUPT;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end || *v > max ? SC_ECORRUPT : 0;
}

static int to_i64(const char *s, int64_t *v)
{
	char *end;

	if (!s || !*s)
		return SC_ECORRUPT;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || *end ? SC_ECORRUPT : 0;
}

static int to_dbl(const char *s, double *v)
{
	char *end;

	if (!s || !*s)
		return SC_ECORRUPT;
	*v = strtod(s, &end);
	return *end ? SC_ECORRUPT : 0;
}

/* optional string: "-" is none */
static int to_opt_str(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return SC_ECORRUPT;
	if (!strcmp(s, "-"))
		return 0;
	return unesc(s, out);
}

static int parse_plan(struct sc_plan *p, char *text, char *err, size_t errlen)
{
	struct sc_ingest_opts *o = &p->o;
	uint32_t fcap = 0, ncap = 0, scap = 0, cur_slice = 0;
	uint64_t v, lineno = 0;
	int have_end = 0, have_tasks = 0, have_rejects = 0, have_report = 0, rc = 0;
	char *save = NULL, *line;

	sc_near_params_default(&o->near);
	for (line = strtok_r(text, "\n", &save); line && !rc && !have_end;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ts = NULL, *key = strtok_r(line, " ", &ts);
		char *a = strtok_r(NULL, " ", &ts), *b2, *c, *d, *e, *f;

		lineno++;
		if (!key) {
			rc = SC_ECORRUPT;
			break;
		}
		if (lineno == 1) {
			if (strcmp(key, "shardctl-plan") || !a || strcmp(a, "1"))
				rc = SC_ECORRUPT;
			continue;
		}
		if (!strcmp(key, "end")) {
			have_end = 1;
		} else if (!strcmp(key, "id")) {
			rc = a && strlen(a) == 32 ? sc_unhex(a, 32, p->id, 16) : SC_ECORRUPT;
		} else if (!strcmp(key, "tasks")) {
			rc = to_u64(a, SC_TASKS_MAX, &v);
			if (!rc && (!v || have_tasks))
				rc = SC_ECORRUPT; /* a second "tasks" line too */
			if (!rc) {
				p->tasks = (uint32_t)v;
				have_tasks = 1;
				p->slice_first = calloc(v + 1, sizeof(uint32_t));
				if (!p->slice_first)
					rc = -ENOMEM;
			}
		} else if (!strcmp(key, "created")) {
			rc = to_dbl(a, &p->created);
		} else if (!strcmp(key, "out")) {
			rc = a && !p->out ? unesc(a, &p->out) : SC_ECORRUPT;
		} else if (!strcmp(key, "text_field")) {
			rc = a && !p->text_field ? unesc(a, &p->text_field) : SC_ECORRUPT;
		} else if (!strcmp(key, "format_text") || !strcmp(key, "record_per_file") ||
			   !strcmp(key, "strict")) {
			rc = to_u64(a, 1, &v);
			if (!strcmp(key, "format_text"))
				o->format_text = (int)v;
			else if (!strcmp(key, "strict"))
				o->strict = (int)v;
			else
				o->record_per_file = (int)v;
		} else if (!strcmp(key, "normalize")) {
			rc = to_u64(a, UINT32_MAX, &v);
			o->normalize = (unsigned)v;
		} else if (!strcmp(key, "dedup")) {
			if (a && !strcmp(a, "exact"))
				o->dedup = SC_DEDUP_EXACT;
			else if (a && !strcmp(a, "near"))
				o->dedup = SC_DEDUP_NEAR;
			else if (a && !strcmp(a, "none"))
				o->dedup = SC_DEDUP_NONE;
			else
				rc = SC_ECORRUPT;
		} else if (!strcmp(key, "ngram") || !strcmp(key, "bands") || !strcmp(key, "rows")) {
			rc = to_u64(a, SC_NEAR_HASHES_MAX, &v);
			if (key[0] == 'n')
				o->near.ngram = (unsigned)v;
			else if (key[0] == 'b')
				o->near.bands = (unsigned)v;
			else
				o->near.rows = (unsigned)v;
		} else if (!strcmp(key, "near_threshold")) {
			rc = to_dbl(a, &o->near_threshold);
		} else if (!strcmp(key, "near_margin")) {
			rc = to_dbl(a, &o->near_margin);
		} else if (!strcmp(key, "max_record_size")) {
			rc = to_u64(a, UINT64_MAX, &o->max_record_size);
		} else if (!strcmp(key, "frame_size")) {
			rc = to_u64(a, UINT64_MAX, &o->frame_size);
		} else if (!strcmp(key, "shard_size")) {
			rc = to_u64(a, UINT64_MAX, &o->shard_size);
		} else if (!strcmp(key, "zstd_level")) {
			rc = to_u64(a, 22, &v);
			o->zstd_level = (int)v;
		} else if (!strcmp(key, "threads")) {
			rc = to_u64(a, SC_THREADS_MAX, &v);
			o->threads = (unsigned)v;
		} else if (!strcmp(key, "show_rejects")) {
			rc = to_u64(a, UINT32_MAX, &v);
			o->show_rejects = (unsigned)v;
		} else if (!strcmp(key, "replicas")) {
			rc = to_u64(a, SC_REPLICAS_MAX, &v);
			o->replicas = (uint32_t)v;
		} else if (!strcmp(key, "rejects")) {
			rc = have_rejects++ ? SC_ECORRUPT : to_opt_str(a, &p->rejects_path);
		} else if (!strcmp(key, "near_report")) {
			rc = have_report++ ? SC_ECORRUPT : to_opt_str(a, &p->near_report_path);
		} else if (!strcmp(key, "options") || !strcmp(key, "inputs")) {
			rc = a && strlen(a) == 64 ? sc_unhex(a, 64, key[0] == 'o' ? p->jid.options :
							     p->jid.inputs, 32) : SC_ECORRUPT;
		} else if (!strcmp(key, "input_files")) {
			rc = to_u64(a, UINT64_MAX, &p->jid.input_files);
		} else if (!strcmp(key, "input_bytes")) {
			rc = to_u64(a, UINT64_MAX, &p->jid.input_bytes);
		} else if (!strcmp(key, "node")) {
			b2 = strtok_r(NULL, " ", &ts);
			if (o->nnodes == SC_NODES_MAX || !b2) {
				rc = SC_ECORRUPT;
				break;
			}
			if (o->nnodes == ncap) {
				ncap = ncap ? ncap * 2 : 8;
				void *np = realloc(p->node_paths, ncap * sizeof(char *));
				void *nw = np ? realloc(p->node_weights, ncap * sizeof(uint32_t)) : NULL;

				if (np)
					p->node_paths = np;
				if (nw)
					p->node_weights = nw;
				if (!np || !nw) {
					rc = -ENOMEM;
					break;
				}
			}
			rc = to_u64(a, SC_NODE_WEIGHT_MAX, &v);
			if (!rc && !v)
				rc = SC_ECORRUPT;
			p->node_paths[o->nnodes] = NULL;
			if (!rc)
				rc = unesc(b2, &p->node_paths[o->nnodes]);
			if (!rc)
				p->node_weights[o->nnodes++] = (uint32_t)v;
		} else if (!strcmp(key, "file")) {
			struct sc_plan_file *fl;

			b2 = strtok_r(NULL, " ", &ts);
			c = strtok_r(NULL, " ", &ts);
			d = strtok_r(NULL, " ", &ts);
			e = strtok_r(NULL, " ", &ts);
			if (!e || p->nfiles >= UINT32_MAX / 2) {
				rc = SC_ECORRUPT;
				break;
			}
			if (p->nfiles == fcap) {
				void *n;

				fcap = fcap ? fcap * 2 : 64;
				n = realloc(p->files, fcap * sizeof(*p->files));
				if (!n) {
					rc = -ENOMEM;
					break;
				}
				p->files = n;
			}
			fl = &p->files[p->nfiles];
			memset(fl, 0, sizeof(*fl));
			p->nfiles++;
			rc = to_u64(a, UINT64_MAX, &fl->size);
			if (!rc)
				rc = to_i64(b2, &fl->mtime_s);
			if (!rc)
				rc = to_i64(c, &fl->mtime_ns);
			if (!rc)
				rc = to_u64(d, 1, &v);
			fl->plain = (int)v;
			if (!rc)
				rc = unesc(e, &fl->path);
			f = strtok_r(NULL, " ", &ts);
			if (!rc)
				rc = f ? unesc(f, &fl->name) : SC_ECORRUPT;
		} else if (!strcmp(key, "seg")) {
			uint64_t sl, fi, off, len = UINT64_MAX;

			b2 = strtok_r(NULL, " ", &ts);
			c = strtok_r(NULL, " ", &ts);
			d = strtok_r(NULL, " ", &ts);
			if (!have_tasks || !d) {
				rc = SC_ECORRUPT;
				break;
			}
			rc = to_u64(a, p->tasks - 1, &sl);
			if (!rc)
				rc = to_u64(b2, p->nfiles ? p->nfiles - 1 : 0, &fi);
			if (!rc && !p->nfiles)
				rc = SC_ECORRUPT;
			if (!rc)
				rc = to_u64(c, UINT64_MAX, &off);
			if (!rc && strcmp(d, "-"))
				rc = to_u64(d, UINT64_MAX, &len);
			if (!rc && (sl < cur_slice || (len == UINT64_MAX && off) ||
				    (len != UINT64_MAX && (off > p->files[fi].size ||
							   len > p->files[fi].size - off))))
				rc = SC_ECORRUPT;
			if (!rc)
				rc = add_seg(p, &scap, (uint32_t)sl, (uint32_t)fi, off, len);
			cur_slice = (uint32_t)sl;
		} else {
			rc = SC_ECORRUPT;
		}
	}
	if (!rc && (!have_end || !have_tasks || !p->out || !p->text_field || !o->nnodes ||
		    !o->replicas || o->replicas > o->nnodes))
		rc = SC_ECORRUPT;
	if (rc == SC_ECORRUPT)
		return sc_fail(err, errlen, rc, "plan '%s/plan': line %" PRIu64 ": not a valid plan",
			    p->dir, lineno);
	if (rc)
		return sc_fail(err, errlen, rc, "plan '%s/plan': %s", p->dir, sc_strerror(rc));
	o->tasks = p->tasks;
	o->out = p->out;
	o->text_field = p->text_field;
	o->rejects_path = p->rejects_path;
	o->near_report_path = p->near_report_path;
	o->node_paths = p->node_paths;
	o->node_weights = p->node_weights;
	{
		struct sc_ingest_opts chk = *o;

		if (!chk.threads)
			chk.threads = 1;
		rc = sc_ingest_check_opts(&chk, err, errlen);
	}
	if (rc)
		return sc_fail(err, errlen, SC_ECORRUPT, "plan '%s/plan': options out of range",
			    p->dir);
	return 0;
}

int sc_plan_load(const char *dir, struct sc_plan **out, char *err, size_t errlen)
{
	char path[SC_PATH_MAX];
	struct sc_plan *p;
	struct sc_buf b;
	int rc;

	*out = NULL;
	rc = plan_alloc(dir, &p, err, errlen);
	if (rc)
		return rc;
	sc_buf_init(&b, SC_PLAN_SIZE_MAX + 1);
	rc = sc_plan_path(p, path, sizeof(path), "plan");
	if (!rc)
		rc = sc_tfile_load(path, SC_TF_PLAN, NULL, 0, SC_PLAN_SIZE_MAX, &b, err, errlen);
	if (!rc && memchr(b.data, 0, b.len))
		rc = sc_fail(err, errlen, SC_ECORRUPT, "plan '%s': holds a NUL byte", path);
	if (!rc) {
		unsigned char id[16];

		rc = parse_plan(p, b.data, err, errlen);
		/* the id in the header must be the one in the text */
		memcpy(id, p->id, 16);
		if (!rc) {
			struct sc_tfile *f;

			rc = sc_tfile_open(path, SC_TF_PLAN, id, 0, &f, err, errlen);
			sc_tfile_close(f);
		}
	}
	sc_buf_release(&b);
	if (rc) {
		sc_plan_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int sc_plan_same(const struct sc_plan *a, const struct sc_plan *b, char *what, size_t n)
{
	size_t l = 0;

	what[0] = '\0';
	if (memcmp(a->jid.options, b->jid.options, 32) ||
	    a->o.strict != b->o.strict || a->o.show_rejects != b->o.show_rejects ||
	    (!a->rejects_path != !b->rejects_path) ||
	    (a->rejects_path && strcmp(a->rejects_path, b->rejects_path)) ||
	    (!a->near_report_path != !b->near_report_path) ||
	    (a->near_report_path && strcmp(a->near_report_path, b->near_report_path)) ||
	    strcmp(a->out, b->out))
		l += (size_t)snprintf(what + l, n - l, "options");
	if (a->tasks != b->tasks && l < n)
		l += (size_t)snprintf(what + l, n - l, "%s--tasks (%" PRIu32 " then, %" PRIu32
				      " now)", l ? ", " : "", a->tasks, b->tasks);
	if (memcmp(a->jid.inputs, b->jid.inputs, 32) && l < n)
		l += (size_t)snprintf(what + l, n - l, "%sinputs (%" PRIu64 " files, %" PRIu64
				      " bytes then; %" PRIu64 " files, %" PRIu64 " bytes now; "
				      "names, sizes and modification times count)", l ? ", " : "",
				      a->jid.input_files, a->jid.input_bytes, b->jid.input_files,
				      b->jid.input_bytes);
	if (a->o.nnodes != b->o.nnodes || a->o.replicas != b->o.replicas) {
		if (l < n)
			l += (size_t)snprintf(what + l, n - l, "%snodes or replicas", l ? ", " : "");
	} else {
		for (uint32_t i = 0; i < a->o.nnodes; i++)
			if (strcmp(a->node_paths[i], b->node_paths[i]) ||
			    a->node_weights[i] != b->node_weights[i]) {
				if (l < n)
					l += (size_t)snprintf(what + l, n - l, "%snodes or replicas",
							      l ? ", " : "");
				break;
			}
	}
	return l == 0;
}

/* ---- clean-up ---- */

/* Remove name under dirfd pfd and everything below it (no link followed). */
static void remove_tree_at(int pfd, const char *name, int depth)
{
	int fd;
	DIR *d;
	struct dirent *e;

	if (!unlinkat(pfd, name, 0) || errno == ENOENT || depth > 8)
		return;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_tree_at(dirfd(d), e->d_name, depth + 1);
	closedir(d);
	unlinkat(pfd, name, AT_REMOVEDIR);
}

static void remove_known(const char *dir, int flags)
{
	static const char *const data[] = { "scan", "dedup", "near", "pack" };
	static const char *const marks[] = { "done", "logs", "plan" };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t i = 0; i < SC_ARRAY_LEN(data); i++)
		remove_tree_at(fd, data[i], 0);
	for (size_t i = 0; !(flags & SC_PLAN_KEEP_MARKERS) && i < SC_ARRAY_LEN(marks); i++)
		remove_tree_at(fd, marks[i], 0);
	if (!flags)
		unlinkat(fd, ".lock", 0);
	/* temporaries of the plan file */
	if (!(flags & SC_PLAN_KEEP_MARKERS)) {
		DIR *d = fdopendir(fd);
		struct dirent *e;

		if (!d) {
			close(fd);
			return;
		}
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, ".plan.tmp.", 10))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
		rmdir(dir);
		return;
	}
	close(fd);
}

void sc_plan_remove_dir(const char *dir)
{
	remove_known(dir, SC_PLAN_KEEP_LOCK);
}

void sc_plan_clean(const struct sc_plan *p, int flags)
{
	char path[SC_PATH_MAX], setdir[SC_PATH_MAX];
	struct sc_s3node *s3 = NULL;
	struct sc_buf b;
	int s3_failed = 0;

	/* the slice sets' shards on the nodes: NODE/SLICE_SET_ID, or on an
	 * S3 node the objects PREFIX/SLICE_SET_ID/gN/... (LIST + DELETE, best
	 * effort like the set writer's own clean-up of S3 generations) */
	sc_buf_init(&b, 64);
	for (uint32_t s = 0; s < p->tasks; s++) {
		if (sc_plan_path(p, path, sizeof(path), "pack/s%06" PRIu32 "/.set_id", s) ||
		    sc_read_file(path, 64, &b) || b.len != 33 || b.data[32] != '\n' ||
		    strspn(b.data, "0123456789abcdef") != 32)
			continue;
		b.data[32] = '\0';
		for (uint32_t i = 0; i < p->o.nnodes; i++) {
			if (sc_s3_is_location(p->node_paths[i])) {
				if (!s3 && !s3_failed && sc_s3node_open(0, &s3, NULL, 0))
					s3_failed = 1;
				if (s3)
					sc_s3node_remove_generations(s3, p->node_paths[i], b.data,
								     0, NULL, 0);
				continue;
			}
			if (sc_path_join(setdir, sizeof(setdir), p->node_paths[i], b.data))
				continue;
			sc_set_remove_generations(setdir, 0);
			rmdir(setdir);
		}
	}
	sc_s3node_close(s3);
	sc_buf_release(&b);
	remove_known(p->dir, flags);
}
