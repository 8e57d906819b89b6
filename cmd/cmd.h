/*
 * cmd.h - the subcommands of the shardctl CLI and the few helpers they
 * share. Each subcommand lives in its own file with its usage text next to
 * its option parsing; main.c dispatches from a table.
 *
 * Exit codes (docs/EXIT-CODES.md): 0 success, 1 operation failed,
 * 2 usage error, 3 ingest committed but some inputs could not be read
 * completely, 4 set unhealthy (verify).
 */
#ifndef SC_CMD_H
#define SC_CMD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_PARTIAL 3
#define EXIT_UNHEALTHY 4 /* verify found problems; repair left some */

int cmd_ingest(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_bench_read(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_rebalance(int argc, char **argv);
int cmd_ingest_task(int argc, char **argv);

/* ---- partitioned ingest (ingest.c, launch.c; docs/TASKS.md) ---- */

struct sc_ingest_opts;
struct sc_stats;

/* What `shardctl ingest` prints after a commit. */
void cmd_ingest_summary(const struct sc_stats *st, const char *out, int near);

struct cmd_tasks_opts {
	uint32_t tasks;            /* --tasks N */
	int slurm;                 /* --launcher slurm (else local) */
	int none;                  /* --launcher none: make the plan, run nothing */
	const char *sbatch_args;   /* --sbatch-args, or NULL */
	const char *plan_dir;      /* --plan-dir, or NULL: SET/.plan */
	unsigned threads;          /* --threads if given, else 0 */
	int resume;                /* --resume */
	int quiet;                 /* --quiet */
	int tty;                   /* stderr is a terminal: a progress line */
};

/*
 * Run ingest o as a partitioned ingest (make or resume the plan, launch
 * its tasks, wait) and fill st with the committed stats. Says what went
 * wrong itself; returns the exit status (EXIT_OK, EXIT_PARTIAL, ...).
 */
int cmd_ingest_tasks(const struct sc_ingest_opts *o, const struct cmd_tasks_opts *t,
		     struct sc_stats *st);

/* ---- reader options shared by cat and bench-read (readopts.c) ---- */

#include <getopt.h>

#include "sc_base.h"
#include "shardctl.h"

struct cmd_read_opts {
	struct sc_reader_opts o;
	const char *resume_path;   /* --resume FILE */
	struct sc_buf state;       /* its contents */
};

extern const char cmd_read_opts_help[];
/* getopt_long entries (values 1000..1099), terminated by a zero entry */
extern const struct option cmd_read_long_opts[];
void cmd_read_opts_init(struct cmd_read_opts *ro);
/* own options (up to a zero entry or nown) then the reader's, into out. */
int cmd_read_merge_opts(const struct option *own, size_t nown, struct option *out,
			size_t cap);
/* 1 if c was a reader option (applied), 0 if not, -1 bad value (said). */
int cmd_read_opt(int c, const char *arg, struct cmd_read_opts *ro);
/* Open the reader; EXIT_OK or an exit code after saying why. */
int cmd_read_open(const char *set, struct cmd_read_opts *ro, struct sc_reader **out);
void cmd_read_opts_release(struct cmd_read_opts *ro);

/* "123", "64K", "1M", "2G" (binary units). 0 or -1. */
int cmd_parse_size(const char *s, uint64_t *out);
/* Unsigned decimal within [lo, hi]. 0 or -1. */
int cmd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* "1.23 MB" style (decimal units, as disks are sold). */
void cmd_fmt_bytes(uint64_t n, char *buf, size_t len);
/*
 * Print s on stdout as a JSON string literal (bytes that are not UTF-8,
 * as a path from the command line may hold, become U+FFFD).
 */
void cmd_json_str(const char *s);
/* ---- S3 nodes (cmd/s3opts.c, docs/S3.md section 8) ---- */
/* --s3-endpoint URL: checked, then AWS_ENDPOINT_URL_S3 for the library. 0 or -1 (said). */
int cmd_s3_endpoint(const char *url);
/* --cache-dir DIR / --cache-size SIZE: SHARDCTL_CACHE_DIR / _SIZE. 0 or -1 (said). */
int cmd_s3_cache_dir(const char *dir);
int cmd_s3_cache_size(const char *size);

/* Print "shardctl: <msg>" to stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cmd_error with a va_list */
void cmd_verror(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* A monotonic clock in seconds, for durations. */
double cmd_now_s(void);

#endif
