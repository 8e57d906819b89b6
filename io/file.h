/*
 * file.h - small, careful file helpers: full reads and writes that survive
 * EINTR and short transfers, directory fsync, mkdir -p, and the
 * write-temporary/fsync/rename/fsync-directory sequence that every durable
 * write in shardctl goes through.
 */
#ifndef SC_FILE_H
#define SC_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sc_base.h"

/* Write all n bytes (retrying EINTR and short writes). 0 or -errno. */
int sc_write_all(int fd, const void *p, size_t n);
/* Read exactly n bytes at off. 0, SC_ETRUNC (file shorter) or -errno. */
int sc_pread_all(int fd, void *p, size_t n, uint64_t off);
/* Write all n bytes at off (retrying EINTR and short writes). 0 or -errno. */
int sc_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
/* fsync a directory so a rename or create inside it is durable. 0 or -errno. */
int sc_fsync_dir(const char *dir);
/* Create dir and missing parents (like mkdir -p). 0 or -errno. */
int sc_mkdir_p(const char *path, mode_t mode);
/* Read a whole file of at most max bytes into *out (reset first). SC_ELIMIT if larger. */
int sc_read_file(const char *path, size_t max, struct sc_buf *out);
/*
 * Durably replace path with data: write "DIR/.NAME.tmp.PID", fsync it,
 * rename over path, fsync DIR. On failure the old file is untouched and the
 * temporary removed. 0 or -errno.
 */
int sc_write_file_atomic(const char *path, const void *data, size_t n);
/*
 * sc_write_file_atomic, and on failure a one-line description of the step
 * that failed, naming the file it acted on, in why (for messages):
 * "cannot write 'DIR/.NAME.tmp.PID'", "cannot rename 'A' to 'B'", or
 * "cannot fsync directory 'DIR' after the rename" (the one failure after
 * which path already holds the new content). why may be NULL.
 */
int sc_write_file_atomic_why(const char *path, const void *data, size_t n,
			     char *why, size_t whylen);
/* Directory part of path into buf ("." when none). 0 or SC_ELIMIT. */
int sc_path_dirname(const char *path, char *buf, size_t n);
/* snprintf into buf; SC_ELIMIT when truncated. */
int sc_path_join(char *buf, size_t n, const char *a, const char *b);

#endif
