/*
 * util.c - argument parsing and formatting helpers shared by subcommands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "json.h"
#include "utf8.h"

int cmd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cmd_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	v = strtoull(s, &end, 10);
	if (end == s)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end || (shift && v > (~0ull >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

void cmd_fmt_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.2f %s", v, units[u]);
}

void cmd_verror(const char *fmt, va_list ap)
{
	fputs("shardctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cmd_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_verror(fmt, ap);
	va_end(ap);
}

double cmd_now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * Print s as a JSON string literal. Every string in the JSON output of
 * stats and verify goes through here (manifest strings are valid UTF-8,
 * checked by the reader; the set path from the command line may not be:
 * invalid bytes become U+FFFD so the output stays valid JSON).
 */
void cmd_json_str(const char *s)
{
	size_t n = strlen(s), ok = sc_utf8_check(s, n);
	struct sc_buf b, fixed;
	int rc = 0;

	sc_buf_init(&b, SC_PATH_MAX * 8);
	sc_buf_init(&fixed, SC_PATH_MAX * 4);
	if (ok < n) {
		for (size_t i = 0; i < n && !rc;) {
			const unsigned char *u = (const unsigned char *)s + i;
			size_t l = *u < 0x80 ? 1 : sc_utf8_seq_len(u, n - i);

			rc = l ? sc_buf_append(&fixed, s + i, l)
			       : sc_buf_append(&fixed, "\xef\xbf\xbd", 3);
			i += l ? l : 1;
		}
		s = fixed.data;
		n = fixed.len;
	}
	if (!rc)
		rc = sc_json_escape(&b, s, n);
	if (!rc)
		fwrite(b.data, 1, b.len, stdout);
	else
		fputs("\"\"", stdout);
	sc_buf_release(&b);
	sc_buf_release(&fixed);
}
