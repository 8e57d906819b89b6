/*
 * replay.c - plain driver for the fuzz targets, so `make test` exercises
 * them without libFuzzer: it feeds every file of the given corpus
 * directories to LLVMFuzzerTestOneInput, then a fixed number of inputs made
 * by mutating those files with a seeded PRNG (same inputs every run).
 * A crash, sanitizer report or hang fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_FILE_MAX (1u << 20)
#define REPLAY_MUTATIONS 4000

struct seed {
	uint8_t *data;
	size_t size;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static int load_dir(const char *dir, struct seed **seeds, size_t *n)
{
	struct dirent **names;
	int count = scandir(dir, &names, NULL, alphasort);

	if (count < 0)
		return 0; /* no corpus: only random inputs */
	for (int i = 0; i < count; i++) {
		char path[4096];
		FILE *f;
		struct seed s;

		if (names[i]->d_name[0] == '.')
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		f = fopen(path, "rb");
		if (!f)
			goto next;
		s.data = malloc(REPLAY_FILE_MAX);
		if (!s.data) {
			fclose(f);
			return -1;
		}
		s.size = fread(s.data, 1, REPLAY_FILE_MAX, f);
		fclose(f);
		*seeds = realloc(*seeds, (*n + 1) * sizeof(**seeds));
		if (!*seeds)
			return -1;
		(*seeds)[(*n)++] = s;
next:
		free(names[i]);
	}
	free(names);
	return 0;
}

int main(int argc, char **argv)
{
	struct seed *seeds = NULL;
	size_t nseeds = 0;
	uint8_t *buf = malloc(REPLAY_FILE_MAX + 64);

	if (!buf)
		return 1;
	for (int i = 1; i < argc; i++)
		if (load_dir(argv[i], &seeds, &nseeds) < 0)
			return 1;
	for (size_t i = 0; i < nseeds; i++)
		LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].size);
	for (int m = 0; m < REPLAY_MUTATIONS; m++) {
		size_t size;

		if (nseeds) {
			struct seed *s = &seeds[rng_next() % nseeds];

			size = s->size;
			memcpy(buf, s->data, size);
		} else {
			size = rng_next() % 256;
			for (size_t k = 0; k < size; k++)
				buf[k] = (uint8_t)rng_next();
		}
		int edits = 1 + (int)(rng_next() % 8);
		for (int e = 0; e < edits && size; e++) {
			size_t at = rng_next() % size;

			switch (rng_next() % 4) {
			case 0: buf[at] = (uint8_t)rng_next(); break;
			case 1: buf[at] ^= (uint8_t)(1u << (rng_next() % 8)); break;
			case 2: size = at; break; /* truncate */
			default: buf[at] = "{}[]\":,\\\n\x00\xff"[rng_next() % 12]; break;
			}
		}
		LLVMFuzzerTestOneInput(buf, size);
	}
	printf("%s: %zu corpus files, %d mutations\n", argv[0], nseeds,
	       REPLAY_MUTATIONS);
	for (size_t i = 0; i < nseeds; i++)
		free(seeds[i].data);
	free(seeds);
	free(buf);
	return 0;
}
