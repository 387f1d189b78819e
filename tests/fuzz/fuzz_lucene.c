/*
 * fuzz_lucene: libFuzzer target for the search query parser (lucene.h) and
 * the sort= / aggregate= parsers (search.h, search_spec.c).
 *
 * A first byte 0x01 sends the rest to search_parse_sort, 0x02 to
 * search_parse_aggregates (as a C string: up to the first NUL); any other
 * input goes whole to lucene_parse. Whatever happens, nothing may crash,
 * leak or take more than the limits allow. Invariants:
 * - a refusal has rc -1, no result and a message that is non-empty valid
 *   UTF-8 (it goes into a JSON error body);
 * - a query tree is well formed: BOOL nodes have clauses, no field and a
 *   known occur for each; leaves have the text their kind needs (NUL-
 *   terminated at len, no NUL inside, valid UTF-8, non-empty for words), a
 *   wildcard pattern has an unescaped wildcard and only \*, \? and \\ as
 *   escapes; edits 0..2 only on FUZZY, slop 0..10000 only on PHRASE; boosts
 *   finite and >= 0; NEAR/IN have a field, coordinates in range, a positive
 *   finite radius and a known unit; at most LUCENE_MAX_CLAUSES leaves and
 *   LUCENE_MAX_DEPTH + 1 levels of BOOL;
 * - the dump is valid UTF-8 and, when it fits in LUCENE_MAX_QUERY (copying a
 *   group's field into its leaves can make it longer), parses to a tree
 *   with the same dump (round trip); parsing the input twice gives the same;
 * - sort and aggregate results stay within SEARCH_MAX_* and their ranges.
 * Build (see run.sh):
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_lucene.c src/lucene.c src/search_spec.c src/mem.c \
 *     src/buf.c src/util.c -lm
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "lucene.h"
#include "mem.h"
#include "search.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A message: non-empty, NUL-terminated inside its buffer, valid UTF-8. */
static void
check_err(const char *err, size_t errlen)
{
	require(err[0] != '\0');
	require(memchr(err, '\0', errlen) != NULL);
	require(util_utf8_valid(err, strlen(err)));
}

static void
check_string(const char *s)
{
	require(s != NULL);
	require(util_utf8_valid(s, strlen(s)));
}

/* NUL-terminated at len, no NUL before, valid UTF-8. */
static void
check_text(const struct lucene_node *n)
{
	require(n->text != NULL);
	require(n->text[n->len] == '\0');
	require(memchr(n->text, '\0', n->len) == NULL);
	require(util_utf8_valid(n->text, n->len));
}

/* A wildcard pattern: escapes only before * ? \, and one unescaped wildcard. */
static void
check_pattern(const struct lucene_node *n)
{
	bool wild = false;

	for (size_t i = 0; i < n->len; i++) {
		if (n->text[i] == '\\') {
			require(i + 1 < n->len && strchr("*?\\", n->text[i + 1]) != NULL);
			i++;
		} else if (n->text[i] == '*' || n->text[i] == '?') {
			wild = true;
		}
	}
	require(wild);
	/* "*" alone is LQ_ALL, "text*" LQ_PREFIX */
	require(!(n->len == 1 && n->text[0] == '*'));
}

static void
check_leaf(const struct lucene_node *n)
{
	static const char *const units[] = { "km", "m", "cm", "mm", "mi", "yd", "ft", "in", "nmi" };
	bool unit = false;

	require(n->kind == LQ_FUZZY ? n->edits >= 0 && n->edits <= 2 : n->edits == 0);
	require(n->kind == LQ_PHRASE ? n->slop >= 0 && n->slop <= 10000 : n->slop == 0);
	require(n->clauses == NULL && n->nclauses == 0);
	switch (n->kind) {
	case LQ_ALL:
		require(n->text == NULL);
		break;
	case LQ_TERM: case LQ_FUZZY: case LQ_PREFIX:
		check_text(n);
		require(n->len > 0);
		break;
	case LQ_WILDCARD:
		check_text(n);
		check_pattern(n);
		break;
	case LQ_PHRASE: case LQ_EXACT:
		check_text(n);
		break;
	case LQ_RANGE:
		if (n->lo != NULL)
			check_string(n->lo);
		if (n->hi != NULL)
			check_string(n->hi);
		break;
	case LQ_NEAR:
		require(n->field != NULL);
		require(n->lat >= -90 && n->lat <= 90 && n->lon >= -180 && n->lon <= 180);
		require(isfinite(n->radius_m) && n->radius_m > 0);
		require(n->unit != NULL);
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			unit = unit || strcmp(units[i], n->unit) == 0;
		require(unit);
		break;
	case LQ_IN:
		require(n->field != NULL);
		require(n->south >= -90 && n->north <= 90 && n->north >= n->south);
		require(n->east >= -180 && n->east <= 180 && n->west >= -180 && n->west <= 180);
		break;
	default:
		abort();
	}
}

/* Checks the tree under n; counts its leaves. */
static void
check_tree(const struct lucene_node *n, int depth, size_t *leaves)
{
	require(n != NULL);
	require(depth <= LUCENE_MAX_DEPTH + 1);
	require(isfinite(n->boost) && n->boost >= 0);
	if (n->field != NULL) {
		check_string(n->field);
		require(n->field[0] != '\0');
	}
	if (n->kind != LQ_BOOL) {
		check_leaf(n);
		require(++*leaves <= LUCENE_MAX_CLAUSES);
		return;
	}
	require(n->field == NULL && n->text == NULL);
	require(n->nclauses > 0 && n->clauses != NULL);
	for (size_t i = 0; i < n->nclauses; i++) {
		require(n->clauses[i].occur == LO_SHOULD || n->clauses[i].occur == LO_MUST ||
		    n->clauses[i].occur == LO_MUST_NOT);
		check_tree(n->clauses[i].node, depth + 1, leaves);
	}
}

/* Parses q; on success checks the tree and returns its dump (malloc'ed). */
static char *
parse(struct arena *a, const char *q, size_t len, bool *ok)
{
	struct lucene_node *n = (struct lucene_node *)&n;
	char err[256];
	struct buf b;
	size_t leaves = 0;
	int rc;

	memset(err, 0, sizeof(err));
	rc = lucene_parse(a, q, len, &n, err, sizeof(err));
	require(rc == 0 || rc == -1);
	*ok = rc == 0;
	if (rc < 0) {
		require(n == NULL);
		check_err(err, sizeof(err));
		return NULL;
	}
	check_tree(n, 0, &leaves);
	buf_init(&b, 0);
	require(lucene_dump(n, &b) == 0 && !b.b_failed && b.b_len > 0);
	require(util_utf8_valid(b.b_data, b.b_len));
	return b.b_data;
}

static void
fuzz_query(const uint8_t *data, size_t size)
{
	struct arena *a = mem_new();
	char *q = malloc(size > 0 ? size : 1);  /* exact size: an overread shows */
	char *d1, *d2, *d3;
	bool ok;

	require(a != NULL && q != NULL);
	if (size > 0)
		memcpy(q, data, size);
	d1 = parse(a, q, size, &ok);
	if (ok) {
		d2 = parse(a, q, size, &ok);
		require(ok && strcmp(d1, d2) == 0);
		free(d2);
		if (strlen(d1) <= LUCENE_MAX_QUERY) {
			d3 = parse(a, d1, strlen(d1), &ok);
			require(ok && strcmp(d1, d3) == 0);
			free(d3);
		}
	}
	free(d1);
	free(q);
	mem_free(a);
}

static void
fuzz_sort(const char *text)
{
	struct arena *a = mem_new();
	struct search_sort *v = (struct search_sort *)&v;
	size_t n = 99;
	char err[256];

	require(a != NULL);
	memset(err, 0, sizeof(err));
	if (search_parse_sort(a, text, &v, &n, err, sizeof(err)) < 0) {
		require(v == NULL && n == 0);
		check_err(err, sizeof(err));
	} else {
		require(v != NULL && n >= 1 && n <= SEARCH_MAX_SORT);
		for (size_t i = 0; i < n; i++) {
			bool named = v[i].kind == SORT_FIELD || v[i].kind == SORT_PATH ||
			    v[i].kind == SORT_DISTANCE;

			require(named || v[i].kind == SORT_RANDOM || v[i].kind == SORT_SCORE);
			require(named == (v[i].field != NULL));
			if (named) {
				check_string(v[i].field);
				require(v[i].field[0] != '\0' && strchr(v[i].field, ':') == NULL);
				require((v[i].kind == SORT_PATH) ==
				    (strncmp(v[i].field, "@path.", 6) == 0));
			}
			require(v[i].seeded ? v[i].kind == SORT_RANDOM : v[i].seed == 0);
		}
	}
	mem_free(a);
}

static void
check_agg(const struct search_agg *g)
{
	check_string(g->field);
	require(g->field[0] != '\0');
	require((g->kind == AGG_RANGE || g->kind == AGG_DISTANCE) == (g->nbuckets > 0));
	require(g->nbuckets <= SEARCH_MAX_BUCKETS);
	for (size_t i = 0; i < g->nbuckets; i++) {
		const struct search_bucket *b = &g->buckets[i];

		require(b->has_min == (b->min_text != NULL) && b->has_max == (b->max_text != NULL));
		require(!b->has_min || isfinite(b->min));
		require(!b->has_max || isfinite(b->max));
		require(!(b->has_min && b->has_max) || b->min < b->max);
		require(g->kind != AGG_DISTANCE || ((!b->has_min || b->min >= 0) &&
		    (!b->has_max || b->max >= 0)));
	}
	if (g->kind == AGG_TOP_VALUES)
		require(g->limit >= 1 && g->limit <= 100 && g->offset <= INT32_MAX);
	else
		require(g->limit == 0 && g->offset == 0);
	require(g->interval <= IV_HOUR);
	require(g->has_tz == (g->tz_text != NULL));
	require(g->has_tz ? g->kind == AGG_TIME_SERIES && g->tz_minutes > -24 * 60 &&
	    g->tz_minutes < 24 * 60 : g->tz_minutes == 0);
}

static void
fuzz_aggs(const char *text)
{
	struct arena *a = mem_new();
	struct search_agg *v = (struct search_agg *)&v;
	size_t n = 99;
	char err[256];

	require(a != NULL);
	memset(err, 0, sizeof(err));
	if (search_parse_aggregates(a, text, &v, &n, err, sizeof(err)) < 0) {
		require(v == NULL && n == 0);
		check_err(err, sizeof(err));
	} else {
		require(v != NULL && n >= 1 && n <= SEARCH_MAX_AGGS);
		for (size_t i = 0; i < n; i++)
			check_agg(&v[i]);
	}
	mem_free(a);
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size > 0 && (data[0] == 0x01 || data[0] == 0x02)) {
		text = fuzz_strndup(data + 1, size - 1);
		if (data[0] == 0x01)
			fuzz_sort(text);
		else
			fuzz_aggs(text);
		free(text);
		return 0;
	}
	fuzz_query(data, size);
	return 0;
}
