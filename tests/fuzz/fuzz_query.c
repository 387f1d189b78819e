/*
 * fuzz_query: libFuzzer target for query_parse, query_get, query_int and
 * query_bool.
 *
 * The input is a raw query string (after '?'). Whatever happens, nothing may
 * crash or leak, and a failure must come with a reason. On success: at most
 * QUERY_MAX_PARAMS parameters with distinct names, NUL-free valid UTF-8 names
 * and values; every name=value piece of the input resolves (query_get) to the
 * value it decodes to, so a repeated name kept one consistent value; encoding
 * the parameters again with route_encode_query parses back to the same list;
 * query_int and query_bool answer within their bounds. Build (see run.sh):
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_query.c src/query.c src/route.c src/mem.c src/buf.c \
 *     src/util.c
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "mem.h"
#include "query.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The parameter names the handlers read, plus one that is never present. */
static const char *const names[] = {
	"limit", "offset", "values", "query", "sort", "startEvent", "endEvent",
	"beforeEvent", "afterEvent", "startKey", "afterKey", "beforeKey", "endKey",
	"purge", "ref", "timestamp", "absent",
};

/* Each parameter well formed: names distinct, no NUL, valid UTF-8. */
static void
check_params(const struct query *q)
{
	require(q->n <= QUERY_MAX_PARAMS);
	for (size_t i = 0; i < q->n; i++) {
		const struct qparam *p = &q->p[i];

		require(p->name != NULL && p->value != NULL);
		require(p->value[p->vlen] == '\0');
		require(memchr(p->value, '\0', p->vlen) == NULL);
		require(util_utf8_valid(p->name, strlen(p->name)));
		require(util_utf8_valid(p->value, p->vlen));
		for (size_t j = 0; j < i; j++)
			require(strcmp(q->p[j].name, p->name) != 0);
	}
}

/* Every non-empty piece of the raw string resolves to what it decodes to. */
static void
check_pieces(struct arena *a, const char *qs, size_t len, const struct query *q)
{
	const char *p = qs, *end = qs + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pend = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pend - p));
		size_t nlen, vlen, glen;
		const char *name, *value, *got;
		int bad;

		if (pend > p) {
			name = route_decode(a, p, (size_t)((eq ? eq : pend) - p), 1, &nlen, &bad);
			value = eq ? route_decode(a, eq + 1, (size_t)(pend - eq - 1), 1, &vlen, &bad)
				   : "";
			require(name != NULL && value != NULL);
			if (eq == NULL)
				vlen = 0;
			got = query_get(q, name, &glen);
			require(got != NULL);
			require(glen == vlen && memcmp(got, value, vlen) == 0);
		}
		p = amp ? amp + 1 : end;
	}
}

/* Encoding the list again with route_encode_query parses back to it. */
static void
check_reencode(struct arena *a, const struct query *q)
{
	struct query again;
	struct buf b;
	const char *why;

	buf_init(&b, 0);
	for (size_t i = 0; i < q->n; i++) {
		if (i > 0)
			require(buf_addc(&b, '&') == 0);
		require(route_encode_query(&b, q->p[i].name, strlen(q->p[i].name)) == 0);
		require(buf_addc(&b, '=') == 0);
		require(route_encode_query(&b, q->p[i].value, q->p[i].vlen) == 0);
	}
	require(query_parse(a, b.b_data ? b.b_data : "", b.b_len, &again, &why) == 0);
	require(again.n == q->n);
	for (size_t i = 0; i < q->n; i++) {
		require(strcmp(again.p[i].name, q->p[i].name) == 0);
		require(again.p[i].vlen == q->p[i].vlen);
		require(memcmp(again.p[i].value, q->p[i].value, q->p[i].vlen) == 0);
	}
	buf_free(&b);
}

/* query_int within several bounds and query_bool, for one name. */
static void
check_typed(const struct query *q, const char *name)
{
	static const int64_t bounds[][2] = {
		{ 1, 100 }, { 0, INT64_MAX }, { INT64_MIN, INT64_MAX }, { -5, 5 },
	};
	const char *v = query_get(q, name, NULL);
	int64_t x;
	bool b;

	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		x = 42;
		if (query_int(q, name, bounds[i][0], bounds[i][1], 42, &x) == 0)
			require(v == NULL ? x == 42 : x >= bounds[i][0] && x <= bounds[i][1]);
		else
			require(v != NULL);
	}
	if (query_bool(q, name, true, &b) == 0)
		require(v == NULL ? b : b == (strcmp(v, "true") == 0));
	else
		require(v != NULL && strcmp(v, "true") != 0 && strcmp(v, "false") != 0);
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = mem_new();
	struct query q;
	const char *why = NULL;

	require(a != NULL);
	if (query_parse(a, (const char *)data, size, &q, &why) == -1) {
		require(why != NULL);
		mem_free(a);
		return 0;
	}
	check_params(&q);
	check_pieces(a, (const char *)data, size, &q);
	check_reencode(a, &q);
	for (size_t i = 0; i < q.n; i++)
		check_typed(&q, q.p[i].name);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_typed(&q, names[i]);
	mem_free(a);
	return 0;
}
