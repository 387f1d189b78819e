/*
 * route: the request path. Splits the raw REQUEST_URI path on '/' first and
 * percent-decodes each segment after, so a key may contain "%2F"; validates
 * names; encodes names back for Location and Link headers. Pure.
 */
#ifndef ORCHID_ROUTE_H
#define ORCHID_ROUTE_H

#include <stddef.h>

#include "buf.h"

struct arena;

#define ROUTE_MAX_SEGS 32

struct seg {
	const char *s; /* decoded, NUL-terminated (names never contain NUL) */
	size_t len;
};

struct path {
	size_t nseg;   /* segments after "/v0" */
	struct seg seg[ROUTE_MAX_SEGS];
};

enum route_rc {
	ROUTE_OK,
	ROUTE_NOT_API, /* not under /v0: 404 */
	ROUTE_BAD      /* malformed: 400, with a reason */
};

/*
 * Splits the len bytes of the raw path (the REQUEST_URI before '?') into
 * decoded segments after "/v0", allocated from a. A doubled leading slash and
 * one trailing slash are tolerated. Raw "." or "..", empty segments, bad or
 * NUL escapes, invalid UTF-8 and segments longer than max_len bytes are
 * ROUTE_BAD with *why set.
 */
enum route_rc route_split(struct arena *a, const char *raw, size_t len,
    size_t max_len, struct path *out, const char **why);

/*
 * Percent-decodes len bytes into a new NUL-terminated arena string; '+' means
 * a space when plus_is_space. Returns NULL on a bad escape or when out of
 * memory (*bad tells which). The decoded length goes to *outlen.
 */
char *route_decode(struct arena *a, const char *s, size_t len, int plus_is_space,
    size_t *outlen, int *bad);

/* Appends s percent-encoded for a path segment (':' and '@' stay literal). */
int route_encode_segment(struct buf *b, const char *s, size_t len);
/* Appends s percent-encoded for a query value. */
int route_encode_query(struct buf *b, const char *s, size_t len);

#endif
