/*
 * digest.h - SHA-256 for whole-file integrity (shards, manifests), wrapped
 * so OpenSSL's conventions stay inside this file.
 */
#ifndef SC_DIGEST_H
#define SC_DIGEST_H

#include <stddef.h>

struct sc_sha256;

int sc_sha256_new(struct sc_sha256 **out);          /* 0 or -ENOMEM */
void sc_sha256_free(struct sc_sha256 *h);           /* accepts NULL */
int sc_sha256_update(struct sc_sha256 *h, const void *p, size_t n);
int sc_sha256_final(struct sc_sha256 *h, unsigned char md[32]); /* then reusable after _reset */
int sc_sha256_reset(struct sc_sha256 *h);
int sc_sha256_oneshot(const void *p, size_t n, unsigned char md[32]);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void sc_hex(const unsigned char *p, size_t n, char *out);
/* Parse exactly 2n hex digits; 0 or SC_EFORMAT. */
int sc_unhex(const char *s, size_t slen, unsigned char *out, size_t n);

#endif
