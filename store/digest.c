/*
 * digest.c - SHA-256 through OpenSSL's EVP interface, translated to
 * shardctl's error convention (OpenSSL failures become SC_ECODEC).
 */
#include "digest.h"

#include <openssl/evp.h>

#include "sc_base.h"

struct sc_sha256 {
	EVP_MD_CTX *ctx; /* OpenSSL digest context, initialised for SHA-256 */
};

int sc_sha256_reset(struct sc_sha256 *h)
{
	return EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1 ? 0 : SC_ECODEC;
}

int sc_sha256_new(struct sc_sha256 **out)
{
	struct sc_sha256 *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || sc_sha256_reset(h)) {
		sc_sha256_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void sc_sha256_free(struct sc_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int sc_sha256_update(struct sc_sha256 *h, const void *p, size_t n)
{
	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : SC_ECODEC;
}

int sc_sha256_final(struct sc_sha256 *h, unsigned char md[32])
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len != 32)
		return SC_ECODEC;
	return 0;
}

int sc_sha256_oneshot(const void *p, size_t n, unsigned char md[32])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return SC_ECODEC;
	return 0;
}

void sc_hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sc_unhex(const char *s, size_t slen, unsigned char *out, size_t n)
{
	if (slen != 2 * n)
		return SC_EFORMAT;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return SC_EFORMAT;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
