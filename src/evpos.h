/*
 * evpos: positions in an event stream and the ranges lists walk.
 *
 * A position is (timestamp ms, ordinal); streams are ordered by timestamp,
 * then ordinal. Parses the forms the API takes: an ordinal as decimal or as
 * ordinal_str (exactly 16 hex digits), a position as "TS" or "TS/ORDINAL"
 * with TS in any format of timefmt, and the range bounds startEvent /
 * afterEvent / endEvent / beforeEvent built from them, where a bare
 * timestamp covers every ordinal of its millisecond. Pure: no I/O, no
 * globals, no allocation.
 */
#ifndef ORCHID_EVPOS_H
#define ORCHID_EVPOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evpos {
	uint64_t ts;
	uint64_t ord;
};

/* lo..hi, each end inclusive or exclusive. */
struct evrange {
	struct evpos lo, hi;
	bool lo_excl, hi_excl;
};

/*
 * Parses the len bytes at s as an ordinal: exactly 16 hex digits are the
 * ordinal_str form, anything else must be a decimal uint64. 0 or -1.
 * So a decimal ordinal of exactly 16 digits would be read as hex. Orchid
 * never hands one out: ordinals are (ms since 2014 << 24 | n), which has 16
 * decimal digits only within the first week of 2014 (19 today).
 */
int evpos_parse_ordinal(const char *s, size_t len, uint64_t *ord);

/*
 * Parses "TS" or "TS/ORDINAL" (the first '/' splits). On success *ord_given
 * tells which, and a bare TS leaves p->ord 0. 0 or -1 (p unspecified).
 */
int evpos_parse(const char *s, size_t len, struct evpos *p, bool *ord_given);

/*
 * Parses a range bound: the lower (upper false) or upper end, inclusive or
 * exclusive. A bare timestamp takes the ordinal that makes the bound cover
 * (inclusive) or exclude (exclusive) its whole millisecond. 0 or -1.
 */
int evpos_parse_bound(const char *s, size_t len, bool upper, bool excl, struct evpos *p);

/* -1, 0 or 1 as a sorts before, with or after b. */
int evpos_cmp(const struct evpos *a, const struct evpos *b);

/* Sets r to every position. */
void evrange_all(struct evrange *r);

/* -1 when p lies below r, 1 above r, 0 inside. */
int evrange_where(const struct evrange *r, const struct evpos *p);

/* Narrows r to its intersection with the millisecond ms. */
void evrange_narrow_ms(struct evrange *r, uint64_t ms);

#endif
