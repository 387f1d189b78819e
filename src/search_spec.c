/*
 * search_spec: the parsers of a search's sort= and aggregate= parameters
 * (search.h; the syntax is docs/api.md "Search"). Pure: the text in, arrays
 * in the caller's arena out, or -1 and a message for 400
 * search_param_invalid that names the clause (1-based) and quotes it.
 *
 * Both are lists separated by ',' (spaces around an entry are ignored) of
 * entries separated by ':'. A field is `value.x`, a bare `x` (the same
 * path) or `@path.x`; it is kept as written, the index maps it.
 */
#include "search.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "util.h"

#define SHOWN 60                 /* bytes of an entry quoted in a message */
#define MAX_TOP_LIMIT 100
#define MAX_TOP_OFFSET INT32_MAX /* offset + limit never wraps an unsigned */

/* One entry of a list being parsed, for messages. */
struct entry {
	const char *what;   /* "sort clause" or "aggregate" */
	size_t index;       /* 1-based */
	const char *s;      /* the entry, trimmed */
	size_t len;
	char *err;
	size_t errlen;
};

static int fail(const struct entry *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes "<what> <index> ("<entry>"): <message>" into err; returns -1. */
static int
fail(const struct entry *e, const char *fmt, ...)
{
	size_t n = e->len, used;
	va_list ap;
	int w;

	if (e->errlen == 0)
		return -1;
	if (n > SHOWN) {
		n = SHOWN;
		while (n > 0 && ((unsigned char)e->s[n] & 0xc0) == 0x80)
			n--;  /* never cut a character in two */
	}
	w = snprintf(e->err, e->errlen, "%s %zu (\"%.*s%s\"): ", e->what, e->index, (int)n,
	    e->s, n < e->len ? "..." : "");
	if (w < 0 || (size_t)w >= e->errlen) {
		util_utf8_trim(e->err);
		return -1;
	}
	used = (size_t)w;
	va_start(ap, fmt);
	(void)vsnprintf(e->err + used, e->errlen - used, fmt, ap);
	va_end(ap);
	util_utf8_trim(e->err);
	return -1;
}

/* A message about the whole parameter, not one entry. */
static int fail_all(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_all(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A colon-separated part of an entry. */
struct part {
	const char *s;
	size_t len;
};

static bool
part_is(const struct part *p, const char *w)
{
	return strlen(w) == p->len && strncasecmp(p->s, w, p->len) == 0;
}

/* Splits e into at most max parts at ':'; returns the count, or max + 1 when more. */
static size_t
split_parts(const struct entry *e, struct part *parts, size_t max)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= e->len; i++) {
		if (i < e->len && e->s[i] != ':')
			continue;
		if (n == max)
			return max + 1;
		parts[n].s = e->s + start;
		parts[n].len = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

/*
 * Checks a field name and copies it into the arena: `value.x`, a bare `x`
 * or `@path.x`, names separated by single dots, none empty.
 */
static int
field_of(struct arena *a, const struct entry *e, const struct part *f, const char **out)
{
	const char *s = f->s;
	size_t len = f->len;
	bool at = len > 0 && s[0] == '@', dots = false;

	if (len == 0)
		return fail(e, "the field name is empty");
	if (at && (len < 7 || memcmp(s, "@path.", 6) != 0))
		return fail(e, "a metadata field is @path.<name> (such as @path.key)");
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			dots = true;
	if (dots || s[0] == '.' || s[len - 1] == '.')
		return fail(e, "the field \"%.*s\" has an empty name (a leading, trailing or "
		    "doubled dot)", (int)len, s);
	if (len == 6 && memcmp(s, "value.", 6) == 0)
		return fail(e, "value. names no field");
	if ((*out = mem_strndup(a, s, len)) == NULL)
		return fail(e, "out of memory");
	return 0;
}

/* asc, desc or dsc (any case) into *desc; -1 when it is none of them. */
static int
direction(const struct part *p, bool *desc)
{
	if (part_is(p, "asc"))
		*desc = false;
	else if (part_is(p, "desc") || part_is(p, "dsc"))
		*desc = true;
	else
		return -1;
	return 0;
}

/* The FNV-1a 64-bit hash of a seed that is not an unsigned integer. */
static uint64_t
fnv1a(const char *s, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* _random or _random:<seed> (the seed is the rest, ':' included). */
static int
sort_random(const struct entry *e, struct search_sort *o)
{
	const char *seed = e->s + 8;
	size_t len = e->len - 8;

	o->kind = SORT_RANDOM;
	if (e->len == 7)
		return 0;
	if (len == 0)
		return fail(e, "the seed after _random: is empty");
	o->seeded = true;
	if (util_parse_uint64(seed, len, &o->seed) < 0)
		o->seed = fnv1a(seed, len);
	return 0;
}

/* One sort clause. */
static int
sort_clause(struct arena *a, const struct entry *e, struct search_sort *o)
{
	struct part parts[3];
	size_t n;

	memset(o, 0, sizeof(*o));
	if ((e->len == 7 || (e->len > 7 && e->s[7] == ':')) && memcmp(e->s, "_random", 7) == 0)
		return sort_random(e, o);
	if ((n = split_parts(e, parts, 3)) > 3)
		return fail(e, "too many ':' (want field[:asc|desc] or field:distance[:asc|desc])");
	if (parts[0].len == 6 && memcmp(parts[0].s, "_score", 6) == 0) {
		o->kind = SORT_SCORE;
		o->desc = true;
		if (n == 3 || (n == 2 && direction(&parts[1], &o->desc) < 0))
			return fail(e, "_score takes asc or desc");
		return 0;
	}
	if (field_of(a, e, &parts[0], &o->field) < 0)
		return -1;
	o->kind = o->field[0] == '@' ? SORT_PATH : SORT_FIELD;
	if (n >= 2 && part_is(&parts[1], "distance")) {
		if (o->kind == SORT_PATH)
			return fail(e, "a distance sort needs a value field with a NEAR clause");
		o->kind = SORT_DISTANCE;
		if (n == 3 && direction(&parts[2], &o->desc) < 0)
			return fail(e, "unknown direction \"%.*s\" (want asc or desc)",
			    (int)parts[2].len, parts[2].s);
		return 0;
	}
	if (n == 3)
		return fail(e, "too many ':' (want field[:asc|desc] or field:distance[:asc|desc])");
	if (n == 2 && direction(&parts[1], &o->desc) < 0)
		return fail(e, "unknown direction \"%.*s\" (want asc or desc)", (int)parts[1].len,
		    parts[1].s);
	return 0;
}

/*
 * Walks the comma-separated entries of the parameter what, checking it is
 * valid UTF-8 without control characters and each entry (an item) is
 * non-empty, at most max of them; calls fn on each with its trimmed text.
 * Returns the count or -1.
 */
static int
each_entry(const char *what, const char *item, const char *text, size_t max, char *err,
    size_t errlen, int (*fn)(void *ctx, const struct entry *e), void *ctx)
{
	size_t len = text != NULL ? strlen(text) : 0, start = 0, count = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (len == 0)
		return fail_all(err, errlen, "%s is empty", what);
	if (!util_utf8_valid(text, len))
		return fail_all(err, errlen, "%s is not valid UTF-8", what);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return fail_all(err, errlen, "%s has a control character at byte %zu",
			    what, i + 1);
	for (size_t i = 0; i <= len; i++) {
		struct entry e = { item, count + 1, text + start, i - start, err, errlen };

		if (i < len && text[i] != ',')
			continue;
		start = i + 1;
		while (e.len > 0 && (e.s[0] == ' ' || e.s[0] == '\t'))
			e.s++, e.len--;
		while (e.len > 0 && (e.s[e.len - 1] == ' ' || e.s[e.len - 1] == '\t'))
			e.len--;
		if (e.len == 0)
			return fail_all(err, errlen, "%s %zu is empty (a leading, trailing or "
			    "doubled comma)", item, count + 1);
		if (count == max)
			return fail_all(err, errlen, "%s has more than %zu %ss", what, max, item);
		if (fn(ctx, &e) < 0)
			return -1;
		count++;
	}
	return (int)count;
}

struct sort_ctx {
	struct arena *a;
	struct search_sort *v;
};

static int
sort_one(void *ctx, const struct entry *e)
{
	struct sort_ctx *c = ctx;

	return sort_clause(c->a, e, &c->v[e->index - 1]);
}

int
search_parse_sort(struct arena *a, const char *text, struct search_sort **out, size_t *n,
    char *err, size_t errlen)
{
	struct sort_ctx c = { a, mem_alloc(a, SEARCH_MAX_SORT * sizeof(struct search_sort)) };
	int count;

	*out = NULL;
	*n = 0;
	if (c.v == NULL)
		return fail_all(err, errlen, "out of memory");
	count = each_entry("sort", "sort clause", text, SEARCH_MAX_SORT, err, errlen, sort_one, &c);
	if (count < 0)
		return -1;
	*out = c.v;
	*n = (size_t)count;
	return 0;
}

/* ---- aggregates ------------------------------------------------------------- */

/* A strict decimal [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?, finite. */
static int
number(struct arena *a, const struct part *p, double *out)
{
	size_t i = 0, digits = 0;
	char *s;

	if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
		i++;
	for (; i < p->len && p->s[i] >= '0' && p->s[i] <= '9'; i++)
		digits++;
	if (i < p->len && p->s[i] == '.')
		for (i++; i < p->len && p->s[i] >= '0' && p->s[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return -1;
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		size_t ed = 0;

		if (++i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
			i++;
		for (; i < p->len && p->s[i] >= '0' && p->s[i] <= '9'; i++)
			ed++;
		if (ed == 0)
			return -1;
	}
	if (i != p->len || (s = mem_strndup(a, p->s, p->len)) == NULL)
		return -1;
	*out = strtod(s, NULL);
	return isfinite(*out) ? 0 : -1;
}

/* One end of a bucket: * (open) or a number. */
static int
bucket_end(struct arena *a, const struct entry *e, const struct part *p, bool *has,
    double *v, const char **text)
{
	if (p->len == 1 && p->s[0] == '*') {
		*has = false;
		return 0;
	}
	if (number(a, p, v) < 0)
		return fail(e, "the bucket end \"%.*s\" is not a number or *", (int)p->len, p->s);
	if ((*text = mem_strndup(a, p->s, p->len)) == NULL)
		return fail(e, "out of memory");
	*has = true;
	return 0;
}

/* Buckets min~max (parts 2..n-1) of a range or distance aggregate. */
static int
agg_buckets(struct arena *a, const struct entry *e, const struct part *parts, size_t n,
    struct search_agg *o)
{
	if (n < 3)
		return fail(e, "%s needs buckets such as *~10:10~20:20~*",
		    o->kind == AGG_RANGE ? "range" : "distance");
	if (n - 2 > SEARCH_MAX_BUCKETS)
		return fail(e, "more than %d buckets", SEARCH_MAX_BUCKETS);
	o->buckets = mem_alloc(a, (n - 2) * sizeof(*o->buckets));
	if (o->buckets == NULL)
		return fail(e, "out of memory");
	for (size_t i = 2; i < n; i++) {
		struct search_bucket *b = &o->buckets[o->nbuckets++];
		const char *tilde = memchr(parts[i].s, '~', parts[i].len);
		struct part lo, hi;

		if (tilde == NULL)
			return fail(e, "bucket %zu (\"%.*s\") is not min~max (* for an open end)",
			    i - 1, (int)parts[i].len, parts[i].s);
		lo.s = parts[i].s;
		lo.len = (size_t)(tilde - lo.s);
		hi.s = tilde + 1;
		hi.len = parts[i].len - lo.len - 1;
		if (bucket_end(a, e, &lo, &b->has_min, &b->min, &b->min_text) < 0 ||
		    bucket_end(a, e, &hi, &b->has_max, &b->max, &b->max_text) < 0)
			return -1;
		if (b->has_min && b->has_max && !(b->min < b->max))
			return fail(e, "bucket %zu (\"%.*s\"): min must be below max", i - 1,
			    (int)parts[i].len, parts[i].s);
		if (o->kind == AGG_DISTANCE && ((b->has_min && b->min < 0) ||
		    (b->has_max && b->max < 0)))
			return fail(e, "bucket %zu (\"%.*s\"): a distance is not negative", i - 1,
			    (int)parts[i].len, parts[i].s);
	}
	return 0;
}

/* A non-negative integer for top_values' offset or limit. */
static int
top_number(const struct entry *e, const struct part *k, const struct part *v, int64_t min,
    int64_t max, unsigned *out)
{
	int64_t x;

	if (util_parse_int64(v->s, v->len, 0, INT64_MAX, &x) < 0 || x < min || x > max)
		return fail(e, "top_values %.*s must be an integer in %lld..%lld", (int)k->len,
		    k->s, (long long)min, (long long)max);
	*out = (unsigned)x;
	return 0;
}

/*
 * top_values[:offset:N][:limit:M], either order. A keyword without its
 * number at the very end keeps the default: the npm client 0.8 sends
 * "top_values:offset" for top_values(field, offset, limit).
 */
static int
agg_top(const struct entry *e, const struct part *parts, size_t n, struct search_agg *o)
{
	bool seen_offset = false, seen_limit = false;

	o->limit = 10;
	for (size_t i = 2; i < n; i += 2) {
		bool is_offset = part_is(&parts[i], "offset");

		if (!is_offset && !part_is(&parts[i], "limit"))
			return fail(e, "top_values takes offset:N and limit:M, not \"%.*s\"",
			    (int)parts[i].len, parts[i].s);
		if (is_offset ? seen_offset : seen_limit)
			return fail(e, "top_values has %.*s twice", (int)parts[i].len, parts[i].s);
		*(is_offset ? &seen_offset : &seen_limit) = true;
		if (i + 1 == n)
			break;
		if (is_offset ? top_number(e, &parts[i], &parts[i + 1], 0, MAX_TOP_OFFSET,
		    &o->offset) < 0 : top_number(e, &parts[i], &parts[i + 1], 1, MAX_TOP_LIMIT,
		    &o->limit) < 0)
			return -1;
	}
	return 0;
}

static int
two_digits(const char *s, int max)
{
	int v;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	v = (s[0] - '0') * 10 + (s[1] - '0');
	return v <= max ? v : -1;
}

/*
 * A time zone offset: +HHMM, +HH:MM or +HH (or -); a leading space stands
 * for '+' (an unencoded '+' in a query string arrives as a space).
 */
static int
time_zone(const char *s, size_t len, int *minutes)
{
	int h, m = 0;

	if (len != 3 && len != 5 && len != 6)
		return -1;
	if (s[0] != '+' && s[0] != '-' && s[0] != ' ')
		return -1;
	if ((h = two_digits(s + 1, 23)) < 0)
		return -1;
	if (len == 5 && (m = two_digits(s + 3, 59)) < 0)
		return -1;
	if (len == 6 && (s[3] != ':' || (m = two_digits(s + 4, 59)) < 0))
		return -1;
	*minutes = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
	return 0;
}

/* time_series:<interval>[:<zone>]; the zone is the rest of the entry. */
static int
agg_time(struct arena *a, const struct entry *e, const struct part *parts, size_t n,
    struct search_agg *o)
{
	static const char *const names[] = { "year", "quarter", "month", "week", "day", "hour" };
	const char *zone;
	size_t zlen;
	int iv = -1;

	if (n < 3)
		return fail(e, "time_series needs an interval (year, quarter, month, week, day "
		    "or hour)");
	for (int i = 0; i < 6; i++)
		if (part_is(&parts[2], names[i]))
			iv = i;
	if (iv < 0)
		return fail(e, "unknown interval \"%.*s\" (want year, quarter, month, week, day "
		    "or hour)", (int)parts[2].len, parts[2].s);
	o->interval = (enum search_interval)iv;
	if (n == 3)
		return 0;
	zone = parts[3].s;
	zlen = (size_t)(e->s + e->len - zone);
	if (time_zone(zone, zlen, &o->tz_minutes) < 0)
		return fail(e, "the time zone \"%.*s\" is not +HHMM, -HHMM or +HH:MM", (int)zlen,
		    zone);
	if ((o->tz_text = mem_strndup(a, zone, zlen)) == NULL)
		return fail(e, "out of memory");
	if (o->tz_text[0] == ' ')
		((char *)o->tz_text)[0] = '+';
	o->has_tz = true;
	return 0;
}

/* One aggregate spec. */
static int
agg_spec(struct arena *a, const struct entry *e, struct search_agg *o)
{
	struct part parts[SEARCH_MAX_BUCKETS + 3];
	size_t n = split_parts(e, parts, SEARCH_MAX_BUCKETS + 2);

	memset(o, 0, sizeof(*o));
	if (n > SEARCH_MAX_BUCKETS + 2)
		return fail(e, "more than %d buckets", SEARCH_MAX_BUCKETS);
	if (n < 2)
		return fail(e, "want field:kind (stats, range, distance, top_values or "
		    "time_series)");
	if (field_of(a, e, &parts[0], &o->field) < 0)
		return -1;
	if (part_is(&parts[1], "stats")) {
		o->kind = AGG_STATS;
		return n == 2 ? 0 : fail(e, "stats takes no arguments");
	}
	if (part_is(&parts[1], "range") || part_is(&parts[1], "distance")) {
		o->kind = part_is(&parts[1], "range") ? AGG_RANGE : AGG_DISTANCE;
		if (o->kind == AGG_DISTANCE && o->field[0] == '@')
			return fail(e, "a distance aggregate needs a value field with a NEAR "
			    "clause");
		return agg_buckets(a, e, parts, n, o);
	}
	if (part_is(&parts[1], "top_values")) {
		o->kind = AGG_TOP_VALUES;
		return agg_top(e, parts, n, o);
	}
	if (part_is(&parts[1], "time_series")) {
		o->kind = AGG_TIME_SERIES;
		return agg_time(a, e, parts, n, o);
	}
	return fail(e, "unknown aggregate \"%.*s\" (want stats, range, distance, top_values "
	    "or time_series)", (int)parts[1].len, parts[1].s);
}

struct agg_ctx {
	struct arena *a;
	struct search_agg *v;
};

static int
agg_one(void *ctx, const struct entry *e)
{
	struct agg_ctx *c = ctx;

	return agg_spec(c->a, e, &c->v[e->index - 1]);
}

int
search_parse_aggregates(struct arena *a, const char *text, struct search_agg **out,
    size_t *n, char *err, size_t errlen)
{
	struct agg_ctx c = { a, mem_alloc(a, SEARCH_MAX_AGGS * sizeof(struct search_agg)) };
	int count;

	*out = NULL;
	*n = 0;
	if (c.v == NULL)
		return fail_all(err, errlen, "out of memory");
	count = each_entry("aggregate", "aggregate", text, SEARCH_MAX_AGGS, err, errlen, agg_one, &c);
	if (count < 0)
		return -1;
	*out = c.v;
	*n = (size_t)count;
	return 0;
}
