/*
 * query: query-string parsing with the same decoder as paths.
 */
#include "query.h"

#include <string.h>

#include "route.h"
#include "util.h"

static int
add_param(struct arena *a, const char *s, size_t len, struct query *out,
    const char **why)
{
	const char *eq = memchr(s, '=', len);
	size_t nlen = eq ? (size_t)(eq - s) : len, vlen;
	char *name, *value;
	int bad;

	name = route_decode(a, s, nlen, 1, &nlen, &bad);
	value = eq ? route_decode(a, eq + 1, len - (size_t)(eq - s) - 1, 1, &vlen, &bad)
		   : route_decode(a, "", 0, 1, &vlen, &bad);
	if (name == NULL || value == NULL) {
		*why = "The query string has a malformed percent escape.";
		return -1;
	}
	if (memchr(name, '\0', nlen) || memchr(value, '\0', vlen) ||
	    !util_utf8_valid(name, nlen) || !util_utf8_valid(value, vlen)) {
		*why = "A query parameter contains a NUL byte or invalid UTF-8.";
		return -1;
	}
	for (size_t i = 0; i < out->n; i++) {
		if (strcmp(out->p[i].name, name) != 0)
			continue;
		if (out->p[i].vlen != vlen || memcmp(out->p[i].value, value, vlen) != 0) {
			*why = "A query parameter is repeated with different values.";
			return -1;
		}
		return 0;
	}
	if (out->n == QUERY_MAX_PARAMS) {
		*why = "The query string has too many parameters.";
		return -1;
	}
	out->p[out->n].name = name;
	out->p[out->n].value = value;
	out->p[out->n].vlen = vlen;
	out->n++;
	return 0;
}

int
query_parse(struct arena *a, const char *qs, size_t len, struct query *out,
    const char **why)
{
	const char *p = qs, *end = qs + len;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pend = amp ? amp : end;

		/* Empty pieces ("a=1&&b=2", a trailing '&') are harmless. */
		if (pend > p && add_param(a, p, (size_t)(pend - p), out, why) == -1)
			return -1;
		p = amp ? amp + 1 : end;
	}
	return 0;
}

const char *
query_get(const struct query *q, const char *name, size_t *len)
{
	for (size_t i = 0; i < q->n; i++) {
		if (strcmp(q->p[i].name, name) == 0) {
			if (len != NULL)
				*len = q->p[i].vlen;
			return q->p[i].value;
		}
	}
	return NULL;
}

int
query_bool(const struct query *q, const char *name, bool def, bool *out)
{
	const char *v = query_get(q, name, NULL);

	if (v == NULL)
		*out = def;
	else if (strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

int
query_int(const struct query *q, const char *name, int64_t min, int64_t max,
    int64_t def, int64_t *out)
{
	size_t len;
	const char *v = query_get(q, name, &len);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	return util_parse_int64(v, len, min, max, out);
}
