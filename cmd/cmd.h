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

#include <stddef.h>
#include <stdint.h>

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_PARTIAL 3

int cmd_ingest(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_cat(int argc, char **argv);

/* "123", "64K", "1M", "2G" (binary units). 0 or -1. */
int cmd_parse_size(const char *s, uint64_t *out);
/* Unsigned decimal within [lo, hi]. 0 or -1. */
int cmd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* "1.23 MB" style (decimal units, as disks are sold). */
void cmd_fmt_bytes(uint64_t n, char *buf, size_t len);
/* Print "shardctl: <msg>" to stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
