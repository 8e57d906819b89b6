/*
 * input.c - the front of ingest: turns the paths on the command line into
 * an ordered file list, then streams those files (plain, zstd or gzip,
 * told apart by their first bytes) and cuts the decoded bytes into batches
 * of whole records tagged with file and line.
 *
 * Shape of the read path: one SC_INPUT_READ_BYTES read(2) buffer; for a
 * plain file it is the decoded window itself, for a compressed one the
 * decoder writes into a second buffer of the same size. Records are found
 * with memchr and copied once, straight into the batch. A record is only
 * ever half-built inside one sc_input_next call (a call returns after a
 * complete record or at the end of input), so its partial bytes can sit at
 * the end of the caller's batch instead of in a carry buffer of our own; a
 * record that grows past max_record is dropped from the batch and only
 * counted from then on. Memory: batch data (batch_bytes + max_record) plus
 * the two fixed buffers and the decoder state.
 *
 * Problems that end one file early (open/read errors, corrupt or truncated
 * compressed data) go to the caller's on_error and reading continues with
 * the next file; only allocation failures are fatal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "input.h"

enum codec {
	CODEC_PLAIN,
	CODEC_ZSTD,
	CODEC_GZIP
};

/* Results of fill(): decoded bytes ready, clean end, or a per-file problem
 * described in in->msg. Fatal errors are negative. */
enum {
	FILL_EOF = 0,
	FILL_DATA = 1,
	FILL_BAD = 2
};

struct in_file {
	uint64_t name_off; /* offset of the NUL-terminated path in names */
	uint64_t path_off; /* offset of the path to open (= name_off unless a segment) */
	uint64_t size;     /* on-disk bytes when listed (0 unless a regular file) */
	int is_stdin;      /* read fd 0 instead of opening the name */
	int ranged;        /* a byte range of a plain file (sc_input_open_segments) */
	uint64_t off;      /* ranged: first byte */
	uint64_t len;      /* ranged: bytes from off */
};

struct sc_input {
	struct sc_input_opts opts;  /* copy of the caller's options */
	struct in_file *files;      /* [nfiles] in reading order */
	size_t nfiles;              /* entries used */
	size_t files_cap;           /* entries allocated */
	struct sc_buf names;        /* all file paths, NUL-terminated, back to back */
	uint64_t total_bytes;       /* sum of in_file.size */
	uint64_t bytes_read;        /* on-disk bytes read so far */
	uint64_t nerrors;           /* files ended early */

	size_t cur;                 /* file being read; nfiles when done */
	int active;                 /* cur is open and its decoder set up */
	int fd;                     /* fd of cur while active */
	enum codec codec;           /* how cur is decoded */
	uint64_t line;              /* complete lines of cur so far */
	uint64_t left;              /* ranged cur: bytes still to read */

	unsigned char *raw;         /* read(2) buffer, SC_INPUT_READ_BYTES */
	size_t raw_pos;             /* first unconsumed byte of raw */
	size_t raw_len;             /* bytes in raw */
	int raw_eof;                /* read(2) returned 0 for cur */
	unsigned char *dec;         /* decoder output, allocated on first use */
	const unsigned char *win;   /* current decoded bytes: raw or dec */
	size_t win_pos;             /* first unconsumed byte of win */
	size_t win_len;             /* bytes in win */

	ZSTD_DStream *zds;          /* zstd decoder, reused across files */
	size_t zret;                /* last ZSTD_decompressStream hint; 0 = frame done */
	z_stream zs;                /* gzip decoder */
	int zs_ready;               /* zs initialised (inflateInit2 done) */
	int gz_member_end;          /* the last gzip member ended cleanly */

	char msg[256];              /* text of the last per-file problem */
};

static int is_zstd_magic(const unsigned char *p, size_t n);

/* The record being built inside one sc_input_next call. */
struct rec_state {
	size_t rec_start;       /* where the record's bytes start in batch data */
	int skipping;           /* record exceeded max_record: counting only */
	uint64_t skip_len;      /* bytes counted while skipping */
	unsigned char skip_last;/* last byte seen while skipping (CR check) */
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
}

/* ---- building the file list ---- */

static int add_file(struct sc_input *in, const char *path, uint64_t size,
		    int is_stdin, char *err, size_t errlen)
{
	struct in_file *f;
	int rc;

	if (in->nfiles >= SC_INPUT_FILES_MAX) {
		fail(err, errlen, "input '%s': more than %u input files", path,
		     SC_INPUT_FILES_MAX);
		return SC_ELIMIT;
	}
	if (in->nfiles == in->files_cap) {
		size_t ncap = in->files_cap ? in->files_cap * 2 : 64;
		void *n;

		if (ncap > SC_INPUT_FILES_MAX)
			ncap = SC_INPUT_FILES_MAX;
		n = realloc(in->files, ncap * sizeof(*in->files));
		if (!n)
			return -ENOMEM;
		in->files = n;
		in->files_cap = ncap;
	}
	f = &in->files[in->nfiles];
	memset(f, 0, sizeof(*f));
	f->name_off = in->names.len;
	f->path_off = f->name_off;
	f->size = size;
	f->is_stdin = is_stdin;
	rc = sc_buf_append(&in->names, path, strlen(path) + 1);
	if (rc == SC_ELIMIT)
		fail(err, errlen, "input '%s': file names too long in total", path);
	if (rc)
		return rc;
	in->nfiles++;
	in->total_bytes += size;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Walk the directory whose path is path[0..len) (the buffer has
 * SC_PATH_MAX bytes and is restored on return). Entries are visited in
 * strcmp order, names starting with '.' skipped; symlinks are followed to
 * regular files only, so a link cycle cannot form.
 */
static int walk_dir(struct sc_input *in, char *path, size_t len, int depth,
		    char *err, size_t errlen)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (depth > SC_INPUT_DEPTH_MAX) {
		fail(err, errlen, "input '%s': directories nested deeper than %d",
		     path, SC_INPUT_DEPTH_MAX);
		return SC_ELIMIT;
	}
	d = opendir(path);
	if (!d) {
		rc = -errno;
		fail(err, errlen, "input '%s': %s", path, strerror(-rc));
		return rc;
	}
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno) {
				rc = -errno;
				fail(err, errlen, "input '%s': %s", path, strerror(-rc));
				goto out_free;
			}
			break;
		}
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			void *p = realloc(names, ncap * sizeof(*names));

			if (!p) {
				rc = -ENOMEM;
				goto out_free;
			}
			names = p;
			cap = ncap;
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			rc = -ENOMEM;
			goto out_free;
		}
		n++;
		if (n > SC_INPUT_FILES_MAX) {
			fail(err, errlen, "input '%s': more than %u entries", path,
			     SC_INPUT_FILES_MAX);
			rc = SC_ELIMIT;
			goto out_free;
		}
	}
	closedir(d);
	d = NULL;
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);

	for (i = 0; i < n && !rc; i++) {
		size_t nl = strlen(names[i]);
		size_t sep = (len > 0 && path[len - 1] == '/') ? 0 : 1;
		struct stat st;

		if (len + sep + nl >= SC_PATH_MAX) {
			fail(err, errlen, "input '%s/%s': %s", path, names[i],
			     strerror(ENAMETOOLONG));
			rc = -ENAMETOOLONG;
			break;
		}
		if (sep)
			path[len] = '/';
		memcpy(path + len + sep, names[i], nl + 1);
		if (lstat(path, &st) < 0) {
			if (errno != ENOENT) { /* vanished since readdir: skip */
				rc = -errno;
				fail(err, errlen, "input '%s': %s", path, strerror(-rc));
			}
		} else if (S_ISDIR(st.st_mode)) {
			rc = walk_dir(in, path, len + sep + nl, depth + 1, err, errlen);
		} else if (S_ISREG(st.st_mode)) {
			rc = add_file(in, path, (uint64_t)st.st_size, 0, err, errlen);
		} else if (S_ISLNK(st.st_mode)) {
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				rc = add_file(in, path, (uint64_t)st.st_size, 0, err, errlen);
		}
		path[len] = '\0';
	}
out_free:
	if (d)
		closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int add_path(struct sc_input *in, const char *p, int *seen_stdin,
		    char *err, size_t errlen)
{
	char buf[SC_PATH_MAX];
	struct stat st;
	size_t len;

	if (!strcmp(p, "-")) {
		uint64_t size = 0;

		if (*seen_stdin) {
			fail(err, errlen, "input '-': standard input given more than once");
			return SC_EUSAGE;
		}
		*seen_stdin = 1;
		if (fstat(0, &st) == 0 && S_ISREG(st.st_mode))
			size = (uint64_t)st.st_size;
		return add_file(in, "-", size, 1, err, errlen);
	}
	if (stat(p, &st) < 0) {
		int rc = -errno;

		fail(err, errlen, "input '%s': %s", p, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode))
		return add_file(in, p, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0,
				0, err, errlen);
	len = strlen(p);
	if (len >= sizeof(buf)) {
		fail(err, errlen, "input '%s': %s", p, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	memcpy(buf, p, len + 1);
	return walk_dir(in, buf, len, 0, err, errlen);
}

/* The checks and set-up both ways of opening share: *out gets an empty
 * input. 0, -EINVAL, SC_EUSAGE (said in err) or -ENOMEM. */
static int input_new(const struct sc_input_opts *opts, size_t n, const void *list,
		     struct sc_input **out, char *err, size_t errlen)
{
	struct sc_input *in;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!opts || (n && !list))
		return -EINVAL;
	if ((opts->mode != SC_INPUT_LINES && opts->mode != SC_INPUT_FILE) ||
	    opts->batch_bytes == 0 || opts->max_record > SC_RECORD_SIZE_MAX) {
		fail(err, errlen, "input: invalid options");
		return SC_EUSAGE;
	}
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->opts = *opts;
	in->fd = -1;
	sc_buf_init(&in->names, (size_t)1 << 32);
	*out = in;
	return 0;
}

/* The end of both ways of opening: on failure (rc), say out of memory if
 * nothing was said, free in and clear *out. */
static int input_opened(struct sc_input *in, int rc, struct sc_input **out, char *err,
			size_t errlen)
{
	if (!rc)
		return 0;
	if (rc == -ENOMEM && err && errlen && !err[0])
		fail(err, errlen, "input: %s", strerror(ENOMEM));
	sc_input_close(in);
	*out = NULL;
	return rc;
}

int sc_input_open(const char *const *paths, size_t npaths,
		  const struct sc_input_opts *opts, struct sc_input **out,
		  char *err, size_t errlen)
{
	int seen_stdin = 0, rc;

	rc = input_new(opts, npaths, paths, out, err, errlen);
	for (size_t i = 0; i < npaths && !rc; i++)
		rc = add_path(*out, paths[i], &seen_stdin, err, errlen);
	return input_opened(*out, rc, out, err, errlen);
}

int sc_input_open_segments(const struct sc_input_segment *segs, size_t nsegs,
			   const struct sc_input_opts *opts, struct sc_input **out,
			   char *err, size_t errlen)
{
	struct sc_input *in;
	int rc;

	rc = input_new(opts, nsegs, segs, out, err, errlen);
	in = *out;
	for (size_t i = 0; i < nsegs && !rc; i++) {
		const struct sc_input_segment *g = &segs[i];
		const char *name = g->name ? g->name : g->path;
		int ranged = g->length != UINT64_MAX;
		uint64_t path_off;
		struct in_file *f;

		if (ranged && opts->mode != SC_INPUT_LINES) {
			fail(err, errlen, "input '%s': byte ranges need one record per line", name);
			rc = SC_EUSAGE;
			break;
		}
		rc = add_file(in, name, ranged ? g->length : g->size, 0, err, errlen);
		if (rc)
			break;
		path_off = in->names.len;
		rc = sc_buf_append(&in->names, g->path, strlen(g->path) + 1);
		if (rc)
			break;
		f = &in->files[in->nfiles - 1];
		f->path_off = path_off;
		f->ranged = ranged;
		f->off = ranged ? g->offset : 0;
		f->len = ranged ? g->length : 0;
	}
	return input_opened(in, rc, out, err, errlen);
}

int sc_input_compressed_magic(const unsigned char *p, size_t n)
{
	return is_zstd_magic(p, n) || (n >= 2 && p[0] == 0x1f && p[1] == 0x8b);
}

void sc_input_close(struct sc_input *in)
{
	if (!in)
		return;
	if (in->active && in->fd >= 0 && !in->files[in->cur].is_stdin)
		close(in->fd);
	ZSTD_freeDStream(in->zds);
	if (in->zs_ready)
		inflateEnd(&in->zs);
	free(in->raw);
	free(in->dec);
	free(in->files);
	sc_buf_release(&in->names);
	free(in);
}

size_t sc_input_file_count(const struct sc_input *in)
{
	return in->nfiles;
}

const char *sc_input_file_name(const struct sc_input *in, size_t idx)
{
	if (idx >= in->nfiles)
		return NULL;
	return in->names.data + in->files[idx].name_off;
}

uint64_t sc_input_total_bytes(const struct sc_input *in)
{
	return in->total_bytes;
}

uint64_t sc_input_bytes_read(const struct sc_input *in)
{
	return in->bytes_read;
}

uint64_t sc_input_error_count(const struct sc_input *in)
{
	return in->nerrors;
}

void sc_batch_init(struct sc_batch *b, size_t max_bytes)
{
	sc_buf_init(&b->data, max_bytes);
	b->recs = NULL;
	b->nrecs = 0;
	b->recs_cap = 0;
	b->in_bytes = 0;
}

void sc_batch_release(struct sc_batch *b)
{
	sc_buf_release(&b->data);
	free(b->recs);
	b->recs = NULL;
	b->nrecs = 0;
	b->recs_cap = 0;
	b->in_bytes = 0;
}

/* ---- reading one file ---- */

/* One read(2) into raw at raw_len. Bytes read (0 = EOF) or -errno. */
static ssize_t raw_read(struct sc_input *in, size_t at)
{
	size_t want = SC_INPUT_READ_BYTES - at;
	int ranged = in->files[in->cur].ranged;
	ssize_t r;

	if (ranged && want > in->left)
		want = (size_t)in->left;
	if (ranged && !want)
		return 0;
	do {
		r = read(in->fd, in->raw + at, want);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (ranged) {
		if (r == 0)
			return -ENODATA; /* shorter than its segment: it changed */
		in->left -= (uint64_t)r;
	}
	in->bytes_read += (uint64_t)r;
	return r;
}

/* Refill raw when it is used up. FILL_DATA/FILL_EOF, FILL_BAD on error. */
static int raw_refill(struct sc_input *in)
{
	ssize_t r;

	if (in->raw_pos < in->raw_len || in->raw_eof)
		return in->raw_pos < in->raw_len ? FILL_DATA : FILL_EOF;
	r = raw_read(in, 0);
	if (r == -ENODATA) {
		snprintf(in->msg, sizeof(in->msg), "the file ends before its planned range "
			 "(it changed since)");
		return FILL_BAD;
	}
	if (r < 0) {
		snprintf(in->msg, sizeof(in->msg), "read error: %s", strerror((int)-r));
		return FILL_BAD;
	}
	in->raw_pos = 0;
	in->raw_len = (size_t)r;
	if (r == 0)
		in->raw_eof = 1;
	return r ? FILL_DATA : FILL_EOF;
}

static int fill_plain(struct sc_input *in)
{
	int rc;

	in->raw_pos = in->raw_len; /* the window was all of raw */
	rc = raw_refill(in);
	if (rc != FILL_DATA)
		return rc;
	in->win = in->raw;
	in->win_pos = 0;
	in->win_len = in->raw_len;
	in->raw_pos = in->raw_len;
	return FILL_DATA;
}

/*
 * ZSTD_decompressStream walks concatenated and skippable frames by itself;
 * its return value is 0 exactly when a frame has been decoded and flushed,
 * so input ending while it is non-zero means a cut-off frame.
 */
static int fill_zstd(struct sc_input *in)
{
	for (;;) {
		ZSTD_inBuffer zin;
		ZSTD_outBuffer zout;
		size_t r;
		int rc = raw_refill(in);

		if (rc == FILL_BAD)
			return rc;
		if (rc == FILL_EOF && in->zret == 0)
			return FILL_EOF;
		zin.src = in->raw;
		zin.size = in->raw_len;
		zin.pos = in->raw_pos;
		zout.dst = in->dec;
		zout.size = SC_INPUT_READ_BYTES;
		zout.pos = 0;
		r = ZSTD_decompressStream(in->zds, &zout, &zin);
		if (ZSTD_isError(r)) {
			snprintf(in->msg, sizeof(in->msg), "corrupt zstd stream: %s",
				 ZSTD_getErrorName(r));
			return FILL_BAD;
		}
		in->zret = r;
		if (zout.pos > 0) {
			in->raw_pos = zin.pos;
			in->win = in->dec;
			in->win_pos = 0;
			in->win_len = zout.pos;
			return FILL_DATA;
		}
		if (rc == FILL_EOF) {
			snprintf(in->msg, sizeof(in->msg), "truncated zstd stream");
			return FILL_BAD;
		}
		if (zin.pos == in->raw_pos) { /* no progress with input and room */
			snprintf(in->msg, sizeof(in->msg), "corrupt zstd stream: decoder stalled");
			return FILL_BAD;
		}
		in->raw_pos = zin.pos;
	}
}

/*
 * A gzip file may hold several members back to back (cat a.gz b.gz); at
 * the end of one the decoder is reset if any input follows.
 */
static int fill_gzip(struct sc_input *in)
{
	for (;;) {
		size_t avail, used, made;
		int rc = raw_refill(in), zr;

		if (rc == FILL_BAD)
			return rc;
		if (in->gz_member_end) {
			if (rc == FILL_EOF)
				return FILL_EOF;
			if (inflateReset(&in->zs) != Z_OK) {
				snprintf(in->msg, sizeof(in->msg), "corrupt gzip stream: reset failed");
				return FILL_BAD;
			}
			in->gz_member_end = 0;
		}
		avail = in->raw_len - in->raw_pos;
		in->zs.next_in = in->raw + in->raw_pos;
		in->zs.avail_in = (uInt)avail;
		in->zs.next_out = in->dec;
		in->zs.avail_out = SC_INPUT_READ_BYTES;
		zr = inflate(&in->zs, Z_NO_FLUSH);
		used = avail - in->zs.avail_in;
		made = SC_INPUT_READ_BYTES - in->zs.avail_out;
		in->raw_pos += used;
		if (zr == Z_STREAM_END) {
			in->gz_member_end = 1;
		} else if (zr == Z_MEM_ERROR) {
			return -ENOMEM;
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			snprintf(in->msg, sizeof(in->msg), "corrupt gzip stream: %s",
				 in->zs.msg ? in->zs.msg : "inflate failed");
			return FILL_BAD;
		}
		if (made > 0) {
			in->win = in->dec;
			in->win_pos = 0;
			in->win_len = made;
			return FILL_DATA;
		}
		if (in->gz_member_end)
			continue;
		if (rc == FILL_EOF) {
			snprintf(in->msg, sizeof(in->msg), "truncated gzip stream");
			return FILL_BAD;
		}
		if (used == 0) {
			snprintf(in->msg, sizeof(in->msg), "corrupt gzip stream: decoder stalled");
			return FILL_BAD;
		}
	}
}

/* Next decoded bytes of the current file into win. */
static int fill(struct sc_input *in)
{
	switch (in->codec) {
	case CODEC_ZSTD: return fill_zstd(in);
	case CODEC_GZIP: return fill_gzip(in);
	default: return fill_plain(in);
	}
}

static int is_zstd_magic(const unsigned char *p, size_t n)
{
	if (n < 4)
		return 0;
	if (p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return 1;
	/* skippable frame 0x184D2A5? little-endian */
	return (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18;
}

/*
 * Open the current file, read until its magic bytes are known and set up
 * the decoder. 0, FILL_BAD (in->msg says why) or negative when fatal.
 */
static int start_file(struct sc_input *in)
{
	const struct in_file *f = &in->files[in->cur];
	struct stat st;

	if (!in->raw) {
		in->raw = malloc(SC_INPUT_READ_BYTES);
		if (!in->raw)
			return -ENOMEM;
	}
	in->line = 0;
	in->raw_pos = in->raw_len = 0;
	in->raw_eof = 0;
	in->win_pos = in->win_len = 0;
	if (f->is_stdin) {
		in->fd = 0;
	} else {
		in->fd = open(in->names.data + f->path_off, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			snprintf(in->msg, sizeof(in->msg), "cannot open: %s", strerror(errno));
			return FILL_BAD;
		}
	}
	in->active = 1;
	if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode))
		(void)posix_fadvise(in->fd, (off_t)f->off, f->ranged ? (off_t)f->len : 0,
				    POSIX_FADV_SEQUENTIAL);
	if (f->ranged) {
		/* a byte range of a plain file: no magic bytes to look at */
		in->left = f->len;
		if (f->off && lseek(in->fd, (off_t)f->off, SEEK_SET) < 0) {
			snprintf(in->msg, sizeof(in->msg), "cannot seek to byte %llu: %s",
				 (unsigned long long)f->off, strerror(errno));
			return FILL_BAD;
		}
		in->codec = CODEC_PLAIN;
		return 0;
	}
	while (in->raw_len < 4) { /* pipes may hand out fewer bytes */
		ssize_t r = raw_read(in, in->raw_len);

		if (r < 0) {
			snprintf(in->msg, sizeof(in->msg), "read error: %s", strerror((int)-r));
			return FILL_BAD;
		}
		if (r == 0) {
			in->raw_eof = 1;
			break;
		}
		in->raw_len += (size_t)r;
	}

	in->codec = CODEC_PLAIN;
	if (is_zstd_magic(in->raw, in->raw_len))
		in->codec = CODEC_ZSTD;
	else if (in->raw_len >= 2 && in->raw[0] == 0x1f && in->raw[1] == 0x8b)
		in->codec = CODEC_GZIP;
	if (in->codec == CODEC_PLAIN) {
		in->win = in->raw;
		in->win_len = in->raw_len;
		in->raw_pos = in->raw_len;
		return 0;
	}
	if (!in->dec) {
		in->dec = malloc(SC_INPUT_READ_BYTES);
		if (!in->dec)
			return -ENOMEM;
	}
	if (in->codec == CODEC_ZSTD) {
		if (!in->zds) {
			in->zds = ZSTD_createDStream();
			if (!in->zds)
				return -ENOMEM;
		}
		if (ZSTD_isError(ZSTD_DCtx_reset(in->zds, ZSTD_reset_session_only)))
			return -ENOMEM;
		in->zret = 1; /* nothing decoded: ending now is a truncation */
		return 0;
	}
	if (!in->zs_ready) {
		memset(&in->zs, 0, sizeof(in->zs));
		if (inflateInit2(&in->zs, 16 + MAX_WBITS) != Z_OK)
			return -ENOMEM;
		in->zs_ready = 1;
	} else if (inflateReset(&in->zs) != Z_OK) {
		return -ENOMEM;
	}
	in->gz_member_end = 0;
	return 0;
}

static void end_file(struct sc_input *in)
{
	if (in->active && !in->files[in->cur].is_stdin && in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	in->active = 0;
	in->win_pos = in->win_len = 0;
	in->cur++;
}

/* The current file ends early: drop its unfinished record and report. */
static void file_failed(struct sc_input *in, struct sc_batch *b,
			struct rec_state *rs)
{
	b->data.len = rs->rec_start;
	rs->skipping = 0;
	rs->skip_len = 0;
	in->nerrors++;
	if (in->opts.on_error)
		in->opts.on_error(in->opts.error_ctx, sc_input_file_name(in, in->cur),
				  in->opts.mode == SC_INPUT_LINES ? in->line : 0, in->msg);
	end_file(in);
}

/* ---- cutting records ---- */

static int push_ref(struct sc_input *in, struct sc_batch *b, uint64_t off,
		    uint64_t len, uint32_t flags)
{
	struct sc_rec_ref *r;

	if (b->nrecs == b->recs_cap) {
		size_t ncap = b->recs_cap ? b->recs_cap * 2 : 1024;
		void *n;

		if (ncap > SC_INPUT_BATCH_RECS_MAX)
			ncap = SC_INPUT_BATCH_RECS_MAX;
		if (ncap <= b->nrecs)
			return SC_ELIMIT; /* cannot happen: batches end at the cap */
		n = realloc(b->recs, ncap * sizeof(*b->recs));
		if (!n)
			return -ENOMEM;
		b->recs = n;
		b->recs_cap = ncap;
	}
	r = &b->recs[b->nrecs++];
	r->off = off;
	r->len = len;
	r->line = in->opts.mode == SC_INPUT_LINES ? in->line : 1;
	r->file = (uint32_t)in->cur;
	r->flags = flags;
	return 0;
}

static int batch_full(const struct sc_input *in, const struct sc_batch *b)
{
	return b->data.len >= in->opts.batch_bytes ||
	       b->nrecs >= SC_INPUT_BATCH_RECS_MAX;
}

/* The line being built is complete (had_lf: it ended with LF, not EOF). */
static int finish_line(struct sc_input *in, struct sc_batch *b,
		       struct rec_state *rs, int had_lf)
{
	uint32_t flags = 0;
	uint64_t len, off;
	int cr, rc;

	if (rs->skipping) {
		len = rs->skip_len;
		cr = len > 0 && rs->skip_last == '\r';
		off = b->data.len;
		flags = SC_REC_TOO_LARGE;
	} else {
		len = b->data.len - rs->rec_start;
		cr = len > 0 && b->data.data[b->data.len - 1] == '\r';
		off = rs->rec_start;
	}
	if (cr) {
		len--;
		flags |= SC_REC_CR_STRIPPED;
		if (!rs->skipping)
			b->data.len--;
	}
	if (!rs->skipping && len > in->opts.max_record) {
		/* max_record + 1 bytes kept, the last not a CR */
		flags |= SC_REC_TOO_LARGE;
		b->data.len = rs->rec_start;
		off = b->data.len;
	}
	b->in_bytes += len + (uint64_t)cr + (uint64_t)(had_lf != 0);
	in->line++;
	rc = push_ref(in, b, off, len, flags);
	rs->rec_start = b->data.len;
	rs->skipping = 0;
	rs->skip_len = 0;
	return rc;
}

/*
 * Consume the window line by line. 1 when the batch filled up (the window
 * keeps the rest), 0 when the window is used up, negative when fatal.
 * Invariant outside skipping: the partial record holds at most
 * max_record + 1 bytes (one more for a CR that may still be removed).
 */
static int lines_step(struct sc_input *in, struct sc_batch *b,
		      struct rec_state *rs)
{
	const unsigned char *w = in->win;
	size_t pos = in->win_pos, end = in->win_len;
	size_t keep_max = in->opts.max_record + 1;
	int rc;

	while (pos < end) {
		const unsigned char *lf = memchr(w + pos, '\n', end - pos);
		size_t piece = lf ? (size_t)(lf - (w + pos)) : end - pos;

		if (!rs->skipping) {
			size_t have = b->data.len - rs->rec_start;

			if (piece > keep_max - have) {
				rs->skipping = 1;
				rs->skip_len = have + piece;
				rs->skip_last = w[pos + piece - 1];
				b->data.len = rs->rec_start;
			} else if (piece) {
				rc = sc_buf_append(&b->data, w + pos, piece);
				if (rc)
					return rc;
			}
		} else if (piece) {
			rs->skip_len += piece;
			rs->skip_last = w[pos + piece - 1];
		}
		if (!lf) {
			pos = end;
			break;
		}
		pos += piece + 1;
		rc = finish_line(in, b, rs, 1);
		if (rc)
			return rc;
		if (batch_full(in, b)) {
			in->win_pos = pos;
			return 1;
		}
	}
	in->win_pos = pos;
	return 0;
}

/* Whole-file records: append the window, or count it once too large. */
static int file_step(struct sc_input *in, struct sc_batch *b,
		     struct rec_state *rs)
{
	size_t piece = in->win_len - in->win_pos;
	int rc;

	if (!rs->skipping) {
		size_t have = b->data.len - rs->rec_start;

		if (piece > in->opts.max_record - have) {
			rs->skipping = 1;
			rs->skip_len = have + piece;
			b->data.len = rs->rec_start;
		} else {
			rc = sc_buf_append(&b->data, in->win + in->win_pos, piece);
			if (rc)
				return rc;
		}
	} else {
		rs->skip_len += piece;
	}
	in->win_pos = in->win_len;
	return 0;
}

/* End of the current file: emit what is pending for it. */
static int finish_file(struct sc_input *in, struct sc_batch *b,
		       struct rec_state *rs)
{
	int rc = 0;

	if (in->opts.mode == SC_INPUT_LINES) {
		if (rs->skipping || b->data.len > rs->rec_start)
			rc = finish_line(in, b, rs, 0);
	} else {
		uint64_t len = rs->skipping ? rs->skip_len : b->data.len - rs->rec_start;
		uint32_t flags = rs->skipping ? SC_REC_TOO_LARGE : 0;

		in->line = 1;
		b->in_bytes += len;
		rc = push_ref(in, b, rs->skipping ? b->data.len : rs->rec_start, len, flags);
		rs->rec_start = b->data.len;
		rs->skipping = 0;
		rs->skip_len = 0;
	}
	end_file(in);
	return rc;
}

int sc_input_next(struct sc_input *in, struct sc_batch *b)
{
	struct rec_state rs;
	int rc;

	if (!in || !b)
		return -EINVAL;
	b->data.len = 0;
	b->nrecs = 0;
	b->in_bytes = 0;
	if (b->data.max < in->opts.batch_bytes ||
	    b->data.max - in->opts.batch_bytes < in->opts.max_record)
		return SC_ELIMIT;
	rs.rec_start = 0;
	rs.skipping = 0;
	rs.skip_len = 0;
	rs.skip_last = 0;

	for (;;) {
		if (!in->active) {
			if (in->cur >= in->nfiles)
				return (int)b->nrecs;
			rc = start_file(in);
			if (rc < 0)
				return rc;
			if (rc == FILL_BAD) {
				file_failed(in, b, &rs);
				continue;
			}
		}
		if (in->win_pos == in->win_len) {
			rc = fill(in);
			if (rc < 0)
				return rc;
			if (rc == FILL_BAD) {
				file_failed(in, b, &rs);
				continue;
			}
			if (rc == FILL_EOF) {
				rc = finish_file(in, b, &rs);
				if (rc)
					return rc;
				if (batch_full(in, b))
					return (int)b->nrecs;
				continue;
			}
		}
		if (in->opts.mode == SC_INPUT_LINES)
			rc = lines_step(in, b, &rs);
		else
			rc = file_step(in, b, &rs);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return (int)b->nrecs;
	}
}
