/*
 * auth: Basic header parsing and key digests.
 */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "ids.h"

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict base64 (padding required) into out; returns the length or -1. */
static int
b64decode(const char *s, size_t len, unsigned char *out, size_t outsize)
{
	size_t n = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;

		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (pad > 0 || (v[j] = b64val(s[i + j])) < 0) {
				return -1;
			}
		}
		/* Canonical only: the bits padding drops must be zero. */
		if ((pad == 2 && (v[1] & 15) != 0) || (pad == 1 && (v[2] & 3) != 0))
			return -1;
		if (n + 3 > outsize)
			return -1;
		out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return (int)n;
}

int
auth_parse_basic(const char *header, char key[AUTH_MAX_KEY + 1])
{
	unsigned char raw[AUTH_MAX_HEADER];
	const char *p;
	size_t len, klen;
	int n;

	if (header == NULL || strncasecmp(header, "Basic ", 6) != 0)
		return -1;
	p = header + 6;
	while (*p == ' ')
		p++;
	len = strlen(p);
	while (len > 0 && p[len - 1] == ' ')
		len--;
	if (len > AUTH_MAX_HEADER)
		return -1;
	n = b64decode(p, len, raw, sizeof(raw));
	if (n <= 0)
		return -1;
	klen = 0;
	while (klen < (size_t)n && raw[klen] != ':')
		klen++;
	if (klen == 0 || klen > AUTH_MAX_KEY)
		return -1;
	for (size_t i = 0; i < klen; i++) {
		if (raw[i] < 0x20 || raw[i] == 0x7f)
			return -1;
	}
	memcpy(key, raw, klen);
	key[klen] = '\0';
	return 0;
}

void
auth_digest(const char *key, size_t len, unsigned char out[AUTH_DIGEST_LEN])
{
	/* Every request hashes its key. EVP_Digest with EVP_sha256() looks the
	 * algorithm up and makes a context on each call, which costs several
	 * times the hash of a 36-byte key: the algorithm is fetched once per
	 * process and one context reused (a worker handles one request at a
	 * time). Both live until the process ends. */
	static EVP_MD *sha256;
	static EVP_MD_CTX *ctx;
	unsigned int mdlen = 0;

	if (sha256 == NULL)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	if (sha256 == NULL || ctx == NULL || EVP_DigestInit_ex2(ctx, sha256, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, key, len) != 1 || EVP_DigestFinal_ex(ctx, out, &mdlen) != 1 ||
	    mdlen != AUTH_DIGEST_LEN)
		memset(out, 0, AUTH_DIGEST_LEN);
}

int
auth_new_key(char out[37])
{
	return ids_uuid(out);
}
