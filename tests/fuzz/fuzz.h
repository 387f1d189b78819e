/*
 * fuzz.h: checks shared by the libFuzzer targets of tests/fuzz. Header-only
 * (static inline), so each target still builds from its own .c file plus the
 * src/ modules it names. Every check aborts on failure, which libFuzzer
 * reports as a crash with the input saved.
 */
#ifndef ORCHID_FUZZ_H
#define ORCHID_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "route.h"
#include "util.h"

/* abort() rather than assert(), so that NDEBUG cannot turn the checks off. */
static inline void
require(int cond)
{
	if (!cond)
		abort();
}

/* A malloc'ed NUL-terminated copy of len bytes; aborts when out of memory. */
static inline char *
fuzz_strndup(const void *s, size_t len)
{
	char *t = malloc(len + 1);

	require(t != NULL);
	memcpy(t, s, len);
	t[len] = '\0';
	return t;
}

/*
 * The invariants of a path route_split accepted: at most ROUTE_MAX_SEGS
 * segments, each non-empty, at most max_len bytes, NUL-terminated with no NUL
 * inside, valid UTF-8; and encoding the segments again with
 * route_encode_segment gives a path that splits into the same segments.
 */
static inline void
fuzz_check_path(struct arena *a, const struct path *p, size_t max_len)
{
	struct path again;
	struct buf b;
	const char *why;

	require(p->nseg <= ROUTE_MAX_SEGS);
	buf_init(&b, 0);
	require(buf_adds(&b, "/v0") == 0);
	for (size_t i = 0; i < p->nseg; i++) {
		const struct seg *s = &p->seg[i];

		require(s->s != NULL);
		require(s->len > 0 && s->len <= max_len);
		require(s->s[s->len] == '\0');
		require(memchr(s->s, '\0', s->len) == NULL);
		require(util_utf8_valid(s->s, s->len));
		require(buf_addc(&b, '/') == 0);
		require(route_encode_segment(&b, s->s, s->len) == 0);
	}
	require(route_split(a, b.b_data, b.b_len, max_len, &again, &why) == ROUTE_OK);
	require(again.nseg == p->nseg);
	for (size_t i = 0; i < p->nseg; i++) {
		require(again.seg[i].len == p->seg[i].len);
		require(memcmp(again.seg[i].s, p->seg[i].s, p->seg[i].len) == 0);
	}
	buf_free(&b);
}

#endif
