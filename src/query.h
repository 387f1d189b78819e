/*
 * query: the query string. Parses "a=1&b=x%20y" into decoded name/value
 * pairs and reads typed parameters within bounds. Pure.
 */
#ifndef ORCHID_QUERY_H
#define ORCHID_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

#define QUERY_MAX_PARAMS 64

struct qparam {
	const char *name;
	const char *value; /* decoded, NUL-terminated */
	size_t vlen;
};

struct query {
	size_t n;
	struct qparam p[QUERY_MAX_PARAMS];
};

/*
 * Parses len bytes of a raw query string (without '?'). '+' is a space.
 * A repeated name is accepted only with the same value each time. Returns 0,
 * or -1 with *why (bad escape, NUL, invalid UTF-8, too many parameters,
 * conflicting repeats).
 */
int query_parse(struct arena *a, const char *qs, size_t len, struct query *out,
    const char **why);

/* The decoded value of name, or NULL when absent; *len may be NULL. */
const char *query_get(const struct query *q, const char *name, size_t *len);

/*
 * Reads name as "true" or "false" into *out (def when absent). Returns 0, or
 * -1 when present with another value.
 */
int query_bool(const struct query *q, const char *name, bool def, bool *out);

/*
 * Reads name as a decimal integer in [min, max] into *out (def when absent).
 * Returns 0, or -1 when present but not such a number.
 */
int query_int(const struct query *q, const char *name, int64_t min, int64_t max,
    int64_t def, int64_t *out);

#endif
