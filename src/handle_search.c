/*
 * handle_search: GET (HEAD) /v0/{c}?query=... and /v0?query=..., the
 * search (reference §8). The route runs without the dispatcher's
 * transaction (routes.c): the parameters are read and checked here, the
 * query parsed (lucene.h), and index_search (index.h) runs its own reads
 * and may wait for the index to catch up, with no transaction of this
 * request open meanwhile. Each hit's entry (search.h) gets its "score"
 * (and "distance") spliced in, its value filtered or dropped; next and prev
 * carry every parameter of the request but offset.
 */
#include "handler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "fields.h"
#include "index.h"
#include "json.h"
#include "log.h"
#include "lucene.h"
#include "mem.h"
#include "search.h"

#define SEARCH_MAX_LIMIT 100
/*
 * The deepest page a search may ask for: offset + limit at most this. The
 * index ranks offset + limit documents to answer one page, so an unbounded
 * offset is unbounded work for one request (Elasticsearch's
 * max_result_window plays the same part).
 */
#define SEARCH_MAX_WINDOW 100000

#define MSG_PARAM "A provided search query param is invalid."
#define MSG_MALFORMED "The search query is malformed."

/* A search request, as read from its parameters. */
struct search_params {
	const char *coll;              /* NULL: every collection (GET /v0) */
	const char *text;              /* query=, decoded */
	size_t textlen;
	struct lucene_node *tree;
	int64_t limit, offset;
	bool values;
	struct fields_filter *f;       /* with_fields / without_fields, or NULL */
	struct search_sort *sort;
	size_t nsort;
	struct search_agg *aggs;
	size_t naggs;
};

/* 400 search_param_invalid with details {"<name>": why}. */
static void
param_invalid(struct ctx *c, const char *name, const char *why)
{
	struct buf d;

	buf_init(&d, 0);
	buf_addc(&d, '{');
	json_emit_string(&d, name, strlen(name));
	buf_addc(&d, ':');
	json_emit_string(&d, why, strlen(why));
	buf_addc(&d, '}');
	http_error(c->resp, 400, "search_param_invalid", MSG_PARAM,
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
}

/* 400 search_query_malformed with details {"query": why}. */
static void
query_malformed(struct ctx *c, const char *why)
{
	struct buf d;

	buf_init(&d, 0);
	buf_adds(&d, "{\"query\":");
	json_emit_string(&d, why, strlen(why));
	buf_addc(&d, '}');
	http_error(c->resp, 400, "search_query_malformed", MSG_MALFORMED,
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
}

static bool
blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

/* limit 0..100 (default 10), offset >= 0, offset + limit within the window. */
static int
read_paging(struct ctx *c, struct search_params *p)
{
	char why[96];

	if (query_int(&c->req->query, "limit", 0, SEARCH_MAX_LIMIT, 10, &p->limit) == -1) {
		param_invalid(c, "limit", "limit must be an integer from 0 to 100.");
		return -1;
	}
	if (query_int(&c->req->query, "offset", 0, INT64_MAX / 2, 0, &p->offset) == -1) {
		param_invalid(c, "offset", "offset must be a non-negative integer.");
		return -1;
	}
	if (p->offset + p->limit > SEARCH_MAX_WINDOW) {
		snprintf(why, sizeof(why), "offset + limit must be at most %d.",
		    SEARCH_MAX_WINDOW);
		param_invalid(c, "offset", why);
		return -1;
	}
	return 0;
}

/* The JSON path a field name means: "value.a.b" and "a.b" are the same. */
static const char *
value_path(const char *field)
{
	return strncmp(field, "value.", 6) == 0 ? field + 6 : field;
}

/* True when the tree has a NEAR clause on field, or on any field when field
 * is NULL (the parser bounds its depth). */
static bool
has_near(const struct lucene_node *n, const char *field)
{
	if (n->kind == LQ_NEAR)
		return n->field != NULL && (field == NULL ||
		    strcmp(value_path(n->field), value_path(field)) == 0);
	if (n->kind != LQ_BOOL)
		return false;
	for (size_t i = 0; i < n->nclauses; i++)
		if (n->clauses[i].occur != LO_MUST_NOT && has_near(n->clauses[i].node, field))
			return true;
	return false;
}

/* A distance sort or aggregate needs a NEAR clause: the one on its field,
 * else the query's first (whose centre it then measures from); without any,
 * 400 before the index is asked. */
static int
check_distance(struct ctx *c, const struct search_params *p)
{
	char why[256];

	for (size_t i = 0; i < p->nsort; i++) {
		if (p->sort[i].kind != SORT_DISTANCE || has_near(p->tree, NULL))
			continue;
		snprintf(why, sizeof(why), "Sorting by the distance of %.120s needs a NEAR "
		    "clause in the query.", p->sort[i].field);
		param_invalid(c, "sort", why);
		return -1;
	}
	for (size_t i = 0; i < p->naggs; i++) {
		if (p->aggs[i].kind != AGG_DISTANCE || has_near(p->tree, NULL))
			continue;
		snprintf(why, sizeof(why), "A distance aggregate of %.120s needs a NEAR "
		    "clause in the query.", p->aggs[i].field);
		param_invalid(c, "aggregate", why);
		return -1;
	}
	return 0;
}

/* sort= and aggregate=, when sent. */
static int
read_spec(struct ctx *c, struct search_params *p)
{
	const char *sort = query_get(&c->req->query, "sort", NULL);
	const char *agg = query_get(&c->req->query, "aggregate", NULL);
	char err[256];

	err[0] = '\0';
	if (sort != NULL && search_parse_sort(c->req->arena, sort, &p->sort, &p->nsort, err,
	    sizeof(err)) == -1) {
		param_invalid(c, "sort", err[0] ? err : "The sort is malformed.");
		return -1;
	}
	if (agg != NULL && search_parse_aggregates(c->req->arena, agg, &p->aggs, &p->naggs,
	    err, sizeof(err)) == -1) {
		param_invalid(c, "aggregate", err[0] ? err : "The aggregate is malformed.");
		return -1;
	}
	return 0;
}

/* query=: present (the route requires it), not blank, and parsed. */
static int
read_query(struct ctx *c, struct search_params *p)
{
	char err[256];

	p->text = query_get(&c->req->query, "query", &p->textlen);
	if (p->text == NULL || blank(p->text, p->textlen)) {
		param_invalid(c, "query", "Query is empty.");
		return -1;
	}
	err[0] = '\0';
	if (lucene_parse(c->req->arena, p->text, p->textlen, &p->tree, err,
	    sizeof(err)) == -1) {
		query_malformed(c, err[0] ? err : "The query could not be parsed.");
		return -1;
	}
	return 0;
}

/*
 * Reads and checks every parameter, the query last (so that a bad
 * parameter is named even with a bad query). 1 when the search may run, 0
 * after answering 400, -1 when out of memory. *p->f is the caller's to free.
 */
static int
read_params(struct ctx *c, struct search_params *p)
{
	bool export;
	int ok;

	/* export=true is another resource of the same path: not both. */
	if (handler_bool(c, "export", false, &export) == -1)
		return 0;
	if (export) {
		http_error_bad_request(c->resp, "An export takes no query: send export=true "
		    "or query, not both.");
		return 0;
	}
	if (read_paging(c, p) == -1 || handler_bool(c, "values", true, &p->values) == -1)
		return 0;
	if ((ok = handler_fields(c, &p->f)) != 1)
		return ok;
	if (read_spec(c, p) == -1 || read_query(c, p) == -1 || check_distance(c, p) == -1)
		return 0;
	return 1;
}

/* A number as JSON: the shortest text that reads back the same; 0 for a
 * value JSON cannot hold (NaN, infinity). */
static void
emit_number(struct buf *b, double x)
{
	char s[40];

	if (!isfinite(x)) {
		buf_addc(b, '0');
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, x);
		if (strtod(s, NULL) == x)
			break;
	}
	buf_adds(b, s);
}

/*
 * The entry of a hit as the response shows it: as the index has it, or
 * with its value dropped (values=false) or filtered. *out in the arena or
 * the entry itself. 0, or -1 when out of memory (or the entry unreadable).
 */
static int
entry_text(struct ctx *c, const struct search_params *p, const struct search_hit *h,
    const char **out, size_t *outlen)
{
	struct json_object *o = NULL, *v, *res = NULL;
	const char *why, *canon;
	char *copy = NULL;
	size_t len;

	*out = h->entry;
	*outlen = h->entry_len;
	if (p->values && fields_is_empty(p->f))
		return 0;
	if (json_parse_object(h->entry, h->entry_len, DOM_STORED_MAX_DEPTH + 1, &o,
	    &why) != JSON_OK)
		return -1;
	if (!p->values) {
		json_object_object_del(o, "value");
	} else if (json_object_object_get_ex(o, "value", &v)) {
		if (fields_apply(p->f, v, &res) != FIELDS_OK)
			goto done;
		/* The entry takes over res (and drops the old value). */
		if (json_object_object_add(o, "value", res) != 0) {
			json_object_put(res);
			goto done;
		}
	}
	if ((canon = json_canonical(o, &len)) != NULL &&
	    (copy = mem_strndup(c->req->arena, canon, len)) != NULL) {
		*out = copy;
		*outlen = len;
	}
done:
	json_release(o);
	return copy != NULL ? 0 : -1;
}

/*
 * Appends one hit: its entry with "score" (and "distance") added before the
 * closing brace. DOM_VISIT_STOP when the page is full (reserve: the bytes
 * the rest of the body needs), DOM_VISIT_FAIL on a fault.
 */
static enum dom_visit
emit_hit(struct ctx *c, const struct search_params *p, const struct search_hit *h,
    int64_t count, size_t reserve)
{
	struct buf *b = &c->resp->body;
	const char *e;
	size_t len;

	if (entry_text(c, p, h, &e, &len) == -1)
		return DOM_VISIT_FAIL;
	if (len < 2 || e[0] != '{' || e[len - 1] != '}') {
		log_err("search: an entry of the index is not a JSON object");
		return DOM_VISIT_FAIL;
	}
	if (!handler_room(c, len + 64 + reserve, count))
		return DOM_VISIT_STOP;
	if (count > 0)
		buf_addc(b, ',');
	buf_add(b, e, len - 1);
	buf_adds(b, len > 2 ? ",\"score\":" : "\"score\":");
	emit_number(b, h->score);
	if (h->has_distance) {
		buf_adds(b, ",\"distance\":");
		emit_number(b, h->distance);
	}
	buf_addc(b, '}');
	return b->b_failed ? DOM_VISIT_FAIL : DOM_VISIT_NEXT;
}

/*
 * A page link: /v0[/{c}]?limit=L&query=Q&offset=O (the live order), then
 * every other parameter of the search as sent, so that each page is the
 * same search. As "rel" in the body and a Link header.
 */
static void
page_link(struct ctx *c, const struct search_params *p, const char *rel, int64_t offset)
{
	static const char *const carried[] = { "sort", "aggregate" };
	struct buf l;

	buf_init(&l, 0);
	buf_adds(&l, "/v0");
	if (p->coll != NULL) {
		buf_addc(&l, '/');
		route_encode_segment(&l, p->coll, strlen(p->coll));
	}
	buf_printf(&l, "?limit=%lld&query=", (long long)p->limit);
	route_encode_query(&l, p->text, p->textlen);
	buf_printf(&l, "&offset=%lld", (long long)offset);
	for (size_t i = 0; i < sizeof(carried) / sizeof(carried[0]); i++) {
		size_t len;
		const char *v = query_get(&c->req->query, carried[i], &len);

		if (v != NULL) {
			buf_printf(&l, "&%s=", carried[i]);
			route_encode_query(&l, v, len);
		}
	}
	if (!p->values)
		buf_adds(&l, "&values=false");
	handler_fields_query(c, &l);
	if (l.b_failed) {
		c->resp->body.b_failed = true;
	} else {
		buf_printf(&c->resp->body, ",\"%s\":", rel);
		json_emit_string(&c->resp->body, l.b_data, l.b_len);
		http_header(c->resp, "Link", "<%s>; rel=\"%s\"", l.b_data, rel);
	}
	buf_free(&l);
}

/*
 * The 200: {"results":[...],"count":N,"total_count":T,"next"?,"prev"?,
 * "aggregates"?}. A page stops early at max_response (its first hit is
 * always sent whole); next then starts after the hits it holds.
 */
static enum store_rc
answer(struct ctx *c, const struct search_params *p, const struct search_result *res)
{
	struct buf *b = &c->resp->body;
	size_t reserve = res->aggregates_len + 2048;
	int64_t count = 0;

	buf_adds(b, "{\"results\":[");
	for (size_t i = 0; i < res->nhits; i++) {
		enum dom_visit v = emit_hit(c, p, &res->hits[i], count, reserve);

		if (v == DOM_VISIT_FAIL)
			return STORE_ERR;
		if (v == DOM_VISIT_STOP)
			break;
		count++;
	}
	buf_printf(b, "],\"count\":%lld,\"total_count\":%llu", (long long)count,
	    (unsigned long long)res->total);
	/* limit=0 asks for the total alone: it has no pages. */
	if (p->limit > 0 && (uint64_t)(p->offset + count) < res->total)
		page_link(c, p, "next", p->offset + count);
	if (p->limit > 0 && p->offset > 0)
		page_link(c, p, "prev", p->offset > p->limit ? p->offset - p->limit : 0);
	if (res->aggregates != NULL) {
		buf_adds(b, ",\"aggregates\":");
		buf_add(b, res->aggregates, res->aggregates_len);
	}
	buf_addc(b, '}');
	return STORE_OK;
}

/* Answers what index_search refused; the faults go back as store results. */
static enum store_rc
search_failed(struct ctx *c, const struct search_params *p, enum dom_rc rc,
    int retry_after, const char *err)
{
	switch (rc) {
	case DOM_INVALID:
		query_malformed(c, err[0] ? err : "The query cannot run.");
		return STORE_OK;
	case DOM_UNAVAILABLE:
		http_error(c->resp, 503, "search_index_unavailable",
		    err[0] ? err : "The search index is not ready; retry the request.", NULL);
		http_header(c->resp, "Retry-After", "%d", retry_after > 0 ? retry_after : 1);
		return STORE_OK;
	default:
		if (dom_fault(rc))
			log_err("search: %s", err[0] ? err : "index_search failed");
		return handler_fail(c, rc, p->coll, NULL, NULL);
	}
}

enum store_rc
handle_search(struct ctx *c)
{
	struct search_params p;
	struct search_query q;
	struct search_result res;
	char err[512];
	int retry_after = 0, ok;
	enum dom_rc rc;
	enum store_rc src;

	memset(&p, 0, sizeof(p));
	if (!c->req->cfg->search) {
		http_error(c->resp, 501, "api_unsupported",
		    "Search is turned off on this server (search = 0 in orchidd.conf).", NULL);
		return STORE_OK;
	}
	p.coll = c->req->path.nseg == 1 ? c->req->path.seg[0].s : NULL;
	if ((ok = read_params(c, &p)) != 1) {
		fields_free(p.f);
		return ok == 0 ? STORE_OK : STORE_ERR;
	}
	memset(&q, 0, sizeof(q));
	q.query = p.tree;
	q.collection = p.coll;
	q.sort = p.sort;
	q.nsort = p.nsort;
	q.aggs = p.aggs;
	q.naggs = p.naggs;
	q.offset = (unsigned)p.offset;
	q.limit = (unsigned)p.limit;
	q.max_expansion = (unsigned)c->req->cfg->search_max_expansion;
	memset(&res, 0, sizeof(res));
	err[0] = '\0';
	rc = index_search(c->store, c->req->cfg, c->req->tenant, &q, c->req->arena, &res,
	    &retry_after, err, sizeof(err));
	src = rc == DOM_OK ? answer(c, &p, &res) : search_failed(c, &p, rc, retry_after, err);
	fields_free(p.f);
	return src;
}
