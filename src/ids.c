/*
 * ids: refs, time-ordered ids and UUIDs over libcrypto.
 */
#include "ids.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util.h"

void
ids_ref(const char *value, size_t len, char out[IDS_REF_LEN + 1],
    unsigned char bin[IDS_REF_BYTES])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	/* EVP_Digest only fails when out of memory inside OpenSSL; a zero
	 * digest would then be wrong but never out of bounds. */
	if (EVP_Digest(value, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		memset(md, 0, sizeof(md));
	util_hex(md, IDS_REF_BYTES, out);
	if (bin != NULL)
		memcpy(bin, md, IDS_REF_BYTES);
}

int
ids_ref_parse(const char *s, size_t len, unsigned char bin[IDS_REF_BYTES])
{
	if (len != IDS_REF_LEN || !util_is_hex(s, len))
		return -1;
	for (size_t i = 0; i < IDS_REF_BYTES; i++) {
		unsigned v = 0;

		for (size_t j = 0; j < 2; j++) {
			char c = s[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				v |= (unsigned)(c - 'A' + 10);
		}
		bin[i] = (unsigned char)v;
	}
	return 0;
}

int
ids_random(void *buf, size_t n)
{
	if (n > INT32_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

uint64_t
ids_time_id(int64_t now_ms, uint32_t low24)
{
	uint64_t t = now_ms > IDS_EPOCH_MS ? (uint64_t)(now_ms - IDS_EPOCH_MS) : 0;

	return (t << 24) | (low24 & 0xffffffu);
}

void
ids_hex64(uint64_t id, char out[17])
{
	unsigned char b[8];

	util_put_be64(b, id);
	util_hex(b, 8, out);
}

int
ids_uuid(char out[37])
{
	unsigned char r[16];
	char h[33];

	if (ids_random(r, sizeof(r)) == -1)
		return -1;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	util_hex(r, sizeof(r), h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
	return 0;
}
