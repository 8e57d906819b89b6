/*
 * test_util.h - small helpers shared by the unit tests (include it after
 * cmocka.h).
 *
 * rng(): a seeded xorshift64 generator, so every "random" case is the same
 * on every run (set rng_state to a non-zero seed first).
 * tu_tmp_dir() / tu_rm_tree(): a fresh temporary directory and its removal.
 */
#ifndef SC_TEST_UTIL_H
#define SC_TEST_UTIL_H

#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static inline uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static inline int tu_rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	remove(path);
	return 0;
}

/* Remove dir and everything below it, links not followed. */
static inline void tu_rm_tree(const char *dir)
{
	nftw(dir, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory TMPDIR/NAME.XXXXXX for one test; dir gets its resolved path. */
static inline void tu_tmp_dir(char dir[PATH_MAX], const char *name)
{
	const char *t = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	snprintf(tmpl, sizeof(tmpl), "%s/%s.XXXXXX", t && *t ? t : "/tmp", name);
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, dir));
}

#endif
