/*
 * fuzz_etag: libFuzzer target for the header parsers: http_parse_etags,
 * http_etags_match and auth_parse_basic.
 *
 * The input, up to its first NUL, is one header value (FastCGI hands headers
 * over as C strings) given to both parsers. Whatever happens, nothing may
 * crash or leak. An accepted tag list holds at most HTTP_MAX_TAGS tags of
 * 1..64 lowercase hex digits, matches exactly its strong tags (or anything
 * with "*"), and written out again parses to the same list. An accepted
 * Basic header yields a key of 1..AUTH_MAX_KEY bytes without ':' or control
 * characters, and a header built from that key gives the key back. Build:
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_etag.c src/http.c src/auth.c src/ids.c src/json.c \
 *     src/buf.c src/mem.c src/route.c src/util.c \
 *     $(pkg-config --cflags --libs json-c libcrypto) -lm
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when the list holds tag as a strong tag (weak ones never match). */
static bool
has_strong(const struct etag_list *l, const char *tag)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!l->t[i].weak && strcmp(l->t[i].tag, tag) == 0)
			return true;
	}
	return false;
}

/* Tags are stored lowercased, so a match against them is exact. */
static void
check_tag_list(const struct etag_list *l)
{
	require(l->n <= HTTP_MAX_TAGS);
	for (size_t i = 0; i < l->n; i++) {
		size_t len = strnlen(l->t[i].tag, sizeof(l->t[i].tag));

		require(len >= 1 && len <= 64);
		for (size_t j = 0; j < len; j++)
			require((l->t[i].tag[j] >= '0' && l->t[i].tag[j] <= '9') ||
			    (l->t[i].tag[j] >= 'a' && l->t[i].tag[j] <= 'f'));
		require(http_etags_match(l, l->t[i].tag) ==
		    (l->any || has_strong(l, l->t[i].tag)));
	}
	/* Tags are never empty and never hold a non-hex character. */
	require(http_etags_match(l, "") == l->any);
	require(http_etags_match(l, "xyz") == l->any);
}

/* Writes the list out as a header and parses it again. */
static void
check_tag_roundtrip(const struct etag_list *l)
{
	struct etag_list again;
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < l->n; i++)
		require(buf_printf(&b, "%s%s\"%s\"", i > 0 ? ", " : "",
		    l->t[i].weak ? "W/" : "", l->t[i].tag) == 0);
	if (l->any)
		require(buf_printf(&b, "%s*", l->n > 0 ? ", " : "") == 0);
	if (b.b_len == 0) {
		/* An accepted header always holds at least one tag or "*". */
		abort();
	}
	require(http_parse_etags(b.b_data, &again) == 0);
	require(again.any == l->any && again.n == l->n);
	for (size_t i = 0; i < l->n; i++) {
		require(again.t[i].weak == l->t[i].weak);
		require(strcmp(again.t[i].tag, l->t[i].tag) == 0);
	}
	buf_free(&b);
}

/* Strict base64 with padding, NUL-terminated, into out (size >= 4n/3 + 5). */
static void
b64(const unsigned char *in, size_t n, char *out)
{
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = al[v >> 18 & 63];
		out[o++] = al[v >> 12 & 63];
		out[o++] = i + 1 < n ? al[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? al[v & 63] : '=';
	}
	out[o] = '\0';
}

/* An accepted key is well formed, and "Basic base64(key:pw)" gives it back. */
static void
check_key(const char *key)
{
	unsigned char cred[AUTH_MAX_KEY + 8];
	char header[6 + 4 * sizeof(cred) / 3 + 8];
	char again[AUTH_MAX_KEY + 1];
	size_t klen = strnlen(key, AUTH_MAX_KEY + 1);

	require(klen >= 1 && klen <= AUTH_MAX_KEY);
	for (size_t i = 0; i < klen; i++) {
		unsigned char c = (unsigned char)key[i];

		require(c >= 0x20 && c != 0x7f && c != ':');
	}
	memcpy(cred, key, klen);
	memcpy(cred + klen, ":pw", 3);
	memcpy(header, "Basic ", 6);
	b64(cred, klen + 3, header + 6);
	require(auth_parse_basic(header, again) == 0);
	require(strcmp(again, key) == 0);
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *header = fuzz_strndup(data, size);
	char key[AUTH_MAX_KEY + 1];
	struct etag_list l;

	if (http_parse_etags(header, &l) == 0) {
		check_tag_list(&l);
		check_tag_roundtrip(&l);
	}
	memset(key, 'x', sizeof(key));
	if (auth_parse_basic(header, key) == 0)
		check_key(key);
	free(header);
	return 0;
}
